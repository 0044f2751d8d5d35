//! The generalized Black–Scholes kernel: one price and every Greek from one set of inputs.
//!
//! Numerical care, each checked by the golden files in `domain/tests/fixtures`:
//! - upper tails are taken as `N(−d)`, never `1 − N(d)`, so far-OTM puts keep their digits;
//! - `ln(F/K)` is `ln(X/K) + bT`, so the forward is never rounded before the log;
//! - `d2` is computed from its own formula, not as `d1 − σ√T`;
//! - when `σ√T = 0` (expired, or zero volatility) the option is its discounted intrinsic value:
//!   `N(d)` becomes the step (½ exactly at the money) and every density term is 0 instead of `0·∞`;
//! - density-based terms are skipped when `n(d1)` underflows to 0, so nothing turns into NaN.

use serde::{Deserialize, Serialize};

use super::Greeks;
use super::normal::{INV_SQRT_2PI, norm_cdf_pair};
use crate::instrument::OptionRight;

/// Which model prices the option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PricingModel {
    /// Black–Scholes–Merton on spot with continuous rate `r` and dividend yield `q`.
    /// Rho moves `r` with `q` fixed (so the forward moves too).
    Bsm,
    /// Black-76 on the forward `F`, discounted at `r`. Delta and gamma are with respect to `F`;
    /// theta and rho hold `F` fixed (rho = −T·V). The dividend yield is ignored.
    Black76,
}

impl PricingModel {
    /// `"bsm"` or `"black76"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bsm => "bsm",
            Self::Black76 => "black76",
        }
    }
}

impl std::str::FromStr for PricingModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "bsm" => Ok(Self::Bsm),
            "black76" => Ok(Self::Black76),
            _ => Err(format!("model '{s}' is not one of bsm, black76")),
        }
    }
}

/// Inputs for one European option.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionInputs {
    /// Call or put.
    pub right: OptionRight,
    /// Spot for BSM, forward for Black-76, in price units.
    pub underlying: f64,
    /// Strike, price units.
    pub strike: f64,
    /// Time to expiry in years (see `crate::expiry::TimeBasis`).
    pub t_years: f64,
    /// Continuously compounded risk-free rate, per year as a decimal (0.065 = 6.5 %).
    pub rate: f64,
    /// Continuous dividend yield, per year as a decimal; BSM only.
    pub div_yield: f64,
    /// Volatility, per √year as a decimal (0.15 = 15 %).
    pub vol: f64,
}

/// Why inputs cannot be priced; names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct PricingError {
    /// The offending input, with the same name as the calculator column.
    pub field: &'static str,
    /// Why it is rejected.
    pub reason: &'static str,
}

impl OptionInputs {
    /// Checks every field.
    ///
    /// # Errors
    /// [`PricingError`] naming the first field that is not finite or is out of range.
    pub fn validate(&self) -> Result<(), PricingError> {
        let bad = |field, reason| Err(PricingError { field, reason });
        if !(self.underlying.is_finite() && self.underlying > 0.0) {
            return bad("spot", "must be a positive finite number");
        }
        if !(self.strike.is_finite() && self.strike > 0.0) {
            return bad("strike", "must be a positive finite number");
        }
        if !(self.t_years.is_finite() && self.t_years >= 0.0) {
            return bad("t_years", "must be a finite number ≥ 0");
        }
        if !self.rate.is_finite() {
            return bad("rate", "must be finite");
        }
        if !self.div_yield.is_finite() {
            return bad("div_yield", "must be finite");
        }
        if !(self.vol.is_finite() && self.vol >= 0.0) {
            return bad("vol", "must be a finite number ≥ 0");
        }
        Ok(())
    }
}

/// A price and its Greeks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Valuation {
    /// Premium in price units (discounted, per unit of underlying).
    pub price: f64,
    /// Sensitivities, see [`Greeks`] for units.
    pub greeks: Greeks,
}

/// Prices an option and computes all its Greeks.
///
/// # Errors
/// [`PricingError`] when an input is not finite or out of range (see [`OptionInputs::validate`]).
pub fn price_and_greeks(model: PricingModel, o: &OptionInputs) -> Result<Valuation, PricingError> {
    o.validate()?;
    Ok(price_and_greeks_unchecked(model, o))
}

/// [`price_and_greeks`] without validation, for hot loops over inputs already validated.
#[must_use]
#[inline]
pub fn price_and_greeks_unchecked(model: PricingModel, o: &OptionInputs) -> Valuation {
    PricingContext::new(model, o.underlying, o.t_years, o.rate, o.div_yield).value(o.right, o.strike, o.vol)
}

/// The constants shared by every option on one underlying price and expiry: discount factors
/// and √T. A chain computes them once instead of once per option.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PricingContext {
    pub(super) model: PricingModel,
    /// Spot (BSM) or forward (Black-76).
    pub(super) x: f64,
    pub(super) t: f64,
    pub(super) r: f64,
    /// Cost of carry: `r − q` for BSM, 0 for Black-76.
    pub(super) b: f64,
    /// `e^{−rT}`.
    pub(super) df_r: f64,
    /// `e^{(b−r)T}`.
    pub(super) df_carry: f64,
    pub(super) sqrt_t: f64,
    /// `e^{bT}`, so that `F/K = (x/K)·e^{bT}` needs no division.
    pub(super) growth_b: f64,
    /// `1/x` and `1/T` (∞ at expiry, used only where T > 0).
    pub(super) inv_x: f64,
    pub(super) inv_t: f64,
}

impl PricingContext {
    /// Constants for `model` at underlying price `x`, `t` years, rate `r` and yield `q` (BSM only).
    #[must_use]
    #[inline]
    pub fn new(model: PricingModel, x: f64, t: f64, r: f64, q: f64) -> Self {
        let b = match model {
            PricingModel::Bsm => r - q,
            PricingModel::Black76 => 0.0,
        };
        let df_r = (-r * t).exp();
        // Black-76 has b = 0, so the carry discount is the rate discount: one exp saved.
        let df_carry = if b == 0.0 { df_r } else { ((b - r) * t).exp() };
        let growth_b = if b == 0.0 { 1.0 } else { df_carry / df_r };
        Self {
            model,
            x,
            t,
            r,
            b,
            df_r,
            df_carry,
            sqrt_t: t.sqrt(),
            growth_b,
            inv_x: 1.0 / x,
            inv_t: 1.0 / t,
        }
    }

    /// Price and Greeks of one option in this context (inputs assumed valid).
    #[must_use]
    #[inline]
    #[allow(clippy::similar_names)]
    pub fn value(&self, right: OptionRight, k: f64, sigma: f64) -> Valuation {
        let Self {
            model,
            x,
            t,
            r,
            b,
            df_r,
            df_carry,
            sqrt_t,
            growth_b,
            inv_x,
            inv_t,
        } = *self;
        let sst = sigma * sqrt_t;
        let x_over_k = x / k;
        let ln_fk = x_over_k.ln() + b * t;

        let xs = x * df_carry;
        let ks = k * df_r;

        // d1, d2, e1 = exp(−d1²/2) and e2 = exp(−d2²/2) = e1·F/K (no second exp unless e1
        // underflows). The σ√T = 0 limit is the step function with zero densities.
        let inv_sst = 1.0 / sst;
        let (d1, d2, e1, e2) = if sst > 0.0 {
            let m = ln_fk * inv_sst;
            let d1 = m + 0.5 * sst;
            let d2 = m - 0.5 * sst;
            let e1 = (-0.5 * d1 * d1).exp();
            let e2 = if e1 > 1e-280 && ln_fk.abs() < 600.0 {
                e1 * (x_over_k * growth_b)
            } else {
                (-0.5 * d2 * d2).exp()
            };
            (d1, d2, e1, e2)
        } else {
            let s = if ln_fk > 0.0 {
                f64::INFINITY
            } else if ln_fk < 0.0 {
                f64::NEG_INFINITY
            } else {
                0.0
            };
            (s, s, 0.0, 0.0)
        };
        let pdf = e1 * INV_SQRT_2PI;
        let ((n_d1, n_md1), (n_d2, n_md2)) = if sst > 0.0 {
            (norm_cdf_pair(d1, e1), norm_cdf_pair(d2, e2))
        } else {
            let step = if d1 > 0.0 {
                1.0
            } else if d1 < 0.0 {
                0.0
            } else {
                0.5
            };
            ((step, 1.0 - step), (step, 1.0 - step))
        };

        let (price, delta, carry_theta, rate_theta, rho_bsm) = match right {
            OptionRight::Call => (
                xs * n_d1 - ks * n_d2,
                df_carry * n_d1,
                -(b - r) * xs * n_d1,
                -r * ks * n_d2,
                t * ks * n_d2,
            ),
            OptionRight::Put => (
                ks * n_md2 - xs * n_md1,
                -df_carry * n_md1,
                (b - r) * xs * n_md1,
                r * ks * n_md2,
                -t * ks * n_md2,
            ),
        };

        let mut g = Greeks {
            delta,
            theta_per_year: carry_theta + rate_theta,
            rho_per_unit: match model {
                PricingModel::Bsm => rho_bsm,
                PricingModel::Black76 => -t * price,
            },
            // Charm's N-term: −e^{(b−r)T}·(b−r)·N(±d1) with the right's sign.
            charm_per_year: -(b - r) * delta,
            ..Greeks::default()
        };

        if pdf > 0.0 {
            // Reciprocals come precomputed: divisions are the slowest arithmetic here.
            let inv_sigma = sqrt_t * inv_sst;
            let cpdf = df_carry * pdf;
            let gamma = cpdf * inv_sst * inv_x;
            let vega = x * cpdf * sqrt_t;
            g.gamma = gamma;
            g.vega_per_unit = vega;
            // The density term of theta, −X·e^{(b−r)T}·n(d1)·σ/(2√T), is −vega·σ/(2T).
            g.theta_per_year += -0.5 * vega * sigma * inv_t;
            g.vanna = -cpdf * d2 * inv_sigma;
            g.volga = vega * d1 * d2 * inv_sigma;
            g.charm_per_year += -cpdf * (b * inv_sst - 0.5 * d2 * inv_t);
            g.speed = -gamma * inv_x * (d1 * inv_sst + 1.0);
        }
        Valuation { price, greeks: g }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(right: OptionRight, t: f64, vol: f64) -> OptionInputs {
        OptionInputs {
            right,
            underlying: 100.0,
            strike: 100.0,
            t_years: t,
            rate: 0.05,
            div_yield: 0.0,
            vol,
        }
    }

    #[test]
    fn expired_option_is_worth_its_intrinsic_value_with_finite_greeks() {
        let mut o = inputs(OptionRight::Put, 0.0, 0.2);
        o.strike = 110.0;
        let v = price_and_greeks(PricingModel::Bsm, &o).unwrap();
        assert_eq!(v.price, 10.0);
        assert_eq!(v.greeks.delta, -1.0);
        assert_eq!(v.greeks.gamma, 0.0);
        for x in [
            v.greeks.theta_per_year,
            v.greeks.vanna,
            v.greeks.volga,
            v.greeks.charm_per_year,
            v.greeks.speed,
        ] {
            assert!(x.is_finite());
        }
    }

    #[test]
    fn zero_vol_at_the_money_has_half_delta() {
        let mut o = inputs(OptionRight::Call, 0.5, 0.0);
        o.rate = 0.0;
        let v = price_and_greeks(PricingModel::Bsm, &o).unwrap();
        assert_eq!(v.greeks.delta, 0.5);
        assert_eq!(v.price, 0.0);
        // σ√T = 0 exactly at the money: d1 = 0/0 is never formed, every Greek is a number.
        let g = v.greeks;
        for (name, x) in [
            ("gamma", g.gamma),
            ("theta", g.theta_per_year),
            ("vega", g.vega_per_unit),
            ("rho", g.rho_per_unit),
            ("vanna", g.vanna),
            ("volga", g.volga),
            ("charm", g.charm_per_year),
            ("speed", g.speed),
        ] {
            assert!(x.is_finite(), "{name} = {x}");
        }
    }

    /// With no volatility an option is worth its discounted forward intrinsic value: the put
    /// on both sides of the forward, and at it.
    #[test]
    fn zero_vol_puts_are_worth_their_forward_intrinsic_value() {
        for (strike, want) in [(90.0, 0.0), (110.0, 110.0 * (-0.025_f64).exp() - 100.0)] {
            let mut o = inputs(OptionRight::Put, 0.5, 0.0);
            o.strike = strike;
            let v = price_and_greeks(PricingModel::Bsm, &o).unwrap();
            assert!((v.price - want).abs() < 1e-12, "K {strike}: {} vs {want}", v.price);
            let delta = if want > 0.0 { -1.0 } else { 0.0 };
            assert_eq!(v.greeks.delta, delta, "K {strike}");
        }
        let mut o = inputs(OptionRight::Put, 0.5, 0.0);
        o.rate = 0.0;
        assert_eq!(price_and_greeks(PricingModel::Bsm, &o).unwrap().greeks.delta, -0.5);
    }

    /// Far in the tail the density at d1 underflows (e^-800) while the one at d2 does not
    /// (e^-450): the put's value K·N(−d2) must come from its own density, not from
    /// e1·F/K = 0·huge.
    #[test]
    fn a_deep_tail_price_does_not_lose_the_density_that_survives() {
        let o = OptionInputs {
            right: OptionRight::Put,
            underlying: 1e152,
            strike: 1.0,
            t_years: 1.0,
            rate: 0.0,
            div_yield: 0.0,
            vol: 10.0,
        };
        let v = price_and_greeks(PricingModel::Bsm, &o).unwrap();
        let d2 = (1e152_f64).ln() / 10.0 - 5.0;
        let want = crate::pricing::normal::norm_cdf(-d2);
        assert!(want > 1e-200 && want < 1e-196, "N(-d2) = {want}");
        assert!((v.price - want).abs() <= 1e-9 * want, "{} vs {want}", v.price);
    }

    #[test]
    fn models_have_their_codes() {
        for m in [PricingModel::Bsm, PricingModel::Black76] {
            assert_eq!(m.as_str().parse::<PricingModel>(), Ok(m));
            assert_eq!(m.as_str().to_uppercase().parse::<PricingModel>(), Ok(m));
        }
        assert_eq!(PricingModel::Black76.as_str(), "black76");
        assert_eq!(PricingModel::Bsm.as_str(), "bsm");
        assert!("black".parse::<PricingModel>().unwrap_err().contains("bsm, black76"));
    }

    #[test]
    fn bad_inputs_name_the_field() {
        let mut o = inputs(OptionRight::Call, 0.5, 0.2);
        o.vol = f64::NAN;
        assert_eq!(price_and_greeks(PricingModel::Bsm, &o).unwrap_err().field, "vol");
        o.vol = 0.2;
        o.t_years = -1.0;
        assert_eq!(price_and_greeks(PricingModel::Bsm, &o).unwrap_err().field, "t_years");
        // Finite but out of range, each alone.
        let field = |spoil: fn(&mut OptionInputs)| {
            let mut o = inputs(OptionRight::Call, 0.5, 0.2);
            spoil(&mut o);
            o.validate().map_err(|e| e.field)
        };
        assert_eq!(field(|o| o.underlying = 0.0), Err("spot"));
        assert_eq!(field(|o| o.underlying = -1.0), Err("spot"));
        assert_eq!(field(|o| o.strike = 0.0), Err("strike"));
        assert_eq!(field(|o| o.strike = -5.0), Err("strike"));
        assert_eq!(field(|o| o.vol = -0.1), Err("vol"));
        assert_eq!(field(|o| o.vol = 0.0), Ok(()));
        assert_eq!(field(|o| o.t_years = 0.0), Ok(()));
    }
}
