//! What the service holds now, read at scrape time and encoded as constant metrics: the snapshot
//! backlog, the subscription hub and WebSocket connections, the aggregate cache, the process
//! and the tokio runtime. Values are copied out when the reading is taken, so encoding holds no
//! lock.

use application::ingest::BacklogStatus;
use application::moneyness::CacheStatsSnapshot;
use application::readiness::ReadinessState;
use application::subscriptions::HubStats;
use domain::ports::AggregateCacheStats;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeLabelSet, EncodeMetric,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

use super::process::ProcessReading;

/// One scrape's reading of the service's state.
#[derive(Debug, Clone, Default)]
pub struct StateReading {
    /// The snapshot backlog (absent without an ingest pipeline).
    pub backlog: Option<BacklogStatus>,
    /// Readiness as `/health/ready` answers it now: its state, and each dependency's.
    pub readiness: Option<(ReadinessState, bool, Option<bool>)>,
    /// The subscription hub.
    pub hub: Option<HubStats>,
    /// Open WebSocket connections.
    pub ws_connections: Option<usize>,
    /// The closed-day aggregate cache.
    pub aggregate_cache: Option<AggregateCacheStats>,
    /// The process (Linux `/proc`; absent elsewhere).
    pub process: Option<ProcessReading>,
    /// Tokio worker threads and alive tasks.
    pub runtime: Option<(usize, usize)>,
    /// The database pool.
    pub pool: Option<super::PoolStats>,
    /// The moneyness-mapping caches and the instrument service behind them.
    pub mapping_cache: Option<CacheStatsSnapshot>,
    /// The Redis fan-out (production).
    pub fanout: Option<super::FanoutStats>,
    /// The instrument service's circuit breaker (`closed`, `open`, `half_open`), when configured.
    pub breaker: Option<&'static str>,
    /// The in-process moneyness-mapping cache (L1).
    pub mapping_memory: Option<super::TierStats>,
    /// Redis connection pools by name (`fanout`, `mapping_cache`).
    pub redis_pools: Vec<(&'static str, super::RedisPoolStats)>,
}

impl StateReading {
    /// The process and runtime parts, read now (the rest is filled by the caller).
    #[must_use]
    pub fn now() -> Self {
        let runtime = tokio::runtime::Handle::try_current().ok().map(|h| {
            let m = h.metrics();
            (m.num_workers(), m.num_alive_tasks())
        });
        Self {
            process: ProcessReading::read(),
            runtime,
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DependencyLabels {
    dependency: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LookupLabels {
    tier: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TableLabels {
    table: &'static str,
}

/// One constant gauge: counts as whole numbers, durations and sizes as `f64`.
pub(super) fn gauge<N: EncodeGaugeValue + std::fmt::Debug + Send + Sync>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    v: N,
) -> std::fmt::Result {
    let g = ConstGauge::new(v);
    g.encode(e.encode_descriptor(name, help, unit, g.metric_type())?)
}

/// One constant counter.
pub(super) fn counter<N: EncodeCounterValue + std::fmt::Debug + Send + Sync>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    v: N,
) -> std::fmt::Result {
    let c = ConstCounter::new(v);
    c.encode(e.encode_descriptor(name, help, unit, c.metric_type())?)
}

/// One family of constant metrics (`ConstGauge`s or `ConstCounter`s): one per label set.
fn family<L: EncodeLabelSet, M: EncodeMetric>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    items: impl IntoIterator<Item = (L, M)>,
) -> std::fmt::Result {
    let mut items = items.into_iter().peekable();
    let Some(kind) = items.peek().map(|(_, m)| m.metric_type()) else {
        return Ok(());
    };
    let mut f = e.encode_descriptor(name, help, None, kind)?;
    for (labels, m) in items {
        m.encode(f.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A gauge family of counts.
fn gauges<L: EncodeLabelSet>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    items: impl IntoIterator<Item = (L, u64)>,
) -> std::fmt::Result {
    family(e, name, help, items.into_iter().map(|(l, v)| (l, ConstGauge::new(v))))
}

/// A counter family.
fn counters<L: EncodeLabelSet>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    items: impl IntoIterator<Item = (L, u64)>,
) -> std::fmt::Result {
    family(e, name, help, items.into_iter().map(|(l, v)| (l, ConstCounter::new(v))))
}

/// A count as a `u64` (saturating).
fn f(v: impl TryInto<u64>) -> u64 {
    v.try_into().unwrap_or(u64::MAX)
}

impl Collector for StateReading {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        if let Some((state, database, redis)) = self.readiness {
            let states = [
                ReadinessState::Ready,
                ReadinessState::Degraded,
                ReadinessState::NotReady,
            ];
            gauges(
                &mut e,
                "signal_readiness",
                "1 for the state /health/ready answers now (ready, degraded, not_ready), 0 for the others",
                states.map(|s| (StateLabels { state: s.as_str() }, u64::from(s == state))),
            )?;
            let deps = [("database", Some(database)), ("redis", redis)];
            gauges(
                &mut e,
                "signal_dependency_up",
                "1 when the dependency answered readiness's probe now, 0 when it did not",
                deps.into_iter()
                    .filter_map(|(dependency, up)| Some((DependencyLabels { dependency }, u64::from(up?)))),
            )?;
        }
        if let Some(b) = &self.backlog {
            gauges(
                &mut e,
                "signal_snapshot_backlog",
                "Minute snapshots waiting to be written, by table",
                [("greeks", b.greeks), ("moneyness", b.moneyness)].map(|(table, n)| (TableLabels { table }, f(n))),
            )?;
            counters(
                &mut e,
                "signal_snapshot_write_failures",
                "Failed snapshot writes since start, by table (each retried with backoff)",
                [("greeks", b.write_failures[0]), ("moneyness", b.write_failures[1])]
                    .map(|(table, n)| (TableLabels { table }, n)),
            )?;
            gauge(
                &mut e,
                "signal_snapshot_backlog_limit",
                "The backlog's bound; when full, ingest answers 503",
                None,
                f(b.limit),
            )?;
            gauge(
                &mut e,
                "signal_snapshot_oldest_pending",
                "How long the oldest waiting snapshot has waited (0 when none waits)",
                Some(&Unit::Seconds),
                b.oldest_pending.map_or(0.0, |d| d.as_secs_f64()),
            )?;
            gauge(
                &mut e,
                "signal_snapshot_writes_failing",
                "How long snapshot writes have been failing (0 while they succeed)",
                Some(&Unit::Seconds),
                b.failing_for.map_or(0.0, |d| d.as_secs_f64()),
            )?;
        }
        if let Some(p) = self.pool {
            gauges(
                &mut e,
                "signal_db_pool_connections",
                "The database pool's open connections, in use or idle",
                [("in_use", p.open.saturating_sub(p.idle)), ("idle", p.idle)]
                    .map(|(state, n)| (StateLabels { state }, u64::from(n))),
            )?;
            gauge(
                &mut e,
                "signal_db_pool_max_connections",
                "The database pool's bound (database.max_connections)",
                None,
                u64::from(p.max),
            )?;
            counter(
                &mut e,
                "signal_db_pool_acquire_timeouts",
                "Store calls that found no database connection within database.acquire_timeout_ms",
                None,
                p.acquire_timeouts,
            )?;
        }
        if let Some(t) = self.mapping_memory {
            gauge(
                &mut e,
                "signal_mapping_cache_entries",
                "Moneyness mappings held in process (L1)",
                None,
                t.entries,
            )?;
            gauge(
                &mut e,
                "signal_mapping_cache",
                "Estimated memory held by the in-process mapping cache (L1)",
                Some(&Unit::Bytes),
                t.bytes,
            )?;
            counter(
                &mut e,
                "signal_mapping_cache_evictions",
                "Mappings dropped from the in-process cache to stay within mapping_cache.l1_max_entries",
                None,
                t.evictions,
            )?;
            counter(
                &mut e,
                "signal_mapping_cache_expirations",
                "Mappings dropped from the in-process cache at the end of their time-to-live",
                None,
                t.expirations,
            )?;
        }
        if !self.redis_pools.is_empty() {
            let by = |v: fn(&super::RedisPoolStats) -> u64| {
                self.redis_pools
                    .iter()
                    .map(move |(pool, s)| (PoolLabels { pool }, ConstCounter::new(v(s))))
            };
            family(
                &mut e,
                "signal_redis_pool_waits",
                "Redis connection gets that had to wait for a connection, by pool (fanout, mapping_cache)",
                by(|s| s.waits),
            )?;
            family(
                &mut e,
                "signal_redis_pool_wait_timeouts",
                "Redis connection gets that gave up waiting, by pool",
                by(|s| s.wait_timeouts),
            )?;
            family(
                &mut e,
                "signal_redis_pool_connections_created",
                "Redis connections opened, by pool (after the first, each is a reconnect)",
                by(|s| s.connections_created),
            )?;
            family(
                &mut e,
                "signal_redis_pool_connections_broken",
                "Redis connections dropped as broken, by pool",
                by(|s| s.connections_broken),
            )?;
            family(
                &mut e,
                "signal_redis_pool_wait_seconds",
                "Time spent waiting for a Redis connection, by pool",
                self.redis_pools
                    .iter()
                    .map(|(pool, s)| (PoolLabels { pool }, ConstCounter::new(s.wait_seconds))),
            )?;
        }
        if let Some(m) = &self.mapping_cache {
            let lookups = [
                ("memory", "hit", m.l1_hits),
                ("memory", "miss", m.l1_misses),
                ("redis", "hit", m.l2_hits),
                ("redis", "miss", m.l2_misses),
                ("redis", "error", m.l2_errors),
            ];
            counters(
                &mut e,
                "signal_mapping_cache_lookups",
                "Moneyness-mapping lookups by cache tier (memory, redis) and outcome (hit, miss, error)",
                lookups.map(|(tier, outcome, n)| (LookupLabels { tier, outcome }, n)),
            )?;
            counters(
                &mut e,
                "signal_instrument_service_calls",
                "Mapping fetches from the instrument service, by outcome (ok, error)",
                [("ok", m.remote_ok), ("error", m.remote_errors)].map(|(outcome, n)| (OutcomeLabels { outcome }, n)),
            )?;
            counter(
                &mut e,
                "signal_mapping_stale_served",
                "Stale mappings served because the instrument service failed",
                None,
                m.stale_served,
            )?;
            counter(
                &mut e,
                "signal_mapping_local_computed",
                "Mappings computed from the local strike ladder",
                None,
                m.local_computed,
            )?;
            counter(
                &mut e,
                "signal_mapping_refreshes",
                "Background mapping refreshes completed",
                None,
                m.refreshes,
            )?;
        }
        if let Some(now) = self.breaker {
            gauges(
                &mut e,
                "signal_instrument_service_breaker",
                "1 for the instrument-service client's circuit-breaker state now (closed, open, half_open)",
                ["closed", "open", "half_open"].map(|state| (StateLabels { state }, u64::from(state == now))),
            )?;
        }
        if let Some(f) = self.fanout {
            counter(
                &mut e,
                "signal_redis_fanout_local_only_batches",
                "Update batches delivered to this instance's subscribers only, Redis being unavailable",
                None,
                f.local_only_batches,
            )?;
            counter(
                &mut e,
                "signal_redis_fanout_publish_errors",
                "Fan-out publishing scripts that failed or got no answer within 250 ms (their batch went to local subscribers)",
                None,
                f.publish_errors,
            )?;
            counter(
                &mut e,
                "signal_redis_fanout_subscription_losses",
                "Times the fan-out's Redis subscription was lost (each followed by reconnecting)",
                None,
                f.subscription_losses,
            )?;
            counter(
                &mut e,
                "signal_redis_fanout_reconnects",
                "Times the fan-out's Redis subscription was set up again after a loss",
                None,
                f.reconnects,
            )?;
            gauge(
                &mut e,
                "signal_redis_fanout_subscribed",
                "1 while the fan-out's Redis subscription is up",
                None,
                u64::from(f.subscribed),
            )?;
        }
        if let Some(h) = &self.hub {
            gauge(
                &mut e,
                "signal_ws_topics",
                "Topics with a history or a subscriber",
                None,
                f(h.topics),
            )?;
            gauges(
                &mut e,
                "signal_ws_subscriptions",
                "WebSocket subscriptions (connection × topic), by topic kind",
                h.subscriptions_by_kind.map(|(kind, n)| (KindLabels { kind }, f(n))),
            )?;
            counter(
                &mut e,
                "signal_ws_update_gaps",
                "Updates received after a hole in their topic's numbering (sent as a resync)",
                None,
                f(h.gaps),
            )?;
            counter(
                &mut e,
                "signal_ws_updates_out_of_order",
                "Updates received twice or out of order (ignored; at start, those both in the shared resume history and on the channel)",
                None,
                f(h.stale),
            )?;
        }
        if let Some(n) = self.ws_connections {
            gauge(
                &mut e,
                "signal_ws_connections",
                "Open WebSocket connections",
                None,
                f(n),
            )?;
        }
        if let Some(c) = &self.aggregate_cache {
            for (name, help, v) in [
                (
                    "hits",
                    "Closed-day lookups answered from the in-process aggregate cache",
                    c.hits,
                ),
                ("misses", "Closed-day lookups that read the store", c.misses),
                ("inserts", "Closed days stored", c.inserts),
                (
                    "stale_fills",
                    "Fills refused because a late bar was written while they read the store",
                    c.stale_fills,
                ),
                (
                    "invalidations",
                    "Closed days dropped because a late 1-minute bar was written into them",
                    c.invalidations,
                ),
                (
                    "evictions",
                    "Closed days dropped to stay within the memory bound",
                    c.evictions,
                ),
                (
                    "expirations",
                    "Closed days dropped at the end of their time-to-live",
                    c.expirations,
                ),
            ] {
                counter(&mut e, &format!("signal_aggregate_cache_{name}"), help, None, f(v))?;
            }
            gauge(
                &mut e,
                "signal_aggregate_cache_entries",
                "Instrument days held",
                None,
                f(c.entries),
            )?;
            gauge(
                &mut e,
                "signal_aggregate_cache",
                "Estimated memory held by the aggregate cache",
                Some(&Unit::Bytes),
                f(c.weighted_bytes),
            )?;
            gauge(
                &mut e,
                "signal_aggregate_cache_capacity",
                "The aggregate cache's memory bound",
                Some(&Unit::Bytes),
                f(c.capacity_bytes),
            )?;
        }
        if let Some(p) = &self.process {
            p.encode(&mut e)?;
        }
        if let Some((workers, tasks)) = self.runtime {
            gauge(
                &mut e,
                "signal_runtime_workers",
                "Tokio worker threads",
                None,
                f(workers),
            )?;
            gauge(
                &mut e,
                "signal_runtime_alive_tasks",
                "Tokio tasks alive",
                None,
                f(tasks),
            )?;
        }
        Ok(())
    }
}
