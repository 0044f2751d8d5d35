//! Moneyness use cases: the tiered mapping cache ([`MappingService`]) and the moneyness-aware
//! Greeks calculator built on it ([`MoneynessGreeks`]).

mod greeks;
mod mapping_service;
mod stats;

pub use greeks::{LevelRow, MoneynessGreeks, MoneynessGreeksReport};
pub use mapping_service::{MappingAnswer, MappingConfig, MappingError, MappingOrigin, MappingService};
pub use stats::{CacheStats, CacheStatsSnapshot};
