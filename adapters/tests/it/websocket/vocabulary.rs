//! One vocabulary on both ways out: a WebSocket update carries the REST answer's field names,
//! units and time format for the same data.

use super::*;

/// One option after one tick: `GET /api/v2/realtime/greeks/{key}` and the `greeks:{key}`
/// update hold the same fields with the same values. REST adds `stale` and `conventions` (its
/// answer explains itself), the update adds `kind`; nothing else differs.
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

    let mut rest = rest.as_object().unwrap().clone();
    let mut ws = update["data"].as_object().unwrap().clone();
    assert!(
        rest.remove("stale").is_some() && rest.remove("conventions").is_some(),
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
