//! The moneyness mapping: which listed strikes sit at which level for one underlying and expiry.
//!
//! Levels are stated for calls; for puts ITMn and OTMn swap (a put's ITM1 is the call's OTM1
//! strike). Group levels `ITM` and `OTM` list all their strikes. Computed here from the listed
//! strikes and a reference price, so the mapping cache's local fallback and the ingest pipeline
//! share one definition with [`super::level_of`].

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{LevelAggregate, MoneynessLevel, OptionPoint, aggregate_points, atm_strike, level_of, strike_step};
use crate::instrument::{InstrumentKey, OptionRight};

/// What a mapping's levels were decided by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingBasis {
    /// The instrument service's mapping (the exchange's or the desk's own ATM).
    #[default]
    InstrumentService,
    /// The local strike ladder: the listed strikes around the ATM strike nearest the reference
    /// price (forward or spot).
    LocalLadder,
}

impl MappingBasis {
    /// `instrument_service` or `local_ladder`, as every API says it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InstrumentService => "instrument_service",
            Self::LocalLadder => "local_ladder",
        }
    }
}

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
    /// What decided the levels (absent in a cached entry: the instrument service).
    #[serde(default)]
    pub basis: MappingBasis,
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
            basis: MappingBasis::LocalLadder,
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

    /// The levels `right` has in this mapping, ascending (a put's are the calls' mirrored).
    #[must_use]
    pub fn levels_for(&self, right: OptionRight) -> Vec<MoneynessLevel> {
        let mut out: Vec<MoneynessLevel> = self
            .levels
            .keys()
            .map(|l| match right {
                OptionRight::Call => *l,
                OptionRight::Put => l.mirrored(),
            })
            .collect();
        out.sort();
        out
    }

    /// The points of `right` at `level`'s strikes in this mapping.
    pub fn points_at<'p>(
        &self,
        points: &'p [OptionPoint],
        right: OptionRight,
        level: MoneynessLevel,
    ) -> impl Iterator<Item = &'p OptionPoint> + Clone {
        let strikes = self.strikes(right, level).to_vec();
        points
            .iter()
            .filter(move |p| p.right == right && strikes.contains(&p.strike))
    }

    /// Aggregates one expiry's `points` by this mapping: for each right, every level it has
    /// (groups included) over the points at its strikes; levels without a point are left out.
    #[must_use]
    pub fn aggregate(&self, points: &[OptionPoint]) -> Vec<(OptionRight, MoneynessLevel, LevelAggregate)> {
        let mut out = Vec::new();
        for right in [OptionRight::Call, OptionRight::Put] {
            for level in self.levels_for(right) {
                let mut chosen = self.points_at(points, right, level).peekable();
                if chosen.peek().is_some() {
                    out.push((right, level, aggregate_points(chosen)));
                }
            }
        }
        out
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
        use MoneynessLevel::{Atm, Itm, ItmGroup, Otm, OtmGroup};
        assert_eq!(
            m.levels_for(OptionRight::Call),
            [Itm(1), Itm(2), Itm(3), Atm, Otm(1), Otm(2), Otm(3), ItmGroup, OtmGroup]
        );
        assert_eq!(
            m.levels_for(OptionRight::Put),
            m.levels_for(OptionRight::Call),
            "mirrored, then sorted"
        );
        assert_eq!(m.basis.as_str(), "local_ladder");
        assert_eq!(MappingBasis::default().as_str(), "instrument_service");
    }

    fn point(strike: f64, right: OptionRight, iv: f64, oi: f64) -> OptionPoint {
        OptionPoint {
            strike,
            right,
            iv: Some(iv),
            greeks: None,
            oi,
            volume: 1.0,
        }
    }

    #[test]
    fn a_mapping_picks_each_level_s_points_and_aggregates_them() {
        let t = DateTime::parse_from_rfc3339("2026-02-02T04:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let strikes = [25_950.0, 26_000.0, 26_050.0];
        let m = MoneynessMapping::compute(
            InstrumentKey::parse("NSE:NIFTY").unwrap(),
            NaiveDate::from_ymd_opt(2026, 2, 3).unwrap(),
            &strikes,
            26_010.0,
            Some(50.0),
            t,
        )
        .unwrap();
        let pts = [
            point(25_950.0, OptionRight::Call, 0.21, 10.0),
            point(25_950.0, OptionRight::Put, 0.25, 20.0),
            point(26_000.0, OptionRight::Call, 0.20, 30.0),
            point(26_050.0, OptionRight::Put, 0.19, 40.0),
        ];
        let strikes_of = |right, level| {
            m.points_at(&pts, right, level)
                .map(|p| (p.right, p.strike))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            strikes_of(OptionRight::Put, MoneynessLevel::Itm(1)),
            [(OptionRight::Put, 26_050.0)]
        );
        assert_eq!(
            strikes_of(OptionRight::Call, MoneynessLevel::Itm(1)),
            [(OptionRight::Call, 25_950.0)]
        );
        assert!(strikes_of(OptionRight::Put, MoneynessLevel::Atm).is_empty());
        let agg: Vec<_> = m
            .aggregate(&pts)
            .into_iter()
            .map(|(right, level, a)| (right, level.to_string(), a.count, a.total_oi))
            .collect();
        assert_eq!(
            agg,
            [
                (OptionRight::Call, "ITM1".to_owned(), 1, 10.0),
                (OptionRight::Call, "ATM".to_owned(), 1, 30.0),
                (OptionRight::Call, "ITM".to_owned(), 1, 10.0),
                (OptionRight::Put, "ITM1".to_owned(), 1, 40.0),
                (OptionRight::Put, "OTM1".to_owned(), 1, 20.0),
                (OptionRight::Put, "ITM".to_owned(), 1, 40.0),
                (OptionRight::Put, "OTM".to_owned(), 1, 20.0),
            ],
            "levels without a point are left out"
        );
    }
}
