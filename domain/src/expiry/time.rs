//! Time to expiry in years.
//!
//! `Exact` (the default): seconds from the quote to the expiry instant / (365·86 400).
//! `CalendarDays`: whole calendar days from the quote's exchange-local date to the expiry's / 365,
//! the basis NSE uses for its published IV (0 on expiry day).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::instrument::Market;

/// Seconds in a 365-day year.
pub const SECONDS_PER_YEAR: f64 = 365.0 * 86_400.0;

/// Day-count basis for time to expiry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeBasis {
    /// Exact seconds to the expiry instant / (365·86 400).
    #[default]
    Exact,
    /// Whole calendar days (exchange-local dates) / 365.
    CalendarDays,
}

impl TimeBasis {
    /// The snake_case code used in configuration, storage and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::CalendarDays => "calendar_days",
        }
    }
}

impl std::str::FromStr for TimeBasis {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "exact" => Ok(Self::Exact),
            "calendar_days" => Ok(Self::CalendarDays),
            _ => Err(format!("time basis '{s}' is not one of exact, calendar_days")),
        }
    }
}

/// Years from `quote` to `expiry` under `basis`; 0 once expired.
#[must_use]
pub fn time_to_expiry(basis: TimeBasis, quote: DateTime<Utc>, expiry: DateTime<Utc>, market: &Market) -> f64 {
    match basis {
        TimeBasis::Exact => {
            let d = expiry - quote;
            let secs = d.num_seconds() as f64 + f64::from(d.subsec_nanos()) * 1e-9;
            (secs / SECONDS_PER_YEAR).max(0.0)
        }
        TimeBasis::CalendarDays => {
            let days = (market.local_date(expiry) - market.local_date(quote)).num_days();
            (days.max(0) as f64) / 365.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn exact_basis_counts_seconds_and_calendar_basis_counts_local_dates() {
        let m = Market::nse();
        let q = at("2019-06-24T10:00:00+05:30");
        let e = at("2019-06-27T15:30:00+05:30");
        let exact = time_to_expiry(TimeBasis::Exact, q, e, &m);
        assert!((exact - (3.0 * 86_400.0 + 5.5 * 3600.0) / SECONDS_PER_YEAR).abs() < 1e-15);
        assert_eq!(time_to_expiry(TimeBasis::CalendarDays, q, e, &m), 3.0 / 365.0);
        // 01:00 IST is still the previous UTC date; the local date decides.
        assert_eq!(
            time_to_expiry(TimeBasis::CalendarDays, at("2019-06-27T01:00:00+05:30"), e, &m),
            0.0
        );
        assert_eq!(time_to_expiry(TimeBasis::Exact, e, q, &m), 0.0);
    }
}
