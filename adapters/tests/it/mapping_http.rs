//! The moneyness mapping in use, end to end: instruments and mappings from the recorded
//! instrument service (a real HTTP server on port 0), the two-tier cache (moka in process, the
//! machine's Redis under a key prefix of this test), the chain ingested and evaluated, and the
//! answers of `GET /api/v2/realtime/moneyness/{underlying}/strikes/{level}` and `/greeks/{level}`
//! with the mapping they used — fresh from the service, from memory, from Redis, stale while the
//! service is down, and the local strike ladder when nothing has one.

use std::sync::Arc;
use std::time::Duration;

use adapters::outbound::cache::{MemoryMappingCache, RedisCacheConfig, RedisMappingCache};
use adapters::outbound::instruments::http::{HttpInstrumentSource, ResilienceConfig};
use adapters::outbound::store::SeaStore;
use application::ingest::IngestTicks;
use application::market::{InstrumentRegistry, Markets, RealtimeState, RegistryListing};
use application::moneyness::{MappingConfig, MappingService};
use chrono::{DateTime, Utc};
use domain::instrument::InstrumentKey;
use domain::market_data::Tick;
use domain::ports::{Clock, ManualClock, MappingSource, SignalCache};
use e2e_tests::FreshDatabase;
use migration::{Migrator, MigratorTrait};
use serde_json::Value;

use e2e_tests::fake_http::{Answer, FakeServer, recorded};

const STRIKES: &str = "/api/v2/realtime/moneyness/NSE:NIFTY/strikes/ITM1?expiry=2026-02-03";
const MAPPING: &str = "/v1/underlyings/NSE:NIFTY/moneyness-mapping";

/// The recorded mapping's `as_of`, 09:30 IST.
fn as_of() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-02-02T04:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn cfg() -> MappingConfig {
    MappingConfig {
        ttl: Duration::from_secs(60),
        refresh_ahead: 0.8,
        stale_horizon: Duration::from_secs(3600),
    }
}

async fn instrument_service() -> FakeServer {
    let s = FakeServer::start().await;
    s.route("/v1/underlyings", recorded("underlyings.json"));
    s.route("/v1/underlyings/NSE:NIFTY/expiries", recorded("expiries.json"));
    s.route(
        "/v1/underlyings/NSE:BANKNIFTY/expiries",
        Answer::json(r#"{"underlying":"NSE:BANKNIFTY","expiries":[]}"#),
    );
    s.route("/v1/underlyings/NSE:NIFTY/chain", recorded("chain.json"));
    s.route(MAPPING, recorded("mapping.json"));
    s
}

struct Instance {
    client: crate::support::App,
    ingest: Arc<IngestTicks>,
    mappings: Arc<MappingService>,
}

/// One service instance: its own moka cache, Redis under `prefix`, the instrument service at
/// `service`, the clock `clock`.
async fn instance(service: &FakeServer, prefix: &str, clock: &Arc<ManualClock>, db: &FreshDatabase) -> Instance {
    let http = Arc::new(HttpInstrumentSource::new(
        service.base.parse().unwrap(),
        Duration::from_millis(500),
        ResilienceConfig {
            max_retries: 0,
            backoff_base: Duration::from_millis(5),
            backoff_max: Duration::from_millis(5),
            breaker_failures: 100,
            breaker_cooldown: Duration::from_millis(10),
        },
    ));
    let registry = Arc::new(
        InstrumentRegistry::load(http.as_ref(), Markets::default())
            .await
            .unwrap(),
    );
    let redis = Arc::new(
        RedisMappingCache::new(RedisCacheConfig {
            key_prefix: prefix.to_owned(),
            ..RedisCacheConfig::default()
        })
        .unwrap(),
    );
    let clock_port: Arc<dyn Clock> = clock.clone();
    let mappings = Arc::new(MappingService::new(
        Arc::new(MemoryMappingCache::new(100)),
        Some(redis as Arc<dyn SignalCache>),
        Some(http as Arc<dyn MappingSource>),
        Arc::new(RegistryListing(registry.clone())),
        clock_port.clone(),
        cfg(),
    ));
    let store = SeaStore::connect(&db.url).await.unwrap();
    Migrator::up(store.connection(), None).await.unwrap();
    let state = Arc::new(RealtimeState::default());
    let ingest = Arc::new(
        IngestTicks::new(
            registry.clone(),
            state.clone(),
            Arc::new(store.clone()),
            clock_port.clone(),
        )
        .with_mappings(Some(mappings.clone())),
    );
    let app = adapters::inbound::http::AppState::new(adapters::inbound::http::UseCaseParts {
        ingest: ingest.clone(),
        state,
        registry,
        store: Arc::new(store.clone()),
        aggregate_cache: None,
        database: Arc::new(store),
        redis: None,
        mappings: mappings.clone(),
        clock: clock_port,
    });
    Instance {
        client: crate::support::app(app),
        ingest,
        mappings,
    }
}

/// NIFTY at 26 010 and the four listed options of 2026-02-03, at 09:30 IST; then a flush
/// evaluates the chain.
async fn ingest_chain(i: &Instance) {
    let ts = as_of();
    let tick = |key: &str, px: f64| Tick {
        key: InstrumentKey::parse(key).unwrap(),
        ts,
        last: Some(px),
        bid: Some(px - 0.5),
        ask: Some(px + 0.5),
        volume: Some(10.0),
        oi: Some(1_000.0),
    };
    let ticks = vec![
        tick("NSE:NIFTY", 26_010.0),
        tick("NSE:NIFTY-20260203-26000-CE", 60.0),
        tick("NSE:NIFTY-20260203-26000-PE", 50.0),
        tick("NSE:NIFTY-20260203-26050-CE", 35.0),
        tick("NSE:NIFTY-20260203-26050-PE", 75.0),
    ];
    let report = i.ingest.execute(&ticks).await.unwrap();
    assert_eq!(report.accepted, ticks.len(), "{report:?}");
    i.ingest.flush().await.unwrap();
}

async fn strikes(i: &Instance) -> (u16, Value) {
    crate::support::get(&i.client, STRIKES).await
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn prefix(test: &str) -> String {
    format!("signal-test:{}:{test}:", std::process::id())
}

#[tokio::test]
async fn strikes_by_level_come_from_the_service_then_memory_then_redis() {
    let service = instrument_service().await;
    let clock = Arc::new(ManualClock::new(as_of() + chrono::Duration::seconds(10)));
    let (db1, db2) = (FreshDatabase::sqlite(), FreshDatabase::sqlite());
    let prefix = prefix("mapping-tiers");
    let a = instance(&service, &prefix, &clock, &db1).await;
    ingest_chain(&a).await;

    let chain = "/api/v2/realtime/chain/NSE:NIFTY?expiry=2026-02-03";
    let (_, before) = crate::support::get(&a.client, chain).await;
    assert_eq!(
        before["meta"]["mapping_source"], "local_ladder",
        "no mapping met yet: {before}"
    );

    let (status, body) = strikes(&a).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["call_strikes"], serde_json::json!([25_950.0]));
    assert_eq!(
        body["put_strikes"],
        serde_json::json!([26_050.0]),
        "a put's ITM1 is the call's OTM1"
    );
    let m = &body["mapping"];
    assert_eq!(
        (m["source"].as_str(), m["via"].as_str()),
        (Some("instrument_service"), Some("instrument_service"))
    );
    assert_eq!(time(&m["as_of"]), as_of());
    assert_eq!(m["stale"], false);
    assert_eq!(service.hits(MAPPING), 1);

    let (_, body) = strikes(&a).await;
    assert_eq!(body["mapping"]["via"], "memory");
    assert_eq!(service.hits(MAPPING), 1, "served from the in-process cache");

    // The next snapshot of the chain groups by the service's mapping, and says so.
    ingest_chain(&a).await;
    let (_, after) = crate::support::get(&a.client, chain).await;
    assert_eq!(after["meta"]["mapping_source"], "instrument_service", "{after}");
    assert_eq!(time(&after["meta"]["mapping_as_of"]), as_of());
    let levels: Vec<(&str, &str)> = after["strikes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|k| [&k["call"], &k["put"]])
        .map(|o| {
            (
                o["instrument_key"].as_str().unwrap(),
                o["level"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert!(levels.contains(&("NSE:NIFTY-20260203-26050-PE", "ITM1")), "{levels:?}");
    let (_, stats) = crate::support::get(&a.client, "/api/v2/realtime/chain/NSE:NIFTY/stats?expiry=2026-02-03").await;
    assert_eq!(stats["meta"]["mapping_source"], "instrument_service");
    assert!(
        stats["levels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["level"] == "OTM" && l["right"] == "call"),
        "the service's groups: {stats}"
    );

    // A second instance sharing Redis finds it there without asking the service.
    let b = instance(&service, &prefix, &clock, &db2).await;
    ingest_chain(&b).await;
    let (_, body) = strikes(&b).await;
    assert_eq!(body["mapping"]["via"], "redis", "{body}");
    assert_eq!(body["mapping"]["source"], "instrument_service");
    assert_eq!(service.hits(MAPPING), 1);

    // The level's Greeks are grouped by the same mapping and say so.
    let (status, body) = crate::support::get(
        &a.client,
        "/api/v2/realtime/moneyness/NSE:NIFTY/greeks/OTM?expiry=2026-02-03",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mapping"]["source"], "instrument_service");
    let rights: Vec<(&str, f64)> = body["rights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["aggregate"]["right"].as_str().unwrap(),
                r["strikes"][0].as_f64().unwrap(),
            )
        })
        .collect();
    // The service's OTM group: calls above 26 000, puts below it (none listed).
    assert_eq!(rights, [("call", 26_050.0)], "{body}");
}

#[tokio::test]
async fn the_service_down_serves_the_stale_mapping_then_the_local_ladder_when_there_is_none() {
    let service = instrument_service().await;
    let clock = Arc::new(ManualClock::new(as_of() + chrono::Duration::seconds(10)));
    let (db1, db2) = (FreshDatabase::sqlite(), FreshDatabase::sqlite());
    let a = instance(&service, &prefix("mapping-down"), &clock, &db1).await;
    ingest_chain(&a).await;
    assert_eq!(strikes(&a).await.1["mapping"]["via"], "instrument_service");
    // Minute snapshots use the service's mapping once a lookup has met it.
    let expiry = chrono::NaiveDate::from_ymd_opt(2026, 2, 3).unwrap();
    let nifty = InstrumentKey::parse("NSE:NIFTY").unwrap();
    assert_eq!(a.mappings.current(&nifty, expiry).unwrap().as_of, as_of());

    // The service goes down; two minutes on, the mapping is past its TTL.
    service.route(MAPPING, Answer::status(503));
    clock.advance(chrono::Duration::seconds(120));
    let (status, body) = strikes(&a).await;
    assert_eq!(status, 200, "{body}");
    let m = &body["mapping"];
    assert_eq!(
        (m["source"].as_str(), m["via"].as_str()),
        (Some("instrument_service"), Some("memory"))
    );
    assert_eq!(m["stale"], true, "served stale while the service is down: {body}");
    assert_eq!(time(&m["as_of"]), as_of());
    assert_eq!(body["call_strikes"], serde_json::json!([25_950.0]));

    // An instance with nothing cached (its own Redis prefix): the local strike ladder of the
    // listed strikes around the forward's ATM strike.
    let b = instance(&service, &prefix("mapping-none"), &clock, &db2).await;
    ingest_chain(&b).await;
    let (status, body) = crate::support::get(
        &b.client,
        "/api/v2/realtime/moneyness/NSE:NIFTY/strikes/ATM?expiry=2026-02-03",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let m = &body["mapping"];
    assert_eq!(
        (m["source"].as_str(), m["via"].as_str()),
        (Some("local_ladder"), Some("computed"))
    );
    assert_eq!(m["stale"], false);
    assert_eq!(time(&m["as_of"]), clock.now(), "computed now");
    assert_eq!(body["call_strikes"], serde_json::json!([26_000.0]), "{body}");
    // Only 26 000 and 26 050 are listed: a call's ITM1 (25 950) is not, a put's (26 050) is.
    let (status, body) = strikes(&b).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["call_strikes"], serde_json::json!([]));
    assert_eq!(body["put_strikes"], serde_json::json!([26_050.0]));
    // ITM2 has no listed strike on either side: named, not invented.
    let (status, body) = crate::support::get(
        &b.client,
        "/api/v2/realtime/moneyness/NSE:NIFTY/strikes/ITM2?expiry=2026-02-03",
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["field"], "level");
}
