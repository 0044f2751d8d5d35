//! Example values of the operations' parameters, shown in the OpenAPI document (and so in
//! Swagger UI and the generated SDK's docs). They describe one NIFTY session and one of its
//! options; a live service answers them with data only if it holds that session.

use chrono::{NaiveDate, TimeZone, Utc};
use domain::instrument::TimeBound;

use super::time_param::TimeParam;

/// An option contract's key.
pub(super) fn option_key() -> String {
    "NSE:NIFTY-20260224-26000-CE".to_owned()
}

/// An underlying's key (also an instrument with candles of its own).
pub(super) fn underlying() -> String {
    "NSE:NIFTY".to_owned()
}

/// An expiry date, when the parameter is optional.
pub(super) fn expiry() -> Option<NaiveDate> {
    Some(expiry_date())
}

/// An expiry date.
pub(super) fn expiry_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 2, 24).unwrap_or_default()
}

/// The session open of Monday 2026-02-02 (09:15 IST).
pub(super) fn from() -> TimeParam {
    TimeParam(TimeBound::At(
        Utc.with_ymd_and_hms(2026, 2, 2, 3, 45, 0).single().unwrap_or_default(),
    ))
}

/// The session close of that day (15:30 IST).
pub(super) fn to() -> TimeParam {
    TimeParam(TimeBound::At(
        Utc.with_ymd_and_hms(2026, 2, 2, 10, 0, 0).single().unwrap_or_default(),
    ))
}

/// A minute of that session (14:30 IST).
pub(super) fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 2, 9, 0, 0).single().unwrap_or_default()
}

/// A history of a year of trading days.
pub(super) fn window() -> Option<u32> {
    Some(252)
}

/// A custom timeframe.
pub(super) fn timeframe() -> Option<String> {
    Some("5m".to_owned())
}

/// A page size.
pub(super) fn limit() -> Option<u32> {
    Some(100)
}

/// A moneyness level.
pub(super) fn level() -> String {
    "OTM1".to_owned()
}

/// An indicator.
pub(super) fn indicator() -> String {
    "rsi".to_owned()
}

/// The RSI's period.
pub(super) fn period() -> Option<f64> {
    Some(14.0)
}

/// An export dataset.
pub(super) fn dataset() -> String {
    "greeks".to_owned()
}
