//! Strike steps, the ATM strike and moneyness levels.
//!
//! - The strike step is the most common gap between adjacent listed strikes (ties: the smaller).
//! - ATM is the listed strike nearest the reference price (the forward by default, spot when
//!   configured). Tie rule: exactly halfway between two strikes, the higher strike is ATM
//!   (round half up, as prices are rounded to the strike grid).
//! - Level `n` is `round(|K − ATM| / step)` steps away: for calls, strikes below ATM are ITMn
//!   and above OTMn; for puts the reverse.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::instrument::OptionRight;

/// Which price the ATM strike is taken from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferencePrice {
    /// The expiry's forward (default).
    #[default]
    Forward,
    /// The underlying's spot.
    Spot,
}

impl ReferencePrice {
    /// The snake_case code used in configuration and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forward => "forward",
            Self::Spot => "spot",
        }
    }
}

/// A moneyness level, or a group level (`ITM`, `OTM`) spanning every strike of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum MoneynessLevel {
    /// In the money by `n ≥ 1` strike steps.
    Itm(u32),
    /// The at-the-money strike.
    Atm,
    /// Out of the money by `n ≥ 1` strike steps.
    Otm(u32),
    /// Group: all in-the-money strikes.
    ItmGroup,
    /// Group: all out-of-the-money strikes.
    OtmGroup,
}

/// Why a level name is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("moneyness level '{0}' is not ATM, ITM, OTM, ITMn or OTMn (n from 1 to 1000)")]
pub struct LevelError(pub String);

impl MoneynessLevel {
    /// The same moneyness seen from the other right: ITMn ↔ OTMn, ITM ↔ OTM, ATM stays (a
    /// mapping lists call levels; a put's ITM1 is the call's OTM1 strike).
    #[must_use]
    pub fn mirrored(self) -> Self {
        match self {
            Self::Itm(n) => Self::Otm(n),
            Self::Otm(n) => Self::Itm(n),
            Self::ItmGroup => Self::OtmGroup,
            Self::OtmGroup => Self::ItmGroup,
            Self::Atm => Self::Atm,
        }
    }

    /// True for the groups `ITM` and `OTM`.
    #[must_use]
    pub fn is_group(self) -> bool {
        matches!(self, Self::ItmGroup | Self::OtmGroup)
    }

    /// Whether a single level belongs to this level (itself, or its group).
    #[must_use]
    pub fn covers(self, other: Self) -> bool {
        match self {
            Self::ItmGroup => matches!(other, Self::Itm(_)),
            Self::OtmGroup => matches!(other, Self::Otm(_)),
            _ => self == other,
        }
    }
}

impl fmt::Display for MoneynessLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Itm(n) => write!(f, "ITM{n}"),
            Self::Atm => f.write_str("ATM"),
            Self::Otm(n) => write!(f, "OTM{n}"),
            Self::ItmGroup => f.write_str("ITM"),
            Self::OtmGroup => f.write_str("OTM"),
        }
    }
}

impl FromStr for MoneynessLevel {
    type Err = LevelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let u = s.trim().to_ascii_uppercase();
        let err = || LevelError(s.to_owned());
        let num = |rest: &str| -> Result<u32, LevelError> {
            rest.parse::<u32>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(err)
        };
        match u.as_str() {
            "ATM" => Ok(Self::Atm),
            "ITM" => Ok(Self::ItmGroup),
            "OTM" => Ok(Self::OtmGroup),
            _ if u.starts_with("ITM") => num(&u[3..]).map(Self::Itm),
            _ if u.starts_with("OTM") => num(&u[3..]).map(Self::Otm),
            _ => Err(err()),
        }
    }
}

impl TryFrom<String> for MoneynessLevel {
    type Error = LevelError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<MoneynessLevel> for String {
    fn from(value: MoneynessLevel) -> Self {
        value.to_string()
    }
}

/// The most common gap between adjacent distinct strikes (the smaller on a tie); `None` with
/// fewer than two distinct strikes.
#[must_use]
pub fn strike_step(strikes: &[f64]) -> Option<f64> {
    let mut s: Vec<f64> = strikes.iter().copied().filter(|k| k.is_finite()).collect();
    s.sort_by(f64::total_cmp);
    s.dedup();
    let mut gaps: Vec<f64> = s.windows(2).map(|w| ((w[1] - w[0]) * 1e6).round() / 1e6).collect();
    gaps.sort_by(f64::total_cmp);
    let mut best: Option<(f64, usize)> = None;
    for run in gaps.chunk_by(|a, b| a == b) {
        if best.is_none_or(|(_, n)| run.len() > n) {
            best = Some((run[0], run.len()));
        }
    }
    best.map(|(g, _)| g)
}

/// The listed strike nearest `reference` (ties to the higher strike); `None` for an empty list.
#[must_use]
pub fn atm_strike(strikes: &[f64], reference: f64) -> Option<f64> {
    strikes
        .iter()
        .copied()
        .filter(|k| k.is_finite())
        .fold(None, |best: Option<f64>, k| match best {
            None => Some(k),
            Some(b) => {
                let (db, dk) = ((b - reference).abs(), (k - reference).abs());
                if dk < db || (dk == db && k > b) {
                    Some(k)
                } else {
                    Some(b)
                }
            }
        })
}

/// The level of `strike` for `right`, given the ATM strike and the strike step.
#[must_use]
pub fn level_of(strike: f64, right: OptionRight, atm: f64, step: f64) -> MoneynessLevel {
    #[allow(clippy::cast_possible_truncation)]
    let steps = ((strike - atm) / step).round().clamp(-1e12, 1e12) as i64;
    level_of_steps(steps, right)
}

/// The level of a strike `steps` strike steps above (negative: below) the ATM strike.
pub(crate) fn level_of_steps(steps: i64, right: OptionRight) -> MoneynessLevel {
    if steps == 0 {
        return MoneynessLevel::Atm;
    }
    let n = u32::try_from(steps.unsigned_abs()).unwrap_or(u32::MAX);
    match (right, steps > 0) {
        (OptionRight::Call, true) | (OptionRight::Put, false) => MoneynessLevel::Otm(n),
        (OptionRight::Call, false) | (OptionRight::Put, true) => MoneynessLevel::Itm(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_below_atm_are_itm_and_puts_the_reverse() {
        assert_eq!(
            level_of(24_400.0, OptionRight::Call, 24_500.0, 50.0),
            MoneynessLevel::Itm(2)
        );
        assert_eq!(
            level_of(24_400.0, OptionRight::Put, 24_500.0, 50.0),
            MoneynessLevel::Otm(2)
        );
        assert_eq!(
            level_of(24_550.0, OptionRight::Call, 24_500.0, 50.0),
            MoneynessLevel::Otm(1)
        );
        assert_eq!(
            level_of(24_500.0, OptionRight::Put, 24_500.0, 50.0),
            MoneynessLevel::Atm
        );
    }

    #[test]
    fn atm_is_the_nearest_strike_and_a_tie_goes_up() {
        let k = [24_400.0, 24_450.0, 24_500.0, 24_550.0];
        assert_eq!(atm_strike(&k, 24_481.0), Some(24_500.0));
        assert_eq!(atm_strike(&k, 24_475.0), Some(24_500.0));
        assert_eq!(atm_strike(&k, 24_474.9), Some(24_450.0));
        assert_eq!(atm_strike(&[], 1.0), None);
    }

    #[test]
    fn strike_step_is_the_most_common_gap() {
        assert_eq!(strike_step(&[100.0, 150.0, 200.0, 250.0, 400.0, 500.0]), Some(50.0));
        assert_eq!(strike_step(&[100.0]), None);
    }

    #[test]
    fn level_names_round_trip_and_groups_cover_their_levels() {
        for s in ["ATM", "ITM1", "OTM12", "ITM", "OTM"] {
            assert_eq!(s.parse::<MoneynessLevel>().unwrap().to_string(), s);
        }
        assert!("ITM0".parse::<MoneynessLevel>().is_err());
        assert!("XTM1".parse::<MoneynessLevel>().is_err());
        assert!(MoneynessLevel::ItmGroup.covers(MoneynessLevel::Itm(3)));
        assert!(!MoneynessLevel::ItmGroup.covers(MoneynessLevel::Atm));
        assert!(MoneynessLevel::OtmGroup.covers(MoneynessLevel::Otm(2)));
        assert!(!MoneynessLevel::OtmGroup.covers(MoneynessLevel::Itm(2)));
        assert!(MoneynessLevel::Atm.covers(MoneynessLevel::Atm));
        assert!(!MoneynessLevel::Itm(1).covers(MoneynessLevel::Itm(2)));
        let groups: Vec<bool> = ["ITM", "OTM", "ATM", "ITM1", "OTM3"]
            .iter()
            .map(|s| s.parse::<MoneynessLevel>().unwrap().is_group())
            .collect();
        assert_eq!(groups, [true, true, false, false, false]);
        assert_eq!(String::from(MoneynessLevel::Itm(3)), "ITM3");
        assert_eq!(MoneynessLevel::try_from("otm2".to_owned()), Ok(MoneynessLevel::Otm(2)));
    }

    #[test]
    fn reference_prices_have_their_api_codes() {
        assert_eq!(
            (ReferencePrice::Forward.as_str(), ReferencePrice::Spot.as_str()),
            ("forward", "spot")
        );
        assert_eq!(ReferencePrice::default(), ReferencePrice::Forward);
    }

    #[test]
    fn the_step_is_the_most_common_gap_and_a_tie_takes_the_smaller() {
        // Gaps 25, 50, 50: the 50s are the most common.
        assert_eq!(strike_step(&[100.0, 125.0, 175.0, 225.0]), Some(50.0));
        // Gaps 50, 50, 100, 100: a tie, the smaller wins.
        assert_eq!(strike_step(&[100.0, 150.0, 200.0, 300.0, 400.0]), Some(50.0));
        // Unsorted, repeated and non-finite strikes do not matter.
        assert_eq!(strike_step(&[200.0, f64::NAN, 100.0, 150.0, 150.0]), Some(50.0));
    }

    #[test]
    fn an_atm_tie_goes_up_whatever_the_order_of_the_strikes() {
        let k = [24_550.0, 24_500.0, 24_450.0];
        assert_eq!(atm_strike(&k, 24_475.0), Some(24_500.0));
        let k = [24_450.0, 24_500.0, 24_550.0];
        assert_eq!(atm_strike(&k, 24_475.0), Some(24_500.0));
        assert_eq!(atm_strike(&[f64::NAN, 24_450.0], 24_475.0), Some(24_450.0));
    }
}
