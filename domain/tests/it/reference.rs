//! Aggregation and indicators against the shared references computed from real NSE bars
//! (read in place from `../shared/reference`, never copied).

use chrono::{DateTime, FixedOffset, Utc};
use domain::candles::{Bar, aggregate};
use domain::instrument::Market;

use crate::support::{Row, read_csv, shared_reference};

/// The YESBANK 1-minute bars, or `None` when the shared reference is absent outside CI.
pub fn yesbank_bars() -> Option<Vec<Bar>> {
    let path = shared_reference("indicators/nse_yesbank_1m_2019-07-09_11.csv")?;
    let (h, rows) = read_csv(&path);
    Some(
        rows.iter()
            .map(|rec| {
                let r = Row { header: &h, rec };
                let t = DateTime::parse_from_rfc3339(r.s("ts")).unwrap().with_timezone(&Utc);
                Bar::ohlcv(t, r.f("open"), r.f("high"), r.f("low"), r.f("close"), r.f("volume"))
            })
            .collect(),
    )
}

fn check_aggregation(file: &str, tf: &str) {
    let Some(bars) = yesbank_bars() else { return };
    let Some(path) = shared_reference(&format!("aggregation/{file}")) else {
        return;
    };
    let (h, rows) = read_csv(&path);
    let got = aggregate(&bars, tf.parse().unwrap(), &Market::nse()).unwrap();
    assert_eq!(got.len(), rows.len(), "bucket count");
    let ist = FixedOffset::east_opt(19_800).unwrap();
    for (i, (g, rec)) in got.iter().zip(&rows).enumerate() {
        let r = Row { header: &h, rec };
        assert_eq!(g.start.with_timezone(&ist).to_rfc3339(), r.s("bucket_start"), "row {i}");
        assert_eq!(g.end.with_timezone(&ist).to_rfc3339(), r.s("bucket_end"), "row {i}");
        assert_eq!(
            (g.open, g.high, g.low, g.close, g.volume),
            (r.f("open"), r.f("high"), r.f("low"), r.f("close"), r.f("volume")),
            "row {i}"
        );
        let vwap = g.vwap.unwrap();
        assert!(
            (vwap - r.f("vwap")).abs() <= 1e-12 * r.f("vwap").abs(),
            "row {i}: vwap {vwap} vs {}",
            r.s("vwap")
        );
        assert_eq!(g.n_bars.to_string(), r.s("n_bars"), "row {i}");
        assert_eq!(g.expected_bars.to_string(), r.s("expected_bars"), "row {i}");
        assert_eq!(u8::from(g.partial).to_string(), r.s("partial"), "row {i}");
        assert_eq!(g.gaps.to_string(), r.s("gaps"), "row {i}");
    }
}

#[test]
fn seven_minute_aggregation_equals_the_reference() {
    check_aggregation("yesbank_7m.csv", "7m");
}

#[test]
fn seventy_five_minute_aggregation_equals_the_reference() {
    check_aggregation("yesbank_75m.csv", "75m");
}

/// (reference column, our spec, output index)
const INDICATOR_COLUMNS: &[(&str, &str, usize)] = &[
    ("sma20", "sma:20", 0),
    ("ema20", "ema:20", 0),
    ("rsi14", "rsi:14", 0),
    ("macd", "macd:12:26:9", 0),
    ("macd_signal", "macd:12:26:9", 1),
    ("macd_hist", "macd:12:26:9", 2),
    ("bb_upper", "bbands:20:2:2", 0),
    ("bb_middle", "bbands:20:2:2", 1),
    ("bb_lower", "bbands:20:2:2", 2),
    ("atr14", "atr:14", 0),
    ("adx14", "adx:14", 0),
    ("stoch_k", "stoch:14:3:3", 0),
    ("stoch_d", "stoch:14:3:3", 1),
    ("cci20", "cci:20", 0),
    ("obv", "obv", 0),
    ("willr14", "willr:14", 0),
    ("mfi14", "mfi:14", 0),
    ("vwap_session_hlc3", "vwap_session", 0),
];

#[test]
fn streaming_indicators_equal_talib_with_the_same_warm_up_rows() {
    use domain::indicators::{Indicator, IndicatorSpec};
    let Some(bars) = yesbank_bars() else { return };
    let Some(path) = shared_reference("indicators/nse_yesbank_1m_ref.csv") else {
        return;
    };
    let (h, rows) = read_csv(&path);
    assert_eq!(rows.len(), bars.len());
    let market = Market::nse();
    let mut failures = vec![];
    for (col, spec, out) in INDICATOR_COLUMNS {
        let mut ind = Indicator::new(spec.parse::<IndicatorSpec>().unwrap(), &market).unwrap();
        for (i, (bar, rec)) in bars.iter().zip(&rows).enumerate() {
            let want = Row { header: &h, rec }.opt(col);
            let got = ind.update(bar).unwrap().map(|v| v[*out]);
            let ok = match (got, want) {
                (None, None) => true,
                (Some(g), Some(w)) => (g - w).abs() <= 1e-9 * w.abs() + 1e-12,
                _ => false,
            };
            if !ok {
                failures.push(format!("{col} row {i}: got {got:?}, want {want:?}"));
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
