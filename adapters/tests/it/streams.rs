//! The Redis Streams consumer against the local Redis (a stream and group of its own per test)
//! and a fresh SQLite store: entries are acknowledged only once stored, bad rows are
//! dead-lettered with their reasons, and a crashed consumer's pending entries are claimed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapters::inbound::streams::{GROUPS_IN_FLIGHT, StreamConsumer, StreamConsumerConfig};
use adapters::outbound::store::SeaStore;
use domain::instrument::InstrumentKey;
use domain::ports::{MockSignalStore, PortError, SignalStore, TimeRange};
use e2e_tests::FreshDatabase;
use migration::{Migrator, MigratorTrait};
use redis::AsyncCommands;
use redis::streams::{StreamPendingReply, StreamRangeReply};
use serde_json::json;
use tokio::sync::oneshot;

use crate::support::{CALL, now, pipeline, ts};

fn config(consumer: &str) -> StreamConsumerConfig {
    let unique = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap().as_nanos()
    );
    StreamConsumerConfig {
        url: "redis://127.0.0.1:6379/0".into(),
        stream: format!("test:{unique}:ingest"),
        group: "signal-service".into(),
        consumer: consumer.into(),
        batch: 100,
        read_ahead: 8,
        block: Duration::from_millis(100),
        claim_idle: Duration::from_millis(200),
        claim_every: Duration::from_millis(100),
    }
}

async fn redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open("redis://127.0.0.1:6379/0")
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("the local Redis on 127.0.0.1:6379")
}

async fn add(conn: &mut redis::aio::MultiplexedConnection, stream: &str, field: &str, value: String) -> String {
    conn.xadd(stream, "*", &[(field, value)]).await.unwrap()
}

async fn pending(conn: &mut redis::aio::MultiplexedConnection, cfg: &StreamConsumerConfig) -> usize {
    // No group yet (the consumer has not started): nothing pending.
    let p: Result<StreamPendingReply, _> = conn.xpending(&cfg.stream, &cfg.group).await;
    p.map_or(0, |p| p.count())
}

async fn sqlite_store(db: &FreshDatabase) -> SeaStore {
    let store = SeaStore::connect(&db.url).await.unwrap();
    Migrator::up(store.connection(), None).await.unwrap();
    store
}

async fn minutes(store: &SeaStore, key: &str) -> usize {
    let range = TimeRange {
        from: now() - chrono::Duration::days(1),
        to: now() + chrono::Duration::days(1),
    };
    store
        .candles(&InstrumentKey::parse(key).unwrap(), range)
        .await
        .unwrap()
        .len()
}

/// Runs `consumer` until `done` holds (checked every 20 ms, at most 10 s), then stops it.
async fn run_until<F, Fut>(consumer: StreamConsumer, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(consumer.run(async {
        let _ = stopped.await;
    }));
    let started = Instant::now();
    // A bound against a hang, not a speed expectation: the condition is what is waited for.
    while !done().await {
        assert!(started.elapsed() < Duration::from_secs(120), "timed out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(()).unwrap();
    task.await.unwrap();
}

async fn cleanup(conn: &mut redis::aio::MultiplexedConnection, cfg: &StreamConsumerConfig) {
    let _: () = conn.del(&[&cfg.stream, &cfg.dead_letter()]).await.unwrap();
}

fn tick(minute: i64, price: f64) -> serde_json::Value {
    json!({"key": "NSE:NIFTY", "ts": ts(minute), "last": price, "volume": 10.0 * minute as f64})
}

#[tokio::test]
async fn entries_are_stored_then_acknowledged_and_bad_rows_are_dead_lettered() {
    let db = FreshDatabase::sqlite();
    let store = sqlite_store(&db).await;
    let cfg = config("live-1");
    let mut conn = redis().await;
    add(
        &mut conn,
        &cfg.stream,
        "ticks",
        json!([tick(0, 25_900.0), tick(1, 25_901.0)]).to_string(),
    )
    .await;
    let bad = add(
        &mut conn,
        &cfg.stream,
        "ticks",
        json!([tick(2, 25_902.0), {"key": CALL, "ts": ts(2), "bid": 120.0, "ask": 110.0}]).to_string(),
    )
    .await;
    let garbage = add(&mut conn, &cfg.stream, "ticks", "{not json".into()).await;
    add(
        &mut conn,
        &cfg.stream,
        "candles",
        json!({"key": "NSE:NIFTY", "start": ts(10), "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 3.0})
            .to_string(),
    )
    .await;
    add(&mut conn, &cfg.stream, "quotes", "[]".into()).await;

    let consumer = StreamConsumer::new(cfg.clone(), pipeline(Arc::new(store.clone())).ingest).unwrap();
    let (probe, probe_cfg) = (store.clone(), cfg.clone());
    // Done when the bars are stored, every entry acknowledged and the three dead letters
    // written: acknowledging follows storing, so waiting on the bars alone raced it.
    run_until(consumer, || {
        let (probe, cfg) = (probe.clone(), probe_cfg.clone());
        async move {
            let mut c = redis().await;
            let dead: StreamRangeReply = c.xrange_all(cfg.dead_letter()).await.unwrap();
            minutes(&probe, "NSE:NIFTY").await == 4 && pending(&mut c, &cfg).await == 0 && dead.ids.len() == 3
        }
    })
    .await;
    assert_eq!(pending(&mut conn, &cfg).await, 0, "every entry acknowledged");
    let dead: StreamRangeReply = conn.xrange_all(cfg.dead_letter()).await.unwrap();
    let dead: Vec<(String, String, String)> = dead
        .ids
        .iter()
        .map(|e| {
            (
                e.get::<String>("entry").unwrap(),
                e.get::<String>("field").unwrap(),
                e.get::<String>("reason").unwrap(),
            )
        })
        .collect();
    assert_eq!(dead.len(), 3, "{dead:?}");
    assert_eq!(
        (dead[0].0.as_str(), dead[0].1.as_str()),
        (garbage.as_str(), "ticks"),
        "{dead:?}"
    );
    assert!(
        dead.iter()
            .any(|d| d.0 == bad && d.1 == "bid" && d.2.contains("above ask")),
        "{dead:?}"
    );
    assert!(
        dead.iter()
            .any(|d| d.1 == "entry" && d.2.contains("no `ticks` or `candles`")),
        "{dead:?}"
    );
    assert_eq!(minutes(&store, CALL).await, 0);
    cleanup(&mut conn, &cfg).await;
}

#[tokio::test]
async fn a_backlog_is_ingested_in_groups_of_full_reads_and_every_entry_acknowledged() {
    let db = FreshDatabase::sqlite();
    let store = sqlite_store(&db).await;
    // 3 entries a read, 4 full reads a group: 25 entries take two groups and a short read.
    let cfg = StreamConsumerConfig {
        batch: 3,
        read_ahead: 4,
        ..config("backlog-1")
    };
    let mut conn = redis().await;
    let mut bad = String::new();
    for minute in 0..25 {
        let id = if minute == 13 {
            add(
                &mut conn,
                &cfg.stream,
                "ticks",
                json!({"key": CALL, "ts": ts(minute), "bid": 120.0, "ask": 110.0}).to_string(),
            )
            .await
        } else {
            add(
                &mut conn,
                &cfg.stream,
                "ticks",
                tick(minute, 25_900.0 + minute as f64).to_string(),
            )
            .await
        };
        if minute == 13 {
            bad = id;
        }
    }
    let consumer = StreamConsumer::new(cfg.clone(), pipeline(Arc::new(store.clone())).ingest).unwrap();
    let probe = store.clone();
    let (mut probe_conn, probe_cfg) = (redis().await, cfg.clone());
    run_until(consumer, || {
        let probe = probe.clone();
        let mut conn = probe_conn.clone();
        let cfg = probe_cfg.clone();
        async move { minutes(&probe, "NSE:NIFTY").await == 24 && pending(&mut conn, &cfg).await == 0 }
    })
    .await;
    let dead: StreamRangeReply = probe_conn.xrange_all(cfg.dead_letter()).await.unwrap();
    assert_eq!(dead.ids.len(), 1, "the one bad row, from the middle of a group");
    assert_eq!(dead.ids[0].get::<String>("entry").unwrap(), bad);
    let range = TimeRange {
        from: now() - chrono::Duration::days(1),
        to: now() + chrono::Duration::days(1),
    };
    let bars = store
        .candles(&InstrumentKey::parse("NSE:NIFTY").unwrap(), range)
        .await
        .unwrap();
    assert_eq!(
        bars.last().map(|b| b.bar.close),
        Some(25_924.0),
        "the last entry's bar stored"
    );
    cleanup(&mut conn, &cfg).await;
}

/// While a group's write is in flight the consumer reads and ingests the next groups, up to
/// `GROUPS_IN_FLIGHT` closed groups and the one it waits with, and reads no further.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_group_is_ingested_while_the_previous_one_is_written() {
    // The first write blocks its (test double's) thread until released; later writes succeed.
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = std::sync::Mutex::new(Some(gate));
    let mut store = MockSignalStore::new();
    store.expect_candles_of().returning(|_, _| Ok(Vec::new()));
    store.expect_save_candles().returning(move |_| {
        if let Some(gate) = gate.lock().unwrap().take() {
            gate.recv_timeout(Duration::from_secs(10)).ok();
        }
        Ok(())
    });
    let store: Arc<dyn SignalStore> = Arc::new(store);
    // 3 entries a read, 2 full reads a group: groups of 6, two more than can be read ahead.
    let held = (GROUPS_IN_FLIGHT + 1) * 6;
    let total = held + 12;
    let cfg = StreamConsumerConfig {
        batch: 3,
        read_ahead: 2,
        claim_every: Duration::from_secs(3600),
        ..config("pipelined-1")
    };
    let mut conn = redis().await;
    for n in 0..total as i64 {
        add(&mut conn, &cfg.stream, "ticks", tick(n % 30, 25_900.0).to_string()).await;
    }
    let consumer = StreamConsumer::new(cfg.clone(), pipeline(store).ingest).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(consumer.run(async {
        let _ = stopped.await;
    }));
    let started = Instant::now();
    while pending(&mut conn, &cfg).await < held {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the later groups were not read"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        pending(&mut conn, &cfg).await,
        held,
        "the first group's write is held: the groups after it are read up to the bound, no more"
    );
    release.send(()).unwrap();
    let started = Instant::now();
    while pending(&mut conn, &cfg).await > 0 || conn.xlen::<_, usize>(&cfg.stream).await.unwrap() != total {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not everything was acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(()).unwrap();
    task.await.unwrap();
    cleanup(&mut conn, &cfg).await;
}

#[tokio::test]
async fn nothing_is_acknowledged_while_the_store_fails() {
    let mut failing = MockSignalStore::new();
    failing.expect_candles_of().returning(|_, _| Ok(Vec::new()));
    failing
        .expect_save_candles()
        .returning(|_| Err(PortError::Unavailable("database down".into())));
    let store: Arc<dyn SignalStore> = Arc::new(failing);
    let cfg = config("live-2");
    let mut conn = redis().await;
    for m in 0..3 {
        add(&mut conn, &cfg.stream, "ticks", tick(m, 25_900.0).to_string()).await;
    }
    let metrics = Arc::new(adapters::metrics::Metrics::default());
    let consumer = StreamConsumer::new(cfg.clone(), pipeline(store).ingest)
        .unwrap()
        .with_metrics(metrics.clone());
    let started = Instant::now();
    let probe_cfg = cfg.clone();
    run_until(consumer, || {
        let cfg = probe_cfg.clone();
        async move {
            let mut c = redis().await;
            pending(&mut c, &cfg).await == 3 && started.elapsed() > Duration::from_millis(600)
        }
    })
    .await;
    assert_eq!(
        pending(&mut conn, &cfg).await,
        3,
        "read, not stored, so not acknowledged"
    );
    let dead: usize = conn.xlen(cfg.dead_letter()).await.unwrap();
    assert_eq!(dead, 0);
    // The group's state, as /metrics shows it: three pending, none left to deliver.
    assert_eq!((metrics.stream_pending.get(), metrics.stream_lag.get()), (3, 0));
    cleanup(&mut conn, &cfg).await;
}

#[tokio::test]
async fn a_crashed_consumers_pending_entries_are_claimed_and_ingested() {
    let db = FreshDatabase::sqlite();
    let store = sqlite_store(&db).await;
    let cfg = config("live-3");
    let mut conn = redis().await;
    let _: () = conn.xgroup_create_mkstream(&cfg.stream, &cfg.group, "0").await.unwrap();
    for m in 0..5 {
        add(
            &mut conn,
            &cfg.stream,
            "ticks",
            tick(m, 25_900.0 + m as f64).to_string(),
        )
        .await;
    }
    // A consumer reads everything and dies before acknowledging.
    let opts = redis::streams::StreamReadOptions::default()
        .group(&cfg.group, "crashed")
        .count(100);
    let _: redis::streams::StreamReadReply = conn.xread_options(&[&cfg.stream], &[">"], &opts).await.unwrap();
    assert_eq!(pending(&mut conn, &cfg).await, 5);

    let consumer = StreamConsumer::new(cfg.clone(), pipeline(Arc::new(store.clone())).ingest).unwrap();
    let (probe, probe_cfg) = (store.clone(), cfg.clone());
    run_until(consumer, || {
        let (probe, cfg) = (probe.clone(), probe_cfg.clone());
        async move {
            let mut c = redis().await;
            minutes(&probe, "NSE:NIFTY").await == 5 && pending(&mut c, &cfg).await == 0
        }
    })
    .await;
    cleanup(&mut conn, &cfg).await;
}
