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
    let (applied, from) = log_b.catch_up(&b.ingest).await.unwrap();
    assert_eq!(applied, 1);
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
    let (applied, _) = RedisIngestLog::new(REDIS, &prefix, "b", 1_000)
        .unwrap()
        .catch_up(&c.ingest)
        .await
        .unwrap();
    assert_eq!(applied, 2, "a's two batches; b's own one skipped");

    let _ = stop.send(());
    follower.await.unwrap();
    let client = redis::Client::open(REDIS).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::AsyncCommands::del(&mut conn, format!("{prefix}ingest:log"))
        .await
        .unwrap();
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
