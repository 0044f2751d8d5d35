//! The ATM term structure across expiries: IV at a constant maturity, and where today's IV
//! stands in its own history (IV rank and percentile).
//!
//! Constant maturity (e.g. the 30-day IV that IV rank compares day to day, whatever the listed
//! expiries are): interpolated linearly in total variance `w = σ²·t` between the two expiries
//! around the target, then `σ = √(w / t)`, so the forward variance between them is spread
//! evenly in time (the VIX method's interpolation). Before the first expiry or after the last
//! the nearest expiry's IV is used as is (flat volatility), and the answer says so.

use serde::{Deserialize, Serialize};

/// One expiry's point of the term structure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TermPoint {
    /// Time to expiry, years.
    pub t_years: f64,
    /// ATM IV, decimal per √year.
    pub atm_iv: f64,
}

/// IV at a constant maturity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConstantMaturityIv {
    /// The IV, decimal per √year.
    pub iv: f64,
    /// The expiries' times used (one when extrapolated flat).
    pub from_t_years: f64,
    /// The later expiry's time (equal to `from_t_years` when extrapolated flat).
    pub to_t_years: f64,
    /// True when the target was outside the expiries and the nearest one's IV was used.
    pub extrapolated: bool,
}

/// The IV at `target_t_years` from `points` (any order; points with a non-positive time or
/// IV are ignored). `None` with no usable point.
#[must_use]
pub fn constant_maturity_iv(points: &[TermPoint], target_t_years: f64) -> Option<ConstantMaturityIv> {
    let mut pts: Vec<TermPoint> = points
        .iter()
        .copied()
        .filter(|p| p.t_years > 0.0 && p.atm_iv > 0.0 && p.t_years.is_finite() && p.atm_iv.is_finite())
        .collect();
    pts.sort_by(|a, b| a.t_years.total_cmp(&b.t_years));
    let (first, last) = (*pts.first()?, *pts.last()?);
    let flat = |p: TermPoint| ConstantMaturityIv {
        iv: p.atm_iv,
        from_t_years: p.t_years,
        to_t_years: p.t_years,
        extrapolated: p.t_years != target_t_years,
    };
    if target_t_years <= first.t_years {
        return Some(flat(first));
    }
    if target_t_years >= last.t_years {
        return Some(flat(last));
    }
    let i = pts.partition_point(|p| p.t_years < target_t_years);
    let (a, b) = (pts[i - 1], pts[i]);
    let (wa, wb) = (a.atm_iv * a.atm_iv * a.t_years, b.atm_iv * b.atm_iv * b.t_years);
    let w = wa + (wb - wa) * (target_t_years - a.t_years) / (b.t_years - a.t_years);
    Some(ConstantMaturityIv {
        iv: (w / target_t_years).sqrt(),
        from_t_years: a.t_years,
        to_t_years: b.t_years,
        extrapolated: false,
    })
}

/// Where a value stands in its history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IvRank {
    /// `(today − lowest) / (highest − lowest)` over the history and today, 0–1; `None` when
    /// they are all equal.
    pub rank: Option<f64>,
    /// Share of the history's days strictly below today, 0–1.
    pub percentile: f64,
    /// Days in the history (today not counted).
    pub days: usize,
    /// The lowest and highest of the history and today.
    pub low: f64,
    /// See `low`.
    pub high: f64,
}

/// Today's IV against `history` (earlier days' values; non-finite ones ignored). `None` with
/// no history.
#[must_use]
pub fn iv_rank(history: &[f64], today: f64) -> Option<IvRank> {
    let days: Vec<f64> = history.iter().copied().filter(|v| v.is_finite()).collect();
    if days.is_empty() || !today.is_finite() {
        return None;
    }
    let low = days.iter().copied().fold(today, f64::min);
    let high = days.iter().copied().fold(today, f64::max);
    let below = days.iter().filter(|v| **v < today).count();
    #[allow(clippy::cast_precision_loss)] // day counts far below 2^52
    let percentile = below as f64 / days.len() as f64;
    Some(IvRank {
        rank: (high > low).then(|| (today - low) / (high - low)),
        percentile,
        days: days.len(),
        low,
        high,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(days: f64, iv: f64) -> TermPoint {
        TermPoint {
            t_years: days / 365.0,
            atm_iv: iv,
        }
    }

    #[test]
    fn thirty_days_between_two_expiries_in_total_variance() {
        // 23 days at 14 %, 51 days at 16 %: w = σ²t, linear in t, at 30 days.
        let (t1, t2, t) = (23.0 / 365.0, 51.0 / 365.0, 30.0 / 365.0);
        let (w1, w2) = (0.14_f64.powi(2) * t1, 0.16_f64.powi(2) * t2);
        let by_hand = ((w1 + (w2 - w1) * (t - t1) / (t2 - t1)) / t).sqrt();
        let cm = constant_maturity_iv(&[tp(51.0, 0.16), tp(5.0, 0.20), tp(23.0, 0.14)], t).unwrap();
        assert!((cm.iv - by_hand).abs() < 1e-15, "{cm:?} vs {by_hand}");
        assert!((cm.iv - 0.148_828_760_661).abs() < 1e-11, "14.88 %: {}", cm.iv);
        assert_eq!((cm.from_t_years, cm.to_t_years, cm.extrapolated), (t1, t2, false));
        // Not the plain linear interpolation of the IVs (14.50 %).
        assert!((cm.iv - (0.14 + 0.02 * 7.0 / 28.0)).abs() > 5e-4);
    }

    #[test]
    fn outside_the_expiries_the_nearest_iv_flat_and_said_so() {
        let pts = [tp(40.0, 0.15), tp(70.0, 0.17)];
        let early = constant_maturity_iv(&pts, 30.0 / 365.0).unwrap();
        assert_eq!((early.iv, early.extrapolated), (0.15, true));
        let late = constant_maturity_iv(&pts, 90.0 / 365.0).unwrap();
        assert_eq!((late.iv, late.extrapolated), (0.17, true));
        let exact = constant_maturity_iv(&pts, 40.0 / 365.0).unwrap();
        assert_eq!((exact.iv, exact.extrapolated), (0.15, false));
        assert_eq!(constant_maturity_iv(&[tp(0.0, 0.2), tp(10.0, f64::NAN)], 0.1), None);
    }

    #[test]
    fn rank_and_percentile_against_the_history() {
        let history = [0.10, 0.12, 0.20, 0.15, 0.11];
        let r = iv_rank(&history, 0.14).unwrap();
        assert!((r.rank.unwrap() - 0.4).abs() < 1e-12, "(0.14 − 0.10) / (0.20 − 0.10)");
        assert!((r.percentile - 0.6).abs() < 1e-12, "3 of 5 days below");
        assert_eq!((r.days, r.low, r.high), (5, 0.10, 0.20));
        // A new high ranks 1 and beats every day.
        let top = iv_rank(&history, 0.25).unwrap();
        assert_eq!((top.rank, top.percentile, top.high), (Some(1.0), 1.0, 0.25));
        assert_eq!(iv_rank(&[0.2, 0.2], 0.2).unwrap().rank, None);
        assert_eq!(iv_rank(&[], 0.2), None);
    }
}
