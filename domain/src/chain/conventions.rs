//! Pricing conventions: everything that decides how a quote becomes an IV and Greeks.

use serde::{Deserialize, Serialize};

use super::PriceSource;
use crate::expiry::TimeBasis;
use crate::moneyness::ReferencePrice;
use crate::pricing::PricingModel;

/// One market's (or one run's) conventions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conventions {
    /// `black76` on the forward, or `bsm` on spot.
    pub model: PricingModel,
    /// Continuously compounded risk-free rate, decimal per year (0.065 = 6.5 %).
    pub rate: f64,
    /// Continuous dividend yield, decimal per year (BSM only).
    pub div_yield: f64,
    /// Day count for time to expiry.
    pub time_basis: TimeBasis,
    /// Which quote price IV is solved from.
    pub price_source: PriceSource,
    /// What the ATM strike is taken from.
    pub reference: ReferencePrice,
}

/// The conventions as every API names them: `model black76, rate 0.065, div_yield 0,
/// time_basis exact, price_source auto, atm_reference forward` (the field names of REST's
/// `conventions`), for summaries and logs.
impl std::fmt::Display for Conventions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "model {}, rate {}, div_yield {}, time_basis {}, price_source {}, atm_reference {}",
            self.model.as_str(),
            self.rate,
            self.div_yield,
            self.time_basis.as_str(),
            self.price_source.as_str(),
            self.reference.as_str()
        )
    }
}

impl Conventions {
    /// `default`: Black-76 on the parity (or futures) forward, exact time, mid when sane else last,
    /// r = 6.5 %, ATM from the forward.
    pub const DEFAULT: Self = Self {
        model: PricingModel::Black76,
        rate: 0.065,
        div_yield: 0.0,
        time_basis: TimeBasis::Exact,
        price_source: PriceSource::Auto,
        reference: ReferencePrice::Forward,
    };

    /// `nse-published`: what NSE's option-chain page uses for its IV: BSM on spot, r = 10 %,
    /// calendar days, last traded price, ATM from spot.
    pub const NSE_PUBLISHED: Self = Self {
        model: PricingModel::Bsm,
        rate: 0.10,
        div_yield: 0.0,
        time_basis: TimeBasis::CalendarDays,
        price_source: PriceSource::Last,
        reference: ReferencePrice::Spot,
    };

    /// A named preset: `default` or `nse-published`.
    #[must_use]
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "default" => Some(Self::DEFAULT),
            "nse-published" => Some(Self::NSE_PUBLISHED),
            _ => None,
        }
    }

    /// Checks the numbers.
    ///
    /// # Errors
    /// The name and reason of the first bad field.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.rate.is_finite() && self.rate.abs() < 1.0) {
            return Err(format!(
                "rate {}: must be a decimal per year with |rate| < 1",
                self.rate
            ));
        }
        if !(self.div_yield.is_finite() && self.div_yield.abs() < 1.0) {
            return Err(format!(
                "div_yield {}: must be a decimal per year with |div_yield| < 1",
                self.div_yield
            ));
        }
        Ok(())
    }
}

impl Default for Conventions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_named_and_valid() {
        assert_eq!(Conventions::preset("nse-published").unwrap().rate, 0.10);
        assert_eq!(Conventions::preset("default").unwrap().model, PricingModel::Black76);
        assert!(Conventions::preset("other").is_none());
        assert!(Conventions::DEFAULT.validate().is_ok());
        assert!(
            Conventions {
                rate: 6.5,
                ..Conventions::DEFAULT
            }
            .validate()
            .unwrap_err()
            .contains("rate")
        );
    }
}
