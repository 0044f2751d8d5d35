//! L1: an in-process moka cache of mappings, bounded in entries, each kept until its own TTL.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::NaiveDate;
use domain::instrument::InstrumentKey;
use domain::moneyness::MoneynessMapping;
use domain::ports::{PortError, SignalCache};
use moka::sync::Cache;

type Key = (InstrumentKey, NaiveDate);

/// In-process mapping cache (never fails).
#[derive(Debug, Clone)]
pub struct MemoryMappingCache {
    inner: Cache<Key, (MoneynessMapping, Instant)>,
}

impl MemoryMappingCache {
    /// A cache holding at most `max_entries` mappings.
    #[must_use]
    pub fn new(max_entries: u64) -> Self {
        Self {
            inner: Cache::builder().max_capacity(max_entries).build(),
        }
    }
}

#[async_trait]
impl SignalCache for MemoryMappingCache {
    async fn mapping(
        &self,
        underlying: &InstrumentKey,
        expiry: NaiveDate,
    ) -> Result<Option<MoneynessMapping>, PortError> {
        let key = (underlying.clone(), expiry);
        match self.inner.get(&key) {
            Some((m, until)) if Instant::now() < until => Ok(Some(m)),
            Some(_) => {
                self.inner.invalidate(&key);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn put_mapping(&self, mapping: &MoneynessMapping, ttl: Duration) -> Result<(), PortError> {
        let key = (mapping.underlying.clone(), mapping.expiry);
        self.inner.insert(key, (mapping.clone(), Instant::now() + ttl));
        Ok(())
    }
}
