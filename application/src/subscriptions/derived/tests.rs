//! Tests of `derived.rs`.

use chrono::TimeZone;

use super::*;

/// A feed of `NSE:NIFTY` on 5-minute bars, or of `indicator` on them.
fn feed(indicator: Option<&str>) -> Feed {
    let market = Market::nse();
    let timeframe: Timeframe = "5m".parse().unwrap();
    let indicator = indicator.map(|s| {
        let spec: IndicatorSpec = s.parse().unwrap();
        (Indicator::new(spec.clone(), &market).unwrap(), spec.column_names())
    });
    Feed::new(
        "t".into(),
        InstrumentKey::parse("NSE:NIFTY").unwrap(),
        timeframe,
        market,
        indicator,
    )
}

/// The 1-minute bar `m` minutes after the session open (09:15 IST) on 2026-02-02.
fn minute(m: i64, close: f64) -> Bar {
    let start = Utc.with_ymd_and_hms(2026, 2, 2, 3, 45, 0).unwrap() + Duration::minutes(m);
    Bar::ohlcv(start, close, close, close, close, 1.0)
}

/// The latest state as (bucket start minute after the open, forming, close or first value).
fn latest(f: &Feed) -> (i64, bool, Option<f64>) {
    let open = Utc.with_ymd_and_hms(2026, 2, 2, 3, 45, 0).unwrap();
    match &f.latest {
        Some((_, forming, SignalEvent::Bar { bar, .. })) => {
            ((bar.start - open).num_minutes(), *forming, Some(bar.close))
        }
        Some((_, forming, SignalEvent::Indicator { bar_start, values, .. })) => {
            ((*bar_start - open).num_minutes(), *forming, values[0])
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_later_bucket_closes_the_open_one_and_late_bars_change_nothing() {
    let mut f = feed(None);
    let ts = Utc.with_ymd_and_hms(2026, 2, 2, 5, 0, 0).unwrap();
    f.apply(minute(0, 10.0), true, ts);
    f.apply(minute(1, 11.0), true, ts);
    assert_eq!(latest(&f), (0, true, Some(11.0)));
    f.apply(minute(7, 12.0), true, ts);
    assert_eq!(latest(&f), (0, false, Some(11.0)), "minute 7 closes the 09:15 bucket");
    f.apply(minute(2, 99.0), false, ts);
    assert_eq!(latest(&f), (0, false, Some(11.0)), "a late bar of a closed bucket");
    f.apply(minute(8, 13.0), true, ts);
    assert_eq!(latest(&f), (5, true, Some(13.0)));
    f.apply(minute(9, 14.0), false, ts);
    assert_eq!(latest(&f), (5, false, Some(14.0)), "its last minute, closed, closes it");
}

#[test]
fn an_indicator_commits_closed_bars_and_peeks_at_the_forming_one() {
    let mut f = feed(Some("sma:2"));
    let ts = Utc.with_ymd_and_hms(2026, 2, 2, 5, 0, 0).unwrap();
    f.apply(minute(4, 11.0), false, ts);
    assert_eq!(latest(&f), (0, false, None), "one bar: still warming up");
    f.apply(minute(5, 13.0), true, ts);
    assert_eq!(latest(&f), (5, true, Some(12.0)));
    f.apply(minute(6, 15.0), true, ts);
    assert_eq!(latest(&f), (5, true, Some(13.0)), "peeks do not commit");
    f.apply(minute(10, 1.0), true, ts);
    assert_eq!(latest(&f), (5, false, Some(13.0)), "(11 + 15) / 2 on close");
}
