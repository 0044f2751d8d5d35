//! Batch calculators: the semantics behind `signal-service calc …` and the analytics endpoints.
//! Each takes typed rows and returns typed results; codecs (CSV, JSON) live in adapters.

mod bars;
mod greeks;
mod iv;
mod option_row;

pub use bars::{AggregateCalculator, IndicatorCalculator, IndicatorCalculatorError};
pub use greeks::{GreeksRequest, GreeksResult, greeks};
pub use iv::{IvRequest, implied_vol};
pub use option_row::OptionRow;

/// A rejected input field, named as the calculator column it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// Column / field name.
    pub field: String,
    /// Why it is rejected.
    pub reason: String,
}

impl FieldError {
    /// A field error.
    #[must_use]
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
