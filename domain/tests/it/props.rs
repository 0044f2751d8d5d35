//! Property tests of the mathematics and the bar machinery.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::candles::{Bar, Bucketer, aggregate};
use domain::indicators::{Indicator, IndicatorSpec};
use domain::instrument::{Market, OptionRight};
use domain::pricing::{OptionInputs, PricingModel, implied_volatility, price_and_greeks};
use proptest::prelude::*;
use ta_lib::{Core, MAType};

fn opt(right: OptionRight, s: f64, k: f64, t: f64, r: f64, q: f64, vol: f64) -> OptionInputs {
    OptionInputs {
        right,
        underlying: s,
        strike: k,
        t_years: t,
        rate: r,
        div_yield: q,
        vol,
    }
}

proptest! {
    #[test]
    fn put_call_parity_holds(s in 50.0..200.0f64, k in 50.0..200.0f64, t in 0.001..3.0f64, r in -0.01..0.12f64, q in 0.0..0.06f64, vol in 0.02..1.5f64) {
        let c = price_and_greeks(PricingModel::Bsm, &opt(OptionRight::Call, s, k, t, r, q, vol)).unwrap().price;
        let p = price_and_greeks(PricingModel::Bsm, &opt(OptionRight::Put, s, k, t, r, q, vol)).unwrap().price;
        let rhs = s * (-q * t).exp() - k * (-r * t).exp();
        prop_assert!((c - p - rhs).abs() <= 1e-11 * s, "C−P = {} vs {}", c - p, rhs);
    }

    #[test]
    fn delta_is_bounded_and_falls_with_strike(s in 50.0..200.0f64, k in 50.0..200.0f64, dk in 0.01..20.0f64, t in 0.001..2.0f64, r in 0.0..0.1f64, q in 0.0..0.05f64, vol in 0.05..1.0f64) {
        // The bound e^{−qT} is recomputed here, so allow a few ulps against the kernel's own product.
        let dq = (-q * t).exp() * (1.0 + 1e-14);
        for right in [OptionRight::Call, OptionRight::Put] {
            let g1 = price_and_greeks(PricingModel::Bsm, &opt(right, s, k, t, r, q, vol)).unwrap().greeks;
            let g2 = price_and_greeks(PricingModel::Bsm, &opt(right, s, k + dk, t, r, q, vol)).unwrap().greeks;
            match right {
                OptionRight::Call => prop_assert!((0.0..=dq).contains(&g1.delta)),
                OptionRight::Put => prop_assert!((-dq..=0.0).contains(&g1.delta)),
            }
            prop_assert!(g2.delta <= g1.delta + 1e-15, "delta rises with strike: {} -> {}", g1.delta, g2.delta);
            prop_assert!(g1.gamma >= 0.0 && g1.vega_per_unit >= 0.0);
        }
    }

    #[test]
    fn iv_of_the_price_is_the_volatility(call in any::<bool>(), s in 80.0..120.0f64, k in 70.0..130.0f64, t in 0.01..2.0f64, r in 0.0..0.1f64, vol in 0.05..1.0f64, b76 in any::<bool>()) {
        let model = if b76 { PricingModel::Black76 } else { PricingModel::Bsm };
        let right = if call { OptionRight::Call } else { OptionRight::Put };
        let o = opt(right, s, k, t, r, 0.01, vol);
        let v = price_and_greeks(model, &o).unwrap();
        // Only where the price carries the volatility: enough time value and vega.
        prop_assume!(v.greeks.vega_per_unit > 1e-3 * s * t.sqrt());
        let iv = implied_volatility(model, &o, v.price).unwrap();
        prop_assert!((iv - vol).abs() < 1e-9, "iv {iv} vs vol {vol}");
    }
}

/// A random walk of 1-minute bars over `days` NSE sessions from 2019-07-08, dropping minutes with
/// probability `holes` (so gaps happen) and adding a few off-session prints.
fn bars(seed: u64, days: usize, holes: f64) -> Vec<Bar> {
    let market = Market::nse();
    let mut n = seed | 1;
    let mut rnd = move || {
        n ^= n << 13;
        n ^= n >> 7;
        n ^= n << 17;
        (n >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = vec![];
    let mut px = 100.0;
    let mut date = NaiveDate::from_ymd_opt(2019, 7, 8).unwrap();
    let mut left = days;
    while left > 0 {
        if let Some(s) = market.session_on(date) {
            left -= 1;
            for m in -3..380 {
                if rnd() < holes {
                    continue;
                }
                let c = px + (rnd() - 0.5);
                let t = s.open + Duration::minutes(m);
                out.push(Bar::ohlcv(
                    t,
                    px,
                    px.max(c) + rnd(),
                    px.min(c) - rnd(),
                    c,
                    (rnd() * 1000.0).floor(),
                ));
                px = c;
            }
        }
        date = date.succ_opt().unwrap();
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn aggregating_through_an_aligned_intermediate_changes_nothing(seed in any::<u64>(), holes in 0.0..0.3f64, pair in prop::sample::select(vec![(5u32, 15u32), (10, 30), (3, 75), (25, 75), (15, 60)])) {
        let market = Market::nse();
        let b = bars(seed, 2, holes);
        let (mid, top) = (format!("{}m", pair.0).parse().unwrap(), format!("{}m", pair.1).parse().unwrap());
        let direct = aggregate(&b, top, &market).unwrap();
        let via: Vec<Bar> = aggregate(&b, mid, &market).unwrap().iter().map(|a| a.to_bar()).collect();
        let two_step = aggregate(&via, top, &market).unwrap();
        prop_assert_eq!(direct.len(), two_step.len());
        for (d, t) in direct.iter().zip(&two_step) {
            prop_assert_eq!((d.start, d.end, d.open, d.high, d.low, d.close), (t.start, t.end, t.open, t.high, t.low, t.close));
            prop_assert_eq!((d.volume, d.n_bars, d.expected_bars, d.gaps, d.partial), (t.volume, t.n_bars, t.expected_bars, t.gaps, t.partial));
            match (d.vwap, t.vwap) {
                (Some(a), Some(b)) => prop_assert!((a - b).abs() <= 1e-12 * a.abs()),
                (a, b) => prop_assert_eq!(a, b),
            }
        }
    }

    #[test]
    fn bucket_boundaries_are_always_on_the_session_grid(offset_s in 0i64..(10 * 86_400), step in 1u32..400) {
        let market = Market::nse();
        let t: DateTime<Utc> = DateTime::parse_from_rfc3339("2019-07-08T00:00:00+05:30").unwrap().with_timezone(&Utc) + Duration::seconds(offset_s);
        let mut b = Bucketer::new(market.clone(), format!("{step}m").parse().unwrap());
        match (b.bucket_of(t), market.session_containing(t)) {
            (Some(k), Some(day)) => {
                prop_assert!(k.contains(t));
                prop_assert_eq!((k.start - day.open).num_seconds() % (i64::from(step) * 60), 0);
                prop_assert!(k.end <= day.close && k.start >= day.open);
                prop_assert_eq!(k.partial, k.end - k.start < Duration::minutes(i64::from(step)));
            }
            (None, None) => {}
            (k, d) => prop_assert!(false, "bucket {:?} vs session {:?}", k, d),
        }
    }

    #[test]
    fn streaming_indicators_equal_the_batch_functions_and_peek_equals_update(seed in any::<u64>(), period in 2i32..40) {
        let market = Market::nse();
        let b = bars(seed, 1, 0.0);
        let close: Vec<f64> = b.iter().map(|x| x.close).collect();
        let high: Vec<f64> = b.iter().map(|x| x.high).collect();
        let low: Vec<f64> = b.iter().map(|x| x.low).collect();
        let core = Core::new();
        let n = close.len();
        let mut ema = vec![0.0; n];
        let mut rsi = vec![0.0; n];
        let mut atr = vec![0.0; n];
        let (mut bu, mut bm, mut bl) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let re = core.ema(0, n - 1, &close, period, &mut ema).unwrap();
        let rr = core.rsi(0, n - 1, &close, period, &mut rsi).unwrap();
        let ra = core.atr(0, n - 1, &high, &low, &close, period, &mut atr).unwrap();
        let rb = core.bbands(0, n - 1, &close, period, 2.0, 2.0, MAType::SMA, &mut bu, &mut bm, &mut bl).unwrap();
        let batches = [
            (format!("ema:{period}"), re, ema, 0usize),
            (format!("rsi:{period}"), rr, rsi, 0),
            (format!("atr:{period}"), ra, atr, 0),
            (format!("bbands:{period}:2:2"), rb, bl, 2),
        ];
        for (spec, range, values, out) in batches {
            let mut ind = Indicator::new(spec.parse::<IndicatorSpec>().unwrap(), &market).unwrap();
            for (i, bar) in b.iter().enumerate() {
                let peeked = ind.peek(bar).unwrap().map(|v| v[out]);
                let got = ind.update(bar).unwrap().map(|v| v[out]);
                prop_assert_eq!(peeked.map(f64::to_bits), got.map(f64::to_bits), "{} peek at {}", spec, i);
                let want = (i >= range.beg_idx).then(|| values[i - range.beg_idx]);
                prop_assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{} at {}", spec, i);
            }
        }
    }
}
