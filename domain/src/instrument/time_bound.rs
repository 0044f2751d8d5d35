//! A range bound as a person writes it: an instant with its UTC offset
//! (`2026-12-04T09:15:00+05:30`, `…Z`) or a date (`2026-12-04`), meaning that day on the
//! instrument's exchange, midnight to midnight in the exchange's zone.
//!
//! A date-time without an offset is refused: which zone was meant cannot be known, and guessing
//! UTC would shift an Indian trader's morning by five and a half hours without a word.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use super::Market;

/// One end of a time range, before the market is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    /// An instant.
    At(DateTime<Utc>),
    /// A whole exchange-local day.
    Day(NaiveDate),
}

impl TimeBound {
    /// As a range start on `market`: an instant as it is, a day from its local midnight.
    #[must_use]
    pub fn start_on(self, market: &Market) -> DateTime<Utc> {
        match self {
            Self::At(t) => t,
            Self::Day(d) => market.to_utc(d, NaiveTime::MIN),
        }
    }

    /// As an exclusive range end on `market`: an instant as it is, a day through its end (the
    /// next local midnight), so `from=D&to=D` is the whole of day `D`.
    #[must_use]
    pub fn end_on(self, market: &Market) -> DateTime<Utc> {
        match self {
            Self::At(t) => t,
            Self::Day(d) => market.to_utc(d.succ_opt().unwrap_or(d), NaiveTime::MIN),
        }
    }
}

/// Why a text is not a [`TimeBound`]; the message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeBoundError(String);

impl fmt::Display for TimeBoundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TimeBoundError {}

impl FromStr for TimeBound {
    type Err = TimeBoundError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Ok(t) = s.parse::<DateTime<FixedOffset>>() {
            return Ok(Self::At(t.with_timezone(&Utc)));
        }
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return Ok(Self::Day(d));
        }
        if s.parse::<NaiveDateTime>().is_ok() || NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").is_ok() {
            return Err(TimeBoundError(format!(
                "'{s}' has no UTC offset: add one ({s}Z, {s}+05:30) or give a date (2026-12-04) for \
                 the exchange's local day"
            )));
        }
        Err(TimeBoundError(format!(
            "'{s}' is neither a date (2026-12-04, the exchange's local day) nor a date-time with \
             its UTC offset (2026-12-04T09:15:00+05:30)"
        )))
    }
}

impl fmt::Display for TimeBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::At(t) => f.write_str(&t.to_rfc3339()),
            Self::Day(d) => write!(f, "{d}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn instants_keep_their_offset_and_dates_are_the_exchange_local_day() {
        let nse = Market::nse();
        let at: TimeBound = "2026-12-04T09:15:00+05:30".parse().unwrap();
        assert_eq!(at.start_on(&nse), Utc.with_ymd_and_hms(2026, 12, 4, 3, 45, 0).unwrap());
        assert_eq!(at.end_on(&nse), at.start_on(&nse));
        let day: TimeBound = "2026-12-04".parse().unwrap();
        assert_eq!(day, TimeBound::Day(NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()));
        // IST midnight is 18:30 UTC the day before; the end is the next local midnight.
        assert_eq!(
            day.start_on(&nse),
            Utc.with_ymd_and_hms(2026, 12, 3, 18, 30, 0).unwrap()
        );
        assert_eq!(day.end_on(&nse), Utc.with_ymd_and_hms(2026, 12, 4, 18, 30, 0).unwrap());
        assert_eq!(day.to_string(), "2026-12-04");
    }

    #[test]
    fn a_date_time_without_offset_is_refused_saying_so() {
        for naive in ["2026-12-04T09:15:00", "2026-12-04 09:15:00", "2026-12-04T09:15:00.5"] {
            let e = naive.parse::<TimeBound>().unwrap_err().to_string();
            assert!(e.contains("has no UTC offset"), "{naive}: {e}");
        }
        let e = "yesterday".parse::<TimeBound>().unwrap_err().to_string();
        assert!(e.contains("neither a date"), "{e}");
    }
}
