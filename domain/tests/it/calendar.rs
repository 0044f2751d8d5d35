//! The shipped NSE calendar (`domain/calendars/nse.csv`) against an independent copy of the same
//! facts: every weekday of 2015–2026 as pandas_market_calendars sees it
//! (`fixtures/nse_calendar_pmc.csv`, written by `scripts/calendar/nse_fixture.py`), and the weekend
//! sessions that package cannot represent, listed here from NSE's circulars.

use chrono::{Datelike, NaiveDate, Weekday};
use domain::instrument::{Market, TradingDay};

use crate::support::{calendar_exceptions, session_windows};

const FIXTURE: &str = include_str!("../fixtures/nse_calendar_pmc.csv");

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn windows(day: &TradingDay) -> String {
    session_windows(day, chrono_tz::Asia::Kolkata)
}

#[test]
fn every_weekday_of_2015_to_2026_matches_the_independent_copy() {
    let exceptions = calendar_exceptions(FIXTURE);
    assert!(exceptions.len() > 150, "the fixture holds 2015-2026's closures");
    let nse = Market::nse();
    let mut mismatches = Vec::new();
    let mut weekdays = 0;
    for date in d("2015-01-01").iter_days().take_while(|x| *x <= d("2026-12-31")) {
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            continue;
        }
        weekdays += 1;
        let want = exceptions.get(&date).copied().unwrap_or("09:15-15:30");
        let got = nse
            .session_on(date)
            .map_or_else(|| "closed".to_owned(), |s| windows(&s));
        if got != want {
            mismatches.push(format!("{date}: shipped {got}, independent copy {want}"));
        }
    }
    assert_eq!(weekdays, 3131);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn weekend_sessions_are_open_and_other_weekends_closed() {
    let nse = Market::nse();
    let weekend_sessions = [
        ("2015-02-28", "09:15-15:30"), // Union Budget, Saturday
        ("2016-10-30", "18:30-19:30"), // Muhurat, Sunday
        ("2019-10-27", "18:15-19:15"), // Muhurat, Sunday
        ("2020-02-01", "09:15-15:30"), // Union Budget, Saturday
        ("2020-11-14", "18:15-19:15"), // Muhurat, Saturday
        ("2023-11-12", "18:15-19:15"), // Muhurat, Sunday
        ("2024-01-20", "09:15-15:30"), // special live session, full day
        ("2024-03-02", "09:15-10:00 11:30-12:30"),
        ("2024-05-18", "09:15-10:00 11:30-12:30"),
        ("2025-02-01", "09:15-15:30"), // Union Budget, Saturday
    ];
    for (date, want) in weekend_sessions {
        let got = nse.session_on(d(date)).map(|s| windows(&s));
        assert_eq!(got.as_deref(), Some(want), "{date}");
    }
    let open_weekends = d("2015-01-01")
        .iter_days()
        .take_while(|x| *x <= d("2027-12-31"))
        .filter(|x| matches!(x.weekday(), Weekday::Sat | Weekday::Sun))
        .filter(|x| nse.session_on(*x).is_some())
        .count();
    assert_eq!(open_weekends, weekend_sessions.len(), "no other weekend trades");
}

#[test]
fn the_calendar_reaches_2027() {
    let nse = Market::nse();
    assert!(nse.calendar_through().unwrap() >= d("2027-01-26"));
    assert!(nse.session_on(d("2027-01-26")).is_none(), "Republic Day 2027");
}
