//! Implied volatility per request row.

use domain::pricing::{IvError, PricingModel, implied_volatility};

use super::OptionRow;

/// One price to invert.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IvRequest {
    /// The option's terms.
    pub option: OptionRow,
    /// Discounted premium, price units.
    pub price: f64,
}

/// Solves one IV.
///
/// # Errors
/// [`IvError`] saying why there is none.
pub fn implied_vol(model: PricingModel, r: &IvRequest) -> Result<f64, IvError> {
    implied_volatility(model, &r.option.inputs(model, 0.0), r.price)
}
