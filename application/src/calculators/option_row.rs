//! The columns every option calculator shares.

use domain::instrument::OptionRight;
use domain::pricing::{OptionInputs, PricingModel};

/// One option's terms. For Black-76 `spot` is the forward and `div_yield` is ignored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionRow {
    /// Call or put.
    pub right: OptionRight,
    /// Spot (BSM) or forward (Black-76), price units.
    pub spot: f64,
    /// Strike, price units.
    pub strike: f64,
    /// Time to expiry, years.
    pub t_years: f64,
    /// Continuously compounded rate, decimal per year.
    pub rate: f64,
    /// Continuous dividend yield, decimal per year (BSM only).
    pub div_yield: f64,
}

impl OptionRow {
    /// The pricing inputs at volatility `vol` (0 when solving for it).
    #[must_use]
    pub fn inputs(&self, model: PricingModel, vol: f64) -> OptionInputs {
        OptionInputs {
            right: self.right,
            underlying: self.spot,
            strike: self.strike,
            t_years: self.t_years,
            rate: self.rate,
            div_yield: if model == PricingModel::Black76 {
                0.0
            } else {
                self.div_yield
            },
            vol,
        }
    }
}
