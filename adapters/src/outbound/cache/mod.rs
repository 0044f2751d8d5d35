//! Caches: moneyness mappings behind the [`domain::ports::SignalCache`] port, in process with moka
//! (L1) and in Redis through a bb8 pool (L2, shared by every instance); custom-timeframe bars
//! behind the [`domain::ports::AggregateCache`] port, in process with moka.

mod aggregates;
mod memory;
mod redis;

pub use self::redis::{RedisCacheConfig, RedisMappingCache};
pub use aggregates::{AggregateCacheConfig, MemoryAggregateCache};
pub use memory::MemoryMappingCache;
