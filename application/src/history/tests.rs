//! Tests of `history.rs`.

use super::*;
use chrono::TimeZone;

fn req(cursor: Option<String>) -> PageRequest {
    PageRequest {
        range: TimeRange {
            from: Utc.with_ymd_and_hms(2026, 2, 2, 3, 45, 0).unwrap(),
            to: Utc.with_ymd_and_hms(2026, 2, 3, 10, 0, 0).unwrap(),
        },
        timeframe: "5m".parse().unwrap(),
        limit: 10,
        cursor,
    }
}

#[test]
fn a_cursor_continues_its_own_request_only() {
    let r = req(None);
    let next = Utc.with_ymd_and_hms(2026, 2, 2, 5, 0, 0).unwrap();
    let c = encode_cursor(r.range.from, r.timeframe, next);
    assert_eq!(page_range(&req(Some(c.clone()))).unwrap().from, next);
    let mut other = req(Some(c.clone()));
    other.timeframe = "7m".parse().unwrap();
    assert!(matches!(
        page_range(&other),
        Err(HistoryError::BadParam { field: "cursor", .. })
    ));
    for bad in ["", "zz", "00", &c[..c.len() - 2]] {
        assert!(
            matches!(
                page_range(&req(Some(bad.to_owned()))),
                Err(HistoryError::BadParam { field: "cursor", .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn ranges_and_limits_are_bounded() {
    let mut r = req(None);
    r.range.to = r.range.from;
    assert!(matches!(
        page_range(&r),
        Err(HistoryError::BadParam { field: "to", .. })
    ));
    let mut r = req(None);
    r.range.to = r.range.from + Duration::days(32);
    assert!(matches!(
        page_range(&r),
        Err(HistoryError::BadParam { field: "to", .. })
    ));
    r.timeframe = "1d".parse().unwrap();
    assert!(page_range(&r).is_ok(), "daily bars may span years");
    let mut r = req(None);
    r.limit = MAX_LIMIT + 1;
    assert!(matches!(
        page_range(&r),
        Err(HistoryError::BadParam { field: "limit", .. })
    ));
}
