//! Timeframe specs: `Nm`, `Nh`, `Nd` and `1w`, with explicit bounds.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Largest minute step: one calendar day.
pub const MAX_MINUTES: u32 = 1440;
/// Largest hour step: one calendar day.
pub const MAX_HOURS: u32 = 24;
/// Largest day step: 31 calendar days.
pub const MAX_DAYS: u32 = 31;

/// The unit of a timeframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimeUnit {
    /// Minutes of session time, anchored at each session's open.
    Minute,
    /// Hours of session time (60 minutes), anchored at each session's open.
    Hour,
    /// Calendar days in the exchange zone, grouped from Monday 1970-01-05 (so `7d` = `1w`);
    /// a bucket holds the sessions of its days.
    Day,
    /// Monday-to-Sunday weeks in the exchange zone.
    Week,
}

/// A bar length: `step` units. Parsed from `7m`, `1h`, `2d`, `1w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timeframe {
    step: NonZeroU32,
    unit: TimeUnit,
}

/// Why a timeframe string is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeframeError {
    /// Nothing was given.
    #[error("timeframe is empty; expected a count and a unit such as 5m, 1h, 1d or 1w")]
    Empty,
    /// The count is missing, negative or not a whole number.
    #[error("timeframe '{0}' must start with a whole number ≥ 1 (as in 5m, 1h, 1d, 1w)")]
    BadCount(String),
    /// The count is zero.
    #[error("timeframe '{0}' has a zero count; the smallest is 1m")]
    Zero(String),
    /// The unit letter is unknown.
    #[error("timeframe '{0}' has unknown unit '{1}'; use m (minutes), h (hours), d (days) or w (weeks)")]
    BadUnit(String, String),
    /// The count exceeds the unit's bound.
    #[error("timeframe '{0}' is too long; the limits are {MAX_MINUTES}m, {MAX_HOURS}h, {MAX_DAYS}d and 1w")]
    TooLong(String),
}

impl Timeframe {
    /// One minute: the bars ticks build and the store keeps.
    pub const ONE_MINUTE: Self = Self {
        step: NonZeroU32::MIN,
        unit: TimeUnit::Minute,
    };

    /// Builds a timeframe from parts.
    ///
    /// # Errors
    /// [`TimeframeError::Zero`] or [`TimeframeError::TooLong`] when `step` is outside the unit's bounds.
    pub fn new(step: u32, unit: TimeUnit) -> Result<Self, TimeframeError> {
        let label = format!("{step}{}", unit_letter(unit));
        let max = match unit {
            TimeUnit::Minute => MAX_MINUTES,
            TimeUnit::Hour => MAX_HOURS,
            TimeUnit::Day => MAX_DAYS,
            TimeUnit::Week => 1,
        };
        let step = NonZeroU32::new(step).ok_or_else(|| TimeframeError::Zero(label.clone()))?;
        if step.get() > max {
            return Err(TimeframeError::TooLong(label));
        }
        Ok(Self { step, unit })
    }

    /// One minute.
    #[must_use]
    pub fn one_minute() -> Self {
        Self {
            step: NonZeroU32::MIN,
            unit: TimeUnit::Minute,
        }
    }

    /// The count.
    #[must_use]
    pub fn step(self) -> u32 {
        self.step.get()
    }

    /// The unit.
    #[must_use]
    pub fn unit(self) -> TimeUnit {
        self.unit
    }

    /// Bucket length in minutes for intraday timeframes (`m`, `h`), else `None`.
    #[must_use]
    pub fn intraday_minutes(self) -> Option<u32> {
        match self.unit {
            TimeUnit::Minute => Some(self.step.get()),
            TimeUnit::Hour => Some(self.step.get() * 60),
            TimeUnit::Day | TimeUnit::Week => None,
        }
    }

    /// Length in calendar days for `d` and `w` timeframes.
    #[must_use]
    pub fn calendar_days(self) -> Option<u32> {
        match self.unit {
            TimeUnit::Day => Some(self.step.get()),
            TimeUnit::Week => Some(7),
            TimeUnit::Minute | TimeUnit::Hour => None,
        }
    }
}

fn unit_letter(u: TimeUnit) -> char {
    match u {
        TimeUnit::Minute => 'm',
        TimeUnit::Hour => 'h',
        TimeUnit::Day => 'd',
        TimeUnit::Week => 'w',
    }
}

impl FromStr for Timeframe {
    type Err = TimeframeError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(TimeframeError::Empty);
        }
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (count, unit) = s.split_at(split);
        if count.is_empty() {
            return Err(TimeframeError::BadCount(raw.to_owned()));
        }
        let unit = match unit {
            "m" => TimeUnit::Minute,
            "h" => TimeUnit::Hour,
            "d" => TimeUnit::Day,
            "w" => TimeUnit::Week,
            other => return Err(TimeframeError::BadUnit(raw.to_owned(), other.to_owned())),
        };
        let n: u32 = count.parse().map_err(|_| TimeframeError::TooLong(raw.to_owned()))?;
        Self::new(n, unit).map_err(|e| match e {
            TimeframeError::Zero(_) => TimeframeError::Zero(raw.to_owned()),
            _ => TimeframeError::TooLong(raw.to_owned()),
        })
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.step, unit_letter(self.unit))
    }
}

impl TryFrom<String> for Timeframe {
    type Error = TimeframeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Timeframe> for String {
    fn from(value: Timeframe) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_timeframes() {
        for s in ["1m", "5m", "7m", "13m", "75m", "1h", "4h", "1d", "5d", "1w"] {
            assert_eq!(s.parse::<Timeframe>().unwrap().to_string(), s);
        }
        assert_eq!("1h".parse::<Timeframe>().unwrap().intraday_minutes(), Some(60));
    }

    #[test]
    fn a_timeframe_is_its_count_and_unit_and_serialises_as_its_text() {
        let tf: Timeframe = "15m".parse().unwrap();
        assert_eq!((tf.step(), tf.unit()), (15, TimeUnit::Minute));
        assert_eq!("4h".parse::<Timeframe>().unwrap().step(), 4);
        assert_eq!(String::from(tf), "15m");
        assert_eq!(
            Timeframe::try_from("75m".to_owned()).map(String::from),
            Ok("75m".to_owned())
        );
    }

    #[test]
    fn rejects_bad_timeframes_with_a_clear_reason() {
        assert!(matches!("0m".parse::<Timeframe>(), Err(TimeframeError::Zero(_))));
        assert!(matches!("7x".parse::<Timeframe>(), Err(TimeframeError::BadUnit(_, u)) if u == "x"));
        assert_eq!("".parse::<Timeframe>(), Err(TimeframeError::Empty));
        assert!(matches!("99999h".parse::<Timeframe>(), Err(TimeframeError::TooLong(_))));
        assert!(matches!("-5m".parse::<Timeframe>(), Err(TimeframeError::BadCount(_))));
        assert!(matches!("2w".parse::<Timeframe>(), Err(TimeframeError::TooLong(_))));
        assert!(matches!(
            "99999999999m".parse::<Timeframe>(),
            Err(TimeframeError::TooLong(_))
        ));
        assert!(
            "m".parse::<Timeframe>()
                .unwrap_err()
                .to_string()
                .contains("whole number")
        );
    }
}
