//! The external instrument service over HTTP (surf), in two layers:
//! - [`RawInstrumentClient`] mirrors the service's endpoints (`openapi/instrument-service.yaml`)
//!   and returns its wire types;
//! - [`HttpInstrumentSource`] implements the [`domain::ports::InstrumentSource`] port on top, plus
//!   `get_strikes_by_moneyness` and `get_moneyness_mapping`, through [`Resilience`]: a timeout per
//!   attempt, bounded retries with jittered backoff on timeouts, 5xx and transport errors (never 4xx or
//!   malformed answers), and a circuit breaker.

mod client;
mod dto;
mod raw;
mod resilience;

pub use client::HttpInstrumentSource;
pub use dto::{ChainDto, ContractDto, ExpiriesDto, MappingDto, StrikesDto, UnderlyingDto, UnderlyingsDto};
pub use raw::{RawError, RawInstrumentClient};
pub use resilience::{BreakerState, GuardedError, Resilience, ResilienceConfig};
