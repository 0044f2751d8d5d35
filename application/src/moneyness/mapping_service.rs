//! The moneyness mapping, through two cache levels, the instrument service and a local fallback.
//!
//! Lookup order for (underlying, expiry):
//! 1. L1 (in process): fresh when `now − as_of < ttl`. Past `refresh_ahead · ttl` a background
//!    refresh starts (once per key) and the cached mapping is still served.
//! 2. L2 (Redis, shared): a fresh entry is copied into L1.
//! 3. The instrument service: the answer goes to L1 and L2.
//! 4. On failure of the service: a stale L1 entry (kept up to `stale_horizon`) is served, marked
//!    stale with its age; with none, the mapping is computed locally from the chain and the
//!    current reference price.
//!
//! Redis errors never fail a lookup; they are counted and the next level is tried.

use crate::sync::{LockOrRecover, RwLockOrRecover};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::NaiveDate;
use domain::instrument::InstrumentKey;
use domain::moneyness::{MappingBasis, MoneynessMapping};
use domain::ports::{Clock, InstrumentSource, MappingSource, PortError, SignalCache};

use super::stats::{CacheStats, bump};

/// Tuning; every field is configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MappingConfig {
    /// How long a mapping is fresh, from its `as_of`.
    pub ttl: Duration,
    /// Fraction of `ttl` after which a background refresh starts (0 < x ≤ 1).
    pub refresh_ahead: f64,
    /// How long L1 keeps a mapping to serve it stale when the service fails.
    pub stale_horizon: Duration,
}

impl Default for MappingConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(60),
            refresh_ahead: 0.8,
            stale_horizon: Duration::from_secs(6 * 3600),
        }
    }
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingOrigin {
    /// The in-process cache.
    L1,
    /// Redis.
    L2,
    /// The instrument service.
    Remote,
    /// Computed here from the chain and the reference price.
    Local,
}

impl MappingOrigin {
    /// `memory`, `redis`, `instrument_service` or `computed`, as the API says it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::L1 => "memory",
            Self::L2 => "redis",
            Self::Remote => "instrument_service",
            Self::Local => "computed",
        }
    }
}

/// A mapping with its provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct MappingAnswer {
    /// The mapping.
    pub mapping: MoneynessMapping,
    /// True when older than the TTL (served because the service failed).
    pub stale: bool,
    /// `now − as_of`.
    pub age: chrono::Duration,
    /// Where it came from.
    pub origin: MappingOrigin,
}

/// Why no mapping could be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// No cache or service had one, and it could not be computed locally.
    #[error("no moneyness mapping for {underlying} {expiry}: {reason}")]
    NoMapping {
        /// Underlying.
        underlying: InstrumentKey,
        /// Expiry.
        expiry: NaiveDate,
        /// Why the local fallback failed.
        reason: String,
    },
}

type Key = (InstrumentKey, NaiveDate);

/// The tiered mapping lookup.
pub struct MappingService {
    l1: Arc<dyn SignalCache>,
    l2: Option<Arc<dyn SignalCache>>,
    remote: Option<Arc<dyn MappingSource>>,
    instruments: Arc<dyn InstrumentSource>,
    clock: Arc<dyn Clock>,
    cfg: MappingConfig,
    stats: Arc<CacheStats>,
    refreshing: Mutex<HashSet<Key>>,
    /// The latest mapping answered per expiry, for readers that cannot wait (ingest's minute
    /// snapshot): see [`Self::current`].
    latest: RwLock<HashMap<Key, Arc<MoneynessMapping>>>,
}

impl MappingService {
    /// Wires the service. `l2` and `remote` are absent in embedded mode.
    #[must_use]
    pub fn new(
        l1: Arc<dyn SignalCache>,
        l2: Option<Arc<dyn SignalCache>>,
        remote: Option<Arc<dyn MappingSource>>,
        instruments: Arc<dyn InstrumentSource>,
        clock: Arc<dyn Clock>,
        cfg: MappingConfig,
    ) -> Self {
        Self {
            l1,
            l2,
            remote,
            instruments,
            clock,
            cfg,
            stats: Arc::default(),
            refreshing: Mutex::default(),
            latest: RwLock::default(),
        }
    }

    /// The tuning in force.
    #[must_use]
    pub fn config(&self) -> MappingConfig {
        self.cfg
    }

    /// True when mappings come from an instrument service (else every one is the local ladder).
    #[must_use]
    pub fn has_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// The newest mapping of (`underlying`, `expiry`) any lookup has met, without waiting:
    /// `None` when there is none or it is older than `stale_horizon`. Kept fresh by whoever
    /// calls [`Self::get`] (the refresher in `bootstrap`).
    #[must_use]
    pub fn current(&self, underlying: &InstrumentKey, expiry: NaiveDate) -> Option<Arc<MoneynessMapping>> {
        let m = self
            .latest
            .read_or_recover()
            .get(&(underlying.clone(), expiry))
            .cloned()?;
        let age = self.age(&m).to_std().unwrap_or_default();
        (age < self.cfg.stale_horizon).then_some(m)
    }

    /// Looks up every (underlying, expiry, reference) of `active` once, which keeps their
    /// [`Self::current`] mappings fresh (refresh-ahead, stale-while-error). Returns how many
    /// have a mapping from the instrument service now. Nothing to do without a service.
    pub async fn refresh(self: &Arc<Self>, active: &[(InstrumentKey, NaiveDate, Option<f64>)]) -> usize {
        if self.remote.is_none() {
            return 0;
        }
        let mut served = 0;
        for (underlying, expiry, reference) in active {
            if let Ok(a) = self.get(underlying, *expiry, *reference).await
                && a.mapping.basis == MappingBasis::InstrumentService
            {
                served += 1;
            }
        }
        served
    }

    fn remember(&self, m: &MoneynessMapping) {
        let mut book = self.latest.write_or_recover();
        let key = (m.underlying.clone(), m.expiry);
        if book.get(&key).is_none_or(|old| old.as_of <= m.as_of) {
            book.insert(key, Arc::new(m.clone()));
        }
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    fn age(&self, m: &MoneynessMapping) -> chrono::Duration {
        self.clock.now() - m.as_of
    }

    fn is_fresh(&self, age: chrono::Duration) -> bool {
        age.to_std().map_or(true, |a| a < self.cfg.ttl)
    }

    async fn store(&self, m: &MoneynessMapping) {
        // L1 keeps it for the stale horizon; freshness is judged from `as_of`.
        let _ = self.l1.put_mapping(m, self.cfg.stale_horizon).await;
        if let Some(l2) = &self.l2 {
            let left = self.cfg.ttl.saturating_sub(self.age(m).to_std().unwrap_or_default());
            if !left.is_zero() && l2.put_mapping(m, left).await.is_err() {
                bump(&self.stats.l2_errors);
            }
        }
    }

    /// The mapping of `underlying` and `expiry`. `reference` (forward or spot) is only used by
    /// the local fallback.
    ///
    /// # Errors
    /// [`MappingError::NoMapping`] when nothing is cached, the service fails and the chain or the
    /// reference price is missing.
    #[tracing::instrument(skip(self), fields(%underlying, %expiry))]
    pub async fn get(
        self: &Arc<Self>,
        underlying: &InstrumentKey,
        expiry: NaiveDate,
        reference: Option<f64>,
    ) -> Result<MappingAnswer, MappingError> {
        let answer = |mapping: MoneynessMapping, stale: bool, origin: MappingOrigin| {
            self.remember(&mapping);
            let age = self.age(&mapping);
            MappingAnswer {
                mapping,
                stale,
                age,
                origin,
            }
        };
        let mut stale = None;
        if let Ok(Some(m)) = self.l1.mapping(underlying, expiry).await {
            let age = self.age(&m);
            if self.is_fresh(age) {
                bump(&self.stats.l1_hits);
                if age.to_std().unwrap_or_default().as_secs_f64() > self.cfg.refresh_ahead * self.cfg.ttl.as_secs_f64()
                {
                    self.spawn_refresh(underlying.clone(), expiry);
                }
                return Ok(answer(m, false, MappingOrigin::L1));
            }
            stale = Some(m);
        }
        bump(&self.stats.l1_misses);
        if let Some(l2) = &self.l2 {
            match l2.mapping(underlying, expiry).await {
                Ok(Some(m)) if self.is_fresh(self.age(&m)) => {
                    bump(&self.stats.l2_hits);
                    let _ = self.l1.put_mapping(&m, self.cfg.stale_horizon).await;
                    return Ok(answer(m, false, MappingOrigin::L2));
                }
                Ok(_) => bump(&self.stats.l2_misses),
                Err(_) => bump(&self.stats.l2_errors),
            }
        }
        if let Some(remote) = &self.remote {
            match remote.mapping(underlying, expiry).await {
                Ok(m) => {
                    bump(&self.stats.remote_ok);
                    self.store(&m).await;
                    return Ok(answer(m, false, MappingOrigin::Remote));
                }
                Err(e) => {
                    bump(&self.stats.remote_errors);
                    tracing::warn!(error = %e, "instrument service failed; falling back");
                    if let Some(m) = stale {
                        bump(&self.stats.stale_served);
                        return Ok(answer(m, true, MappingOrigin::L1));
                    }
                }
            }
        }
        let m = self.compute_locally(underlying, expiry, reference).await?;
        bump(&self.stats.local_computed);
        let _ = self.l1.put_mapping(&m, self.cfg.ttl).await;
        Ok(answer(m, false, MappingOrigin::Local))
    }

    async fn compute_locally(
        &self,
        underlying: &InstrumentKey,
        expiry: NaiveDate,
        reference: Option<f64>,
    ) -> Result<MoneynessMapping, MappingError> {
        let fail = |reason: String| MappingError::NoMapping {
            underlying: underlying.clone(),
            expiry,
            reason,
        };
        let reference = reference.ok_or_else(|| fail("no reference price to place the ATM strike".into()))?;
        let chain = self
            .instruments
            .chain(underlying, expiry)
            .await
            .map_err(|e: PortError| fail(e.to_string()))?;
        let strikes: Vec<f64> = chain.iter().map(|c| c.strike.value()).collect();
        let step = self.instruments.strike_step(underlying).await.ok();
        MoneynessMapping::compute(underlying.clone(), expiry, &strikes, reference, step, self.clock.now())
            .ok_or_else(|| fail("the chain has no strikes".into()))
    }

    fn spawn_refresh(self: &Arc<Self>, underlying: InstrumentKey, expiry: NaiveDate) {
        let Some(remote) = self.remote.clone() else { return };
        let key = (underlying, expiry);
        {
            let mut set = self.refreshing.lock_or_recover();
            if !set.insert(key.clone()) {
                return;
            }
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            if let Ok(m) = remote.mapping(&key.0, key.1).await {
                this.store(&m).await;
                this.remember(&m);
                bump(&this.stats.refreshes);
            } else {
                bump(&this.stats.remote_errors);
            }
            this.refreshing.lock_or_recover().remove(&key);
        });
    }
}
