//! Gamma exposure (GEX) of one expiry's chain: the value of the underlying that option dealers
//! must trade, per 1 % move of the underlying, to stay delta-hedged.
//!
//! Per option: `OI × gamma × units per OI × spot² × 0.01`, in currency per 1 % move (gamma is
//! the delta change per unit of price; a 1 % move is `0.01 × spot` of price, and each unit of
//! delta is worth `spot`). Open interest is counted in contracts or in units depending on the
//! market (NSE publishes units: `units_per_oi` 1; a US contract is 100 units).
//!
//! The dealer-positioning assumption is the common one (SqueezeMetrics, SpotGamma): the public
//! buys puts and sells calls, so dealers are long the calls' gamma and short the puts'. Call
//! exposure counts positive and put exposure negative; a positive net means dealers damp moves
//! (they sell rallies and buy dips), a negative one that they amplify them. The flip (zero-gamma)
//! level is the spot at which the net changes sign, with every option re-priced there.

use serde::{Deserialize, Serialize};

use crate::instrument::OptionRight;
use crate::moneyness::OptionPoint;

/// The exposure at one strike, currency per 1 % move.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StrikeGex {
    /// Strike, price units.
    pub strike: f64,
    /// The calls' exposure (≥ 0).
    pub call: f64,
    /// The puts' exposure (≤ 0).
    pub put: f64,
}

impl StrikeGex {
    /// Calls and puts together.
    #[must_use]
    pub fn net(&self) -> f64 {
        self.call + self.put
    }
}

/// A chain's gamma exposure at one spot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GammaExposure {
    /// Per strike, ascending; strikes without an option with gamma are left out.
    pub strikes: Vec<StrikeGex>,
    /// The calls' total (≥ 0).
    pub call: f64,
    /// The puts' total (≤ 0).
    pub put: f64,
    /// Calls and puts together.
    pub net: f64,
    /// The strike with the largest call exposure (the call wall).
    pub call_wall: Option<f64>,
    /// The strike with the largest put exposure in size (the put wall).
    pub put_wall: Option<f64>,
}

/// One option's exposure (signed by the assumption above); `None` without gamma.
#[must_use]
pub fn option_gex(point: &OptionPoint, spot: f64, units_per_oi: f64) -> Option<f64> {
    let gamma = point.greeks?.gamma;
    let size = point.oi * gamma * units_per_oi * spot * spot * 0.01;
    Some(match point.right {
        OptionRight::Call => size,
        OptionRight::Put => -size,
    })
}

/// The exposure of `points` (one expiry) at `spot`, each option's gamma as given.
#[must_use]
pub fn gamma_exposure(points: &[OptionPoint], spot: f64, units_per_oi: f64) -> GammaExposure {
    let mut strikes: Vec<StrikeGex> = Vec::new();
    for p in points {
        let Some(gex) = option_gex(p, spot, units_per_oi) else {
            continue;
        };
        let i = match strikes.binary_search_by(|s| s.strike.total_cmp(&p.strike)) {
            Ok(i) => i,
            Err(i) => {
                strikes.insert(
                    i,
                    StrikeGex {
                        strike: p.strike,
                        call: 0.0,
                        put: 0.0,
                    },
                );
                i
            }
        };
        match p.right {
            OptionRight::Call => strikes[i].call += gex,
            OptionRight::Put => strikes[i].put += gex,
        }
    }
    let call: f64 = strikes.iter().map(|s| s.call).sum();
    let put: f64 = strikes.iter().map(|s| s.put).sum();
    // Ties: the lower strike.
    let wall = |size: fn(&StrikeGex) -> f64| {
        strikes
            .iter()
            .filter(|s| size(s) > 0.0)
            .fold(None::<&StrikeGex>, |best, s| match best {
                Some(b) if size(b) >= size(s) => Some(b),
                _ => Some(s),
            })
            .map(|s| s.strike)
    };
    GammaExposure {
        call_wall: wall(|s| s.call),
        put_wall: wall(|s| -s.put),
        call,
        put,
        net: call + put,
        strikes,
    }
}

/// The flip level: the spot at which `net_at` (the chain's net exposure with every option
/// re-priced at that spot, same IV, time and rate) changes sign. `grid` holds the spots to
/// try, ascending; between the two grid spots around a sign change the level is interpolated
/// linearly. With several changes, the one nearest `spot`; `None` when the sign never changes.
#[must_use]
pub fn zero_gamma(grid: &[f64], net_at: impl Fn(f64) -> f64, spot: f64) -> Option<f64> {
    let values: Vec<(f64, f64)> = grid.iter().map(|&s| (s, net_at(s))).collect();
    values
        .windows(2)
        .filter_map(|w| {
            let ((s0, v0), (s1, v1)) = (w[0], w[1]);
            if v0 == 0.0 {
                Some(s0)
            } else if v0.signum() != v1.signum() && v1 != 0.0 {
                Some(s0 + (s1 - s0) * v0 / (v0 - v1))
            } else {
                None
            }
        })
        .chain(values.last().filter(|(_, v)| *v == 0.0).map(|(s, _)| *s))
        .min_by(|a, b| (a - spot).abs().total_cmp(&(b - spot).abs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::Greeks;

    fn p(strike: f64, right: OptionRight, gamma: Option<f64>, oi: f64) -> OptionPoint {
        OptionPoint {
            strike,
            right,
            iv: gamma.map(|_| 0.2),
            greeks: gamma.map(|gamma| Greeks {
                gamma,
                ..Greeks::default()
            }),
            oi,
            volume: 0.0,
        }
    }

    #[test]
    fn a_three_strike_chain_by_hand() {
        let chain = [
            p(110.0, OptionRight::Call, Some(0.01), 500.0),
            p(90.0, OptionRight::Call, Some(0.01), 100.0),
            p(90.0, OptionRight::Put, Some(0.008), 200.0),
            p(100.0, OptionRight::Call, Some(0.03), 300.0),
            p(100.0, OptionRight::Put, Some(0.03), 100.0),
            p(110.0, OptionRight::Put, Some(0.005), 50.0),
            p(120.0, OptionRight::Call, None, 1_000.0), // no IV: no gamma, left out
        ];
        // Spot 100, NSE-style OI in units: each option's size is OI × gamma × 100² × 0.01.
        let g = gamma_exposure(&chain, 100.0, 1.0);
        let by_hand = [(90.0, 100.0, -160.0), (100.0, 900.0, -300.0), (110.0, 500.0, -25.0)];
        assert_eq!(g.strikes.len(), 3);
        for (s, (k, c, pu)) in g.strikes.iter().zip(by_hand) {
            assert_eq!(s.strike, k);
            assert!((s.call - c).abs() < 1e-9 && (s.put - pu).abs() < 1e-9, "{s:?}");
        }
        assert!((g.call - 1_500.0).abs() < 1e-9 && (g.put + 485.0).abs() < 1e-9);
        assert!((g.net - 1_015.0).abs() < 1e-9);
        assert_eq!((g.call_wall, g.put_wall), (Some(100.0), Some(100.0)));
        // Contracts of 100 units scale every figure.
        assert!((gamma_exposure(&chain, 100.0, 100.0).net - 101_500.0).abs() < 1e-6);
    }

    #[test]
    fn the_flip_is_where_the_net_changes_sign_nearest_the_spot() {
        let grid: Vec<f64> = (0..=8).map(|i| 80.0 + 5.0 * f64::from(i)).collect();
        assert_eq!(zero_gamma(&grid, |s| s - 95.0, 100.0), Some(95.0));
        // Between grid points: linear between (95, -2) and (100, 3) → 97.
        let z = zero_gamma(&grid, |s| if s < 97.0 { -2.0 } else { 3.0 }, 100.0).unwrap();
        assert!((z - 97.0).abs() < 1e-12, "{z}");
        // Two changes (near 85 and near 112.5): the one nearest the spot.
        let two = |s: f64| (s - 85.0) * (s - 112.5);
        assert!((zero_gamma(&grid, two, 108.0).unwrap() - 112.5).abs() < 1.0);
        assert!((zero_gamma(&grid, two, 88.0).unwrap() - 85.0).abs() < 1e-9);
        assert_eq!(zero_gamma(&grid, |_| 1.0, 100.0), None);
        assert_eq!(zero_gamma(&[], |_| 1.0, 100.0), None);
    }
}
