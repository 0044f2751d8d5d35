//! Pages of candles, Greeks, moneyness levels, ATM IV and indicators over stored history.

use super::*;

pub(super) async fn candles_on_any_timeframe_page_by_page(db: FreshDatabase) {
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
    // A date is the exchange's local day, `to` through its end: the same session.
    let (status, by_date) = h
        .get("/api/v2/historical/candles/NSE:NIFTY?from=2026-01-30&to=2026-01-30&timeframe=7m&limit=100")
        .await;
    assert_eq!(status, 200, "{by_date}");
    assert_eq!(by_date["candles"], big["candles"], "from=to=2026-01-30 is that IST day");
    let (_, next_day) = h
        .get("/api/v2/historical/candles/NSE:NIFTY?from=2026-01-31&to=2026-01-31&timeframe=7m")
        .await;
    assert_eq!(next_day["candles"].as_array().map(Vec::len), Some(0), "{next_day}");
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

pub(super) async fn greeks_per_minute_and_per_bucket(db: FreshDatabase) {
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

pub(super) async fn moneyness_levels_and_atm_iv_over_time(db: FreshDatabase) {
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

pub(super) async fn indicators_over_history_and_now(db: FreshDatabase) {
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

    // The WebSocket's and the CLI's syntax in the path gives the same answer.
    let (status, in_path) = h.get(&format!("{base}/macd:12:26:9?{DAY}&timeframe=5m")).await;
    assert_eq!(status, 200, "{in_path}");
    assert_eq!((&in_path["meta"], &in_path["rows"]), (&macd["meta"], &macd["rows"]));
    let (status, short) = h.get(&format!("{base}/macd:12?{DAY}&timeframe=5m")).await;
    assert_eq!(
        (status, &short["rows"]),
        (200, &macd["rows"]),
        "missing ones take defaults"
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
        (format!("{base}/ema:5?{DAY}&period=5"), "period"),
        (format!("{base}/ema:x?{DAY}"), "period"),
        (format!("{base}/macd:30:26?{DAY}"), "fast"),
    ] {
        let (status, e) = h.get(&query).await;
        assert_eq!((status, e["field"].as_str()), (400, Some(field)), "{query}: {e}");
    }
}
