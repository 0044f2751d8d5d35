//! Use cases of the Signal Service: each module is one capability, orchestrating the domain
//! through its ports.
//!
//! - [`calculators`]: batch Greeks, IV, indicators and aggregation (the `calc` commands and,
//!   later, the analytics endpoints);
//! - [`fast_map`]: the hash map of the hot path (foldhash);
//! - [`candles`]: bars on any timeframe through the `signal_custom_timeframes` cache;
//! - [`history`]: pages of stored candles and Greeks on any timeframe, with cursors and limits;
//! - [`indicators`]: an indicator on any timeframe over history or now, with warm-up history;
//! - [`ingest`]: market data in, candles, IV, Greeks and moneyness aggregates out;
//! - [`instruments`]: the underlyings, expiries and listed chains the service knows;
//! - [`market`]: markets, the instrument registry and the realtime state ingest keeps;
//! - [`moneyness`]: the tiered moneyness-mapping lookup and the moneyness-aware Greeks calculator;
//! - [`readiness`]: whether the database, Redis and snapshot writes let this instance work;
//! - [`realtime`]: the latest chain, moneyness and Greeks from memory, with staleness;
//! - [`sync`]: lock poisoning handled in one place;
//! - [`subscriptions`]: each topic's recent updates and the connections following it.

pub mod calculators;
pub mod candles;
pub mod exposure;
pub mod fast_map;
pub mod history;
pub mod indicators;
pub mod ingest;
pub mod instruments;
pub mod iv_rank;
pub mod market;
pub mod moneyness;
pub mod past_chain;
pub mod readiness;
pub mod realtime;
pub mod subscriptions;
pub mod surface;
pub mod sync;
pub mod upkeep;
