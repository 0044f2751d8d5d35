//! Implied volatility through the `implied-vol` crate (Jäckel's "Let's Be Rational").
//!
//! The discounted premium is checked against the no-arbitrage bounds first, so a price outside
//! them yields a reason, never a made-up number:
//! call `(X·e^{(b−r)T} − K·e^{−rT})⁺ < p < X·e^{(b−r)T}`, put `(K·e^{−rT} − X·e^{(b−r)T})⁺ < p < K·e^{−rT}`.
//! Inside them, the undiscounted price `p·e^{rT}` is inverted on the forward `F = X·e^{bT}`.

use implied_vol::{DefaultSpecialFn, ImpliedBlackVolatility};
use serde::{Deserialize, Serialize};

use super::{OptionInputs, PricingContext, PricingModel};
use crate::instrument::OptionRight;

/// Why there is no implied volatility for a price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum IvError {
    /// The premium is below the discounted intrinsic value (negative prices included).
    #[error("below_intrinsic")]
    BelowIntrinsic,
    /// The premium is at or above the upper no-arbitrage bound (the discounted forward for a
    /// call, the discounted strike for a put); at expiry, any premium above intrinsic.
    #[error("above_upper_bound")]
    AboveUpperBound,
    /// The premium equals the intrinsic value: there is no time value, so every volatility fits.
    #[error("no_time_value")]
    NoTimeValue,
    /// An input is not finite or out of range (spot, strike ≤ 0; time < 0).
    #[error("invalid_input")]
    InvalidInput,
}

impl IvError {
    /// The snake_case code used in CSV and JSON.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::BelowIntrinsic => "below_intrinsic",
            Self::AboveUpperBound => "above_upper_bound",
            Self::NoTimeValue => "no_time_value",
            Self::InvalidInput => "invalid_input",
        }
    }
}

/// Solves for the volatility that reproduces `price` (discounted premium, price units).
/// `inputs.vol` is ignored.
///
/// # Errors
/// [`IvError`] saying why no volatility exists.
pub fn implied_volatility(model: PricingModel, inputs: &OptionInputs, price: f64) -> Result<f64, IvError> {
    let OptionInputs {
        right,
        underlying: x,
        strike: k,
        t_years: t,
        rate: r,
        div_yield: q,
        ..
    } = *inputs;
    let finite = [x, k, t, r, q, price].iter().all(|v| v.is_finite());
    if !finite || x <= 0.0 || k <= 0.0 || t < 0.0 {
        return Err(IvError::InvalidInput);
    }
    PricingContext::new(model, x, t, r, q).implied_vol(right, k, price)
}

impl PricingContext {
    /// Implied volatility of one option in this context (the context's inputs assumed valid).
    ///
    /// # Errors
    /// [`IvError`] saying why no volatility exists.
    #[inline]
    pub fn implied_vol(&self, right: OptionRight, k: f64, price: f64) -> Result<f64, IvError> {
        if !(k.is_finite() && k > 0.0 && price.is_finite()) {
            return Err(IvError::InvalidInput);
        }
        let xs = self.x * self.df_carry;
        let ks = k * self.df_r;
        let (lower, upper) = match right {
            OptionRight::Call => ((xs - ks).max(0.0), xs),
            OptionRight::Put => ((ks - xs).max(0.0), ks),
        };
        if price < lower {
            return Err(IvError::BelowIntrinsic);
        }
        if price == lower {
            return Err(IvError::NoTimeValue);
        }
        if price >= upper || self.t == 0.0 {
            return Err(IvError::AboveUpperBound);
        }
        // F = x·e^{bT} = x·e^{(b−r)T}/e^{−rT}; exactly x for Black-76.
        let forward = if self.b == 0.0 { self.x } else { xs / self.df_r };
        let solved = ImpliedBlackVolatility::builder()
            .option_price(price / self.df_r)
            .forward(forward)
            .strike(k)
            .expiry(self.t)
            .is_call(right == OptionRight::Call)
            .build_unchecked()
            .calculate::<DefaultSpecialFn>();
        match solved {
            Some(v) if v.is_finite() && v > 0.0 => Ok(v),
            Some(0.0) => Err(IvError::NoTimeValue),
            // Within a rounding of a bound after undiscounting: report the nearer bound.
            _ if price - lower < upper - price => Err(IvError::BelowIntrinsic),
            _ => Err(IvError::AboveUpperBound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::price_and_greeks;

    fn call(price_vol: f64) -> (OptionInputs, f64) {
        let o = OptionInputs {
            right: OptionRight::Call,
            underlying: 24_350.0,
            strike: 24_500.0,
            t_years: 3.0 / 365.0,
            rate: 0.065,
            div_yield: 0.0,
            vol: price_vol,
        };
        let p = price_and_greeks(PricingModel::Black76, &o).unwrap().price;
        (o, p)
    }

    #[test]
    fn recovers_the_volatility_that_priced_the_option() {
        let (o, p) = call(0.137);
        let iv = implied_volatility(PricingModel::Black76, &o, p).unwrap();
        assert!((iv - 0.137).abs() < 1e-12, "{iv}");
    }

    #[test]
    fn prices_outside_the_bounds_say_why() {
        let (o, _) = call(0.1);
        assert_eq!(
            implied_volatility(PricingModel::Black76, &o, -1.0),
            Err(IvError::BelowIntrinsic)
        );
        assert_eq!(
            implied_volatility(PricingModel::Black76, &o, 0.0),
            Err(IvError::NoTimeValue)
        );
        assert_eq!(
            implied_volatility(PricingModel::Black76, &o, 30_000.0),
            Err(IvError::AboveUpperBound)
        );
        let mut bad = o;
        bad.strike = 0.0;
        assert_eq!(
            implied_volatility(PricingModel::Black76, &bad, 10.0),
            Err(IvError::InvalidInput)
        );
        let mut expired = o;
        expired.t_years = 0.0;
        assert_eq!(
            implied_volatility(PricingModel::Black76, &expired, 10.0),
            Err(IvError::AboveUpperBound)
        );
    }

    /// Each input checked on its own: any one of them out of range is invalid input, whatever
    /// the premium would otherwise say.
    #[test]
    fn each_bad_input_alone_is_invalid_input() {
        type Spoil = fn(&mut OptionInputs);
        let (o, p) = call(0.1);
        let cases: [(&str, Spoil); 6] = [
            ("zero underlying", |o| o.underlying = 0.0),
            ("negative underlying", |o| o.underlying = -1.0),
            ("zero strike", |o| o.strike = 0.0),
            ("negative time", |o| o.t_years = -1e-9),
            ("NaN rate", |o| o.rate = f64::NAN),
            ("infinite dividend yield", |o| o.div_yield = f64::INFINITY),
        ];
        for (what, spoil) in cases {
            let mut bad = o;
            spoil(&mut bad);
            assert_eq!(
                implied_volatility(PricingModel::Black76, &bad, p),
                Err(IvError::InvalidInput),
                "{what}"
            );
        }
        assert_eq!(
            implied_volatility(PricingModel::Black76, &o, f64::NAN),
            Err(IvError::InvalidInput)
        );
    }

    /// The per-chain entry point (one context, many strikes) checks its own inputs.
    #[test]
    fn a_context_refuses_a_bad_strike_or_premium() {
        let ctx = PricingContext::new(PricingModel::Black76, 24_350.0, 3.0 / 365.0, 0.065, 0.0);
        for (k, price) in [
            (-100.0, 10.0),
            (0.0, 10.0),
            (f64::NAN, 10.0),
            (24_500.0, f64::NAN),
            (24_500.0, f64::INFINITY),
        ] {
            assert_eq!(
                ctx.implied_vol(OptionRight::Call, k, price),
                Err(IvError::InvalidInput),
                "K {k}, price {price}"
            );
        }
        let (_, p) = call(0.137);
        assert!((ctx.implied_vol(OptionRight::Call, 24_500.0, p).unwrap() - 0.137).abs() < 1e-12);
    }

    /// A premium a hair above intrinsic value, where the solver's answer rounds to zero
    /// volatility: no time value, not a volatility of 0.
    #[test]
    fn a_hair_above_intrinsic_is_no_time_value() {
        let ctx = PricingContext::new(PricingModel::Black76, 24_350.0, 3.0 / 365.0, 0.065, 0.0);
        let df = (-0.065_f64 * 3.0 / 365.0).exp();
        let intrinsic = (30_000.0 - 24_350.0) * df;
        assert_eq!(
            ctx.implied_vol(OptionRight::Put, 30_000.0, intrinsic + 1e-12),
            Err(IvError::NoTimeValue)
        );
        assert_eq!(
            ctx.implied_vol(OptionRight::Call, 24_500.0, 5e-324),
            Err(IvError::NoTimeValue)
        );
    }

    /// Strictly inside the bounds in discounted terms, but on or past one once the solver
    /// undiscounts (one unit in the last place): the nearer bound is the answer.
    #[test]
    fn within_a_rounding_of_a_bound_the_nearer_bound_is_reported() {
        let next_up = |v: f64| f64::from_bits(v.to_bits() + 1);
        let next_down = |v: f64| f64::from_bits(v.to_bits() - 1);
        let ctx = PricingContext::new(PricingModel::Black76, 100.0, 1e-6, 0.065, 0.0);
        let df = (-0.065_f64 * 1e-6).exp();
        let lower = 100.0 * df - 90.0 * df;
        assert_eq!(
            ctx.implied_vol(OptionRight::Call, 90.0, next_up(lower)),
            Err(IvError::BelowIntrinsic)
        );
        let ctx = PricingContext::new(PricingModel::Black76, 211.0, 1e-6, 0.0, 0.0);
        assert_eq!(
            ctx.implied_vol(OptionRight::Call, 210.789, next_down(211.0)),
            Err(IvError::AboveUpperBound)
        );
    }

    #[test]
    fn error_codes_are_their_snake_case_names() {
        for e in [
            IvError::BelowIntrinsic,
            IvError::AboveUpperBound,
            IvError::NoTimeValue,
            IvError::InvalidInput,
        ] {
            assert_eq!(e.code(), e.to_string());
        }
        assert_eq!(IvError::NoTimeValue.code(), "no_time_value");
    }
}
