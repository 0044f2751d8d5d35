//! Property tests across both shipped markets: at any instant of 2024–2026, weighted towards the
//! days either side of New York's daylight-saving changes and the early-close days, the session,
//! the candle bucket and the listed expiries are what an independent copy of the calendar says.
//!
//! The independent copies are the pandas_market_calendars fixtures (`fixtures/*_pmc.csv`): each
//! weekday that is not a regular session, with its local windows or `closed`. NSE's weekend
//! sessions (budget days, Muhurat on a weekend) are not in its copy, so NSE weekends are left to
//! `calendar.rs`; Cboe never trades on a weekend.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use domain::candles::{Bucketer, TimeUnit, Timeframe};
use domain::instrument::{Market, ProductSpec, Settlement};
use proptest::prelude::*;

use crate::support::calendar_exceptions;

const NSE_FIXTURE: &str = include_str!("../fixtures/nse_calendar_pmc.csv");
const CBOE_FIXTURE: &str = include_str!("../fixtures/cboe_calendar_pmc.csv");

/// Days that matter: each side of New York's DST changes 2024–2026 (the Friday before, the
/// Sunday of, the Monday after) and the early closes.
const EDGES: [&str; 26] = [
    "2024-03-08",
    "2024-03-10",
    "2024-03-11",
    "2024-11-01",
    "2024-11-03",
    "2024-11-04",
    "2025-03-07",
    "2025-03-09",
    "2025-03-10",
    "2025-10-31",
    "2025-11-02",
    "2025-11-03",
    "2026-03-06",
    "2026-03-08",
    "2026-03-09",
    "2026-10-30",
    "2026-11-01",
    "2026-11-02",
    "2024-07-03",
    "2024-11-29",
    "2024-12-24",
    "2025-07-03",
    "2025-11-28",
    "2025-12-24",
    "2026-11-27",
    "2026-12-24",
];

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// A shipped market with its zone, regular local hours and independent copy.
struct Case {
    market: Market,
    tz: Tz,
    regular: &'static str,
    fixture: &'static str,
}

fn case(cboe: bool) -> Case {
    if cboe {
        Case {
            market: Market::cboe(),
            tz: chrono_tz::America::New_York,
            regular: "09:30-16:15",
            fixture: CBOE_FIXTURE,
        }
    } else {
        Case {
            market: Market::nse(),
            tz: chrono_tz::Asia::Kolkata,
            regular: "09:15-15:30",
            fixture: NSE_FIXTURE,
        }
    }
}

/// The local windows of `date` by the independent copy, as (open, close) minutes of the day.
fn expected_windows(c: &Case, date: NaiveDate) -> Vec<(u32, u32)> {
    if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
        return Vec::new();
    }
    static NSE: LazyLock<BTreeMap<NaiveDate, &str>> = LazyLock::new(|| calendar_exceptions(NSE_FIXTURE));
    static CBOE: LazyLock<BTreeMap<NaiveDate, &str>> = LazyLock::new(|| calendar_exceptions(CBOE_FIXTURE));
    let exceptions = if c.fixture == CBOE_FIXTURE { &CBOE } else { &NSE };
    let text = exceptions.get(&date).copied().unwrap_or(c.regular);
    if text == "closed" {
        return Vec::new();
    }
    let minute = |hm: &str| {
        let t = NaiveTime::parse_from_str(hm, "%H:%M").unwrap();
        t.hour() * 60 + t.minute()
    };
    text.split(' ')
        .map(|w| {
            let (a, b) = w.split_once('-').unwrap();
            (minute(a), minute(b))
        })
        .collect()
}

use chrono::Timelike;

fn day_strategy() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        (0..EDGES.len()).prop_map(|i| d(EDGES[i])),
        (0..1096_i64).prop_map(|n| d("2024-01-01") + Duration::days(n)),
    ]
}

/// The instant of local `minute` of `date` in `tz`; `None` in a spring-forward gap.
fn local(tz: Tz, date: NaiveDate, minute: u32) -> Option<DateTime<Utc>> {
    let t = date.and_hms_opt(minute / 60, minute % 60, 0)?;
    tz.from_local_datetime(&t).single().map(|x| x.with_timezone(&Utc))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn an_instant_is_in_a_session_exactly_when_the_independent_calendar_says(
        cboe in any::<bool>(), date in day_strategy(), minute in 0..1440_u32
    ) {
        let c = case(cboe);
        prop_assume!(cboe || !matches!(date.weekday(), Weekday::Sat | Weekday::Sun));
        let Some(t) = local(c.tz, date, minute) else { return Ok(()) };
        let want = expected_windows(&c, date).iter().any(|(a, b)| (*a..*b).contains(&minute));
        let got = c.market.session_containing(t);
        prop_assert_eq!(got.is_some(), want, "{} {} {:02}:{:02}", c.market.code(), date, minute / 60, minute % 60);
        if let Some(s) = got {
            prop_assert_eq!(s.date, date);
            prop_assert_eq!(c.market.local_date(t), date);
            // The day's open in UTC is its first window's local open, whatever the offset.
            let first = expected_windows(&c, date)[0].0;
            prop_assert_eq!(Some(s.open), local(c.tz, date, first));
        }
    }

    #[test]
    fn a_bucket_starts_on_the_session_grid_and_holds_its_instant(
        cboe in any::<bool>(), date in day_strategy(), into in 0..1440_u32, every in 1..=300_u32
    ) {
        let c = case(cboe);
        let windows = expected_windows(&c, date);
        // An instant of the day's sessions (closed days have none to check).
        let Some(&(first, _)) = windows.first() else { return Ok(()) };
        let last = windows[windows.len() - 1].1;
        let minute = first + into % (last - first);
        if !windows.iter().any(|(a, b)| (*a..*b).contains(&minute)) {
            return Ok(());
        }
        let t = local(c.tz, date, minute).unwrap();
        let tf = Timeframe::new(every, TimeUnit::Minute).unwrap();
        let mut b = Bucketer::new(c.market.clone(), tf);
        let bucket = b.bucket_of(t).unwrap();
        let label = format!("{} {date} {minute} {every}m", c.market.code());
        prop_assert!(bucket.contains(t), "{}", label);
        // Local minutes of the bucket: on the grid anchored at the day's first open, cut to the
        // window holding the instant.
        let (open, _) = windows[0];
        let (w_open, w_close) = *windows.iter().find(|(a, b)| (*a..*b).contains(&minute)).unwrap();
        let cell = open + (minute - open) / every * every;
        let start = cell.max(w_open);
        let end = (cell + every).min(w_close);
        prop_assert_eq!(Some(bucket.start), local(c.tz, date, start), "{}", label);
        prop_assert_eq!(Some(bucket.end), local(c.tz, date, end), "{}", label);
        prop_assert_eq!(bucket.expected_minutes, end - start, "{}", label);
        prop_assert_eq!(bucket.partial, end - start < every, "{}", label);
    }

    #[test]
    fn expiries_are_trading_days_settling_at_each_product_s_instant(
        which in 0..3_usize, date in day_strategy()
    ) {
        let (spec, cboe) = [(nifty(), false), (spx(), true), (spxw(), true)][which].clone();
        let c = case(cboe);
        let expiries = spec.expiries_from(&c.market, date);
        prop_assert!(!expiries.is_empty());
        for e in &expiries {
            prop_assert!(*e >= date);
            prop_assert!(!expected_windows(&c, *e).is_empty(), "{} expires on {e}, a closed day", spec.symbol);
        }
        if spec.dailies > 0 {
            // SPXW: every trading day from `date` on, none skipped.
            let mut day = date;
            for e in expiries.iter().take(spec.dailies as usize) {
                while expected_windows(&c, day).is_empty() {
                    day += Duration::days(1);
                }
                prop_assert_eq!(*e, day);
                day += Duration::days(1);
            }
        }
        for k in spec.contracts(&c.market, date).iter().step_by(2) {
            let e = c.market.local_date(k.expiry);
            let windows = expected_windows(&c, e);
            let at = k.expiry.with_timezone(&c.tz);
            let minute = at.hour() * 60 + at.minute();
            let (open, close) = (windows[0].0, windows[windows.len() - 1].1);
            match spec.settlement {
                // SPX: the open of the third Friday, or of the trading day before it.
                Settlement::Am => {
                    prop_assert_eq!(minute, open, "{}", k.key);
                    let friday = (15..=21).map(|n| e.with_day(n).unwrap()).find(|x| x.weekday() == Weekday::Fri).unwrap();
                    prop_assert!(e <= friday && friday - e <= Duration::days(4), "{}", k.key);
                }
                // SPXW at the index's close, 15 minutes before the options'; NIFTY at the close.
                Settlement::Pm => prop_assert_eq!(minute, close - spec.settles_before_close_minutes, "{}", k.key),
            }
            prop_assert!(k.key.as_str().contains(&e.format("-%Y%m%d-").to_string()), "{}", k.key);
        }
    }
}

fn nifty() -> ProductSpec {
    ProductSpec {
        symbol: "NIFTY".into(),
        market: "NSE".into(),
        strike_step: 50.0,
        lot_size: 65,
        tick_size: 0.05,
        weekly: Some(Weekday::Tue),
        monthly: Weekday::Tue,
        weeklies: 4,
        monthlies: 3,
        reference_price: 26_000.0,
        strikes_each_side: 0,
        underlying: None,
        monthly_nth: None,
        dailies: 0,
        settlement: Settlement::Pm,
        futures: true,
        wide: None,
        settles_before_close_minutes: 0,
    }
}

fn spx() -> ProductSpec {
    ProductSpec {
        symbol: "SPX".into(),
        market: "CBOE".into(),
        strike_step: 5.0,
        lot_size: 100,
        tick_size: 0.05,
        weekly: None,
        monthly: Weekday::Fri,
        weeklies: 0,
        monthlies: 3,
        reference_price: 6_000.0,
        strikes_each_side: 0,
        underlying: None,
        monthly_nth: Some(3),
        dailies: 0,
        settlement: Settlement::Am,
        futures: false,
        wide: None,
        settles_before_close_minutes: 0,
    }
}

fn spxw() -> ProductSpec {
    ProductSpec {
        symbol: "SPXW".into(),
        underlying: Some("SPX".into()),
        monthlies: 0,
        dailies: 10,
        settlement: Settlement::Pm,
        settles_before_close_minutes: 15,
        ..spx()
    }
}
