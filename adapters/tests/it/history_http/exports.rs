//! Exports (CSV, NDJSON, compressed), bad parameters, and the in-process cache of custom
//! timeframes against late bars.

use super::*;

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

pub(super) async fn exports_stream_csv_and_ndjson_compressed_on_request(db: FreshDatabase) {
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

pub(super) async fn bad_parameters_are_400s_naming_them(db: FreshDatabase) {
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
    // A date-time without its offset: refused, saying so, not guessed to be UTC.
    let (got, e) = h
        .get(&format!(
            "{base}?from=2026-01-30T09:15:00&to=2026-01-30T15:30:00%2B05:30"
        ))
        .await;
    assert_eq!((got, e["field"].as_str()), (400, Some("from")), "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("'2026-01-30T09:15:00' has no UTC offset"),
        "{e}"
    );
    let (got, e) = h.get(&format!("/api/v2/historical/greeks/XXX:FOO?{DAY}")).await;
    assert_eq!((got, e["field"].as_str()), (404, Some("instrument_key")), "{e}");
    let (got, e) = h.get(&format!("/api/v2/historical/greeks/not%20a%20key?{DAY}")).await;
    assert_eq!((got, e["field"].as_str()), (400, Some("instrument_key")), "{e}");
}

/// Closed days of custom timeframes are answered from memory after their first read, with
/// hit and miss counters at `/metrics`; a late 1-minute bar ingested into a cached day drops it,
/// and the next read shows the correction.
pub(super) async fn custom_timeframes_come_from_memory_until_a_late_bar_changes_their_day(db: FreshDatabase) {
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
