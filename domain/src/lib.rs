//! The Signal Service's domain: pure options analytics with no I/O.
//!
//! | module | holds |
//! |---|---|
//! | [`instrument`] | underlyings, option contracts, instrument keys, market calendars |
//! | [`pricing`] | Black–Scholes–Merton and Black-76 prices, Greeks, implied volatility |
//! | [`expiry`] | time to expiry (exact or calendar days) and the forward (future or parity) |
//! | [`moneyness`] | strike step, ATM strike, levels ATM/ITMn/OTMn and their aggregation |
//! | [`chain`] | per-expiry analytics: ATM IV, skew, 25-delta wings, PCR, max pain |
//! | [`candles`] | timeframes, session-anchored buckets, bar aggregation |
//! | [`indicators`] | streaming technical indicators (TA-Lib port, SuperTrend, session VWAP) |
//! | [`market_data`] | ticks and their validation |
//! | [`subscriptions`] | subscription topics and their canonical text |
//! | [`ports`] | the traits adapters implement: instruments, store, cache, publisher, clock |
//!
//! Everything here is deterministic and synchronous except the port traits; the outside world
//! comes in only through [`ports`]. Units live in names (`theta_per_year`, `vega_per_unit`).

pub mod candles;
pub mod chain;
pub mod expiry;
pub mod indicators;
pub mod instrument;
pub mod market_data;
pub mod moneyness;
pub mod ports;
pub mod pricing;
pub mod subscriptions;
