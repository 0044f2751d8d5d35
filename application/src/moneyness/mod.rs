//! Moneyness use cases: the tiered mapping cache ([`MappingService`]), the moneyness-aware
//! Greeks calculator built on it ([`MoneynessGreeks`]), and the reads the API answers with it
//! ([`MoneynessReads`]: a level's aggregates, the strikes at a level).

mod greeks;
mod mapping_service;
mod reads;
mod stats;

pub use greeks::{LevelRow, MoneynessGreeks, MoneynessGreeksReport};
pub use mapping_service::{MappingAnswer, MappingConfig, MappingError, MappingOrigin, MappingService};
pub use reads::{LevelRead, MappingUsed, MoneynessReads, RightAtLevel, StrikesRead};
pub use stats::{CacheStats, CacheStatsSnapshot};
