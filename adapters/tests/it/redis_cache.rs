//! The Redis (L2) and moka (L1) mapping caches against a real Redis: the machine's local server
//! with a key prefix per test, and a private `redis-server` this test starts and stops.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use adapters::outbound::cache::{MemoryMappingCache, RedisCacheConfig, RedisMappingCache};
use adapters::outbound::instruments::builtin::{builtin_products, generate};
use application::moneyness::{MappingConfig, MappingOrigin, MappingService};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::instrument::InstrumentKey;
use domain::moneyness::MoneynessMapping;
use domain::ports::{Clock, ManualClock, MappingSource, PortError, SignalCache};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-02-02T04:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn nifty() -> InstrumentKey {
    InstrumentKey::parse("NSE:NIFTY").unwrap()
}

fn expiry() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 2, 3).unwrap()
}

fn mapping(as_of: DateTime<Utc>) -> MoneynessMapping {
    let strikes: Vec<f64> = (0..9).map(|i| 25_800.0 + 50.0 * f64::from(i)).collect();
    MoneynessMapping::compute(nifty(), expiry(), &strikes, 26_010.0, Some(50.0), as_of).unwrap()
}

fn prefix(test: &str) -> String {
    format!("signal-test:{}:{test}:", std::process::id())
}

fn local_redis(test: &str) -> RedisMappingCache {
    RedisMappingCache::new(RedisCacheConfig {
        key_prefix: prefix(test),
        ..RedisCacheConfig::default()
    })
    .unwrap()
}

/// A mapping source that counts calls, answers `mapping(clock.now())`, and can be made to fail.
struct FakeService {
    clock: Arc<ManualClock>,
    calls: AtomicU32,
    down: AtomicBool,
}

#[async_trait]
impl MappingSource for FakeService {
    async fn mapping(&self, _: &InstrumentKey, _: NaiveDate) -> Result<MoneynessMapping, PortError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(PortError::Unavailable("instrument service down".into()));
        }
        Ok(mapping(self.clock.now()))
    }
}

fn service(l2: RedisMappingCache, clock: Arc<ManualClock>) -> (Arc<MappingService>, Arc<FakeService>) {
    let remote = Arc::new(FakeService {
        clock: clock.clone(),
        calls: AtomicU32::new(0),
        down: AtomicBool::new(false),
    });
    let s = MappingService::new(
        Arc::new(MemoryMappingCache::new(1_000)),
        Some(Arc::new(l2)),
        Some(remote.clone()),
        Arc::new(generate(
            &builtin_products(),
            NaiveDate::from_ymd_opt(2026, 2, 2).unwrap(),
        )),
        clock,
        MappingConfig {
            ttl: Duration::from_secs(60),
            refresh_ahead: 0.8,
            stale_horizon: Duration::from_secs(3600),
        },
    );
    (Arc::new(s), remote)
}

#[tokio::test]
async fn redis_stores_a_mapping_and_forgets_it_after_its_ttl() {
    let c = local_redis("ttl");
    assert_eq!(c.mapping(&nifty(), expiry()).await.unwrap(), None);
    c.put_mapping(&mapping(t0()), Duration::from_millis(300)).await.unwrap();
    assert_eq!(c.mapping(&nifty(), expiry()).await.unwrap(), Some(mapping(t0())));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(c.mapping(&nifty(), expiry()).await.unwrap(), None, "expired in Redis");
}

#[tokio::test]
async fn a_second_instance_finds_the_first_ones_mapping_in_redis() {
    let clock = Arc::new(ManualClock::new(t0()));
    let (a, remote_a) = service(local_redis("shared"), clock.clone());
    let (b, remote_b) = service(local_redis("shared"), clock.clone());
    assert_eq!(
        a.get(&nifty(), expiry(), None).await.unwrap().origin,
        MappingOrigin::Remote
    );
    assert_eq!(b.get(&nifty(), expiry(), None).await.unwrap().origin, MappingOrigin::L2);
    assert_eq!(b.get(&nifty(), expiry(), None).await.unwrap().origin, MappingOrigin::L1);
    assert_eq!(
        (
            remote_a.calls.load(Ordering::SeqCst),
            remote_b.calls.load(Ordering::SeqCst)
        ),
        (1, 0)
    );
    let st = b.stats().snapshot();
    assert_eq!((st.l1_hits, st.l1_misses, st.l2_hits), (1, 1, 1));
}

#[tokio::test]
async fn mappings_are_refreshed_before_they_expire_and_served_stale_while_the_service_fails() {
    let clock = Arc::new(ManualClock::new(t0()));
    let l2 = local_redis("refresh");
    let (s, remote) = service(l2.clone(), clock.clone());
    s.get(&nifty(), expiry(), None).await.unwrap();

    clock.advance(chrono::Duration::seconds(50)); // past 80 % of the 60 s TTL
    let a = s.get(&nifty(), expiry(), None).await.unwrap();
    assert_eq!((a.origin, a.age.num_seconds()), (MappingOrigin::L1, 50));
    let deadline = Instant::now() + Duration::from_secs(2);
    while s.stats().snapshot().refreshes == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(remote.calls.load(Ordering::SeqCst), 2, "one background refresh");
    assert_eq!(
        l2.mapping(&nifty(), expiry()).await.unwrap().unwrap().as_of,
        clock.now(),
        "Redis holds the refreshed mapping"
    );

    remote.down.store(true, Ordering::SeqCst);
    clock.advance(chrono::Duration::seconds(300));
    let stale = s.get(&nifty(), expiry(), None).await.unwrap();
    assert!(stale.stale, "served stale while the service fails");
    assert_eq!(stale.age.num_seconds(), 300);
    assert_eq!(s.stats().snapshot().stale_served, 1);
}

/// A private Redis on a free port, killed on drop.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    fn start(port: u16) -> Option<Self> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI is set but redis-server cannot start: {e}"
                );
                eprintln!("SKIPPED: redis-server is not installed ({e})");
                return None;
            }
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Self {
            port,
            child: Some(child),
        })
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn with_redis_stopped_l1_still_serves_and_the_pool_reconnects_when_it_is_back() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let Some(mut redis) = PrivateRedis::start(port) else {
        return;
    };
    let l2 = RedisMappingCache::new(RedisCacheConfig {
        url: format!("redis://127.0.0.1:{}/0", redis.port),
        key_prefix: prefix("outage"),
        ..RedisCacheConfig::default()
    })
    .unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let (s, _) = service(l2.clone(), clock.clone());
    s.get(&nifty(), expiry(), None).await.unwrap();
    l2.ping().await.unwrap();

    redis.stop();
    let t = Instant::now();
    assert!(matches!(l2.ping().await, Err(PortError::Unavailable(_))));
    assert!(matches!(
        l2.mapping(&nifty(), expiry()).await,
        Err(PortError::Unavailable(_))
    ));
    assert!(t.elapsed() < Duration::from_secs(2), "fails fast: {:?}", t.elapsed());
    let a = s.get(&nifty(), expiry(), None).await.unwrap();
    assert_eq!(a.origin, MappingOrigin::L1, "L1 serves while Redis is down");

    let Some(_back) = PrivateRedis::start(port) else { return };
    let deadline = Instant::now() + Duration::from_secs(5);
    while l2.ping().await.is_err() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    l2.put_mapping(&mapping(t0()), Duration::from_secs(5))
        .await
        .expect("reconnected");
    assert_eq!(l2.mapping(&nifty(), expiry()).await.unwrap(), Some(mapping(t0())));
}
