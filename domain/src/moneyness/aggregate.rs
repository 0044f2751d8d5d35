//! Aggregating option points by moneyness level.
//!
//! Per level: mean IV over the options that have one, OI-weighted Greeks `Σ(OIᵢ·Gᵢ)/ΣOIᵢ`
//! (a plain mean when the level has no OI yet), total volume and total OI.

use serde::{Deserialize, Serialize};

use super::level::level_of_steps;
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

/// One single level of one right, as [`aggregate_by_level`] returns it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LevelEntry {
    /// Call or put.
    pub right: OptionRight,
    /// The level (never a group here).
    pub level: MoneynessLevel,
    /// The level's aggregates.
    pub aggregate: LevelAggregate,
}

/// Running sums of one level. Greeks are summed with one weight per set: OI when the set's
/// options with Greeks have any OI, else 1 (a plain mean), decided before the first `add`.
#[derive(Default, Clone, Copy)]
struct Acc {
    n: u32,
    n_iv: u32,
    iv_sum: f64,
    g_sum: Greeks,
    g_weight: f64,
    volume: f64,
    oi: f64,
}

impl Acc {
    fn add(&mut self, p: &OptionPoint, by_oi: bool) {
        self.n += 1;
        self.volume += p.volume;
        self.oi += p.oi;
        if let Some(iv) = p.iv {
            self.n_iv += 1;
            self.iv_sum += iv;
        }
        if let Some(g) = p.greeks {
            let w = if by_oi { p.oi } else { 1.0 };
            self.g_sum += g * w;
            self.g_weight += w;
        }
    }

    fn finish(&self) -> LevelAggregate {
        let greeks = if self.g_weight > 0.0 {
            self.g_sum * (1.0 / self.g_weight)
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

/// The OI of the options that have Greeks: when it is positive, Greeks are OI-weighted.
fn greeks_oi(p: &OptionPoint) -> f64 {
    if p.greeks.is_some() { p.oi } else { 0.0 }
}

/// Aggregates by (right, single level), ATM strike `atm` and strike step `step`.
///
/// Entries come calls first, then puts, each ascending by strike; levels without options are
/// left out. Costs O(n + strike span) with two passes and no per-point lookups: points are
/// accumulated in a dense vector indexed by (right, signed steps from ATM). The sums are the
/// same as [`aggregate_points`] over each level's points.
#[must_use]
pub fn aggregate_by_level(points: &[OptionPoint], atm: f64, step: f64) -> Vec<LevelEntry> {
    #[allow(clippy::cast_possible_truncation)]
    let steps: Vec<i64> = points
        .iter()
        .map(|p| ((p.strike - atm) / step).round().clamp(-1e6, 1e6) as i64)
        .collect();
    let (Some(&lo), Some(&hi)) = (steps.iter().min(), steps.iter().max()) else {
        return Vec::new();
    };
    let width = usize::try_from(hi - lo + 1).unwrap_or(1);
    let slot = |p: &OptionPoint, s: i64| {
        usize::from(p.right == OptionRight::Put) * width + usize::try_from(s - lo).unwrap_or(0)
    };
    // Pass 1: per slot, the OI and the count of the options with Greeks, which give the
    // Greeks' weighting (OI, or a plain mean when that OI is 0) and the sum of the weights.
    let mut weights = vec![(0.0_f64, 0_u32); 2 * width];
    for (p, &s) in points.iter().zip(&steps) {
        if p.greeks.is_some() {
            let w = &mut weights[slot(p, s)];
            w.0 += p.oi;
            w.1 += 1;
        }
    }
    // Pass 2 sums straight into the output entries (no separate accumulators to copy from).
    let mut out: Vec<LevelEntry> = (0..2 * width)
        .map(|i| {
            let right = if i < width { OptionRight::Call } else { OptionRight::Put };
            #[allow(clippy::cast_possible_wrap)]
            let s = (i % width) as i64 + lo;
            LevelEntry {
                right,
                level: level_of_steps(s, right),
                aggregate: LevelAggregate::default(),
            }
        })
        .collect();
    for (p, &s) in points.iter().zip(&steps) {
        let i = slot(p, s);
        let a = &mut out[i].aggregate;
        a.count += 1;
        a.total_volume += p.volume;
        a.total_oi += p.oi;
        if let Some(iv) = p.iv {
            a.count_with_iv += 1;
            *a.mean_iv.get_or_insert(0.0) += iv;
        }
        if let Some(g) = p.greeks {
            a.greeks_oi_weighted += if weights[i].0 > 0.0 { g * p.oi } else { g };
        }
    }
    for (e, &(oi, n)) in out.iter_mut().zip(&weights) {
        let a = &mut e.aggregate;
        if let Some(sum) = a.mean_iv.as_mut() {
            *sum /= f64::from(a.count_with_iv);
        }
        let w = if oi > 0.0 { oi } else { f64::from(n) };
        if w > 0.0 {
            a.greeks_oi_weighted = a.greeks_oi_weighted * (1.0 / w);
        }
    }
    out.retain(|e| e.aggregate.count > 0);
    out
}

/// Aggregates any set of points into one [`LevelAggregate`] (iterated twice: weighting, sums).
#[must_use]
pub fn aggregate_points<'a, I>(points: I) -> LevelAggregate
where
    I: IntoIterator<Item = &'a OptionPoint>,
    I::IntoIter: Clone,
{
    let points = points.into_iter();
    let by_oi = points.clone().map(greeks_oi).sum::<f64>() > 0.0;
    let mut acc = Acc::default();
    for p in points {
        acc.add(p, by_oi);
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
    aggregate_points(
        points
            .iter()
            .filter(|p| p.right == right && level.covers(level_of(p.strike, p.right, atm, step))),
    )
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
        let levels: Vec<_> = by.iter().map(|e| (e.right, e.level)).collect();
        assert_eq!(
            levels,
            [
                (OptionRight::Call, MoneynessLevel::Itm(2)),
                (OptionRight::Call, MoneynessLevel::Itm(1)),
                (OptionRight::Call, MoneynessLevel::Atm),
                (OptionRight::Call, MoneynessLevel::Otm(1)),
            ],
            "calls ascending by strike"
        );
        assert_eq!(by[2].aggregate.greeks_oi_weighted.delta, 0.5);
        assert_eq!(by[3].aggregate.greeks_oi_weighted.delta, 0.3, "plain mean without OI");
        let itm = aggregate_by_group(&pts, OptionRight::Call, MoneynessLevel::ItmGroup, 100.0, 5.0);
        assert_eq!(itm.count, 2);
        assert!((itm.mean_iv.unwrap() - 0.23).abs() < 1e-15);
        assert!((itm.greeks_oi_weighted.delta - (0.7 * 300.0 + 0.9 * 100.0) / 400.0).abs() < 1e-15);
        assert_eq!(itm.total_oi, 400.0);
        assert_eq!(itm.total_volume, 20.0);
    }

    #[test]
    fn without_oi_greeks_are_a_plain_mean_and_volumes_and_oi_add_up() {
        let mut pts = [
            pt(100.0, OptionRight::Call, 0.20, 0.4, 0.0),
            pt(100.0, OptionRight::Call, 0.24, 0.6, 0.0),
            pt(100.0, OptionRight::Put, 0.30, -0.5, 70.0),
            pt(90.0, OptionRight::Put, 0.32, -0.2, 30.0),
        ];
        pts[1].volume = 5.0;
        pts[2].iv = None;
        let by = aggregate_by_level(&pts, 100.0, 5.0);
        let got: Vec<_> = by
            .iter()
            .map(|e| {
                let a = e.aggregate;
                (
                    e.right,
                    e.level,
                    a.count,
                    a.count_with_iv,
                    a.mean_iv,
                    a.greeks_oi_weighted.delta,
                    a.total_volume,
                    a.total_oi,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (OptionRight::Call, MoneynessLevel::Atm, 2, 2, Some(0.22), 0.5, 15.0, 0.0),
                (
                    OptionRight::Put,
                    MoneynessLevel::Otm(2),
                    1,
                    1,
                    Some(0.32),
                    -0.2,
                    10.0,
                    30.0
                ),
                (OptionRight::Put, MoneynessLevel::Atm, 1, 0, None, -0.5, 10.0, 70.0),
            ],
            "calls then puts, each ascending by strike"
        );
        // A level whose options have no Greeks reports zero Greeks, not NaN.
        pts.iter_mut().for_each(|p| p.greeks = None);
        let by = aggregate_by_level(&pts, 100.0, 5.0);
        assert!(by.iter().all(|e| e.aggregate.greeks_oi_weighted == Greeks::default()));
    }

    #[test]
    fn every_level_equals_aggregating_its_own_points() {
        // Two options per strike and right at some strikes (split OI), none at others, one
        // level without OI, one option without Greeks.
        let mut pts = vec![];
        for (i, k) in [90.0, 95.0, 95.0, 100.0, 110.0, 115.0].into_iter().enumerate() {
            for right in [OptionRight::Call, OptionRight::Put] {
                let x = i as f64;
                let mut p = pt(
                    k,
                    right,
                    0.2 + 0.01 * x,
                    0.1 * x - 0.3,
                    if k == 110.0 { 0.0 } else { 50.0 * x },
                );
                if k == 115.0 && right == OptionRight::Put {
                    p.greeks = None;
                    p.iv = None;
                }
                pts.push(p);
            }
        }
        let by = aggregate_by_level(&pts, 100.0, 5.0);
        assert_eq!(by.len(), 10);
        for e in &by {
            let want = aggregate_by_group(&pts, e.right, e.level, 100.0, 5.0);
            let got = e.aggregate;
            assert_eq!(
                (got.count, got.count_with_iv, got.total_oi),
                (want.count, want.count_with_iv, want.total_oi)
            );
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-15 * (1.0 + b.abs());
            assert!(close(got.mean_iv.unwrap_or(0.0), want.mean_iv.unwrap_or(0.0)), "{e:?}");
            assert!(
                close(got.greeks_oi_weighted.delta, want.greeks_oi_weighted.delta),
                "{e:?} vs {want:?}"
            );
        }
    }
}
