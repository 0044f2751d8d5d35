//! The Redis ingest log, on the machine's Redis under a key prefix of this test's own: an
//! instance started after another's ingest catches up on it from the log, then follows its new
//! batches live, and its realtime state answers as the ingesting instance's does.

use std::sync::Arc;
use std::time::Duration;

use adapters::outbound::fanout::RedisIngestLog;
use adapters::outbound::store::SeaStore;
use application::ingest::IngestTicks;
use domain::instrument::InstrumentKey;
use domain::market_data::Tick;
use domain::ports::IngestLog;
use e2e_tests::FreshDatabase;
use migration::{Migrator, MigratorTrait};

use crate::support::{CALL, now, pipeline};

const REDIS: &str = "redis://127.0.0.1:6379";

/// The index and the call at `minutes` after the fixed clock's time minus 30 minutes.
fn batch(minutes: i64, call_price: f64) -> Vec<Tick> {
    let ts = now() - chrono::Duration::minutes(30) + chrono::Duration::minutes(minutes);
    let tick = |key: &str, last: f64| Tick {
        key: InstrumentKey::parse(key).unwrap(),
        ts,
        last: Some(last),
        bid: Some(last - 0.5),
        ask: Some(last + 0.5),
        volume: Some(10.0),
        oi: Some(100.0),
    };
    vec![tick("NSE:NIFTY", 26_010.0), tick(CALL, call_price)]
}

/// Drops this test's keys.
async fn forget(prefix: &str) {
    let client = redis::Client::open(REDIS).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::AsyncCommands::del(
        &mut conn,
        &[format!("{prefix}ingest:log"), format!("{prefix}ingest:latest")],
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_later_instance_catches_up_from_the_log_then_follows_live() {
    let prefix = format!("signal-test:{}:ingest-log:", std::process::id());
    let db = FreshDatabase::sqlite();
    let store = SeaStore::connect(&db.url).await.unwrap();
    Migrator::up(store.connection(), None).await.unwrap();
    let call = InstrumentKey::parse(CALL).unwrap();

    // Instance a ingests and logs its accepted rows.
    let a = pipeline(Arc::new(store.clone()));
    let log_a = Arc::new(RedisIngestLog::new(REDIS, &prefix, "a", 1_000).unwrap());
    let ingest_a = IngestTicks::new(a.registry.clone(), a.state.clone(), a.store.clone(), a.clock.clone())
        .with_log(Some(log_a.clone() as Arc<dyn IngestLog>));
    ingest_a.execute(&batch(1, 300.0)).await.unwrap();

    // Instance b starts later, with an empty state: it catches up from the log.
    let b = pipeline(Arc::new(store.clone()));
    assert!(b.state.greeks(&call).is_none());
    let log_b = RedisIngestLog::new(REDIS, &prefix, "b", 1_000).unwrap();
    let done = log_b.catch_up(&b.ingest).await.unwrap();
    assert_eq!((done.older_rows, done.batches), (0, 1), "{done:?}");
    let from = done.from;
    let (ga, gb) = (a.state.greeks(&call).unwrap(), b.state.greeks(&call).unwrap());
    assert_eq!((gb.iv, gb.option_price), (ga.iv, ga.option_price));

    // Then it follows a's new batches as they come.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let follower = tokio::spawn(log_b.clone().follow(b.ingest.clone(), from, async {
        let _ = stopped.await;
    }));
    ingest_a.execute(&batch(2, 320.0)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while b.state.greeks(&call).and_then(|g| g.option_price) != Some(320.0) {
        assert!(tokio::time::Instant::now() < deadline, "b did not follow a within 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(b.state.greeks(&call).unwrap().iv, a.state.greeks(&call).unwrap().iv);

    // b's own appends are skipped when b catches up (a's are the only ones applied).
    log_b.append(&batch(3, 330.0)).await.unwrap();
    let c = pipeline(Arc::new(store.clone()));
    let done = RedisIngestLog::new(REDIS, &prefix, "b", 1_000)
        .unwrap()
        .catch_up(&c.ingest)
        .await
        .unwrap();
    assert_eq!(done.batches, 2, "a's two batches; b's own one skipped");

    let _ = stop.send(());
    follower.await.unwrap();
    forget(&prefix).await;
}

/// The window is bounded, the instruments are not: an option quoted once, before the window
/// now retained, still reaches a later instance (from the newest-row hash), priced as on the
/// instance that took it in, and before the window's newer rows.
#[tokio::test]
async fn an_instrument_quoted_only_before_the_window_still_reaches_a_later_instance() {
    let prefix = format!("signal-test:{}:ingest-log-latest:", std::process::id());
    let db = FreshDatabase::sqlite();
    let store = SeaStore::connect(&db.url).await.unwrap();
    Migrator::up(store.connection(), None).await.unwrap();
    let call = InstrumentKey::parse(CALL).unwrap();
    let index = InstrumentKey::parse("NSE:NIFTY").unwrap();

    let a = pipeline(Arc::new(store.clone()));
    let log_a = Arc::new(RedisIngestLog::new(REDIS, &prefix, "a", 10).unwrap());
    let ingest_a = IngestTicks::new(a.registry.clone(), a.state.clone(), a.store.clone(), a.clock.clone())
        .with_log(Some(log_a.clone() as Arc<dyn IngestLog>));
    // The call is quoted once; then 400 batches of the index alone push it out of the window
    // (about 10 batches kept; Redis trims whole stream nodes of 100).
    ingest_a.execute(&batch(1, 300.0)).await.unwrap();
    for i in 0..400_i32 {
        let index_only: Vec<Tick> = batch(2 + i64::from(i / 100), 300.0)
            .into_iter()
            .take(1)
            .map(|mut t| {
                t.last = Some(26_000.0 + f64::from(i % 7));
                t
            })
            .collect();
        ingest_a.execute(&index_only).await.unwrap();
    }
    // Its minute snapshot is stored (the flusher's work in the service).
    ingest_a.flush().await.unwrap();
    let client = redis::Client::open(REDIS).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let retained: usize = redis::AsyncCommands::xlen(&mut conn, format!("{prefix}ingest:log"))
        .await
        .unwrap();
    assert!(retained < 400, "the call's batch left the window: {retained} kept");

    let b = pipeline(Arc::new(store.clone()));
    let done = RedisIngestLog::new(REDIS, &prefix, "b", 10)
        .unwrap()
        .catch_up(&b.ingest)
        .await
        .unwrap();
    assert_eq!(done.batches, retained);
    assert_eq!(
        (done.older_rows, done.greeks_from_store),
        (1, 1),
        "the call's row; the index's newest row is in the window"
    );
    // Exactly what a computed: priced here alone, the row would have no forward.
    assert_eq!(b.state.greeks(&call), a.state.greeks(&call));
    assert!(b.state.greeks(&call).unwrap().iv.is_some());
    assert_eq!(
        b.state.spot(&index),
        a.state.spot(&index),
        "the window's newer rows applied after"
    );
    forget(&prefix).await;
}

/// The window bounds the stream by time whatever the feed rate: entries appended longer ago
/// than the window before the newest go (whole stream nodes of 100 at a time, `MINID ~`).
#[tokio::test]
async fn the_log_keeps_about_its_window_of_time() {
    let prefix = format!("signal-test:{}:ingest-log-window:", std::process::id());
    let log = RedisIngestLog::new(REDIS, &prefix, "a", 100_000)
        .unwrap()
        .with_window(Duration::from_millis(300));
    for i in 0..250 {
        log.append(&batch(i, 300.0)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    log.append(&batch(251, 300.0)).await.unwrap();
    let client = redis::Client::open(REDIS).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let kept: usize = redis::AsyncCommands::xlen(&mut conn, format!("{prefix}ingest:log"))
        .await
        .unwrap();
    assert!(kept <= 51, "the 250 older entries' full nodes trimmed: {kept} kept");
    forget(&prefix).await;
}

/// Once started, appending never waits on Redis: with nothing listening, 100 appends return at
/// once (the worker drops them from the log and says so once).
#[tokio::test]
async fn a_started_log_never_holds_ingest_when_redis_is_away() {
    let log = RedisIngestLog::new("redis://127.0.0.1:1", "signal-test:away:", "a", 10).unwrap();
    log.start();
    let started = std::time::Instant::now();
    for i in 0..100 {
        log.append(&batch(i, 300.0)).await.unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
}
