//! The moneyness mapping: which listed strikes sit at which level for one underlying and expiry.
//!
//! Levels are stated for calls; for puts ITMn and OTMn swap (a put's ITM1 is the call's OTM1
//! strike). Group levels `ITM` and `OTM` list all their strikes. Computed here from the listed
//! strikes and a reference price, so the mapping cache's local fallback and the ingest pipeline
//! share one definition with [`super::level_of`].

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{MoneynessLevel, atm_strike, level_of, strike_step};
use crate::instrument::{InstrumentKey, OptionRight};

/// Level → strikes for one underlying and expiry, as of a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoneynessMapping {
    /// The underlying.
    pub underlying: InstrumentKey,
    /// The expiry (exchange-local date).
    pub expiry: NaiveDate,
    /// The ATM strike.
    pub atm_strike: f64,
    /// The strike step.
    pub strike_step: f64,
    /// Call-side levels to ascending strikes, including the groups `ITM` and `OTM`.
    pub levels: BTreeMap<MoneynessLevel, Vec<f64>>,
    /// When the mapping was computed; its age is measured from here.
    pub as_of: DateTime<Utc>,
}

impl MoneynessMapping {
    /// Computes the mapping from the listed strikes and a reference price (forward or spot).
    /// `None` when there are no strikes or no step can be inferred and none is given.
    #[must_use]
    pub fn compute(
        underlying: InstrumentKey,
        expiry: NaiveDate,
        strikes: &[f64],
        reference: f64,
        step: Option<f64>,
        as_of: DateTime<Utc>,
    ) -> Option<Self> {
        let step = step.or_else(|| strike_step(strikes))?;
        let atm = atm_strike(strikes, reference)?;
        let mut distinct: Vec<f64> = strikes.to_vec();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        let mut levels: BTreeMap<MoneynessLevel, Vec<f64>> = BTreeMap::new();
        for k in distinct {
            let level = level_of(k, OptionRight::Call, atm, step);
            levels.entry(level).or_default().push(k);
            match level {
                MoneynessLevel::Itm(_) => levels.entry(MoneynessLevel::ItmGroup).or_default().push(k),
                MoneynessLevel::Otm(_) => levels.entry(MoneynessLevel::OtmGroup).or_default().push(k),
                _ => {}
            }
        }
        Some(Self {
            underlying,
            expiry,
            atm_strike: atm,
            strike_step: step,
            levels,
            as_of,
        })
    }

    /// The strikes at `level` for `right` (puts read the mirrored call level).
    #[must_use]
    pub fn strikes(&self, right: OptionRight, level: MoneynessLevel) -> &[f64] {
        let call_level = match (right, level) {
            (OptionRight::Call, l) => l,
            (OptionRight::Put, MoneynessLevel::Itm(n)) => MoneynessLevel::Otm(n),
            (OptionRight::Put, MoneynessLevel::Otm(n)) => MoneynessLevel::Itm(n),
            (OptionRight::Put, MoneynessLevel::ItmGroup) => MoneynessLevel::OtmGroup,
            (OptionRight::Put, MoneynessLevel::OtmGroup) => MoneynessLevel::ItmGroup,
            (OptionRight::Put, MoneynessLevel::Atm) => MoneynessLevel::Atm,
        };
        self.levels.get(&call_level).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_lists_levels_groups_and_mirrors_puts() {
        let t = DateTime::parse_from_rfc3339("2026-02-02T04:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let strikes: Vec<f64> = (0..7).map(|i| 25_850.0 + 50.0 * f64::from(i)).collect();
        let m = MoneynessMapping::compute(
            InstrumentKey::parse("NSE:NIFTY").unwrap(),
            NaiveDate::from_ymd_opt(2026, 2, 3).unwrap(),
            &strikes,
            26_010.0,
            None,
            t,
        )
        .unwrap();
        assert_eq!(m.atm_strike, 26_000.0);
        assert_eq!(m.strikes(OptionRight::Call, MoneynessLevel::Itm(1)), [25_950.0]);
        assert_eq!(m.strikes(OptionRight::Put, MoneynessLevel::Itm(1)), [26_050.0]);
        assert_eq!(
            m.strikes(OptionRight::Call, MoneynessLevel::ItmGroup),
            [25_850.0, 25_900.0, 25_950.0]
        );
        assert_eq!(
            m.strikes(OptionRight::Put, MoneynessLevel::ItmGroup),
            [26_050.0, 26_100.0, 26_150.0]
        );
        assert!(m.strikes(OptionRight::Call, MoneynessLevel::Otm(9)).is_empty());
    }
}
