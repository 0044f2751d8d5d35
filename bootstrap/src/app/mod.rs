//! The composition root of the server: builds every adapter from the settings and runs them.
//!
//! `Application::build(settings)` connects and migrates the database, loads the catalogue, wires
//! the ingest pipeline and binds the listener (port 0 picks a free port); `port()` tells which;
//! `run_until_stopped()` serves until ctrl-c or SIGTERM, then stops taking input, flushes the
//! pending snapshots and returns.
//!
//! - `mod.rs`: [`Application`] and how it is built;
//! - `run.rs`: serving, the background tasks, the final flush;
//! - `parts.rs`: the pieces built from one settings section each (limits, guard, caches, the
//!   stream consumer);
//! - `signals.rs`: ctrl-c and SIGTERM.

mod parts;
mod run;
mod signals;

use std::sync::Arc;
use std::time::Duration;

use adapters::inbound::feed::{FeedConfig, SimulatedFeed};
use adapters::inbound::http::listener::NoDelayAcceptor;
use adapters::inbound::http::server::ServerLimits;
use adapters::inbound::http::websocket::WsContext;
use adapters::inbound::http::{AppState, UseCaseParts};
use adapters::inbound::streams::StreamConsumer;
use adapters::outbound::cache::{MemoryMappingCache, RedisCacheConfig, RedisMappingCache};
use adapters::outbound::clock::SystemClock;
use adapters::outbound::fanout::{InProcessFanout, RedisFanout, RedisIngestLog};
use adapters::outbound::instruments::builtin::BuiltinCatalogue;
use adapters::outbound::instruments::contract_master;
use adapters::outbound::instruments::http::HttpInstrumentSource;
use adapters::outbound::store::{PoolOptions, SeaStore};
use application::history::HistoryReads;
use application::ingest::IngestTicks;
use application::market::{InstrumentRegistry, RealtimeState, RegistryListing};
use application::moneyness::{MappingConfig, MappingService};
use application::subscriptions::{DerivedFeeds, SnapshotSource, SubscriptionHub, TopicListing};
use domain::ports::{Clock, HealthProbe, InstrumentSource, MappingSource, SignalCache, SignalPublisher, UpdateSink};
use migration::{Migrator, MigratorTrait};

use crate::cli::instruments::resilience;
use crate::settings::{Mode, Settings, SourceKind};

use parts::{aggregate_cache, guard, stream_consumer, ws_limits};
use signals::StopSignals;

/// A built, bound, not yet running server.
pub struct Application {
    acceptor: NoDelayAcceptor,
    feed: Option<(SimulatedFeed, Duration)>,
    consumer: Option<StreamConsumer>,
    /// In production: the Redis fan-out's receiving task (delivering to the derived feeds and
    /// the hub), running since the build so its history loaded before the port was announced,
    /// and what stops it.
    fanout_receiver: Option<(tokio::task::JoinHandle<()>, tokio::sync::oneshot::Sender<()>)>,
    /// With Redis: the ingest log to follow, from this id.
    ingest_log: Option<(RedisIngestLog, String)>,
    state: AppState,
    /// The catalogue and the registry it fills: new listings are registered as they appear.
    listing: (Arc<dyn InstrumentSource>, Arc<InstrumentRegistry>),
    /// With the instrument service: the mappings to keep fresh for the evaluated expiries.
    mappings: Option<(Arc<MappingService>, Arc<RealtimeState>)>,
    clock: Arc<dyn Clock>,
    /// On PostgreSQL with `[history] upkeep`: the history keeper and its interval.
    keeper: Option<(application::upkeep::HistoryKeeper, Duration)>,
    flush_every: Duration,
    flush_retry_max: Duration,
    shutdown_flush: Duration,
    /// On a stop signal, how long to keep serving with readiness at 503 first.
    drain_delay: Duration,
    server_limits: ServerLimits,
    port: u16,
    stop: StopSignals,
}

impl Application {
    /// Builds everything named by `settings`.
    ///
    /// # Errors
    /// Database, catalogue or bind failures, with what failed.
    pub async fn build(settings: &Settings) -> Result<Self, Box<dyn std::error::Error>> {
        // Before anything can announce the service: a SIGTERM from then on is a clean stop.
        let stop = StopSignals::register();
        let url = &settings.database.url;
        if let Some(path) = url.strip_prefix("sqlite://") {
            let file = path.split('?').next().unwrap_or(path);
            if let Some(dir) = std::path::Path::new(file)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)?;
            }
        }
        let pool = PoolOptions {
            max_connections: settings.database.max_connections,
            acquire_timeout: Duration::from_millis(settings.database.acquire_timeout_ms.max(1)),
            statement_timeout: Duration::from_millis(settings.database.statement_timeout_ms.max(1)),
        };
        let store = SeaStore::connect_with(url, &pool)
            .await
            .map_err(|e| format!("database {}: {e}", crate::settings::mask_password(url)))?;
        // Migrations run on a connection of their own, without the pool's statement timeout:
        // building an index on a large table may rightly take minutes.
        {
            let admin = sea_orm::Database::connect(adapters::outbound::store::connect_options(url))
                .await
                .map_err(|e| format!("database {}: {e}", crate::settings::mask_password(url)))?;
            migrate_unless_newer(&admin).await?;
            let _ = admin.close().await;
        }
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let markets = settings.markets_with(None)?;
        let cfg = &settings.instruments;
        // With the instrument service, its moneyness mappings are used too.
        let mut remote_mappings: Option<Arc<dyn MappingSource>> = None;
        let mut breaker: Option<Arc<dyn adapters::metrics::Source>> = None;
        let source: Arc<dyn InstrumentSource> = match cfg.source {
            // The contract-master layout is NSE's own file.
            SourceKind::File => Arc::new(contract_master::read(
                std::fs::File::open(&cfg.contract_master)
                    .map_err(|e| format!("instruments.contract_master {}: {e}", cfg.contract_master))?,
                &markets.require("NSE")?.market,
            )?),
            SourceKind::Http => {
                let http = Arc::new(HttpInstrumentSource::new(
                    cfg.service_url.parse()?,
                    Duration::from_millis(cfg.timeout_ms),
                    resilience(settings),
                ));
                remote_mappings = Some(http.clone());
                breaker = Some(http.clone());
                http
            }
            SourceKind::Builtin => Arc::new(BuiltinCatalogue::new(clock.clone())),
        };
        let registry = Arc::new(InstrumentRegistry::load(source.as_ref(), markets).await?);
        let feed = if settings.mode == Mode::Embedded && settings.feed.enabled {
            let f = &settings.feed;
            let cfg = FeedConfig {
                strikes_each_side: f.strikes_each_side,
                expiries: f.expiries,
                interval_secs: f.interval_ms as f64 / 1000.0,
            };
            Some((
                SimulatedFeed::new(source.clone(), registry.markets(), cfg, clock.now()).await?,
                Duration::from_millis(f.interval_ms.max(10)),
            ))
        } else {
            None
        };
        // Subscriptions: every update goes through the fan-out to the hub, which serves the
        // WebSocket connections of this instance.
        // In production (Redis configured) numbering and delivery go through Redis, so every
        // instance's subscribers get every instance's updates under one sequence per topic.
        // Each instance derives candles above 1 minute and indicators from the 1-minute candle
        // updates, for the topics its own connections follow.
        let subs = &settings.subscriptions;
        let hub = Arc::new(SubscriptionHub::new(subs.history_per_topic));
        let memory = aggregate_cache(settings);
        // The event metrics `/metrics` serves, shared by the HTTP layer, the store, the feed and the consumer.
        let metrics = Arc::new(adapters::metrics::Metrics {
            build: adapters::metrics::BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                git_sha: env!("SIGNAL_GIT_HASH").to_owned(),
            },
            ..adapters::metrics::Metrics::default()
        });
        // Every store call is timed by operation for /metrics.
        let store_port: Arc<dyn domain::ports::SignalStore> = Arc::new(adapters::metrics::MeteredStore::new(
            Arc::new(store.clone()),
            metrics.clone(),
        ));
        let derived = Arc::new(DerivedFeeds::new(
            hub.clone(),
            HistoryReads::new(store_port.clone(), registry.clone(), clock.clone()).with_memory(memory.clone()),
            clock.clone(),
        ));
        let sink: Arc<dyn UpdateSink> = derived.clone();
        let (fanout, fanout_receiver): (Arc<dyn SignalPublisher>, Option<RedisFanout>) =
            if settings.redis.url.is_empty() {
                (Arc::new(InProcessFanout::starting_now(sink.clone())), None)
            } else {
                let r = RedisFanout::new(&settings.redis.url, &settings.redis.key_prefix, clock.clone())?
                    .with_history(subs.history_per_topic);
                // Publishing never waits on Redis: a worker takes the batches, and serves this
                // instance's subscribers directly while Redis is away.
                r.start(sink.clone());
                (Arc::new(r.clone()), Some(r))
            };
        let redis = if settings.redis.url.is_empty() {
            None
        } else {
            Some(Arc::new(RedisMappingCache::new(RedisCacheConfig {
                url: settings.redis.url.clone(),
                key_prefix: settings.redis.key_prefix.clone(),
                ..RedisCacheConfig::default()
            })?))
        };
        // Moneyness mappings: in process (moka), Redis when configured, the instrument service
        // when it is the source, else (and while it is down with nothing cached) the local
        // strike ladder of the registry.
        let mc = &settings.mapping_cache;
        let memory_mappings = Arc::new(MemoryMappingCache::new(mc.l1_max_entries));
        let redis_metrics = redis.clone().map(|r| r as Arc<dyn adapters::metrics::Source>);
        let mappings = Arc::new(MappingService::new(
            memory_mappings.clone(),
            redis.clone().map(|r| r as Arc<dyn SignalCache>),
            remote_mappings,
            Arc::new(RegistryListing(registry.clone())),
            clock.clone(),
            MappingConfig {
                ttl: Duration::from_secs(mc.ttl_secs.max(1)),
                refresh_ahead: mc.refresh_ahead,
                stale_horizon: Duration::from_secs(mc.stale_horizon_secs),
            },
        ));
        let realtime = Arc::new(RealtimeState::default());
        // With Redis: the rows each instance accepts, followed by the others (see follow_log).
        let ingest_log = if settings.redis.url.is_empty() {
            None
        } else {
            let origin = format!("{}-{}", std::process::id(), clock.now().timestamp_millis());
            Some(
                RedisIngestLog::new(
                    &settings.redis.url,
                    &settings.redis.key_prefix,
                    &origin,
                    settings.redis.ingest_log_max_batches,
                )?
                .with_window(Duration::from_secs(settings.redis.ingest_log_window_secs.max(60))),
            )
        };
        let ingest = Arc::new(
            IngestTicks::new(registry.clone(), realtime.clone(), store_port.clone(), clock.clone())
                .with_log(
                    ingest_log
                        .clone()
                        .map(|l| Arc::new(l) as Arc<dyn domain::ports::IngestLog>),
                )
                .with_aggregate_cache(memory.clone())
                .with_backlog_limit(settings.ingest.max_pending_snapshots)
                .with_sanity(domain::market_data::Sanity {
                    max_price: settings.ingest.max_price,
                    max_quantity: settings.ingest.max_quantity,
                })
                .with_publisher(Some(fanout))
                .with_observer(Some(metrics.clone() as Arc<dyn application::ingest::IngestObserver>))
                .with_mappings(mappings.has_remote().then(|| mappings.clone())),
        );
        let fanout_metrics = fanout_receiver
            .clone()
            .map(|r| Arc::new(r) as Arc<dyn adapters::metrics::Source>);
        let fanout_receiver = match fanout_receiver {
            Some(r) => Some(receive_with_history(r, sink.clone()).await),
            None => None,
        };
        let ingest_log = match ingest_log {
            Some(log) => {
                // Appends go through a worker from now on: never on ingest's latency.
                log.start();
                Some(warm_from_log(log, &ingest).await)
            }
            None => None,
        };
        let consumer = if settings.streams.enabled {
            Some(stream_consumer(settings, ingest.clone())?.with_metrics(metrics.clone()))
        } else {
            None
        };
        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let acceptor = NoDelayAcceptor::bind(&addr)
            .await
            .map_err(|e| format!("bind {addr}: {e}"))?
            .with_send_buffer(Some(settings.server.send_buffer_bytes).filter(|b| *b > 0));
        let port = acceptor.port();
        let realtime_for_refresh = realtime.clone();
        let listing_registry = registry.clone();
        let listing = (source.clone(), registry.clone());
        let keeper = (settings.history.upkeep && url.starts_with("postgres")).then(|| {
            (
                application::upkeep::HistoryKeeper::new(
                    Arc::new(store.clone()),
                    clock.clone(),
                    settings.history.policy(),
                ),
                Duration::from_secs(settings.history.interval_secs.max(1)),
            )
        });
        let mut metric_sources: Vec<Arc<dyn adapters::metrics::Source>> =
            vec![Arc::new(store.clone()), memory_mappings.clone()];
        metric_sources.extend(breaker);
        metric_sources.extend(fanout_metrics);
        metric_sources.extend(redis_metrics);
        let mut state = AppState::new(UseCaseParts {
            ingest,
            state: realtime.clone(),
            registry,
            store: store_port,
            aggregate_cache: memory,
            database: Arc::new(store),
            redis: redis.map(|r| r as Arc<dyn HealthProbe>),
            mappings: mappings.clone(),
            clock: clock.clone(),
        });
        state.api_keys = Arc::new(settings.ingest.api_keys.clone());
        state.guard = Arc::new(guard(settings));
        state.metrics = metrics;
        state.metric_sources = metric_sources;
        state.subscriptions = WsContext::new(hub, ws_limits(settings))
            .with_metrics(state.metrics.clone())
            .with_clock(clock.clone())
            .with_tokens(&settings.subscriptions.tokens)
            .with_snapshots(Some(realtime as Arc<dyn SnapshotSource>))
            .with_listing(Some(TopicListing::new(listing_registry)))
            .with_derived(Some(derived));
        Ok(Self {
            acceptor,
            listing,
            feed,
            consumer,
            fanout_receiver,
            ingest_log,
            state,
            mappings: mappings.has_remote().then_some((mappings, realtime_for_refresh)),
            clock,
            keeper,
            flush_every: Duration::from_millis(settings.ingest.flush_interval_ms.max(10)),
            flush_retry_max: Duration::from_millis(settings.ingest.flush_retry_max_ms.max(10)),
            shutdown_flush: Duration::from_millis(settings.ingest.shutdown_flush_timeout_ms),
            drain_delay: Duration::from_millis(settings.server.drain_delay_ms),
            server_limits: ServerLimits {
                max_connections: settings.server.max_connections,
                header_read_timeout: Duration::from_millis(settings.server.header_read_timeout_ms.max(100)),
                shutdown_timeout: Duration::from_millis(settings.server.shutdown_timeout_ms),
            },
            port,
            stop,
        })
    }

    /// The bound port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// Applies this release's pending migrations, unless the database already holds migrations this
/// release does not know: a newer release migrated it (a rolling update in progress, or a
/// rollback). Migrations only expand the schema that earlier releases use (docs/deployment.md:
/// expand, then contract), so this release runs on it as it is, and says so. Both pending and
/// unknown migrations at once mean a schema from another line of releases: refused.
///
/// # Errors
/// The database's error, or that mixed case.
async fn migrate_unless_newer(db: &sea_orm::DatabaseConnection) -> Result<(), Box<dyn std::error::Error>> {
    Migrator::install(db).await?;
    let known: std::collections::HashSet<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
    let applied = Migrator::get_migration_models(db).await?;
    let newer: Vec<&str> = applied
        .iter()
        .map(|m| m.version.as_str())
        .filter(|v| !known.contains(*v))
        .collect();
    if newer.is_empty() {
        Migrator::up(db, None).await?;
        return Ok(());
    }
    let pending = Migrator::get_pending_migrations(db).await.map(|p| p.len()).unwrap_or(0);
    let done: std::collections::HashSet<&str> = applied.iter().map(|m| m.version.as_str()).collect();
    let missing: Vec<String> = known.iter().filter(|k| !done.contains(k.as_str())).cloned().collect();
    if pending > 0 || !missing.is_empty() {
        return Err(format!(
            "the database has migrations this release does not know ({}) and lacks some it needs ({}): \
             it was migrated by another line of releases",
            newer.join(", "),
            missing.join(", ")
        )
        .into());
    }
    tracing::warn!(
        newer = %newer.join(", "),
        "the database schema is newer than this release: running on it unmigrated (expand-then-contract keeps it compatible)"
    );
    Ok(())
}

/// How long a starting instance waits for the fan-out's subscription and resume history before
/// it announces its port anyway (Redis away: its history then fills from live updates).
const HISTORY_LOAD_WAIT: Duration = Duration::from_secs(10);

/// Starts the fan-out's receiving task and waits until it has subscribed and loaded every
/// topic's shared resume history into the hub (logged by the fan-out: topics, updates, time),
/// so a client resuming on this instance gets exactly what it missed on another.
async fn receive_with_history(
    r: RedisFanout,
    sink: Arc<dyn UpdateSink>,
) -> (tokio::task::JoinHandle<()>, tokio::sync::oneshot::Sender<()>) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(r.clone().receive(sink, async {
        let _ = stopped.await;
    }));
    if !r.history_loaded(HISTORY_LOAD_WAIT).await {
        tracing::warn!(
            waited_ms = u64::try_from(HISTORY_LOAD_WAIT.as_millis()).unwrap_or(u64::MAX),
            "redis fan-out not subscribed yet: starting without the shared resume history"
        );
    }
    (task, stop)
}

/// A starting instance applies the other instances' retained batches before it announces its
/// port (so its first realtime reads answer as theirs do); returns the log and where to follow
/// it from. With Redis away it starts cold and follows from then on (`$`), saying so.
async fn warm_from_log(log: RedisIngestLog, ingest: &IngestTicks) -> (RedisIngestLog, String) {
    let started = std::time::Instant::now();
    match log.catch_up(ingest).await {
        Ok(done) => {
            tracing::info!(
                older_rows = done.older_rows,
                greeks_from_store = done.greeks_from_store,
                batches = done.batches,
                took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "realtime state warmed from the ingest log"
            );
            (log, done.from)
        }
        Err(e) => {
            tracing::warn!(error = %e, "ingest log unavailable at start: the realtime state starts cold");
            (log, "$".to_owned())
        }
    }
}
