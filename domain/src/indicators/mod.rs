//! Technical indicators on bars, streaming: O(1) per closed bar, a peek at a forming bar, and the
//! same numbers as TA-Lib's batch functions (the `ta-lib` crate, the official Rust port).
//!
//! [`IndicatorSpec`] parses and validates `name:param:param`; [`Indicator`] runs one over bars.
//! SuperTrend and session VWAP, which TA-Lib lacks, are built here ([`supertrend`], [`vwap`]).

mod spec;
mod stream;
pub mod supertrend;
pub mod vwap;

pub use spec::{IndicatorKind, IndicatorSpec, MAX_PERIOD, SpecError};
pub use stream::{Indicator, IndicatorError, Values};
