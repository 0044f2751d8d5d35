//! Chain analytics for one expiry: IV and Greeks for every quote, moneyness, ATM IV, skew,
//! 25-delta risk reversal and butterfly, put–call ratios, max pain and gamma exposure; across
//! expiries, constant-maturity ATM IV and IV rank.

mod conventions;
mod evaluate;
mod gex;
mod price_source;
mod stats;
mod strikes;
mod term;

pub use conventions::Conventions;
pub use evaluate::{ChainAnalytics, ChainQuote, ChainSpec, IvFailure, evaluate_chain};
pub use gex::{GammaExposure, StrikeGex, gamma_exposure, option_gex, zero_gamma};
pub use price_source::{PriceSource, QuotePrice, select_price};
pub use stats::{
    AtmIv, PutCallRatio, StrikeIv, Wing25, atm_iv, max_pain, put_call_ratio, skew_by_level, skew_by_strike,
    wing_25_delta,
};
pub use term::{ConstantMaturityIv, IvRank, TermPoint, constant_maturity_iv, iv_rank};
