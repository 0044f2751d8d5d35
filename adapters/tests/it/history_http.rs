//! The historical endpoints on SQLite and on PostgreSQL: a session of 1-minute bars and an hour of
//! Greeks snapshots are stored, then read back on several timeframes page by page (the pages
//! joined equal one big page), and every bad parameter is a 400 naming it.

use std::sync::Arc;

use adapters::outbound::store::SeaStore;
use chrono::{DateTime, Duration, Utc};
use domain::candles::Bar;
use domain::expiry::{ForwardSource, TimeBasis};
use domain::instrument::{InstrumentKey, OptionRight};
use domain::moneyness::{LevelAggregate, MoneynessLevel};
use domain::ports::{GreeksRecord, InstrumentCandle, MoneynessRecord, SignalStore};
use domain::pricing::PricingModel;
use e2e_tests::FreshDatabase;
use migration::{Migrator, MigratorTrait};
use serde_json::Value;

use adapters::outbound::cache::{AggregateCacheConfig, MemoryAggregateCache};

use crate::support::{CALL, metric, pipeline_with};

/// 09:15 IST on Friday 2026-01-30, the session open: the whole session lies before the clock
/// (Monday 2026-02-02 10:00 IST), as history does.
fn open() -> DateTime<Utc> {
    "2026-01-30T03:45:00Z".parse().unwrap()
}

struct Harness {
    _db: FreshDatabase,
    client: crate::support::App,
}

async fn harness(db: FreshDatabase) -> Harness {
    let store = SeaStore::connect(&db.url).await.unwrap();
    Migrator::up(store.connection(), None).await.unwrap();
    let nifty = InstrumentKey::parse("NSE:NIFTY").unwrap();
    let bars: Vec<InstrumentCandle> = (0..375)
        .map(|m| {
            let px = 26_000.0 + f64::from(m % 17) - f64::from(m % 5);
            InstrumentCandle {
                key: nifty.clone(),
                bar: Bar::ohlcv(
                    open() + Duration::minutes(m.into()),
                    px,
                    px + 3.0,
                    px - 2.0,
                    px + 1.0,
                    10.0,
                ),
            }
        })
        .collect();
    store.save_candles(&bars).await.unwrap();
    let greeks: Vec<GreeksRecord> = (0..60)
        .map(|m| GreeksRecord {
            key: InstrumentKey::parse(CALL).unwrap(),
            minute: open() + Duration::minutes(m),
            underlying_price: 26_000.0 + m as f64,
            forward: 26_010.0 + m as f64,
            forward_source: ForwardSource::PutCallParity,
            option_price: Some(100.0),
            price_source: None,
            iv: Some(0.10 + m as f64 * 1e-3),
            iv_error: None,
            greeks: None,
            model: PricingModel::Black76,
            rate: 0.065,
            time_basis: TimeBasis::Exact,
            t_years: 0.06,
        })
        .collect();
    store.save_greeks(&greeks).await.unwrap();
    let mut levels = Vec::new();
    for m in 0..60 {
        for (right, level) in [
            (OptionRight::Call, MoneynessLevel::Atm),
            (OptionRight::Put, MoneynessLevel::Atm),
            (OptionRight::Call, MoneynessLevel::ItmGroup),
        ] {
            levels.push(MoneynessRecord {
                underlying: nifty.clone(),
                expiry: "2026-02-24".parse().unwrap(),
                minute: open() + Duration::minutes(m),
                right,
                level,
                aggregate: LevelAggregate {
                    count: 1,
                    count_with_iv: 1,
                    mean_iv: Some(0.12),
                    total_oi: 1_000.0 + m as f64,
                    ..LevelAggregate::default()
                },
                atm_iv: Some(0.12 + m as f64 * 1e-4),
            });
        }
    }
    store.save_moneyness(&levels).await.unwrap();
    // Every historical read here goes through the in-process aggregate cache, as when served.
    let memory = MemoryAggregateCache::new(AggregateCacheConfig::default());
    let state = pipeline_with(Arc::new(store.clone()), Some(Arc::new(memory))).app_state(Arc::new(store));
    Harness {
        _db: db,
        client: crate::support::app(state),
    }
}

impl Harness {
    async fn get(&self, path: &str) -> (u16, Value) {
        crate::support::get(&self.client, path).await
    }

    /// Every page of `path` (which has no cursor yet), joined; `field` holds the rows.
    async fn all_pages(&self, path: &str, field: &str) -> (Vec<Value>, usize) {
        let (mut rows, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}&cursor={c}"),
                None => path.to_owned(),
            };
            let (status, page) = self.get(&url).await;
            assert_eq!(status, 200, "{url}: {page}");
            rows.extend(page[field].as_array().unwrap().iter().cloned());
            pages += 1;
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return (rows, pages),
            }
        }
    }
}

const DAY: &str = "from=2026-01-30T03:45:00Z&to=2026-01-30T10:00:00Z";

async fn candles_on_any_timeframe_page_by_page(db: FreshDatabase) {
    let h = harness(db).await;
    let (one, pages) = h
        .all_pages(
            &format!("/api/v2/historical/candles/NSE:NIFTY?{DAY}&timeframe=7m&limit=20"),
            "candles",
        )
        .await;
    assert_eq!(
        (one.len(), pages),
        (54, 3),
        "375 minutes in 7m buckets: 53 whole and a partial last"
    );
    let (status, big) = h
        .get(&format!(
            "/api/v2/historical/candles/NSE:NIFTY?{DAY}&timeframe=7m&limit=100"
        ))
        .await;
    assert_eq!(status, 200, "{big}");
    assert_eq!(big["candles"].as_array().unwrap(), &one, "pages joined = one page");
    assert!(big["next_cursor"].is_null());
    let first = &one[0];
    assert_eq!(first["start"], "2026-01-30T03:45:00+00:00");
    assert_eq!(
        (first["n_bars"].as_u64(), first["volume"].as_f64()),
        (Some(7), Some(70.0))
    );
    let want_high = (0..7)
        .map(|m| 26_003.0 + f64::from(m % 17) - f64::from(m % 5))
        .fold(f64::MIN, f64::max);
    assert_eq!(first["high"].as_f64(), Some(want_high));
    let last = one.last().unwrap();
    assert_eq!(
        (last["n_bars"].as_u64(), last["partial"].as_bool()),
        (Some(4), Some(true))
    );

    let (minutes, _) = h
        .all_pages(&format!("/api/v2/historical/candles/NSE:NIFTY?{DAY}"), "candles")
        .await;
    assert_eq!(minutes.len(), 375, "1m by default, 500 rows per page by default");

    let (status, empty) = h.get(&format!("/api/v2/historical/candles/NSE:BANKNIFTY?{DAY}")).await;
    assert_eq!((status, empty["candles"].as_array().map(Vec::len)), (200, Some(0)));
}

async fn greeks_per_minute_and_per_bucket(db: FreshDatabase) {
    let h = harness(db).await;
    let path = format!("/api/v2/historical/greeks/{CALL}?{DAY}&limit=25");
    let (rows, pages) = h.all_pages(&path, "rows").await;
    assert_eq!((rows.len(), pages), (60, 3));
    assert!((rows[59]["iv"].as_f64().unwrap() - 0.159).abs() < 1e-12);
    assert_eq!(rows[0]["forward"]["source"], "put_call_parity");

    let (status, five) = h
        .get(&format!("/api/v2/historical/greeks/{CALL}?{DAY}&timeframe=5m"))
        .await;
    assert_eq!(status, 200, "{five}");
    let buckets = five["rows"].as_array().unwrap();
    assert_eq!(buckets.len(), 12);
    assert_eq!(buckets[0]["minutes"], 5);
    assert_eq!(
        buckets[0]["as_of"], "2026-01-30T03:49:00+00:00",
        "a bucket's last snapshot"
    );
    assert!((buckets[0]["iv"].as_f64().unwrap() - 0.104).abs() < 1e-12);
    assert_eq!(five["timeframe"], "5m");
}

async fn moneyness_levels_and_atm_iv_over_time(db: FreshDatabase) {
    let h = harness(db).await;
    let base = "/api/v2/historical/moneyness/NSE:NIFTY";
    let (status, atm) = h
        .get(&format!("{base}/greeks/ATM?expiry=2026-02-24&{DAY}&timeframe=5m"))
        .await;
    assert_eq!(status, 200, "{atm}");
    let rows = atm["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 12);
    assert_eq!(rows[1]["call"]["minutes"], 5);
    assert_eq!(rows[1]["put"]["aggregate"]["right"], "put");
    assert_eq!(rows[1]["call"]["as_of"], "2026-01-30T03:54:00+00:00");
    assert_eq!(rows[1]["call"]["aggregate"]["total_oi"], 1_009.0);

    let (status, itm) = h
        .get(&format!("{base}/greeks/ITM?expiry=2026-02-24&{DAY}&timeframe=1h"))
        .await;
    assert_eq!(status, 200, "{itm}");
    let rows = itm["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "an hour from the open is one 1h bucket");
    assert_eq!(
        (rows[0]["call"]["minutes"].as_u64(), &rows[0]["put"]),
        (Some(60), &Value::Null)
    );

    let (iv, pages) = h
        .all_pages(&format!("{base}/atm-iv?expiry=2026-02-24&{DAY}&limit=25"), "rows")
        .await;
    assert_eq!((iv.len(), pages), (60, 3));
    assert!((iv[10]["atm_iv"].as_f64().unwrap() - 0.121).abs() < 1e-12);

    let (status, none) = h.get(&format!("{base}/atm-iv?expiry=2026-03-31&{DAY}")).await;
    assert_eq!((status, none["rows"].as_array().map(Vec::len)), (200, Some(0)));
    for (path, field) in [
        (format!("{base}/greeks/XTM3?expiry=2026-02-24&{DAY}"), "level"),
        (format!("{base}/greeks/ATM?{DAY}"), "expiry"),
        (format!("{base}/atm-iv?expiry=24-02-2026&{DAY}"), "expiry"),
    ] {
        let (status, e) = h.get(&path).await;
        assert_eq!((status, e["field"].as_str()), (400, Some(field)), "{path}: {e}");
    }
}

async fn indicators_over_history_and_now(db: FreshDatabase) {
    let h = harness(db).await;
    let base = "/api/v2/historical/indicators/NSE:NIFTY";
    let (rows, pages) = h
        .all_pages(&format!("{base}/ema?{DAY}&period=5&limit=100"), "rows")
        .await;
    assert_eq!((rows.len(), pages), (375, 4));
    // The same EMA computed here from the same bars (no earlier history exists).
    let market = domain::instrument::Market::nse();
    let mut ema = domain::indicators::Indicator::new("ema:5".parse().unwrap(), &market).unwrap();
    for (m, row) in rows.iter().enumerate() {
        let px = 26_000.0 + f64::from(m as u32 % 17) - f64::from(m as u32 % 5);
        let bar = Bar::ohlcv(
            open() + Duration::minutes(m as i64),
            px,
            px + 3.0,
            px - 2.0,
            px + 1.0,
            10.0,
        );
        let want = ema.update(&bar).unwrap().map(|v| v[0]);
        let got = row["values"][0].as_f64();
        match (want, got) {
            (Some(w), Some(g)) => assert!((w - g).abs() <= 1e-9 * w.abs(), "minute {m}: {g} vs {w}"),
            (None, None) => assert!(m < 4, "warm-up only at the start"),
            other => panic!("minute {m}: {other:?}"),
        }
    }
    let (status, big) = h.get(&format!("{base}/ema?{DAY}&period=5&limit=500")).await;
    assert_eq!(status, 200, "{big}");
    assert_eq!(big["rows"].as_array().unwrap(), &rows, "pages joined = one page");
    assert_eq!(big["meta"]["columns"], serde_json::json!(["ema_5"]));

    let (status, macd) = h.get(&format!("{base}/macd?{DAY}&timeframe=5m")).await;
    assert_eq!(status, 200, "{macd}");
    assert_eq!(macd["meta"]["columns"].as_array().unwrap().len(), 3);
    assert_eq!(macd["rows"].as_array().unwrap().len(), 75);
    assert_eq!(
        macd["meta"]["params"][1],
        serde_json::json!({"name": "slow", "value": 26.0})
    );

    // The clock stands on Monday 10:00 IST: Friday's last bar is the last closed one.
    let (status, now) = h.get("/api/v2/realtime/indicators/NSE:NIFTY/ema?period=5").await;
    assert_eq!(status, 200, "{now}");
    assert_eq!(now["closed"]["start"], "2026-01-30T09:59:00+00:00");
    assert_eq!(now["closed"]["values"], rows[374]["values"]);
    assert_eq!((now["stale"].as_bool(), &now["forming"]), (Some(true), &Value::Null));

    for (query, field) in [
        (format!("{base}/foo?{DAY}"), "indicator"),
        (format!("{base}/ema?{DAY}&period=1"), "period"),
        (format!("{base}/ema?{DAY}&fast=3"), "fast"),
        (format!("{base}/ema?{DAY}&bogus=1"), "bogus"),
        (format!("{base}/ema?{DAY}&period=abc"), "period"),
        (format!("{base}/macd?{DAY}&fast=30&slow=26"), "fast"),
        (
            "/api/v2/realtime/indicators/NSE:NIFTY/rsi?timeframe=7x".to_owned(),
            "timeframe",
        ),
        ("/api/v2/realtime/indicators/NSE:NIFTY/RSI".to_owned(), "indicator"),
    ] {
        let (status, e) = h.get(&query).await;
        assert_eq!((status, e["field"].as_str()), (400, Some(field)), "{query}: {e}");
    }
}

impl Harness {
    /// `GET path` with extra headers; the status, headers and raw body.
    async fn raw(&self, path: &str, headers: &[(&str, &str)]) -> (u16, poem::http::HeaderMap, Vec<u8>) {
        let mut req = self.client.get(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await;
        let status = resp.0.status().as_u16();
        let headers = resp.0.headers().clone();
        (status, headers, resp.0.into_body().into_vec().await.unwrap())
    }
}

async fn exports_stream_csv_and_ndjson_compressed_on_request(db: FreshDatabase) {
    let h = harness(db).await;
    // Twelve days: two read windows, one session of data.
    let range = "from=2026-01-20T00:00:00Z&to=2026-02-01T00:00:00Z";
    let (status, headers, body) = h
        .raw(
            &format!("/api/v2/historical/export/candles?instrument_key=NSE:NIFTY&{range}"),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "text/csv");
    let text = String::from_utf8(body).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 376, "a header and 375 minutes");
    assert!(lines[0].starts_with("instrument_key,start,end,open,high,low,close,volume"));
    assert!(
        lines[1]
            .starts_with("NSE:NIFTY,2026-01-30T03:45:00+00:00,2026-01-30T03:46:00+00:00,26000,26003,25998,26001,10,")
    );

    let (status, headers, body) = h
        .raw(
            &format!("/api/v2/historical/export/candles?instrument_key=NSE:NIFTY&{range}&timeframe=5m"),
            &[("Accept", "application/x-ndjson")],
        )
        .await;
    assert_eq!(
        (status, headers["content-type"].to_str().unwrap()),
        (200, "application/x-ndjson")
    );
    let rows: Vec<Value> = String::from_utf8(body)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 75);
    assert_eq!(
        (rows[0]["n_bars"].as_u64(), rows[0]["volume"].as_f64()),
        (Some(5), Some(50.0))
    );

    let (status, _, body) = h
        .raw(
            &format!("/api/v2/historical/export/greeks?instrument_key={CALL}&{range}&format=ndjson"),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    assert_eq!(text.lines().count(), 60);
    assert!(text.lines().next().unwrap().contains("\"forward\":{"), "{text}");

    for (encoding, magic) in [("gzip", &[0x1f_u8, 0x8b][..]), ("zstd", &[0x28, 0xb5, 0x2f, 0xfd][..])] {
        let (status, headers, body) = h
            .raw(
                &format!("/api/v2/historical/export/candles?instrument_key=NSE:NIFTY&{range}"),
                &[("Accept-Encoding", encoding)],
            )
            .await;
        assert_eq!(
            (status, headers["content-encoding"].to_str().unwrap()),
            (200, encoding),
            "{encoding}"
        );
        assert!(body.starts_with(magic), "{encoding} body");
        assert!(body.len() < 376 * 40, "{encoding}: {} bytes", body.len());
    }
    let (_, headers, _) = h
        .raw(
            &format!("/api/v2/historical/export/candles?instrument_key=NSE:NIFTY&{range}"),
            &[("Accept-Encoding", "br")],
        )
        .await;
    assert_eq!(headers["content-encoding"], "br");

    for (query, status, field) in [
        (
            format!("candles?instrument_key=NSE:NIFTY&{range}&format=xml"),
            400,
            "format",
        ),
        (format!("trades?instrument_key=NSE:NIFTY&{range}"), 400, "dataset"),
        (
            "candles?instrument_key=NSE:NIFTY&from=2025-01-01T00:00:00Z&to=2026-02-01T00:00:00Z".to_owned(),
            400,
            "to",
        ),
        (format!("candles?{range}"), 400, "instrument_key"),
        (format!("greeks?instrument_key=XXX:FOO&{range}"), 404, "instrument_key"),
    ] {
        let (got, e) = h.get(&format!("/api/v2/historical/export/{query}")).await;
        assert_eq!((got, e["field"].as_str()), (status, Some(field)), "{query}: {e}");
    }
}

async fn bad_parameters_are_400s_naming_them(db: FreshDatabase) {
    let h = harness(db).await;
    let (_, first) = h
        .get(&format!(
            "/api/v2/historical/candles/NSE:NIFTY?{DAY}&timeframe=7m&limit=2"
        ))
        .await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let base = "/api/v2/historical/candles/NSE:NIFTY";
    for (query, status, field) in [
        (
            "from=2026-01-30T10:00:00Z&to=2026-01-30T10:00:00Z".to_owned(),
            400,
            "to",
        ),
        (
            "from=2025-12-01T00:00:00Z&to=2026-01-30T10:00:00Z".to_owned(),
            400,
            "to",
        ),
        (format!("{DAY}&limit=0"), 400, "limit"),
        (format!("{DAY}&limit=5001"), 400, "limit"),
        (format!("{DAY}&timeframe=7x"), 400, "timeframe"),
        (format!("{DAY}&timeframe=0m"), 400, "timeframe"),
        (format!("{DAY}&cursor=nonsense"), 400, "cursor"),
        (format!("{DAY}&timeframe=5m&cursor={cursor}"), 400, "cursor"),
        ("from=yesterday&to=2026-01-30T10:00:00Z".to_owned(), 400, "from"),
        ("to=2026-01-30T10:00:00Z".to_owned(), 400, "from"),
    ] {
        let (got, e) = h.get(&format!("{base}?{query}")).await;
        assert_eq!((got, e["field"].as_str()), (status, Some(field)), "{query}: {e}");
    }
    let (got, e) = h.get(&format!("/api/v2/historical/greeks/XXX:FOO?{DAY}")).await;
    assert_eq!((got, e["field"].as_str()), (404, Some("instrument_key")), "{e}");
    let (got, e) = h.get(&format!("/api/v2/historical/greeks/not%20a%20key?{DAY}")).await;
    assert_eq!((got, e["field"].as_str()), (400, Some("instrument_key")), "{e}");
}

/// Closed days of custom timeframes are answered from memory after their first read, with
/// hit and miss counters at `/metrics`; a late 1-minute bar ingested into a cached day drops it,
/// and the next read shows the correction.
async fn custom_timeframes_come_from_memory_until_a_late_bar_changes_their_day(db: FreshDatabase) {
    const HITS: &str = "signal_aggregate_cache_hits_total";
    const MISSES: &str = "signal_aggregate_cache_misses_total";
    let h = harness(db).await;
    let url = format!("/api/v2/historical/candles/NSE:NIFTY?{DAY}&timeframe=5m&limit=100");
    let (status, first) = h.get(&url).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["candles"].as_array().unwrap().len(), 75);
    assert_eq!((metric(&h.client, HITS).await, metric(&h.client, MISSES).await), (0, 1));
    let (_, again) = h.get(&url).await;
    assert_eq!(again, first);
    assert_eq!((metric(&h.client, HITS).await, metric(&h.client, MISSES).await), (1, 1));
    // Another timeframe of the same day is its own entry.
    let (_, quarter) = h.get(&url.replace("=5m", "=15m")).await;
    assert_eq!(quarter["candles"].as_array().unwrap().len(), 25);
    assert_eq!(metric(&h.client, MISSES).await, 2);
    assert_eq!(metric(&h.client, "signal_aggregate_cache_inserts_total").await, 2);

    // A correction of Friday 10:00 IST arrives on Monday.
    let late = serde_json::json!([{"key": "NSE:NIFTY", "start": "2026-01-30T04:30:00Z", "open": 26_000.0,
        "high": 99_999.0, "low": 25_990.0, "close": 26_001.0, "volume": 10.0}]);
    let resp = h
        .client
        .post("/api/v2/ingest/candles")
        .content_type("application/json")
        .body(late.to_string())
        .send()
        .await;
    let (status, v) = crate::support::status_and_json(resp).await;
    assert_eq!((status, v["accepted"].as_u64()), (200, Some(1)), "{v}");
    assert_eq!(metric(&h.client, "signal_aggregate_cache_invalidations_total").await, 1);
    let (_, after) = h.get(&url).await;
    let bars = after["candles"].as_array().unwrap();
    assert_eq!(metric(&h.client, MISSES).await, 3, "the day is read again");
    let changed: Vec<_> = bars.iter().filter(|b| b["high"] == 99_999.0).collect();
    assert_eq!(changed.len(), 1, "{after}");
    assert_eq!(changed[0]["start"], "2026-01-30T04:30:00+00:00");
    let (_, quarter_after) = h.get(&url.replace("=5m", "=15m")).await;
    assert!(
        quarter_after["candles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["high"] == 99_999.0),
        "every timeframe of the day was dropped"
    );
}

on_both_backends!(
    custom_timeframes_come_from_memory_until_a_late_bar_changes_their_day,
    candles_on_any_timeframe_page_by_page,
    greeks_per_minute_and_per_bucket,
    moneyness_levels_and_atm_iv_over_time,
    indicators_over_history_and_now,
    exports_stream_csv_and_ndjson_compressed_on_request,
    bad_parameters_are_400s_naming_them,
);
