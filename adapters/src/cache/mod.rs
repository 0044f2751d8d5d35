//! Mapping caches behind the [`domain::ports::SignalCache`] port: in process with moka (L1) and
//! in Redis through a bb8 pool (L2, shared by every instance).

mod memory;
mod redis;

pub use self::redis::{RedisCacheConfig, RedisMappingCache};
pub use memory::MemoryMappingCache;
