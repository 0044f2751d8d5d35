use proptest::prelude::*;

use super::*;

/// Any double as bits: NaNs with payloads, infinities, `-0.0`, subnormals.
fn any_bits() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        1 => Just(None),
        6 => any::<u64>().prop_map(|b| Some(f64::from_bits(b))),
        6 => (-1e6f64..1e6).prop_map(Some),
    ]
}

fn bits(v: &[Option<f64>]) -> Vec<Option<u64>> {
    v.iter().map(|x| x.map(f64::to_bits)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn every_column_comes_back_to_the_bit(
        rows in 0usize..420,
        seed in any::<u64>(),
        doubles in proptest::collection::vec(any_bits(), 420),
        texts in proptest::collection::vec(proptest::option::of("[a-z_]{0,12}"), 420),
    ) {
        let doubles = &doubles[..rows];
        let texts: Vec<Option<&str>> = texts[..rows].iter().map(Option::as_deref).collect();
        let ints: Vec<i64> = (0..rows as i64).map(|i| i.wrapping_mul(60_000).wrapping_add(seed as i64)).collect();
        let small: Vec<i32> = (0..rows).map(|i| (seed as i32).wrapping_add(i as i32 % 7)).collect();
        let required: Vec<f64> = doubles.iter().map(|d| d.unwrap_or(-0.0)).collect();
        let mut w = PackWriter::new(rows);
        w.i64s(ints.iter().copied());
        w.opt_f64s(doubles);
        w.f64s(required.iter().copied());
        w.opt_strs(&texts);
        w.i32s(small.iter().copied());
        w.strs(texts.iter().map(|t| t.unwrap_or("none")));
        let constant = f64::from_bits(seed);
        w.f64s(std::iter::repeat_n(constant, rows));
        w.strs(std::iter::repeat_n("black76", rows));
        w.opt_f64s(&vec![Some(-0.0); rows]);
        let pack = w.finish();

        let mut r = PackReader::new(&pack).unwrap();
        prop_assert_eq!(r.rows(), rows);
        prop_assert_eq!(r.i64s().unwrap(), ints);
        prop_assert_eq!(bits(&r.opt_f64s().unwrap()), bits(doubles));
        prop_assert_eq!(
            r.f64s().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            required.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        prop_assert_eq!(r.opt_strs().unwrap(), texts.iter().map(|t| t.map(str::to_owned)).collect::<Vec<_>>());
        prop_assert_eq!(r.i32s().unwrap(), small);
        prop_assert_eq!(r.strs().unwrap(), texts.iter().map(|t| t.unwrap_or("none").to_owned()).collect::<Vec<_>>());
        prop_assert_eq!(r.f64s().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>(), vec![seed; rows]);
        prop_assert_eq!(r.strs().unwrap(), vec!["black76".to_owned(); rows]);
        prop_assert_eq!(bits(&r.opt_f64s().unwrap()), vec![Some((-0.0f64).to_bits()); rows]);
        prop_assert!(r.end().is_ok());
    }

    /// Cut short or with bytes flipped, a pack is an error or some values, never a panic.
    #[test]
    fn a_damaged_pack_is_an_error_not_a_panic(cut in 0usize..400, flip in 0usize..400, mask in 1u8..=255) {
        let mut w = PackWriter::new(50);
        w.opt_f64s(&(0..50).map(|i| (i % 3 != 0).then_some(f64::from(i) * 0.05)).collect::<Vec<_>>());
        w.opt_strs(&(0..50).map(|i| (i % 2 == 0).then_some("mid")).collect::<Vec<_>>());
        let mut pack = w.finish();
        let at = flip % pack.len();
        pack[at] ^= mask;
        pack.truncate(cut.min(pack.len()));
        if let Ok(mut r) = PackReader::new(&pack) {
            let _ = r.opt_f64s().and_then(|_| r.opt_strs()).and_then(|_| r.end());
        }
    }
}

#[test]
fn a_truncated_pack_names_what_is_missing() {
    let mut w = PackWriter::new(3);
    w.f64s([1.0, 2.0, 3.0]);
    let pack = w.finish();
    let mut r = PackReader::new(&pack[..pack.len() - 1]).unwrap();
    let e = r.f64s().unwrap_err();
    assert!(e.to_string().starts_with("corrupt pack: "), "{e}");
    assert_eq!(
        PackReader::new(&[9, 0, 0, 0, 0]).unwrap_err().to_string(),
        "corrupt pack: layout version 9, this build reads 1 to 2"
    );
    let mut r = PackReader::new(&pack).unwrap();
    r.f64s().unwrap();
    assert!(r.end().is_ok());
    let mut longer = pack.clone();
    longer.push(0);
    let mut r = PackReader::new(&longer).unwrap();
    r.f64s().unwrap();
    assert_eq!(
        r.end().unwrap_err().to_string(),
        "corrupt pack: 1 bytes after the last column"
    );
}

#[test]
fn a_constant_column_costs_a_few_bytes_and_a_smooth_one_less_than_its_doubles() {
    let mut w = PackWriter::new(375);
    w.f64s(std::iter::repeat_n(0.065, 375));
    let constant = w.finish().len();
    assert_eq!(
        constant,
        5 + 1 + 8,
        "a constant column of 375 doubles: its tag and value"
    );
    let mut w = PackWriter::new(375);
    w.strs(std::iter::repeat_n("black76", 375));
    assert_eq!(w.finish().len(), 5 + 1 + 2 + 7);
    // A tick-rounded price walking by a few ticks a minute.
    let mut w = PackWriter::new(375);
    w.f64s((0..375).map(|i| ((24_000.0 + f64::from(i % 17) * 0.05 * f64::from(i / 17)) * 20.0).round() / 20.0));
    let prices = w.finish().len();
    assert!(prices < 375 * 3, "{prices} bytes for 375 prices");
}
