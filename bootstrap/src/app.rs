//! The composition root of the server: builds every adapter from the settings and runs them.
//!
//! `Application::build(settings)` connects and migrates the database, loads the catalogue, wires
//! the ingest pipeline and binds the listener (port 0 picks a free port); `port()` tells which;
//! `run_until_stopped()` serves until ctrl-c or SIGTERM, then stops taking input, flushes the
//! pending snapshots and returns.

use std::sync::Arc;
use std::time::Duration;

use adapters::inbound::feed::{FeedConfig, SimulatedFeed};
use adapters::inbound::http::guard::{BodyLimits, Guard, RateLimits};
use adapters::inbound::http::listener::NoDelayAcceptor;
use adapters::inbound::http::server::ServerLimits;
use adapters::inbound::http::websocket::{WsContext, WsLimits};
use adapters::inbound::http::{AppState, UseCaseParts, routes};
use adapters::inbound::streams::{StreamConsumer, StreamConsumerConfig};
use adapters::outbound::cache::{
    AggregateCacheConfig, MemoryAggregateCache, MemoryMappingCache, RedisCacheConfig, RedisMappingCache,
};
use adapters::outbound::clock::SystemClock;
use adapters::outbound::fanout::{InProcessFanout, RedisFanout};
use adapters::outbound::instruments::builtin::BuiltinCatalogue;
use adapters::outbound::instruments::contract_master;
use adapters::outbound::instruments::http::HttpInstrumentSource;
use adapters::outbound::store::{PoolOptions, SeaStore};
use application::history::HistoryReads;
use application::ingest::IngestTicks;
use application::market::{InstrumentRegistry, RealtimeState, RegistryListing};
use application::moneyness::{MappingConfig, MappingService};
use application::subscriptions::{DerivedFeeds, SnapshotSource, SubscriptionHub};
use domain::ports::{Clock, HealthProbe, InstrumentSource, MappingSource, SignalCache, SignalPublisher, UpdateSink};
use migration::{Migrator, MigratorTrait};

use crate::cli::instruments::resilience;
use crate::settings::{Mode, Settings, SourceKind};

/// A built, bound, not yet running server.
pub struct Application {
    acceptor: NoDelayAcceptor,
    feed: Option<(SimulatedFeed, Duration)>,
    consumer: Option<StreamConsumer>,
    /// In production: the Redis fan-out's receiving side, delivering to `sink`.
    fanout_receiver: Option<RedisFanout>,
    /// Where the fan-out delivers: the derived feeds, which hand everything to the hub.
    sink: Arc<dyn UpdateSink>,
    state: AppState,
    /// With the instrument service: the mappings to keep fresh for the evaluated expiries.
    mappings: Option<(Arc<MappingService>, Arc<RealtimeState>)>,
    clock: Arc<dyn Clock>,
    flush_every: Duration,
    flush_retry_max: Duration,
    shutdown_flush: Duration,
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
            Migrator::up(&admin, None).await?;
            let _ = admin.close().await;
        }
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let markets = settings.markets_with(None)?;
        let cfg = &settings.instruments;
        // With the instrument service, its moneyness mappings are used too.
        let mut remote_mappings: Option<Arc<dyn MappingSource>> = None;
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
                SimulatedFeed::new(source.as_ref(), cfg, clock.now()).await?,
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
        let store_port: Arc<dyn domain::ports::SignalStore> = Arc::new(store.clone());
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
                let r = RedisFanout::new(&settings.redis.url, &settings.redis.key_prefix, clock.clone())?;
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
        let mappings = Arc::new(MappingService::new(
            Arc::new(MemoryMappingCache::new(mc.l1_max_entries)),
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
        let ingest = Arc::new(
            IngestTicks::new(registry.clone(), realtime.clone(), store_port.clone(), clock.clone())
                .with_aggregate_cache(memory.clone())
                .with_backlog_limit(settings.ingest.max_pending_snapshots)
                .with_sanity(domain::market_data::Sanity {
                    max_price: settings.ingest.max_price,
                    max_quantity: settings.ingest.max_quantity,
                })
                .with_publisher(Some(fanout))
                .with_mappings(mappings.has_remote().then(|| mappings.clone())),
        );
        let consumer = if settings.streams.enabled {
            Some(stream_consumer(settings, ingest.clone())?)
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
        state.subscriptions = WsContext::new(hub, ws_limits(settings))
            .with_tokens(&settings.subscriptions.tokens)
            .with_snapshots(Some(realtime as Arc<dyn SnapshotSource>))
            .with_derived(Some(derived));
        Ok(Self {
            acceptor,
            feed,
            consumer,
            fanout_receiver,
            sink,
            state,
            mappings: mappings.has_remote().then_some((mappings, realtime_for_refresh)),
            clock,
            flush_every: Duration::from_millis(settings.ingest.flush_interval_ms.max(10)),
            flush_retry_max: Duration::from_millis(settings.ingest.flush_retry_max_ms.max(10)),
            shutdown_flush: Duration::from_millis(settings.ingest.shutdown_flush_timeout_ms),
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

    /// Serves until ctrl-c or SIGTERM; then flushes and returns.
    ///
    /// # Errors
    /// Server or final-flush failures.
    pub async fn run_until_stopped(self) -> Result<(), Box<dyn std::error::Error>> {
        let ingest = self.state.ingest.clone();
        let flusher = {
            let ingest = ingest.clone();
            let (every, max) = (self.flush_every, self.flush_retry_max.max(self.flush_every));
            // Every `every` while writes succeed; after a failure the wait doubles up to `max`
            // (the backlog logs each failure episode once, and readiness shows it).
            tokio::spawn(async move {
                let mut wait = every;
                loop {
                    tokio::time::sleep(wait).await;
                    wait = match ingest.flush().await {
                        Ok(_) => every,
                        Err(_) => (wait * 2).min(max),
                    };
                }
            })
        };
        // With the instrument service: every evaluated expiry's mapping looked up each
        // refresh-ahead interval, so minute snapshots group by a fresh one (the lookup itself
        // serves from memory until the refresh point, then refreshes in the background).
        let refresher = self.mappings.map(|(mappings, realtime)| {
            let cfg = mappings.config();
            let every = cfg
                .ttl
                .mul_f64(cfg.refresh_ahead.clamp(0.05, 1.0))
                .max(Duration::from_millis(500));
            tokio::spawn(async move {
                loop {
                    let active: Vec<_> = realtime
                        .evaluated()
                        .into_iter()
                        .map(|(u, e, forward)| (u, e, Some(forward)))
                        .collect();
                    mappings.refresh(&active).await;
                    tokio::time::sleep(every).await;
                }
            })
        });
        let feed = self.feed.map(|(feed, every)| {
            let (ingest, clock) = (ingest.clone(), self.clock.clone());
            tokio::spawn(adapters::inbound::feed::run(feed, every, clock, move |batch| {
                let ingest = ingest.clone();
                async move {
                    match ingest.execute(&batch).await {
                        Ok(r) if !r.rejected.is_empty() => {
                            tracing::debug!(rejected = r.rejected.len(), "feed rows rejected")
                        }
                        Ok(_) => {}
                        // The store's trouble is logged once per episode by the backlog and
                        // shown by readiness; the simulated feed just moves on.
                        Err(e) => tracing::debug!(error = %e, "feed batch not ingested"),
                    }
                }
            }))
        });
        let (stop_consumer, consumer_stopped) = tokio::sync::oneshot::channel::<()>();
        let consumer = self.consumer.map(|c| {
            tokio::spawn(c.run(async {
                let _ = consumer_stopped.await;
            }))
        });
        let (stop_receiver, receiver_stopped) = tokio::sync::oneshot::channel::<()>();
        let receiver = self.fanout_receiver.map(|r| {
            tokio::spawn(r.receive(self.sink.clone(), async {
                let _ = receiver_stopped.await;
            }))
        });
        let subscriptions = self.state.subscriptions.clone();
        let stop = self.stop;
        let stopping = async move {
            stop.recv().await;
            // WebSocket clients are told to reconnect and resume before the server stops.
            subscriptions.close_all();
        };
        adapters::inbound::http::server::serve(self.acceptor, routes(self.state), self.server_limits, stopping).await?;
        let _ = stop_receiver.send(());
        if let Some(r) = receiver {
            let _ = r.await;
        }
        if let Some(f) = feed {
            f.abort();
        }
        if let Some(r) = refresher {
            r.abort();
        }
        // Stop reading the stream; a batch in flight is dropped unacknowledged and delivered again.
        let _ = stop_consumer.send(());
        if let Some(c) = consumer {
            let _ = c.await;
        }
        flusher.abort();
        final_flush(&ingest, self.shutdown_flush).await
    }
}

/// Writes what is pending before the process exits, retrying for up to `budget`; logs what was
/// written, or what could not be and why.
///
/// # Errors
/// Snapshots left unwritten (the process then exits non-zero: something was lost).
async fn final_flush(ingest: &IngestTicks, budget: Duration) -> Result<(), Box<dyn std::error::Error>> {
    let deadline = tokio::time::Instant::now() + budget;
    let mut written = 0;
    let mut wait = Duration::from_millis(100);
    loop {
        let attempt = tokio::time::timeout_at(deadline, ingest.flush()).await;
        match attempt {
            Ok(Ok(n)) => {
                written += n;
                tracing::info!(written, "stopped; pending snapshots written");
                return Ok(());
            }
            Ok(Err(_)) if tokio::time::Instant::now() + wait < deadline => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(1));
            }
            _ => {
                let b = ingest.backlog();
                let cause = b.last_error.unwrap_or_else(|| "timed out".to_owned());
                tracing::error!(
                    lost_greeks = b.greeks,
                    lost_moneyness = b.moneyness,
                    error = %cause,
                    "stopped; snapshots could not be written and are lost"
                );
                return Err(format!(
                    "{} Greeks and {} moneyness snapshots could not be written: {cause}",
                    b.greeks, b.moneyness
                )
                .into());
            }
        }
    }
}

/// The WebSocket limits of `[subscriptions]`, the connection cap kept 512 descriptors under the
/// process's open-file limit (a full descriptor table would stall accepting, health checks and
/// the database pool alike).
fn ws_limits(settings: &Settings) -> WsLimits {
    let s = &settings.subscriptions;
    let fd_room = open_file_limit().map_or(usize::MAX, |n| n.saturating_sub(512));
    let max_connections = s.max_connections.min(fd_room);
    if max_connections < s.max_connections {
        tracing::warn!(
            configured = s.max_connections,
            max_connections,
            "subscriptions.max_connections lowered below the open-file limit"
        );
    }
    let batch_ms = s
        .batch_ms
        .min(adapters::inbound::http::websocket::delivery::MAX_BATCH_MS);
    if batch_ms < s.batch_ms {
        tracing::warn!(
            configured = s.batch_ms,
            batch_ms,
            "subscriptions.batch_ms lowered to its bound"
        );
    }
    WsLimits {
        max_topics: s.max_topics,
        max_connections,
        max_connections_per_token: s.max_connections_per_token,
        batch_window: Duration::from_millis(batch_ms),
        ..WsLimits::default()
    }
}

/// The request guard of `[server]` body limits, `[ingest]` keys and `[rate_limit]`.
fn guard(settings: &Settings) -> Guard {
    let s = &settings.server;
    let r = &settings.rate_limit;
    Guard::new(
        BodyLimits {
            ingest: s.max_body_bytes_ingest,
            analytics: s.max_body_bytes_analytics,
            other: s.max_body_bytes_other,
            read_timeout: Duration::from_millis(s.body_read_timeout_ms.max(100)),
        },
        settings.ingest.api_keys.clone(),
        r.enabled.then_some(RateLimits {
            per_key: (r.per_key_per_second, r.per_key_burst),
            per_address: (r.per_address_per_second, r.per_address_burst),
            auth_failures_per_minute: r.auth_failures_per_minute,
        }),
    )
}

/// The soft open-file limit, from /proc/self/limits (Linux); `None` elsewhere.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The stream consumer named by `[streams]`.
fn stream_consumer(
    settings: &Settings,
    ingest: Arc<IngestTicks>,
) -> Result<StreamConsumer, Box<dyn std::error::Error>> {
    let s = &settings.streams;
    if settings.redis.url.is_empty() {
        return Err("streams.enabled needs redis.url".into());
    }
    let consumer = if s.consumer.is_empty() {
        std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
            })
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "signal-service".to_owned())
    } else {
        s.consumer.clone()
    };
    let cfg = StreamConsumerConfig {
        url: settings.redis.url.clone(),
        stream: s.stream.clone(),
        group: s.group.clone(),
        consumer,
        batch: s.batch.max(1),
        block: Duration::from_millis(s.block_ms),
        claim_idle: Duration::from_millis(s.claim_idle_ms),
        claim_every: Duration::from_millis(s.claim_every_ms.max(10)),
    };
    Ok(StreamConsumer::new(cfg, ingest)?)
}

/// The signals that stop the service (ctrl-c and, on Unix, SIGTERM), registered when this is
/// created: registering them only when the server first polled its shutdown future left a window
/// after the port was announced in which a SIGTERM still had its default, fatal effect.
struct StopSignals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn register() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Resolves at the first of the signals.
    async fn recv(self) {
        #[cfg(unix)]
        {
            async fn on(s: Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = on(self.interrupt) => {},
                () = on(self.terminate) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The in-process aggregate cache of `[aggregate_cache]`, or none when its bound is 0.
fn aggregate_cache(settings: &Settings) -> Option<Arc<dyn domain::ports::AggregateCache>> {
    let cfg = &settings.aggregate_cache;
    (cfg.max_bytes > 0).then(|| {
        Arc::new(MemoryAggregateCache::new(AggregateCacheConfig {
            max_bytes: cfg.max_bytes,
            time_to_live: Duration::from_secs(cfg.ttl_secs.max(1)),
        })) as Arc<dyn domain::ports::AggregateCache>
    })
}
