//! Greeks as a value type: `Copy`, adds and scales, so aggregation by moneyness level is a fold.

use std::iter::Sum;
use std::ops::{Add, AddAssign, Mul};

use serde::{Deserialize, Serialize};

/// Sensitivities of one option (or a weighted sum of options), in raw per-unit terms.
///
/// Units: `delta` per 1 unit of the underlying (spot for BSM, forward for Black-76); `gamma` per
/// unit²; `theta_per_year` = −∂V/∂T (value change per year of calendar time passing); `vega_per_unit`
/// per 1.00 of volatility (σ as a decimal); `rho_per_unit` per 1.00 of rate; `vanna` = ∂²V/∂S∂σ;
/// `volga` = ∂²V/∂σ²; `charm_per_year` = −∂²V/∂S∂T; `speed` = ∂³V/∂S³. The scaled forms the API
/// shows (per day, per vol point, per rate point) are methods, so no unit is ever stored twice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Greeks {
    /// ∂V/∂S, per unit of underlying.
    pub delta: f64,
    /// ∂²V/∂S², per unit² of underlying.
    pub gamma: f64,
    /// −∂V/∂T, per year of calendar time.
    pub theta_per_year: f64,
    /// ∂V/∂σ, per 1.00 (100 vol points) of volatility.
    pub vega_per_unit: f64,
    /// ∂V/∂r, per 1.00 (100 %) of rate.
    pub rho_per_unit: f64,
    /// ∂²V/∂S∂σ.
    pub vanna: f64,
    /// ∂²V/∂σ².
    pub volga: f64,
    /// −∂²V/∂S∂T, per year.
    pub charm_per_year: f64,
    /// ∂³V/∂S³.
    pub speed: f64,
}

/// Calendar days per year used for `theta_per_day`.
pub const DAYS_PER_YEAR: f64 = 365.0;

impl Greeks {
    /// Theta per calendar day: `theta_per_year / 365`.
    #[must_use]
    pub fn theta_per_day(&self) -> f64 {
        self.theta_per_year / DAYS_PER_YEAR
    }

    /// Vega per volatility point (σ moving by 0.01).
    #[must_use]
    pub fn vega_per_vol_point(&self) -> f64 {
        self.vega_per_unit / 100.0
    }

    /// Rho per rate point (r moving by 0.01).
    #[must_use]
    pub fn rho_per_rate_point(&self) -> f64 {
        self.rho_per_unit / 100.0
    }

    fn zip(self, o: Self, f: impl Fn(f64, f64) -> f64) -> Self {
        Self {
            delta: f(self.delta, o.delta),
            gamma: f(self.gamma, o.gamma),
            theta_per_year: f(self.theta_per_year, o.theta_per_year),
            vega_per_unit: f(self.vega_per_unit, o.vega_per_unit),
            rho_per_unit: f(self.rho_per_unit, o.rho_per_unit),
            vanna: f(self.vanna, o.vanna),
            volga: f(self.volga, o.volga),
            charm_per_year: f(self.charm_per_year, o.charm_per_year),
            speed: f(self.speed, o.speed),
        }
    }
}

impl Add for Greeks {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        self.zip(rhs, |a, b| a + b)
    }
}

impl AddAssign for Greeks {
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl Mul<f64> for Greeks {
    type Output = Self;
    fn mul(self, k: f64) -> Self {
        self.zip(self, |a, _| a * k)
    }
}

impl Sum for Greeks {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeks_add_and_scale_fieldwise() {
        let g = Greeks {
            delta: 0.5,
            gamma: 0.01,
            theta_per_year: -365.0,
            vega_per_unit: 20.0,
            ..Greeks::default()
        };
        let s: Greeks = [g, g * 2.0].into_iter().sum();
        assert_eq!(s.delta, 1.5);
        assert_eq!(s.theta_per_day(), -3.0);
        assert_eq!(s.vega_per_vol_point(), 0.6);
    }

    #[test]
    fn per_point_sensitivities_are_per_hundredth_of_the_unit() {
        let g = Greeks {
            rho_per_unit: 250.0,
            vega_per_unit: -40.0,
            theta_per_year: 730.0,
            ..Greeks::default()
        };
        assert_eq!(g.rho_per_rate_point(), 2.5);
        assert_eq!(g.vega_per_vol_point(), -0.4);
        assert_eq!(g.theta_per_day(), 2.0);
    }
}
