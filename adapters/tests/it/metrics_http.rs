//! `/metrics` in process: requests counted by route template and status class, ingest rows by
//! way in and outcome, the state read at scrape time, and the format the scraper asks for.

use std::sync::Arc;

use adapters::outbound::store::SeaStore;
use e2e_tests::FreshDatabase;
use migration::{Migrator, MigratorTrait};
use serde_json::json;

use crate::support::{CALL, app, pipeline, ts};

/// The sample `line` starts with, its value; `None` when the scrape has no such sample.
fn sample(text: &str, line: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(line)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn requests_ingest_and_state_are_scraped_in_the_format_asked_for() {
    let db = FreshDatabase::sqlite();
    let store = SeaStore::connect(&db.url).await.unwrap();
    Migrator::up(store.connection(), None).await.unwrap();
    let mut state = pipeline(Arc::new(store.clone())).app_state(Arc::new(store.clone()));
    state.metric_sources.push(Arc::new(store));
    // A fan-out never started: not subscribed, nothing counted yet.
    let fanout = adapters::outbound::fanout::RedisFanout::new(
        "redis://127.0.0.1:6379",
        "signal:metrics-test:",
        Arc::new(adapters::outbound::clock::SystemClock),
    )
    .unwrap();
    state.metric_sources.push(Arc::new(fanout));
    // An instrument-service client never called: its breaker is closed.
    state.metric_sources.push(Arc::new(
        adapters::outbound::instruments::http::HttpInstrumentSource::new(
            "http://127.0.0.1:9/".parse().unwrap(),
            std::time::Duration::from_millis(100),
            adapters::outbound::instruments::http::ResilienceConfig::default(),
        ),
    ));
    // The in-process mapping cache, holding one mapping.
    let l1 = adapters::outbound::cache::MemoryMappingCache::new(10);
    let mapping = domain::moneyness::MoneynessMapping::compute(
        domain::instrument::InstrumentKey::parse("NSE:NIFTY").unwrap(),
        chrono::NaiveDate::from_ymd_opt(2026, 2, 24).unwrap(),
        &[25_900.0, 26_000.0, 26_100.0],
        26_010.0,
        None,
        chrono::DateTime::from_timestamp(1_770_000_000, 0).unwrap(),
    )
    .unwrap();
    domain::ports::SignalCache::put_mapping(&l1, &mapping, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    state.metric_sources.push(Arc::new(l1));
    let client = app(state);

    let rows = json!([
        {"key": "NSE:NIFTY", "ts": ts(1), "last": 26000.0},
        {"key": CALL, "ts": ts(1), "last": 300.0, "bid": 299.0, "ask": 301.0},
        {"key": CALL, "ts": "not a time", "last": 300.0},
    ]);
    client
        .post("/api/v2/ingest/ticks")
        .body_json(&rows)
        .send()
        .await
        .assert_status_is_ok();
    for _ in 0..3 {
        client
            .get(format!("/api/v2/realtime/greeks/{CALL}"))
            .send()
            .await
            .assert_status_is_ok();
    }
    client
        .get("/api/v2/realtime/greeks/NSE:NOPE-1")
        .send()
        .await
        .assert_status(poem::http::StatusCode::NOT_FOUND);
    client
        .get("/no/such/route")
        .send()
        .await
        .assert_status(poem::http::StatusCode::NOT_FOUND);

    let resp = client.get("/metrics").send().await;
    resp.assert_status_is_ok();
    resp.assert_header("content-type", "text/plain; version=0.0.4; charset=utf-8");
    let text = resp.0.into_body().into_string().await.unwrap();
    let greeks = r#"signal_http_requests_total{route="/api/v2/realtime/greeks/{instrument_key}",method="GET""#;
    assert_eq!(
        sample(&text, &format!(r#"{greeks},status="2xx"}}"#)),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!(r#"{greeks},status="4xx"}}"#)),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"signal_http_requests_total{route="unmatched",method="GET",status="4xx"}"#
        ),
        Some(1.0),
        "a path no route matches is `unmatched`, never the path: {text}"
    );
    assert!(!text.contains("no/such/route") && !text.contains("NOPE"), "{text}");
    assert_eq!(
        sample(
            &text,
            r#"signal_http_request_duration_seconds_count{route="/api/v2/realtime/greeks/{instrument_key}",method="GET"}"#
        ),
        Some(4.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"signal_ingest_rows_total{way="rest",outcome="accepted"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"signal_ingest_rows_total{way="rest",outcome="rejected"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"signal_ingest_rejections_total{way="rest",field="ts"}"#),
        Some(1.0),
        "{text}"
    );
    // The state, read at scrape time.
    assert!(
        sample(&text, r#"signal_snapshot_backlog{table="greeks"}"#).is_some(),
        "{text}"
    );
    assert_eq!(sample(&text, "signal_ws_connections"), Some(0.0), "{text}");
    assert_eq!(sample(&text, "signal_redis_fanout_subscribed"), Some(0.0), "{text}");
    assert_eq!(
        sample(&text, r#"signal_instrument_service_breaker{state="closed"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"signal_instrument_service_breaker{state="open"}"#),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "signal_redis_fanout_subscription_losses_total"),
        Some(0.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            r#"signal_mapping_cache_lookups_total{tier="memory",outcome="hit"}"#
        )
        .is_some(),
        "{text}"
    );
    assert!(
        sample(&text, r#"signal_instrument_service_calls_total{outcome="error"}"#).is_some(),
        "{text}"
    );
    let max = sample(&text, "signal_db_pool_max_connections").expect("the pool's bound");
    let in_use = sample(&text, r#"signal_db_pool_connections{state="in_use"}"#).unwrap();
    let idle = sample(&text, r#"signal_db_pool_connections{state="idle"}"#).unwrap();
    assert!(max >= 1.0 && in_use + idle >= 1.0 && in_use + idle <= max, "{text}");
    assert_eq!(
        sample(&text, "signal_db_pool_acquire_timeouts_total"),
        Some(0.0),
        "{text}"
    );
    // The fan-out never ran: no errors, no reconnects, no connection to Redis yet.
    for series in [
        "signal_redis_fanout_publish_errors_total",
        "signal_redis_fanout_reconnects_total",
        r#"signal_redis_pool_waits_total{pool="fanout"}"#,
        r#"signal_redis_pool_connections_broken_total{pool="fanout"}"#,
    ] {
        assert_eq!(sample(&text, series), Some(0.0), "{series}: {text}");
    }
    assert_eq!(sample(&text, "signal_mapping_cache_entries"), Some(1.0), "{text}");
    let bytes = sample(&text, "signal_mapping_cache_bytes").unwrap();
    assert!((100.0..10_000.0).contains(&bytes), "{bytes}");
    assert_eq!(
        sample(&text, "signal_mapping_cache_evictions_total"),
        Some(0.0),
        "{text}"
    );
    // Every refusal reason and IV failure reason starts at 0 (dashboards read 0, not no data).
    assert_eq!(
        sample(&text, r#"signal_ws_refusals_total{reason="topic_limit"}"#),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"signal_iv_failures_total{reason="below_intrinsic"}"#),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"signal_dependency_up{dependency="database"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, r#"signal_readiness{state="ready"}"#), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, r#"signal_readiness{state="not_ready"}"#),
        Some(0.0),
        "{text}"
    );
    assert!(text.contains("signal_build_info{version=\""), "{text}");
    if cfg!(target_os = "linux") {
        assert!(sample(&text, "process_resident_memory_bytes").unwrap() > 1e6, "{text}");
    }

    // OpenMetrics when the scraper asks for it.
    let resp = client
        .get("/metrics")
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await;
    resp.assert_header(
        "content-type",
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
    );
    let text = resp.0.into_body().into_string().await.unwrap();
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    assert!(text.contains("# TYPE signal_build info"), "{text}");
}
