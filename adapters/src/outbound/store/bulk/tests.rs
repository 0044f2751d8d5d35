//! Tests of `bulk.rs`.

use super::dialects::pow2_chunks;

#[test]
fn chunks_are_powers_of_two_within_the_limit_and_cover_every_row() {
    for width in [1, 10, 22, 40_000] {
        for rows in [0, 1, 2, 3, 1000, 1455, 5000, 70_001] {
            let chunks = pow2_chunks(rows, width);
            assert_eq!(chunks.iter().sum::<usize>(), rows, "rows {rows} width {width}");
            for &n in &chunks {
                assert!(n.is_power_of_two(), "{n}");
                assert!(n == 1 || n * width <= super::SQLITE_MAX_PARAMS, "{n} × {width}");
            }
            assert!(chunks.windows(2).all(|w| w[0] >= w[1]), "{chunks:?}");
        }
    }
}

#[test]
fn copy_csv_quotes_text_leaves_null_empty_and_spells_doubles_as_postgresql_reads_them() {
    use super::super::entities::candle;
    use super::dialects::csv;
    use super::{Cell, Rows, Table};
    use std::borrow::Cow;

    let table = Table::of::<candle::Entity>(&[candle::Column::InstrumentKey], &[candle::Column::Close]);
    let items = [(r#"NSE:"odd",key"#, 0.1 + 0.2), ("", f64::NEG_INFINITY)];
    let rows = Rows::of(&table, &items, |(k, x), out| {
        out.extend([
            Cell::Text(Cow::Borrowed(*k)),
            Cell::BigInt(-5),
            Cell::Double(*x),
            Cell::Double(1e-300),
            Cell::Double(f64::NAN),
            Cell::Double(2.0),
            Cell::Double(f64::INFINITY),
            Cell::Null,
            Cell::Null,
            Cell::BigInt(i64::MAX),
        ]);
    });
    assert_eq!(
        String::from_utf8(csv(&rows.cells, rows.width())).unwrap(),
        "\"NSE:\"\"odd\"\",key\",-5,0.30000000000000004,1e-300,NaN,2.0,Infinity,,,9223372036854775807\n\
         \"\",-5,-Infinity,1e-300,NaN,2.0,Infinity,,,9223372036854775807\n"
    );
}
