//! Aggregating option points by moneyness level.
//!
//! Per level: mean IV over the options that have one, OI-weighted Greeks `Σ(OIᵢ·Gᵢ)/ΣOIᵢ`
//! (a plain mean when the level has no OI yet), total volume and total OI.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{MoneynessLevel, level_of};
use crate::instrument::OptionRight;
use crate::pricing::Greeks;

/// One option's state as the aggregations need it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OptionPoint {
    /// Strike, price units.
    pub strike: f64,
    /// Call or put.
    pub right: OptionRight,
    /// Implied volatility (decimal per √year), when solvable.
    pub iv: Option<f64>,
    /// Greeks at that IV, when there is one.
    pub greeks: Option<Greeks>,
    /// Open interest, units.
    pub oi: f64,
    /// Volume traded in the session so far, units.
    pub volume: f64,
}

/// Aggregates of one level (or group) for one right.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LevelAggregate {
    /// Options counted.
    pub count: u32,
    /// Options that had an IV.
    pub count_with_iv: u32,
    /// Mean IV of those, decimal per √year.
    pub mean_iv: Option<f64>,
    /// OI-weighted mean Greeks (plain mean when total OI is 0).
    pub greeks_oi_weighted: Greeks,
    /// Total volume, units.
    pub total_volume: f64,
    /// Total open interest, units.
    pub total_oi: f64,
}

#[derive(Default)]
struct Acc {
    n: u32,
    n_iv: u32,
    iv_sum: f64,
    n_g: u32,
    g_sum: Greeks,
    g_oi_sum: Greeks,
    g_oi: f64,
    volume: f64,
    oi: f64,
}

impl Acc {
    fn add(&mut self, p: &OptionPoint) {
        self.n += 1;
        self.volume += p.volume;
        self.oi += p.oi;
        if let Some(iv) = p.iv {
            self.n_iv += 1;
            self.iv_sum += iv;
        }
        if let Some(g) = p.greeks {
            self.n_g += 1;
            self.g_sum += g;
            self.g_oi_sum += g * p.oi;
            self.g_oi += p.oi;
        }
    }

    fn finish(&self) -> LevelAggregate {
        let greeks = if self.g_oi > 0.0 {
            self.g_oi_sum * (1.0 / self.g_oi)
        } else if self.n_g > 0 {
            self.g_sum * (1.0 / f64::from(self.n_g))
        } else {
            Greeks::default()
        };
        LevelAggregate {
            count: self.n,
            count_with_iv: self.n_iv,
            mean_iv: (self.n_iv > 0).then(|| self.iv_sum / f64::from(self.n_iv)),
            greeks_oi_weighted: greeks,
            total_volume: self.volume,
            total_oi: self.oi,
        }
    }
}

/// Aggregates by (right, single level), ATM strike `atm` and strike step `step`.
#[must_use]
pub fn aggregate_by_level(
    points: &[OptionPoint],
    atm: f64,
    step: f64,
) -> BTreeMap<(OptionRight, MoneynessLevel), LevelAggregate> {
    // Accumulate in a dense vector indexed by (right, signed steps from ATM), then build the map
    // once from sorted entries: no per-point tree lookups.
    let steps = |p: &OptionPoint| ((p.strike - atm) / step).round().clamp(-1e6, 1e6) as i64;
    let (lo, hi) = points
        .iter()
        .map(steps)
        .fold((0, 0), |(lo, hi), s| (lo.min(s), hi.max(s)));
    let width = usize::try_from(hi - lo + 1).unwrap_or(1);
    let mut acc: Vec<Option<Acc>> = (0..2 * width).map(|_| None).collect();
    for p in points {
        let side = usize::from(p.right == OptionRight::Put) * width;
        let i = side + usize::try_from(steps(p) - lo).unwrap_or(0);
        acc[i].get_or_insert_with(Acc::default).add(p);
    }
    acc.iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let a = a.as_ref()?;
            let right = if i < width { OptionRight::Call } else { OptionRight::Put };
            let s = (i % width) as i64 + lo;
            let strike = atm + s as f64 * step;
            Some(((right, level_of(strike, right, atm, step)), a.finish()))
        })
        .collect()
}

/// Aggregates any set of points into one [`LevelAggregate`].
#[must_use]
pub fn aggregate_points<'a>(points: impl IntoIterator<Item = &'a OptionPoint>) -> LevelAggregate {
    let mut acc = Acc::default();
    for p in points {
        acc.add(p);
    }
    acc.finish()
}

/// Aggregates every point of `right` covered by `level` (a single level or a group).
#[must_use]
pub fn aggregate_by_group(
    points: &[OptionPoint],
    right: OptionRight,
    level: MoneynessLevel,
    atm: f64,
    step: f64,
) -> LevelAggregate {
    let mut acc = Acc::default();
    for p in points
        .iter()
        .filter(|p| p.right == right && level.covers(level_of(p.strike, p.right, atm, step)))
    {
        acc.add(p);
    }
    acc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(strike: f64, right: OptionRight, iv: f64, delta: f64, oi: f64) -> OptionPoint {
        OptionPoint {
            strike,
            right,
            iv: Some(iv),
            greeks: Some(Greeks {
                delta,
                ..Greeks::default()
            }),
            oi,
            volume: 10.0,
        }
    }

    #[test]
    fn levels_aggregate_mean_iv_and_oi_weighted_greeks() {
        let pts = [
            pt(100.0, OptionRight::Call, 0.20, 0.5, 100.0),
            pt(95.0, OptionRight::Call, 0.22, 0.7, 300.0),
            pt(90.0, OptionRight::Call, 0.24, 0.9, 100.0),
            pt(105.0, OptionRight::Call, 0.19, 0.3, 0.0),
        ];
        let by = aggregate_by_level(&pts, 100.0, 5.0);
        assert_eq!(
            by[&(OptionRight::Call, MoneynessLevel::Atm)].greeks_oi_weighted.delta,
            0.5
        );
        assert_eq!(
            by[&(OptionRight::Call, MoneynessLevel::Otm(1))]
                .greeks_oi_weighted
                .delta,
            0.3,
            "plain mean without OI"
        );
        let itm = aggregate_by_group(&pts, OptionRight::Call, MoneynessLevel::ItmGroup, 100.0, 5.0);
        assert_eq!(itm.count, 2);
        assert!((itm.mean_iv.unwrap() - 0.23).abs() < 1e-15);
        assert!((itm.greeks_oi_weighted.delta - (0.7 * 300.0 + 0.9 * 100.0) / 400.0).abs() < 1e-15);
        assert_eq!(itm.total_oi, 400.0);
        assert_eq!(itm.total_volume, 20.0);
    }
}
