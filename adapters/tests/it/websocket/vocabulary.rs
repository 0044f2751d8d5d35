//! One vocabulary on both ways out: a WebSocket update carries the REST answer's field names,
//! units and time format for the same data.

use super::*;

/// One option after one tick: `GET /api/v2/realtime/greeks/{key}` and the `greeks:{key}`
/// update hold the same fields with the same values. REST adds `stale`, `stale_after_seconds`
/// and `conventions` (its answer explains itself), the update adds `kind`; nothing else differs.
#[tokio::test]
async fn a_greeks_update_has_the_rest_answers_fields_and_values() {
    let s = server(WsLimits::default()).await;
    let mut c = subscribed(&s.url, "r1", json!([format!("greeks:{CALL}")])).await;
    assert_eq!(next(&mut c).await["frame"], "snapshot");
    tick(&s.ingest, 1).await;
    let update = next(&mut c).await;
    assert_eq!(update["frame"], "update");
    let (status, rest) = http_get(&s.url, &format!("/api/v2/realtime/greeks/{CALL}")).await;
    assert_eq!(status, 200, "{rest}");

    // Stale says relative to what: the server's clock, and how far behind.
    assert_eq!(rest["stale_after_seconds"], 120, "{rest}");
    let mut rest = rest.as_object().unwrap().clone();
    let mut ws = update["data"].as_object().unwrap().clone();
    assert!(
        ["stale", "stale_after_seconds", "conventions"]
            .iter()
            .all(|f| rest.remove(*f).is_some()),
        "{rest:?}"
    );
    assert_eq!(ws.remove("kind"), Some(json!("greeks")));
    assert_eq!(ws, rest, "the same fields and values");
    // Units in the names, as REST has them; times with `+00:00` in the frame as in the data.
    let greeks = &update["data"]["greeks"];
    for name in [
        "theta_per_day",
        "vega_per_vol_point",
        "rho_per_rate_point",
        "charm_per_year",
    ] {
        assert!(greeks[name].is_number(), "{name}: {greeks}");
    }
    assert!(update["data"]["forward"]["value"].is_number() && update["data"]["forward"]["source"].is_string());
    for t in [&update["source_ts"], &update["data"]["as_of"]] {
        assert!(t.as_str().unwrap().ends_with("+00:00"), "{t}");
    }
}

/// Subscriptions answer like REST: each kind of topic naming something that does not exist is
/// refused in the ack with its reason; one topic spelled twice is accepted once; a request
/// without `id` is answered with `id: null`.
#[tokio::test]
async fn the_ack_refuses_every_kind_of_unknown_topic_with_its_reason() {
    let s = server(WsLimits::default()).await;
    let mut c = connect(&s.url).await;
    let unknown = [
        ("greeks:NIFTY-20260224-26000-CE", "keys start with their market"),
        ("greeks:NSE:NIFTY-20260224-99999-CE", "is not a listed instrument"),
        ("greeks:NSE:NIFTY", "not an option"),
        ("candles:NSE:SENSEX:5m", "NSE:SENSEX is not a listed instrument"),
        (
            "indicators:NSE:NIFTY:foo:5m",
            "no indicator after the instrument key (one of sma",
        ),
        (
            "chain:NSE:NIFTY:2026-02-25",
            "no option of NSE:NIFTY expires on 2026-02-25",
        ),
        (
            "atm_iv:NSE:BANKNIFTY:2026-02-24",
            "NSE:BANKNIFTY is not a listed instrument",
        ),
        ("chain:NSE:SENSEX", "NSE:SENSEX is not a listed instrument"),
        ("moneyness:NSE:NIFTY:2026-02-24:ATM2", "level"),
        ("trades:NSE:NIFTY", "unknown kind 'trades'"),
    ];
    let listed = [
        format!("indicators:{CALL}:rsi:5m"),
        format!("indicators:{CALL}:rsi:14:5m"),
        "chain:NSE:NIFTY:2026-02-24".to_owned(),
    ];
    let topics: Vec<String> = unknown
        .iter()
        .map(|(t, _)| (*t).to_owned())
        .chain(listed.iter().cloned())
        .collect();
    send(&mut c, json!({"action": "subscribe", "topics": topics})).await;
    let ack = next(&mut c).await;
    assert_eq!(ack["type"], "ack");
    assert!(ack["id"].is_null(), "{ack}");
    assert_eq!(
        ack["accepted"],
        json!([format!("indicators:{CALL}:rsi:14:5m"), "chain:NSE:NIFTY:2026-02-24"]),
        "rsi and rsi:14 are one topic, listed once"
    );
    let refused = ack["refused"].as_array().unwrap();
    assert_eq!(refused.len(), unknown.len(), "{ack}");
    for ((topic, why), r) in unknown.iter().zip(refused) {
        assert_eq!(r["topic"], *topic);
        let reason = r["reason"].as_str().unwrap();
        assert!(reason.contains(why), "{topic}: {reason}");
    }
    // One snapshot per accepted topic, no more.
    let snapshots = until_quiet(&mut c, 300).await;
    assert_eq!(snapshots.len(), 2, "{snapshots:?}");
    // Counted for /metrics: the refusals, the openings, and what was written.
    let m = &s.ws.metrics;
    let refusals = |reason: &'static str| {
        m.ws_refusals
            .get_or_create(&adapters::metrics::ReasonLabels { reason })
            .get()
    };
    let (invalid, not_listed) = (refusals("topic_invalid"), refusals("topic_unknown"));
    assert_eq!(invalid + not_listed, unknown.len() as u64);
    assert!(
        invalid >= 1 && not_listed >= 3,
        "{invalid} invalid, {not_listed} not listed"
    );
    let opened: u64 = ["snapshot", "state", "empty", "missed", "up_to_date"]
        .into_iter()
        .map(|reason| {
            m.ws_openings
                .get_or_create(&adapters::metrics::ReasonLabels { reason })
                .get()
        })
        .sum();
    assert_eq!(opened, 2);
    let by_kind = s.ws.hub.stats().subscriptions_by_kind;
    assert!(
        by_kind.contains(&("chain", 1)) && by_kind.contains(&("greeks", 0)),
        "{by_kind:?}"
    );
    assert!(
        m.ws_messages_sent.get() >= 3 && m.ws_bytes_sent.get() > 100,
        "ack and two snapshots written"
    );
}
