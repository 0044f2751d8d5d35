//! Option pricing: Black–Scholes–Merton on spot and Black-76 on the forward, their Greeks, and
//! implied volatility.
//!
//! Both models are one generalized Black–Scholes kernel (Haug's cost-of-carry form): the price of
//! the underlying `X`, carry `b` (`r − q` for BSM, `0` for Black-76 where `X` is the forward) and
//! discount rate `r`. See [`kernel`] for the numerical care taken.

mod greeks;
pub mod implied_vol;
pub mod kernel;
pub mod normal;

pub use greeks::{DAYS_PER_YEAR, Greeks};
pub use implied_vol::{IvError, implied_volatility};
pub use kernel::{OptionInputs, PricingContext, PricingError, PricingModel, Valuation, price_and_greeks};
