//! Hit and miss counters of the mapping cache, per level; cheap to bump, ready to export as metrics.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters (relaxed atomics).
#[derive(Debug, Default)]
pub struct CacheStats {
    pub(super) l1_hits: AtomicU64,
    pub(super) l1_misses: AtomicU64,
    pub(super) l2_hits: AtomicU64,
    pub(super) l2_misses: AtomicU64,
    pub(super) l2_errors: AtomicU64,
    pub(super) remote_ok: AtomicU64,
    pub(super) remote_errors: AtomicU64,
    pub(super) stale_served: AtomicU64,
    pub(super) local_computed: AtomicU64,
    pub(super) refreshes: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStatsSnapshot {
    /// Fresh mappings found in process.
    pub l1_hits: u64,
    /// Lookups the in-process cache could not answer fresh.
    pub l1_misses: u64,
    /// Fresh mappings found in Redis.
    pub l2_hits: u64,
    /// Lookups Redis could not answer.
    pub l2_misses: u64,
    /// Redis calls that failed.
    pub l2_errors: u64,
    /// Mappings fetched from the instrument service.
    pub remote_ok: u64,
    /// Instrument-service calls that failed.
    pub remote_errors: u64,
    /// Stale mappings served because the service failed.
    pub stale_served: u64,
    /// Mappings computed locally from the chain.
    pub local_computed: u64,
    /// Background refreshes completed.
    pub refreshes: u64,
}

pub(super) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl CacheStats {
    /// Reads every counter.
    #[must_use]
    pub fn snapshot(&self) -> CacheStatsSnapshot {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheStatsSnapshot {
            l1_hits: r(&self.l1_hits),
            l1_misses: r(&self.l1_misses),
            l2_hits: r(&self.l2_hits),
            l2_misses: r(&self.l2_misses),
            l2_errors: r(&self.l2_errors),
            remote_ok: r(&self.remote_ok),
            remote_errors: r(&self.remote_errors),
            stale_served: r(&self.stale_served),
            local_computed: r(&self.local_computed),
            refreshes: r(&self.refreshes),
        }
    }
}
