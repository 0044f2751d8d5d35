//! Tests of `market.rs`.

use super::*;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[test]
fn nse_regular_session_is_0915_to_1530_ist() {
    let day = Market::nse().session_on(d("2019-07-09")).unwrap();
    assert_eq!(day.open.to_rfc3339(), "2019-07-09T03:45:00+00:00");
    assert_eq!(day.close.to_rfc3339(), "2019-07-09T10:00:00+00:00");
    assert_eq!(day.minutes(), 375);
}

#[test]
fn weekends_and_holidays_are_closed_special_sessions_open() {
    let nse = Market::nse();
    assert!(nse.session_on(d("2019-07-13")).is_none(), "Saturday");
    assert!(nse.session_on(d("2019-06-05")).is_none(), "Id-ul-Fitr");
    let muhurat = nse.session_on(d("2019-10-27")).unwrap();
    assert_eq!(muhurat.minutes(), 60);
    assert_eq!(nse.next_session_from(d("2019-06-05")).unwrap().date, d("2019-06-06"));
}

#[test]
fn malformed_calendar_lines_are_named() {
    let m = Market::new("X", chrono_tz::UTC, Market::nse().regular_hours(), vec![]).unwrap();
    let err = m
        .clone()
        .from_calendar("holiday,2019-13-01,,src,bad month")
        .unwrap_err();
    assert!(matches!(err, CalendarError::BadLine { line: 1, .. }), "{err}");
    let err = m
        .clone()
        .from_calendar("# c\nholiday,2019-03-01,,,no source")
        .unwrap_err();
    assert!(
        err.to_string().contains("line 2") && err.to_string().contains("source"),
        "{err}"
    );
    let err = m
        .clone()
        .from_calendar("special,2024-03-02,11:30-12:30 09:15-10:00,src,")
        .unwrap_err();
    assert!(err.to_string().contains("overlaps or precedes"), "{err}");
    let err = m.from_calendar("special,2024-03-02,,src,").unwrap_err();
    assert!(err.to_string().contains("at least one window"), "{err}");
}

#[test]
fn a_session_may_have_several_windows() {
    let day = Market::nse().session_on(d("2024-03-02")).unwrap();
    assert_eq!(day.windows().len(), 2);
    assert_eq!(day.open.to_rfc3339(), "2024-03-02T03:45:00+00:00");
    assert_eq!(day.close.to_rfc3339(), "2024-03-02T07:00:00+00:00");
    assert_eq!(day.minutes(), 45 + 60);
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    assert!(day.contains(at("2024-03-02T09:59:00+05:30")));
    assert!(!day.contains(at("2024-03-02T10:00:00+05:30")), "between the windows");
    assert!(!day.contains(at("2024-03-02T11:29:00+05:30")));
    assert!(day.contains(at("2024-03-02T11:30:00+05:30")));
    assert!(Market::nse().session_on(d("2024-01-22")).is_none(), "ad hoc holiday");
    assert_eq!(Market::nse().session_on(d("2024-01-20")).unwrap().minutes(), 375);
}
