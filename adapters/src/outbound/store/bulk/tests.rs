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
