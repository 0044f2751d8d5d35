//! The ingest endpoints in process (poem's test client) on a fresh SQLite store: JSON and CSV
//! bodies, and every kind of bad input rejected row by row with its field and reason while the
//! good rows of the batch are stored, and nothing of a bad row is.

use std::sync::Arc;

use adapters::inbound::http::routes;
use adapters::outbound::store::SeaStore;
use chrono::{Duration, TimeZone, Utc};
use domain::instrument::InstrumentKey;
use domain::ports::{SignalStore, TimeRange};
use e2e_tests::FreshDatabase;
use migration::{Migrator, MigratorTrait};
use poem::test::TestClient;
use serde_json::{Value, json};

use crate::support::{CALL, now, pipeline, ts};

struct Harness {
    _db: FreshDatabase,
    store: SeaStore,
    client: TestClient<poem::endpoint::BoxEndpoint<'static>>,
}

async fn harness(db: FreshDatabase, api_keys: &[&str]) -> Harness {
    let store = SeaStore::connect(&db.url).await.unwrap();
    Migrator::up(store.connection(), None).await.unwrap();
    let mut state = pipeline(Arc::new(store.clone())).app_state(Arc::new(store.clone()));
    state.api_keys = Arc::new(api_keys.iter().map(|s| (*s).to_owned()).collect());
    state.guard = Arc::new(adapters::inbound::http::guard::Guard::new(
        Default::default(),
        api_keys.iter().map(|s| (*s).to_owned()).collect(),
        None,
    ));
    use poem::EndpointExt;
    Harness {
        _db: db,
        store,
        client: TestClient::new(routes(state).map_to_response().boxed()),
    }
}

impl Harness {
    async fn post(&self, path: &str, content_type: &str, body: String) -> (u16, Value) {
        let resp = self
            .client
            .post(path)
            .content_type(content_type)
            .body(body)
            .send()
            .await;
        let status = resp.0.status().as_u16();
        let v = resp.0.into_body().into_json::<Value>().await.unwrap_or(Value::Null);
        (status, v)
    }

    async fn ticks(&self, body: Value) -> (u16, Value) {
        self.post("/api/v2/ingest/ticks", "application/json", body.to_string())
            .await
    }

    async fn stored_minutes(&self, key: &str) -> usize {
        let range = TimeRange {
            from: now() - Duration::days(1),
            to: now() + Duration::days(1),
        };
        self.store
            .candles(&InstrumentKey::parse(key).unwrap(), range)
            .await
            .unwrap()
            .len()
    }
}

/// `(index, field)` of every rejected row, and the reasons, of an ingest answer.
fn rejected(v: &Value) -> Vec<(u64, String, String)> {
    v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["field"].as_str().unwrap().to_owned(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn good_tick(minute: i64) -> Value {
    json!({"key": "NSE:NIFTY", "ts": ts(minute), "last": 25_900.0 + minute as f64, "volume": 10.0 * minute as f64})
}

async fn malformed_json_is_a_400_with_a_json_error_and_stores_nothing(db: FreshDatabase) {
    let h = harness(db, &[]).await;
    let (status, v) = h
        .post(
            "/api/v2/ingest/ticks",
            "application/json",
            "[{\"key\": \"NSE:NIFTY\",".into(),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(
        (v["code"].as_str(), v["field"].as_str()),
        (Some("bad_request"), Some("body")),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap().contains("EOF while parsing"), "{v}");
    assert_eq!(h.stored_minutes("NSE:NIFTY").await, 0);
}

async fn a_csv_body_is_ingested_and_a_missing_column_is_named(db: FreshDatabase) {
    let h = harness(db, &[]).await;
    let csv = format!(
        "key,ts,last,bid,ask,volume,oi\nNSE:NIFTY,{},25900,,,100,\nNSE:NIFTY,{},abc,,,110,\nNSE:NIFTY,{},25910,,,120,\n",
        ts(0),
        ts(1),
        ts(2)
    );
    let (status, v) = h.post("/api/v2/ingest/ticks", "text/csv; charset=utf-8", csv).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"], 2, "{v}");
    let r = rejected(&v);
    assert_eq!((r[0].0, r[0].1.as_str()), (1, "last"), "{v}");
    assert!(r[0].2.contains("not a number"));
    assert_eq!(h.stored_minutes("NSE:NIFTY").await, 2);

    let no_ts = "key,last\nNSE:NIFTY,25900\n".to_owned();
    let (status, v) = h.post("/api/v2/ingest/ticks", "text/csv", no_ts).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["field"], "ts");
    assert!(v["message"].as_str().unwrap().contains("no \"ts\" column"), "{v}");

    let typo = format!("key,ts,lst\nNSE:NIFTY,{},25900\n", ts(3));
    let (status, v) = h.post("/api/v2/ingest/ticks", "text/csv", typo).await;
    assert_eq!((status, v["field"].as_str()), (400, Some("lst")), "{v}");

    let candles = format!(
        "key,start,open,high,low,close,volume\nNSE:NIFTY,{},100,101,99,100.5,5\nNSE:NIFTY,{},100,99,101,100,5\n",
        ts(5),
        ts(6)
    );
    let (status, v) = h.post("/api/v2/ingest/candles", "text/csv", candles).await;
    assert_eq!((status, v["accepted"].as_u64()), (200, Some(1)), "{v}");
    assert_eq!(rejected(&v)[0].0, 1);
    let (status, v) = h
        .post(
            "/api/v2/ingest/candles",
            "text/csv",
            "key,start,open,high,low,close\n".into(),
        )
        .await;
    assert_eq!((status, v["field"].as_str()), (400, Some("volume")), "{v}");
    assert_eq!(h.stored_minutes("NSE:NIFTY").await, 3);
}

async fn nan_zero_and_negative_prices_are_rejected_row_by_row(db: FreshDatabase) {
    let h = harness(db, &[]).await;
    // JSON has no NaN literal; a NaN reaches the service as a CSV cell.
    let csv = format!(
        "key,ts,last\nNSE:NIFTY,{},NaN\nNSE:NIFTY,{},0\nNSE:NIFTY,{},-5\nNSE:NIFTY,{},25900\n",
        ts(0),
        ts(1),
        ts(2),
        ts(3)
    );
    let (status, v) = h.post("/api/v2/ingest/ticks", "text/csv", csv).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"], 1);
    let r = rejected(&v);
    assert_eq!(
        r.iter().map(|x| (x.0, x.1.as_str())).collect::<Vec<_>>(),
        [(0, "last"), (1, "last"), (2, "last")]
    );
    assert!(r[0].2.contains("finite"), "{r:?}");
    assert!(r[1].2.contains("positive"), "{r:?}");
    assert_eq!(h.stored_minutes("NSE:NIFTY").await, 1, "only the good row's minute");

    let (_, v) = h
        .ticks(json!([{"key": CALL, "ts": ts(4), "bid": -1.0, "ask": 10.0}, good_tick(5)]))
        .await;
    assert_eq!(
        (v["accepted"].as_u64(), rejected(&v)[0].1.as_str()),
        (Some(1), "bid"),
        "{v}"
    );
    assert_eq!(h.stored_minutes(CALL).await, 0);
}

async fn a_bid_above_the_ask_is_rejected(db: FreshDatabase) {
    let h = harness(db, &[]).await;
    let (_, v) = h
        .ticks(json!([good_tick(0), {"key": CALL, "ts": ts(1), "bid": 120.0, "ask": 110.0, "last": 115.0}]))
        .await;
    assert_eq!(v["accepted"], 1);
    let r = rejected(&v);
    assert_eq!((r[0].0, r[0].1.as_str()), (1, "bid"));
    assert!(r[0].2.contains("above ask"), "{r:?}");
    assert_eq!(h.stored_minutes(CALL).await, 0);
}

async fn unknown_and_malformed_instrument_keys_are_rejected(db: FreshDatabase) {
    let h = harness(db, &[]).await;
    let (_, v) = h
        .ticks(json!([
            {"key": "NSE:NOSUCH", "ts": ts(0), "last": 1.0},
            {"key": "not a key", "ts": ts(0), "last": 1.0},
            good_tick(1)
        ]))
        .await;
    assert_eq!(v["accepted"], 1);
    let r = rejected(&v);
    assert_eq!(
        r.iter().map(|x| (x.0, x.1.as_str())).collect::<Vec<_>>(),
        [(0, "key"), (1, "key")]
    );
    assert!(r[0].2.contains("unknown instrument"), "{r:?}");
    let (_, v) = h
        .post(
            "/api/v2/ingest/candles",
            "application/json",
            json!([{"key": "NSE:NOSUCH", "start": ts(0), "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 0.0}])
                .to_string(),
        )
        .await;
    assert_eq!(
        (v["accepted"].as_u64(), rejected(&v)[0].1.as_str()),
        (Some(0), "key"),
        "{v}"
    );
}

async fn timestamps_in_the_future_or_outside_the_session_are_rejected(db: FreshDatabase) {
    let h = harness(db, &[]).await;
    let future = (now() + Duration::hours(1)).to_rfc3339();
    let night = Utc.with_ymd_and_hms(2026, 1, 30, 15, 0, 0).unwrap().to_rfc3339();
    let sunday = Utc.with_ymd_and_hms(2026, 2, 1, 5, 0, 0).unwrap().to_rfc3339();
    let (_, v) = h
        .ticks(json!([
            {"key": "NSE:NIFTY", "ts": future, "last": 1.0},
            {"key": "NSE:NIFTY", "ts": night, "last": 1.0},
            {"key": "NSE:NIFTY", "ts": sunday, "last": 1.0},
            good_tick(2)
        ]))
        .await;
    assert_eq!(v["accepted"], 1, "{v}");
    let r = rejected(&v);
    assert_eq!(
        r.iter().map(|x| (x.0, x.1.as_str())).collect::<Vec<_>>(),
        [(0, "ts"), (1, "ts"), (2, "ts")]
    );
    assert!(r[0].2.contains("future"), "{r:?}");
    assert!(r[1].2.contains("outside"), "{r:?}");
    assert_eq!(h.stored_minutes("NSE:NIFTY").await, 1);
}

async fn keys_guard_ingest_and_limits_are_explicit(db: FreshDatabase) {
    let h = harness(db, &["s3cret"]).await;
    let (status, v) = h.ticks(json!([good_tick(0)])).await;
    assert_eq!((status, v["field"].as_str()), (401, Some("X-API-Key")), "{v}");
    let resp = h
        .client
        .post("/api/v2/ingest/ticks")
        .header("X-API-Key", "s3cret")
        .body_json(&json!([good_tick(0)]))
        .send()
        .await;
    resp.assert_status_is_ok();
    let too_many: Vec<Value> = (0..10_001).map(|_| good_tick(0)).collect();
    let resp = h
        .client
        .post("/api/v2/ingest/ticks")
        .header("X-API-Key", "s3cret")
        .body_json(&too_many)
        .send()
        .await;
    resp.assert_status(poem::http::StatusCode::PAYLOAD_TOO_LARGE);
    let (status, v) = h
        .post("/api/v2/ingest/ticks", "application/xml", "<ticks/>".into())
        .await;
    assert!(status == 401 || status == 415, "{status} {v}");
}

/// Several ticks of one instrument and minute in one batch, interleaved with another
/// instrument's: the stored bar is the minute as the last of them left it (and PostgreSQL is
/// not asked to upsert one row twice in a statement).
async fn ticks_of_one_minute_in_one_batch_store_the_whole_minute(db: FreshDatabase) {
    let h = harness(db, &[]).await;
    let t = |s: i64, key: &str, last: f64| json!({"key": key, "ts": (now() - Duration::minutes(5) + Duration::seconds(s)).to_rfc3339(), "last": last});
    let (status, v) = h
        .ticks(json!([
            t(1, "NSE:NIFTY", 25_900.0),
            t(2, CALL, 120.0),
            t(10, "NSE:NIFTY", 25_950.0),
            t(20, "NSE:NIFTY", 25_880.0),
            t(30, CALL, 121.0),
            t(40, "NSE:NIFTY", 25_910.0),
        ]))
        .await;
    assert_eq!((status, v["accepted"].as_u64()), (200, Some(6)), "{v}");
    let range = TimeRange {
        from: now() - Duration::days(1),
        to: now() + Duration::days(1),
    };
    let bars = h
        .store
        .candles(&InstrumentKey::parse("NSE:NIFTY").unwrap(), range)
        .await
        .unwrap();
    assert_eq!(bars.len(), 1);
    let b = bars[0].bar;
    assert_eq!(
        (b.open, b.high, b.low, b.close),
        (25_900.0, 25_950.0, 25_880.0, 25_910.0)
    );
    let call = h
        .store
        .candles(&InstrumentKey::parse(CALL).unwrap(), range)
        .await
        .unwrap();
    assert_eq!((call[0].bar.open, call[0].bar.close), (120.0, 121.0));
    // The same holds for a candle batch that names one minute twice: the later row wins.
    let start = (now() - Duration::minutes(3)).to_rfc3339();
    let candle = |close: f64| json!({"key": "NSE:NIFTY", "start": start, "open": 1.0, "high": 3.0, "low": 1.0, "close": close, "volume": 0.0});
    let (status, v) = h
        .post(
            "/api/v2/ingest/candles",
            "application/json",
            json!([candle(2.0), candle(2.5)]).to_string(),
        )
        .await;
    assert_eq!((status, v["accepted"].as_u64()), (200, Some(2)), "{v}");
    let bars = h
        .store
        .candles(&InstrumentKey::parse("NSE:NIFTY").unwrap(), range)
        .await
        .unwrap();
    assert_eq!(bars.iter().find(|b| b.bar.high == 3.0).map(|b| b.bar.close), Some(2.5));
}

on_both_backends!(
    ticks_of_one_minute_in_one_batch_store_the_whole_minute,
    malformed_json_is_a_400_with_a_json_error_and_stores_nothing,
    a_csv_body_is_ingested_and_a_missing_column_is_named,
    nan_zero_and_negative_prices_are_rejected_row_by_row,
    a_bid_above_the_ask_is_rejected,
    unknown_and_malformed_instrument_keys_are_rejected,
    timestamps_in_the_future_or_outside_the_session_are_rejected,
    keys_guard_ingest_and_limits_are_explicit,
);
