//! Statistics over a chain's option points: ATM IV, skew, 25-delta wings, PCR and max pain.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::strikes::StrikeGrid;
use crate::instrument::OptionRight;
use crate::moneyness::{MoneynessLevel, OptionPoint, aggregate_by_level};

/// IV at the forward, interpolated linearly in strike between the two strikes around it; each
/// strike's IV is the mean of its call and put IVs (whichever exist).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AtmIv {
    /// The ATM IV, decimal per √year.
    pub iv: f64,
    /// The strike at or below the forward used.
    pub lower_strike: f64,
    /// The strike at or above the forward used.
    pub upper_strike: f64,
}

/// One strike's IVs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StrikeIv {
    /// Strike.
    pub strike: f64,
    /// The call's IV.
    pub call_iv: Option<f64>,
    /// The put's IV.
    pub put_iv: Option<f64>,
    /// The OTM side's IV (call at or above the forward, put below), else the other side's.
    pub otm_iv: Option<f64>,
}

/// 25-delta wings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Wing25 {
    /// IV of the +0.25-delta call (interpolated in delta).
    pub call_iv: f64,
    /// IV of the −0.25-delta put.
    pub put_iv: f64,
    /// Risk reversal `σ25C − σ25P`.
    pub risk_reversal: f64,
    /// Butterfly `(σ25C + σ25P)/2 − σATM`.
    pub butterfly: f64,
}

/// Put–call ratios; `None` where the call side is zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PutCallRatio {
    /// Σ put OI / Σ call OI.
    pub by_oi: Option<f64>,
    /// Σ put volume / Σ call volume.
    pub by_volume: Option<f64>,
}

/// Per-strike IVs, ascending by strike.
#[must_use]
pub fn skew_by_strike(points: &[OptionPoint], forward: f64) -> Vec<StrikeIv> {
    skew_on_grid(points, &StrikeGrid::new(points.iter().map(|p| p.strike)), forward)
}

/// [`skew_by_strike`] on the chain's strikes, already collected.
pub(crate) fn skew_on_grid(points: &[OptionPoint], grid: &StrikeGrid, forward: f64) -> Vec<StrikeIv> {
    let mut v: Vec<StrikeIv> = grid
        .as_slice()
        .iter()
        .map(|&strike| StrikeIv {
            strike,
            call_iv: None,
            put_iv: None,
            otm_iv: None,
        })
        .collect();
    let mut hint = 0;
    for p in points {
        if let Some(i) = grid.index(p.strike, &mut hint) {
            match p.right {
                OptionRight::Call => v[i].call_iv = p.iv,
                OptionRight::Put => v[i].put_iv = p.iv,
            }
        }
    }
    for s in &mut v {
        s.otm_iv = if s.strike >= forward {
            s.call_iv.or(s.put_iv)
        } else {
            s.put_iv.or(s.call_iv)
        };
    }
    v
}

/// Mean IV per (right, level).
#[must_use]
pub fn skew_by_level(
    points: &[OptionPoint],
    atm: f64,
    step: f64,
) -> BTreeMap<(OptionRight, MoneynessLevel), Option<f64>> {
    aggregate_by_level(points, atm, step)
        .into_iter()
        .map(|e| ((e.right, e.level), e.aggregate.mean_iv))
        .collect()
}

fn combined(s: &StrikeIv) -> Option<f64> {
    match (s.call_iv, s.put_iv) {
        (Some(c), Some(p)) => Some(0.5 * (c + p)),
        (c, p) => c.or(p),
    }
}

/// ATM IV at `forward`; `None` unless strikes with an IV exist on both sides (or at) the forward.
#[must_use]
pub fn atm_iv(skew: &[StrikeIv], forward: f64) -> Option<AtmIv> {
    let below = skew
        .iter()
        .rev()
        .find(|s| s.strike <= forward && combined(s).is_some())?;
    let above = skew.iter().find(|s| s.strike >= forward && combined(s).is_some())?;
    let (lo, hi) = (combined(below)?, combined(above)?);
    let iv = if above.strike == below.strike {
        lo
    } else {
        lo + (hi - lo) * (forward - below.strike) / (above.strike - below.strike)
    };
    Some(AtmIv {
        iv,
        lower_strike: below.strike,
        upper_strike: above.strike,
    })
}

fn iv_at_delta(points: &[OptionPoint], right: OptionRight, target: f64) -> Option<f64> {
    let mut v: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.right == right)
        .filter_map(|p| Some((p.greeks?.delta, p.iv?)))
        .filter(|(d, iv)| d.is_finite() && iv.is_finite())
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v.windows(2).find(|w| w[0].0 <= target && target <= w[1].0).map(|w| {
        let ((d0, s0), (d1, s1)) = (w[0], w[1]);
        if d1 == d0 {
            s0
        } else {
            s0 + (s1 - s0) * (target - d0) / (d1 - d0)
        }
    })
}

/// The 25-delta risk reversal and butterfly, when the chain brackets ±0.25 delta.
#[must_use]
pub fn wing_25_delta(points: &[OptionPoint], atm: Option<AtmIv>) -> Option<Wing25> {
    let call_iv = iv_at_delta(points, OptionRight::Call, 0.25)?;
    let put_iv = iv_at_delta(points, OptionRight::Put, -0.25)?;
    let atm = atm?.iv;
    Some(Wing25 {
        call_iv,
        put_iv,
        risk_reversal: call_iv - put_iv,
        butterfly: 0.5 * (call_iv + put_iv) - atm,
    })
}

/// Put–call ratios by OI and by volume.
#[must_use]
pub fn put_call_ratio(points: &[OptionPoint]) -> PutCallRatio {
    let sum = |r: OptionRight, f: fn(&OptionPoint) -> f64| points.iter().filter(|p| p.right == r).map(f).sum::<f64>();
    let ratio = |p: f64, c: f64| (c > 0.0).then(|| p / c);
    PutCallRatio {
        by_oi: ratio(sum(OptionRight::Put, |p| p.oi), sum(OptionRight::Call, |p| p.oi)),
        by_volume: ratio(
            sum(OptionRight::Put, |p| p.volume),
            sum(OptionRight::Call, |p| p.volume),
        ),
    }
}

/// The strike at which option holders' total intrinsic payout is smallest (ties: the lower
/// strike): `Σ_calls OI·(K*−K)⁺ + Σ_puts OI·(K−K*)⁺`, by prefix sums in O(n log n).
#[must_use]
pub fn max_pain(points: &[OptionPoint]) -> Option<f64> {
    max_pain_on_grid(points, &StrikeGrid::new(points.iter().map(|p| p.strike)))
}

/// [`max_pain`] on the chain's strikes, already collected.
pub(crate) fn max_pain_on_grid(points: &[OptionPoint], grid: &StrikeGrid) -> Option<f64> {
    let strikes = grid.as_slice();
    if strikes.is_empty() {
        return None;
    }
    let n = strikes.len();
    let (mut call_oi, mut put_oi) = (vec![0.0; n], vec![0.0; n]);
    let mut hint = 0;
    for p in points {
        if let Some(i) = grid.index(p.strike, &mut hint) {
            match p.right {
                OptionRight::Call => call_oi[i] += p.oi,
                OptionRight::Put => put_oi[i] += p.oi,
            }
        }
    }
    // Calls in the money at K* are those with K < K*: accumulate from below.
    let (mut c_oi, mut c_koi) = (0.0, 0.0);
    let mut pain = vec![0.0; n];
    for i in 0..n {
        pain[i] += strikes[i] * c_oi - c_koi;
        c_oi += call_oi[i];
        c_koi += call_oi[i] * strikes[i];
    }
    let (mut p_oi, mut p_koi) = (0.0, 0.0);
    for i in (0..n).rev() {
        pain[i] += p_koi - strikes[i] * p_oi;
        p_oi += put_oi[i];
        p_koi += put_oi[i] * strikes[i];
    }
    let best = (0..n).fold(0, |b, i| if pain[i] < pain[b] { i } else { b });
    Some(strikes[best])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::Greeks;

    fn p(strike: f64, right: OptionRight, iv: f64, delta: f64, oi: f64) -> OptionPoint {
        OptionPoint {
            strike,
            right,
            iv: Some(iv),
            greeks: Some(Greeks {
                delta,
                ..Greeks::default()
            }),
            oi,
            volume: oi / 10.0,
        }
    }

    fn chain() -> Vec<OptionPoint> {
        vec![
            p(90.0, OptionRight::Call, 0.24, 0.80, 10.0),
            p(100.0, OptionRight::Call, 0.20, 0.50, 50.0),
            p(110.0, OptionRight::Call, 0.18, 0.20, 100.0),
            p(90.0, OptionRight::Put, 0.26, -0.20, 200.0),
            p(100.0, OptionRight::Put, 0.22, -0.50, 60.0),
            p(110.0, OptionRight::Put, 0.20, -0.80, 5.0),
        ]
    }

    #[test]
    fn atm_iv_interpolates_the_combined_iv_at_the_forward() {
        let sk = skew_by_strike(&chain(), 102.5);
        let a = atm_iv(&sk, 102.5).unwrap();
        // 100: (0.20+0.22)/2 = 0.21; 110: 0.19; a quarter of the way.
        assert!((a.iv - (0.21 - 0.02 * 0.25)).abs() < 1e-15, "{a:?}");
        assert_eq!((a.lower_strike, a.upper_strike), (100.0, 110.0));
        assert_eq!(sk[0].otm_iv, Some(0.26), "below the forward the put is OTM");
    }

    #[test]
    fn wings_pcr_and_max_pain() {
        let pts = chain();
        let atm = atm_iv(&skew_by_strike(&pts, 100.0), 100.0);
        let w = wing_25_delta(&pts, atm).unwrap();
        assert!((w.call_iv - (0.18 + 0.02 * (0.05 / 0.30))).abs() < 1e-15);
        assert!((w.put_iv - (0.26 - 0.04 * (0.05 / 0.30))).abs() < 1e-15);
        assert!((w.risk_reversal - (w.call_iv - w.put_iv)).abs() < 1e-15);
        let pcr = put_call_ratio(&pts);
        assert!((pcr.by_oi.unwrap() - 265.0 / 160.0).abs() < 1e-15);
        // Pain at 90: calls 0, puts 60·10 + 5·20 = 700; at 100: calls 10·10=100, puts 5·10=50 → 150;
        // at 110: calls 10·20 + 50·10 = 700, puts 0.
        assert_eq!(max_pain(&pts), Some(100.0));
    }
}
