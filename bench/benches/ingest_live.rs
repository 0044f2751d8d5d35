//! The live feed through the whole ingest pipeline, as `serve` runs it, on one runtime thread
//! (SQLite works in sqlx's worker thread): ticks of 2 underlyings × 2 expiries × 80 strikes ×
//! both rights (640 options) arriving every second, each batch validated, applied to the minute
//! bars, priced (IV and Greeks on each expiry's forward), published through the in-process
//! fan-out to the subscription hub, its bars durable in the embedded SQLite store before it is
//! acknowledged; Greeks and moneyness snapshots written once per minute (a flush task started
//! at each minute, as `serve`'s flusher runs beside the feed). One iteration is one simulated
//! minute; the store keeps what earlier iterations wrote, so later samples see a longer history.
//!
//! - `stream_consumer_read_ahead_8`: acknowledged as the Redis Streams consumer acknowledges a
//!   backlog (8 batches ingested, then their bars written by one write of the group commit,
//!   which runs while the next groups are ingested: up to `GROUPS_IN_FLIGHT` in flight);
//! - `read_ahead_8_not_pipelined`: the same, but each group's write waited for before the next
//!   group is read (the consumer before the pipelining);
//! - `one_request_at_a_time`: each batch waits for its own write, as a REST client does;
//! - `the_same_without_the_database`: on a store that keeps nothing, the pipeline's own cost;
//! - `stream_consumer_read_ahead_8_on_2_workers`: the first on `serve`'s multi-threaded runtime
//!   with two workers (the feed is one task; the flush and the bars' writer are tasks beside it);
//! - `the_same_with_the_redis_ingest_log`: that, with the Redis ingest log a production instance
//!   keeps (every accepted batch appended for the other instances, by a worker beside the feed,
//!   to the machine's Redis on 127.0.0.1:6379 under a prefix of its own, trimmed to 2 000
//!   batches); afterwards it prints what reached Redis and its size (`redis-cli`).
//!
//! Run: `cargo bench -p bench --bench ingest_live` (figures in docs/benchmarks.md).

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use adapters::inbound::streams::GROUPS_IN_FLIGHT;
use adapters::outbound::fanout::{InProcessFanout, RedisIngestLog};
use adapters::outbound::store::SeaStore;
use application::ingest::{Durable, InFlight, IngestTicks};
use application::market::{InstrumentRegistry, RealtimeState};
use application::subscriptions::SubscriptionHub;
use chrono::NaiveDate;
use chrono::{DateTime, Duration, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use domain::candles::{AggregatedBar, Timeframe};
use domain::instrument::{InstrumentKey, LotSize, OptionContract, OptionRight, Strike};
use domain::market_data::Tick;
use domain::moneyness::MoneynessLevel;
use domain::ports::{
    Clock, ComputationRecord, GreeksRecord, IngestLog, InstrumentCandle, ManualClock, MoneynessRecord, PortError,
    SignalPublisher, SignalStore, TimeRange, UpdateSink,
};
use domain::pricing::{OptionInputs, PricingModel, price_and_greeks};
use migration::{Migrator, MigratorTrait};

const STRIKES: usize = 80;
const SECONDS_PER_MINUTE: i64 = 60;

struct Chain {
    underlying: InstrumentKey,
    spot: f64,
    step: f64,
    expiry: DateTime<Utc>,
    options: Vec<(InstrumentKey, f64, OptionRight)>,
}

fn chains() -> Vec<Chain> {
    let mut out = Vec::new();
    for (symbol, spot, step) in [("NIFTY", 26_000.0, 50.0), ("BANKNIFTY", 58_000.0, 100.0)] {
        for (date, expiry) in [
            ("20260224", Utc.with_ymd_and_hms(2026, 2, 24, 10, 0, 0).unwrap()),
            ("20260331", Utc.with_ymd_and_hms(2026, 3, 30, 10, 0, 0).unwrap()),
        ] {
            let first = spot - step * (STRIKES as f64 / 2.0);
            let mut options = Vec::new();
            for i in 0..STRIKES {
                let k = first + step * i as f64;
                for (suffix, right) in [("CE", OptionRight::Call), ("PE", OptionRight::Put)] {
                    let key = InstrumentKey::parse(&format!("NSE:{symbol}-{date}-{k}-{suffix}")).unwrap();
                    options.push((key, k, right));
                }
            }
            out.push(Chain {
                underlying: InstrumentKey::parse(&format!("NSE:{symbol}")).unwrap(),
                spot,
                step,
                expiry,
                options,
            });
        }
    }
    out
}

fn registry(chains: &[Chain]) -> InstrumentRegistry {
    let r = InstrumentRegistry::default();
    for c in chains {
        r.register_underlying(c.underlying.clone(), "NSE").unwrap();
        for (key, k, right) in &c.options {
            r.register_option(
                OptionContract {
                    key: key.clone(),
                    underlying: c.underlying.clone(),
                    expiry: c.expiry,
                    strike: Strike::new(*k).unwrap(),
                    right: *right,
                    lot_size: LotSize::new(65).unwrap(),
                    tick_size: 0.05,
                },
                "NSE",
            )
            .unwrap();
        }
    }
    r
}

/// One second's batch: every underlying and every option, priced at a 13 % smile-free vol on a
/// spot that drifts a little each second (so every tick changes something).
fn batch(chains: &[Chain], ts: DateTime<Utc>, second: i64) -> Vec<Tick> {
    let mut out = Vec::new();
    for c in chains {
        let spot = c.spot + c.step * 0.1 * ((second % 7) as f64 - 3.0);
        out.push(Tick {
            key: c.underlying.clone(),
            ts,
            last: Some(spot),
            bid: None,
            ask: None,
            volume: None,
            oi: None,
        });
        let t_years = (c.expiry - ts).num_seconds() as f64 / (365.0 * 86_400.0);
        for (key, k, right) in &c.options {
            let inputs = OptionInputs {
                right: *right,
                underlying: spot,
                strike: *k,
                t_years,
                rate: 0.065,
                div_yield: 0.0,
                vol: 0.13,
            };
            let p = price_and_greeks(PricingModel::Black76, &inputs).map_or(0.05, |v| v.price.max(0.05));
            out.push(Tick {
                key: key.clone(),
                ts,
                last: Some(p),
                bid: Some((p - 0.05).max(0.05)),
                ask: Some(p + 0.05),
                volume: Some(100.0 + second as f64),
                oi: Some(10_000.0),
            });
        }
    }
    out
}

/// How the Redis Streams consumer acknowledges a backlog (`streams.read_ahead`): `read_ahead`
/// batches ingested, then one write of all their bars started. `pipelined`: groups go into the
/// consumer's [`InFlight`] (`GROUPS_IN_FLIGHT` of them before it waits for the oldest), and each
/// batch yields once to the runtime where the consumer awaits its next read from Redis. Not
/// pipelined: each group's write is waited for before the next batch is read; with `read_ahead`
/// 1, as a client sending one request after another does.
struct Feed {
    read_ahead: usize,
    pipelined: bool,
    group: Vec<Durable>,
    in_flight: InFlight<()>,
}

impl Feed {
    fn new(read_ahead: usize, pipelined: bool) -> Self {
        Self {
            read_ahead,
            pipelined,
            group: Vec::new(),
            in_flight: InFlight::new(GROUPS_IN_FLIGHT),
        }
    }

    async fn push(&mut self, durable: Durable) {
        self.group.push(durable);
        if self.group.len() >= self.read_ahead {
            let group = std::mem::take(&mut self.group);
            self.in_flight.push(group, ()).await.unwrap();
            if !self.pipelined {
                self.in_flight.drain().await.unwrap();
            }
        }
        if self.pipelined {
            // Where the consumer awaits its next read.
            tokio::task::yield_now().await;
        }
    }

    async fn acknowledge(&mut self) {
        let group = std::mem::take(&mut self.group);
        self.in_flight.push(group, ()).await.unwrap();
        self.in_flight.drain().await.unwrap();
    }
}

/// A store that keeps nothing: the pipeline's own cost, without the database.
struct NoStore;

#[async_trait::async_trait]
impl SignalStore for NoStore {
    async fn save_candles(&self, _: &[InstrumentCandle]) -> Result<(), PortError> {
        Ok(())
    }
    async fn candles(&self, _: &InstrumentKey, _: TimeRange) -> Result<Vec<InstrumentCandle>, PortError> {
        Ok(Vec::new())
    }
    async fn timeframe_bars(
        &self,
        _: &InstrumentKey,
        _: Timeframe,
        _: TimeRange,
    ) -> Result<Vec<AggregatedBar>, PortError> {
        Ok(Vec::new())
    }
    async fn save_timeframe_bars(&self, _: &InstrumentKey, _: Timeframe, _: &[AggregatedBar]) -> Result<(), PortError> {
        Ok(())
    }
    async fn save_greeks(&self, _: &[GreeksRecord]) -> Result<(), PortError> {
        Ok(())
    }
    async fn greeks(&self, _: &InstrumentKey, _: TimeRange, _: usize) -> Result<Vec<GreeksRecord>, PortError> {
        Ok(Vec::new())
    }
    async fn register_contracts(&self, _: &[OptionContract], _: &str) -> Result<(), PortError> {
        Ok(())
    }
    async fn save_computation(&self, _: &ComputationRecord) -> Result<(), PortError> {
        Ok(())
    }
    async fn save_moneyness(&self, _: &[MoneynessRecord]) -> Result<(), PortError> {
        Ok(())
    }
    async fn moneyness(
        &self,
        _: &InstrumentKey,
        _: NaiveDate,
        _: OptionRight,
        _: MoneynessLevel,
        _: TimeRange,
        _: usize,
    ) -> Result<Vec<MoneynessRecord>, PortError> {
        Ok(Vec::new())
    }

    async fn moneyness_expiries(&self, _: &InstrumentKey, _: NaiveDate) -> Result<Vec<NaiveDate>, PortError> {
        Ok(Vec::new())
    }
}

/// Batches the feed ingests before their bars' writes are waited for: the Redis Streams
/// consumer's default (`streams.read_ahead`).
const READ_AHEAD: usize = 8;

fn live_feed(c: &mut Criterion) {
    run_feed(c, "stream_consumer_read_ahead_8", true, READ_AHEAD, true, None);
    run_feed(c, "read_ahead_8_not_pipelined", true, READ_AHEAD, false, None);
    run_feed(c, "one_request_at_a_time", true, 1, false, None);
    run_feed(c, "the_same_without_the_database", false, READ_AHEAD, true, None);
    run_feed(
        c,
        "stream_consumer_read_ahead_8_on_2_workers",
        true,
        READ_AHEAD,
        true,
        Some(2),
    );
    if std::env::var_os("INGEST_LIVE_SKIP_REDIS").is_none() {
        let mut feed = FeedRun::new("the_same_with_the_redis_ingest_log", true, READ_AHEAD, true, Some(2));
        feed.ingest_log = true;
        feed.run(c);
    }
}

/// Batches the benchmark's ingest log keeps (the service's default is 20 000).
const BENCH_LOG_BATCHES: usize = 2_000;

/// A `redis-cli` answer, trimmed (empty when it could not run).
fn redis_cli(args: &[&str]) -> String {
    std::process::Command::new("redis-cli")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// See [`Feed`] for `read_ahead`. `workers`: `None` runs everything on one runtime thread;
/// `Some(n)` on `serve`'s multi-threaded runtime with `n` workers, where the flush task runs
/// beside the feed (the feed itself is still one task: one core at a time).
fn run_feed(
    c: &mut Criterion,
    name: &str,
    with_database: bool,
    read_ahead: usize,
    pipelined: bool,
    workers: Option<usize>,
) {
    FeedRun::new(name, with_database, read_ahead, pipelined, workers).run(c);
}

/// One variant of the benchmark (see [`run_feed`]).
struct FeedRun<'a> {
    name: &'a str,
    with_database: bool,
    read_ahead: usize,
    pipelined: bool,
    workers: Option<usize>,
    /// Append every accepted batch to a Redis ingest log, as a production instance does.
    ingest_log: bool,
}

impl<'a> FeedRun<'a> {
    fn new(name: &'a str, with_database: bool, read_ahead: usize, pipelined: bool, workers: Option<usize>) -> Self {
        Self {
            name,
            with_database,
            read_ahead,
            pipelined,
            workers,
            ingest_log: false,
        }
    }

    fn run(&self, c: &mut Criterion) {
        let Self {
            name,
            with_database,
            read_ahead,
            pipelined,
            workers,
            ingest_log,
        } = *self;
        let prefix = format!("ingest-live-{}:", std::process::id());
        let rt = match workers {
            None => tokio::runtime::Builder::new_current_thread().enable_all().build(),
            Some(n) => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(n)
                .enable_all()
                .build(),
        }
        .unwrap();
        let dir = std::env::temp_dir().join(format!("ingest-live-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/signal.db?mode=rwc", dir.display());
        let chains = chains();
        let options: usize = chains.iter().map(|c| c.options.len()).sum();
        // 2026-02-02 09:15 IST, a Monday session.
        let open = Utc.with_ymd_and_hms(2026, 2, 2, 3, 45, 0).unwrap();
        let clock = Arc::new(ManualClock::new(open));
        let (ingest, mut second) = rt.block_on(async {
            let store: Arc<dyn SignalStore> = if with_database {
                let store = SeaStore::connect(&url).await.unwrap();
                Migrator::up(store.connection(), None).await.unwrap();
                Arc::new(store)
            } else {
                Arc::new(NoStore)
            };
            let hub: Arc<dyn UpdateSink> = Arc::new(SubscriptionHub::new(64));
            let fanout: Arc<dyn SignalPublisher> = Arc::new(InProcessFanout::starting_now(hub));
            let clock_port: Arc<dyn Clock> = clock.clone();
            let log = ingest_log.then(|| {
                let log = RedisIngestLog::new("redis://127.0.0.1:6379", &prefix, "bench", BENCH_LOG_BATCHES).unwrap();
                log.start();
                Arc::new(log) as Arc<dyn IngestLog>
            });
            let ingest = IngestTicks::new(
                Arc::new(registry(&chains)),
                Arc::new(RealtimeState::default()),
                store,
                clock_port,
            )
            .with_publisher(Some(fanout))
            .with_log(log);
            (Arc::new(ingest), 0i64)
        });
        // Batches are built outside the timing, a minute at a time.
        let minute = |second: &mut i64| -> Vec<Vec<Tick>> {
            (0..SECONDS_PER_MINUTE)
                .map(|_| {
                    // 375 minutes per session: wrap to the next day's open when the session ends.
                    let s = *second % (375 * 60);
                    let day = *second / (375 * 60);
                    let ts = open + Duration::days(day) + Duration::seconds(s);
                    *second += 1;
                    batch(&chains, ts, *second)
                })
                .collect()
        };
        let mut g = c.benchmark_group("ingest_live");
        g.throughput(Throughput::Elements((options as i64 * SECONDS_PER_MINUTE) as u64));
        g.sample_size(10);
        g.measurement_time(StdDuration::from_secs(20));
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut spent = StdDuration::ZERO;
                for _ in 0..iters {
                    let batches = minute(&mut second);
                    let start = Instant::now();
                    rt.block_on(async {
                        // The previous minute's snapshots are written while this minute is priced,
                        // as `serve`'s flusher task does beside the feed.
                        let flush = {
                            let ingest = ingest.clone();
                            tokio::spawn(async move { ingest.flush().await })
                        };
                        let mut feed = Feed::new(read_ahead, pipelined);
                        for b in &batches {
                            clock.set(b[0].ts + Duration::seconds(1));
                            let (r, durable) = ingest.accept(b).await.unwrap();
                            assert!(r.rejected.is_empty(), "{:?}", r.rejected.first());
                            feed.push(durable).await;
                        }
                        feed.acknowledge().await;
                        flush.await.unwrap().unwrap();
                    });
                    spent += start.elapsed();
                }
                spent
            });
        });
        g.finish();
        std::fs::remove_dir_all(&dir).ok();
        if ingest_log {
            // Let the worker finish what is queued, then say what reached Redis.
            std::thread::sleep(StdDuration::from_secs(2));
            let (log, latest) = (format!("{prefix}ingest:log"), format!("{prefix}ingest:latest"));
            eprintln!(
                "ingest log after {name}: {second} batches ingested; the stream holds {} (trimmed to about {BENCH_LOG_BATCHES}), {} bytes; the newest-row hash {} instruments, {} bytes",
                redis_cli(&["XLEN", &log]),
                redis_cli(&["MEMORY", "USAGE", &log, "SAMPLES", "0"]),
                redis_cli(&["HLEN", &latest]),
                redis_cli(&["MEMORY", "USAGE", &latest, "SAMPLES", "0"]),
            );
            redis_cli(&["DEL", &log, &latest]);
        }
    }
}

criterion_group!(benches, live_feed);
criterion_main!(benches);
