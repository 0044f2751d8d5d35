//! The shipped Cboe index-options calendar (`domain/calendars/cboe.csv`, from python-holidays'
//! NYSE calendar and NYSE's early-close rules) against an independent copy of the same facts:
//! every weekday of 2015–2027 as pandas_market_calendars' NYSE calendar sees it, the options'
//! close 15 minutes after NYSE's (`fixtures/cboe_calendar_pmc.csv`, written by
//! `scripts/calendar/cboe.py fixture`); and its sessions and bars on both sides of every daylight
//! saving change of 2024–2026 and on early-close days.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::America::New_York;
use domain::candles::{Bucketer, Timeframe};
use domain::instrument::{Market, TradingDay};

use crate::support::{calendar_exceptions, session_windows};

const FIXTURE: &str = include_str!("../fixtures/cboe_calendar_pmc.csv");

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn windows(day: &TradingDay) -> String {
    session_windows(day, New_York)
}

#[test]
fn every_weekday_of_2015_to_2027_matches_the_independent_copy() {
    let exceptions = calendar_exceptions(FIXTURE);
    assert_eq!(
        exceptions.values().filter(|w| **w == "closed").count(),
        124,
        "the fixture holds 2015-2027's weekday holidays"
    );
    assert_eq!(exceptions.len(), 150, "and its 26 early closes");
    let cboe = Market::cboe();
    let mut mismatches = Vec::new();
    for date in d("2015-01-01").iter_days().take_while(|x| *x <= d("2027-12-31")) {
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            assert!(cboe.session_on(date).is_none(), "{date} is a weekend");
            continue;
        }
        let want = exceptions.get(&date).copied().unwrap_or("09:30-16:15");
        let got = cboe
            .session_on(date)
            .map_or_else(|| "closed".to_owned(), |s| windows(&s));
        if got != want {
            mismatches.push(format!("{date}: shipped {got}, independent copy {want}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(cboe.units_per_oi(), 100.0);
    assert_eq!(Market::by_code("cboe").unwrap().code(), "CBOE");
}

/// The daylight-saving changes of 2024–2026 in New York: (last day before, first day after),
/// both trading days, and the UTC open before and after.
const DST_CHANGES: [(&str, &str, &str, &str); 6] = [
    ("2024-03-08", "2024-03-11", "14:30", "13:30"),
    ("2024-11-01", "2024-11-04", "13:30", "14:30"),
    ("2025-03-07", "2025-03-10", "14:30", "13:30"),
    ("2025-10-31", "2025-11-03", "13:30", "14:30"),
    ("2026-03-06", "2026-03-09", "14:30", "13:30"),
    ("2026-10-30", "2026-11-02", "13:30", "14:30"),
];

#[test]
fn sessions_open_at_09_30_new_york_on_both_sides_of_each_dst_change() {
    let cboe = Market::cboe();
    for (before, after, open_before, open_after) in DST_CHANGES {
        for (date, open_utc) in [(before, open_before), (after, open_after)] {
            let s = cboe.session_on(d(date)).unwrap_or_else(|| panic!("{date} trades"));
            assert_eq!(
                s.open.format("%H:%M").to_string(),
                open_utc,
                "{date} opens at {open_utc} UTC"
            );
            assert_eq!(windows(&s), "09:30-16:15", "{date}");
            assert_eq!((s.close - s.open).num_minutes(), 405, "{date}: 6 h 45 min");
        }
        // The weekend between holds the change: no session, and Monday's local date is right.
        let monday = cboe.session_on(d(after)).unwrap();
        assert_eq!(cboe.local_date(monday.open), d(after));
    }
}

#[test]
fn bars_are_anchored_at_09_30_new_york_on_both_sides_of_each_dst_change() {
    let cboe = Market::cboe();
    for tf in ["1m", "5m", "7m", "30m", "1h", "4h"] {
        let timeframe: Timeframe = tf.parse().unwrap();
        let step = timeframe.to_string();
        let mut b = Bucketer::new(cboe.clone(), timeframe);
        for (before, after, _, _) in DST_CHANGES {
            for date in [before, after] {
                let s = cboe.session_on(d(date)).unwrap();
                // Every minute of the session: its bucket starts on the 09:30 grid and holds it.
                let mut t = s.open;
                let mut starts = Vec::new();
                while t < s.close {
                    let bucket = b.bucket_of(t).unwrap_or_else(|| panic!("{date} {t} in a bucket"));
                    assert!(bucket.contains(t));
                    let from_open = (bucket.start - s.open).num_minutes();
                    let every = i64::from(timeframe.intraday_minutes().unwrap());
                    assert_eq!(
                        from_open % every,
                        0,
                        "{step} {date}: {} is off the 09:30 grid",
                        bucket.start
                    );
                    assert!(bucket.end <= s.close);
                    if starts.last() != Some(&bucket.start) {
                        starts.push(bucket.start);
                    }
                    t += Duration::minutes(1);
                }
                let first = starts[0].with_timezone(&New_York);
                assert_eq!(first.format("%H:%M").to_string(), "09:30", "{step} {date}");
                let every = i64::from(timeframe.intraday_minutes().unwrap());
                assert_eq!(starts.len() as i64, (405 + every - 1) / every, "{step} {date}");
                assert!(b.bucket_of(s.open - Duration::minutes(1)).is_none(), "before the open");
                assert!(b.bucket_of(s.close).is_none(), "at the close");
            }
        }
    }
}

#[test]
fn early_close_days_end_at_13_15_and_their_last_bar_is_cut() {
    let cboe = Market::cboe();
    for date in [
        "2024-07-03",
        "2024-11-29",
        "2024-12-24",
        "2025-07-03",
        "2025-11-28",
        "2025-12-24",
        "2026-11-27",
        "2026-12-24",
    ] {
        let s = cboe.session_on(d(date)).unwrap_or_else(|| panic!("{date} trades"));
        assert_eq!(windows(&s), "09:30-13:15", "{date}");
        let mut b = Bucketer::new(cboe.clone(), "1h".parse().unwrap());
        let last = b.bucket_of(s.close - Duration::minutes(1)).unwrap();
        assert_eq!(last.end, s.close);
        assert_eq!(
            (
                last.start.with_timezone(&New_York).format("%H:%M").to_string(),
                last.expected_minutes,
                last.partial
            ),
            ("12:30".to_owned(), 45, true),
            "{date}"
        );
    }
    // Holidays and their neighbours: Good Friday 2025, Juneteenth 2026, 4 July 2026 observed on
    // Friday the 3rd (so no early close that week), Christmas 2026.
    for closed in ["2025-04-18", "2026-06-19", "2026-07-03", "2026-12-25"] {
        assert!(cboe.session_on(d(closed)).is_none(), "{closed} is a holiday");
    }
    assert_eq!(windows(&cboe.session_on(d("2026-07-02")).unwrap()), "09:30-16:15");
    // The session containing an instant on each side of midnight UTC, in winter.
    let evening = utc("2025-01-15T21:14:00Z");
    assert_eq!(cboe.session_containing(evening).map(|s| s.date), Some(d("2025-01-15")));
    assert!(cboe.session_containing(evening + Duration::minutes(1)).is_none());
    assert_eq!(
        New_York
            .with_ymd_and_hms(2025, 1, 15, 16, 14, 0)
            .unwrap()
            .with_timezone(&Utc),
        evening
    );
}
