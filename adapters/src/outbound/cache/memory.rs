//! L1: an in-process moka cache of mappings, bounded in entries, each kept until its own TTL.
//! Its size, estimated bytes, evictions and expirations are shown at `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::NaiveDate;
use domain::instrument::InstrumentKey;
use domain::moneyness::MoneynessMapping;
use domain::ports::{PortError, SignalCache};
use moka::notification::RemovalCause;
use moka::sync::Cache;

type Key = (InstrumentKey, NaiveDate);

/// In-process mapping cache (never fails).
#[derive(Debug, Clone)]
pub struct MemoryMappingCache {
    inner: Cache<Key, (MoneynessMapping, Instant)>,
    counts: Arc<Counts>,
}

/// What the cache's removals and insertions add up to.
#[derive(Debug, Default)]
struct Counts {
    /// Estimated bytes of the entries held (added on insert, taken off on every removal).
    bytes: AtomicU64,
    evictions: AtomicU64,
    expirations: AtomicU64,
}

/// A mapping's estimated size in memory: the entry, its key and its levels' strikes.
fn approx_bytes(m: &MoneynessMapping) -> u64 {
    let levels: usize = m
        .levels
        .values()
        .map(|strikes| 48 + std::mem::size_of_val(strikes.as_slice()))
        .sum();
    let keys = 2 * m.underlying.as_str().len() + std::mem::size_of::<Key>();
    (std::mem::size_of::<(MoneynessMapping, Instant)>() + keys + levels) as u64
}

impl MemoryMappingCache {
    /// A cache holding at most `max_entries` mappings.
    #[must_use]
    pub fn new(max_entries: u64) -> Self {
        let counts = Arc::new(Counts::default());
        let c = counts.clone();
        let inner = Cache::builder()
            .max_capacity(max_entries)
            .eviction_listener(move |_key, (m, _), cause| {
                let _ = c
                    .bytes
                    .fetch_update(Relaxed, Relaxed, |b| Some(b.saturating_sub(approx_bytes(&m))));
                match cause {
                    RemovalCause::Size => {
                        c.evictions.fetch_add(1, Relaxed);
                    }
                    RemovalCause::Expired => {
                        c.expirations.fetch_add(1, Relaxed);
                    }
                    RemovalCause::Explicit | RemovalCause::Replaced => {}
                }
            })
            .build();
        Self { inner, counts }
    }

    /// Its size and removals now.
    #[must_use]
    pub fn stats(&self) -> crate::metrics::TierStats {
        self.inner.run_pending_tasks();
        crate::metrics::TierStats {
            entries: self.inner.entry_count(),
            bytes: self.counts.bytes.load(Relaxed),
            evictions: self.counts.evictions.load(Relaxed),
            expirations: self.counts.expirations.load(Relaxed),
        }
    }
}

impl crate::metrics::Source for MemoryMappingCache {
    fn read_into(&self, reading: &mut crate::metrics::StateReading) {
        reading.mapping_memory = Some(self.stats());
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
                // Past its own time-to-live: counted as an expiration, not a plain removal.
                if self.inner.remove(&key).is_some() {
                    self.counts.expirations.fetch_add(1, Relaxed);
                }
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn put_mapping(&self, mapping: &MoneynessMapping, ttl: Duration) -> Result<(), PortError> {
        let key = (mapping.underlying.clone(), mapping.expiry);
        self.counts.bytes.fetch_add(approx_bytes(mapping), Relaxed);
        self.inner.insert(key, (mapping.clone(), Instant::now() + ttl));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(expiry_day: u32) -> MoneynessMapping {
        MoneynessMapping::compute(
            InstrumentKey::parse("NSE:NIFTY").unwrap(),
            NaiveDate::from_ymd_opt(2026, 2, expiry_day).unwrap(),
            &[25_900.0, 26_000.0, 26_100.0],
            26_010.0,
            None,
            chrono::DateTime::from_timestamp(1_770_000_000, 0).unwrap(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn size_bytes_evictions_and_expirations_are_counted() {
        let cache = MemoryMappingCache::new(2);
        let long = Duration::from_secs(60);
        cache.put_mapping(&mapping(1), long).await.unwrap();
        let one = cache.stats();
        assert_eq!((one.entries, one.evictions), (1, 0));
        assert!(one.bytes > 0);
        // The same key again replaces it: the estimate does not grow.
        cache.put_mapping(&mapping(1), long).await.unwrap();
        assert_eq!(cache.stats().bytes, one.bytes);
        // Over the bound of two: moka evicts to stay within it.
        for day in 2..=6 {
            cache.put_mapping(&mapping(day), long).await.unwrap();
        }
        let s = cache.stats();
        assert!(s.entries <= 2, "{s:?}");
        assert!(s.evictions >= 3, "{s:?}");
        assert_eq!(s.bytes, s.entries * one.bytes, "{s:?}");
        // A mapping past its own time-to-live is an expiration when looked up.
        let key = InstrumentKey::parse("NSE:NIFTY").unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 2, 20).unwrap();
        cache.put_mapping(&mapping(20), Duration::ZERO).await.unwrap();
        assert_eq!(cache.mapping(&key, day).await.unwrap(), None);
        assert_eq!(cache.stats().expirations, 1);
    }
}
