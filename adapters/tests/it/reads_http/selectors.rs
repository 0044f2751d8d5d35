//! Bad and unknown selectors, the instrument listings, and one option's realtime Greeks.

use super::*;

pub(super) async fn bad_and_unknown_selectors_are_json_errors_naming_the_field(db: FreshDatabase) {
    let h = harness(db).await;
    let (status, e) = h.get("/api/v2/realtime/chain/NSE:NIFTY").await;
    assert_eq!(
        (status, e["field"].as_str()),
        (404, Some("underlying")),
        "nothing evaluated yet: {e}"
    );
    ingest_chain(&h).await;
    for (path, status, field) in [
        ("/api/v2/realtime/chain/not%20a%20key", 400, "underlying"),
        ("/api/v2/realtime/chain/NSE:BANKNIFTY/stats", 404, "underlying"),
        ("/api/v2/realtime/chain/NSE:NIFTY?expiry=2026-03-31", 404, "expiry"),
        ("/api/v2/realtime/chain/NSE:NIFTY?expiry=2026-13-01", 400, "expiry"),
        ("/api/v2/realtime/moneyness/NSE:NIFTY/greeks/XTM1", 400, "level"),
        ("/api/v2/realtime/moneyness/NSE:NIFTY/greeks/ITM40", 404, "level"),
        (
            "/api/v2/realtime/moneyness/NSE:NIFTY/greeks/ATM?right=both",
            400,
            "right",
        ),
        ("/api/v2/realtime/moneyness/NSE:NIFTY/skew?expiry=soon", 400, "expiry"),
        // An empty value is a value, and no date.
        ("/api/v2/realtime/chain/NSE:NIFTY/stats?expiry=", 400, "expiry"),
        ("/api/v2/realtime/moneyness/NSE:NIFTY/atm-iv?expiry=", 400, "expiry"),
        ("/api/v2/instruments/NSE:NIFTY/chain?expiry=", 400, "expiry"),
    ] {
        let (got, e) = h.get(path).await;
        assert_eq!((got, e["field"].as_str()), (status, Some(field)), "{path}: {e}");
        assert!(!e["message"].as_str().unwrap_or_default().is_empty(), "{path}: {e}");
    }
    let (_, e) = h.get("/api/v2/realtime/chain/NSE:NIFTY?expiry=2026-03-31").await;
    assert!(
        e["message"].as_str().unwrap().contains("2026-02-24"),
        "names the known expiries: {e}"
    );
}

pub(super) async fn instruments_list_underlyings_expiries_and_listed_chains(db: FreshDatabase) {
    let h = harness(db).await;
    let (status, u) = h.get("/api/v2/instruments/underlyings").await;
    assert_eq!(status, 200, "{u}");
    assert_eq!(
        u["underlyings"],
        serde_json::json!([{"key": "NSE:NIFTY", "market": "NSE", "expiries": 2, "options": 11, "futures": 1}])
    );

    let (status, e) = h.get("/api/v2/instruments/NSE:NIFTY/expiries").await;
    assert_eq!(status, 200, "{e}");
    let e = e["expiries"].as_array().unwrap();
    assert_eq!(e.len(), 2);
    assert_eq!(
        (&e[0]["date"], &e[0]["options"], &e[0]["strikes"]),
        (&"2026-02-24".into(), &10.into(), &5.into())
    );
    assert_eq!(e[0]["future_key"], Value::Null);
    assert_eq!(e[1]["future_key"], "NSE:NIFTY-20260331-FUT");
    assert_eq!(e[1]["expiry_time"], "2026-03-31T10:00:00+00:00");

    let (status, c) = h.get("/api/v2/instruments/NSE:NIFTY/chain").await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["expiry"], "2026-02-24", "nearest expiry by default");
    let strikes = c["strikes"].as_array().unwrap();
    assert_eq!(strikes.len(), 5);
    assert_eq!(strikes[0]["put"]["key"], "NSE:NIFTY-20260224-25800-PE");
    assert_eq!(strikes[0]["call"]["lot_size"], 65);

    let (status, c) = h.get("/api/v2/instruments/NSE:NIFTY/chain?expiry=2026-03-31").await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["future"]["key"], "NSE:NIFTY-20260331-FUT");
    assert_eq!(c["strikes"][0]["put"], Value::Null);

    for (path, status, field) in [
        ("/api/v2/instruments/NSE:BANKNIFTY/expiries", 404, "underlying"),
        ("/api/v2/instruments/bad%20key/chain", 400, "underlying"),
        ("/api/v2/instruments/NSE:NIFTY/chain?expiry=2026-02-25", 404, "expiry"),
        ("/api/v2/instruments/NSE:NIFTY/chain?expiry=tomorrow", 400, "expiry"),
    ] {
        let (got, e) = h.get(path).await;
        assert_eq!((got, e["field"].as_str()), (status, Some(field)), "{path}: {e}");
    }
}

/// One option's realtime IV and Greeks: the quoted volatility back, on the parity forward, with
/// the conventions and the as-of minute, fresh; an unknown key is a 404 and a malformed one a
/// 400, each naming `instrument_key`.
pub(super) async fn realtime_greeks_of_one_option_with_conventions_and_freshness(db: FreshDatabase) {
    let h = harness(db).await;
    let atm = key(26_000.0, OptionRight::Call);
    let (status, e) = h.get(&format!("/api/v2/realtime/greeks/{atm}")).await;
    assert_eq!(
        (status, e["field"].as_str()),
        (404, Some("instrument_key")),
        "nothing yet: {e}"
    );
    ingest_chain(&h).await;
    let (status, g) = h.get(&format!("/api/v2/realtime/greeks/{atm}")).await;
    assert_eq!(status, 200, "{g}");
    assert_eq!(g["instrument_key"].as_str(), Some(atm.as_str()));
    assert!((f(&g["iv"]) - VOL).abs() < 1e-9, "{g}");
    assert!((f(&g["forward"]["value"]) - FORWARD).abs() < 1e-6, "{g}");
    assert_eq!(g["forward"]["source"], "put_call_parity");
    assert_eq!(g["stale"], false, "one minute old: {g}");
    assert_eq!(
        g["as_of"].as_str().map(|t| t.parse::<DateTime<Utc>>().unwrap()),
        Some(now() - Duration::minutes(1))
    );
    assert_eq!(g["conventions"]["model"], "black76");
    assert_eq!(g["price_source"], "mid");
    let delta = f(&g["greeks"]["delta"]);
    assert!(delta > 0.4 && delta < 0.6, "near the money: {g}");
    assert!(f(&g["greeks"]["vega_per_vol_point"]) > 0.0);
    // Under 1 400 bytes an answer goes out uncompressed whatever the client accepts; the chain is
    // larger and is compressed.
    let encoding = |resp: &poem::test::TestResponse| {
        let header = |name| resp.0.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        (header("content-encoding"), header("vary"))
    };
    let small = h
        .client
        .get(format!("/api/v2/realtime/greeks/{atm}"))
        .header("Accept-Encoding", "br, gzip")
        .send()
        .await;
    assert_eq!(encoding(&small), (None, Some("accept-encoding".to_owned())));
    let chain = h
        .client
        .get("/api/v2/realtime/chain/NSE:NIFTY")
        .header("Accept-Encoding", "br, gzip")
        .send()
        .await;
    assert_eq!(
        encoding(&chain),
        (Some("br".to_owned()), Some("accept-encoding".to_owned()))
    );
    // Answers are kept between updates: a new quote and, later, staleness each show at once.
    let (_, again) = h.get(&format!("/api/v2/realtime/greeks/{atm}")).await;
    assert_eq!(again, g);
    let quote = Tick {
        key: atm.clone(),
        ts: now(),
        last: Some(f(&g["option_price"]) + 20.0),
        bid: None,
        ask: None,
        volume: None,
        oi: None,
    };
    h.ingest.execute(&[quote]).await.unwrap();
    let (_, moved) = h.get(&format!("/api/v2/realtime/greeks/{atm}")).await;
    assert!(f(&moved["iv"]) > VOL + 0.005, "{moved}");
    assert_eq!(
        moved["as_of"].as_str().map(|t| t.parse::<DateTime<Utc>>().unwrap()),
        Some(now())
    );
    assert_eq!(moved["stale"], false);
    h.clock.advance(Duration::seconds(121));
    let (_, stale) = h.get(&format!("/api/v2/realtime/greeks/{atm}")).await;
    assert_eq!((stale["stale"].as_bool(), &stale["iv"]), (Some(true), &moved["iv"]));
    let (status, e) = h.get("/api/v2/realtime/greeks/NSE:NIFTY-20260224-26050-CE").await;
    assert_eq!((status, e["field"].as_str()), (404, Some("instrument_key")), "{e}");
    let (status, e) = h.get("/api/v2/realtime/greeks/not%20a%20key").await;
    assert_eq!((status, e["field"].as_str()), (400, Some("instrument_key")), "{e}");
}
