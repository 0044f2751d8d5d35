//! The calculator endpoints in process: known values, the IV round trip, per-row IV errors,
//! a bad input naming its row and column, and the row limit.

use adapters::inbound::http::{AppState, routes};
use poem::test::TestClient;
use serde_json::{Value, json};

async fn post(path: &str, body: &Value) -> (u16, Value) {
    use poem::EndpointExt;
    let client = TestClient::new(routes(AppState::detached()).map_to_response());
    let resp = client
        .post(path)
        .content_type("application/json")
        .body(body.to_string())
        .send()
        .await;
    let status = resp.0.status().as_u16();
    (
        status,
        resp.0.into_body().into_json::<Value>().await.unwrap_or(Value::Null),
    )
}

fn row(t: &str, spot: f64, vol_or_price: (&str, f64)) -> Value {
    let mut r = json!({"type": t, "spot": spot, "strike": 100.0, "t_years": 1.0, "rate": 0.05});
    r[vol_or_price.0] = json!(vol_or_price.1);
    r
}

#[tokio::test]
async fn greeks_match_the_textbook_values_and_a_bad_input_names_its_row_and_column() {
    let body = json!({"rows": [row("call", 100.0, ("vol", 0.2)), row("put", 100.0, ("vol", 0.2))]});
    let (status, out) = post("/api/v2/analytics/greeks", &body).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["model"], "bsm", "bsm by default, as calc greeks");
    // Hull's classic example: S = K = 100, T = 1, r = 5 %, σ = 20 %.
    let call = &out["rows"][0];
    assert!(
        (call["price"].as_f64().unwrap() - 10.450_583_572_185_565).abs() < 1e-12,
        "{call}"
    );
    assert!(
        (call["delta"].as_f64().unwrap() - 0.636_830_651_175_619).abs() < 1e-12,
        "{call}"
    );
    let put = &out["rows"][1];
    assert!(
        (put["price"].as_f64().unwrap() - 5.573_526_022_256_971).abs() < 1e-12,
        "{put}"
    );
    assert!(
        (call["vega_per_vol_point"].as_f64().unwrap() * 100.0 - call["vega_per_unit"].as_f64().unwrap()).abs() < 1e-12
    );

    let bad = json!({"model": "black76", "rows": [row("call", 100.0, ("vol", 0.2)), row("put", 100.0, ("vol", -0.1))]});
    let (status, e) = post("/api/v2/analytics/greeks", &bad).await;
    // The JSON path of the offending value, in plain words.
    assert_eq!((status, e["field"].as_str()), (400, Some("rows[1].vol")), "{e}");
    assert_eq!(e["message"], "rows[1].vol: must be at least 0, not -0.1", "{e}");

    let bad_type = json!({"rows": [row("straddle", 100.0, ("vol", 0.2))]});
    let (status, e) = post("/api/v2/analytics/greeks", &bad_type).await;
    assert_eq!((status, e["field"].as_str()), (400, Some("rows[0].type")), "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("must be one of call, put"),
        "{e}"
    );
}

#[tokio::test]
async fn implied_volatility_round_trips_and_says_why_when_there_is_none() {
    let body = json!({"model": "bsm", "rows": [
        row("call", 100.0, ("price", 10.450_583_572_185_565)),
        row("call", 120.0, ("price", 1.0)),
        row("put", 100.0, ("price", 100.0)),
        row("call", -5.0, ("price", 1.0)),
    ]});
    let (status, out) = post("/api/v2/analytics/implied-volatility", &body).await;
    assert_eq!(status, 200, "{out}");
    let rows = out["rows"].as_array().unwrap();
    assert!((rows[0]["iv"].as_f64().unwrap() - 0.2).abs() < 1e-12, "{out}");
    let errors: Vec<&str> = rows[1..].iter().map(|r| r["iv_error"].as_str().unwrap()).collect();
    assert_eq!(errors, ["below_intrinsic", "above_upper_bound", "invalid_input"]);
    assert!(rows[1]["iv"].is_null());
}

#[tokio::test]
async fn batches_over_the_row_limit_are_refused_whole() {
    let rows: Vec<Value> = (0..10_001).map(|_| row("call", 100.0, ("vol", 0.2))).collect();
    let (status, e) = post("/api/v2/analytics/greeks", &json!({"rows": rows})).await;
    assert_eq!((status, e["field"].as_str()), (413, Some("rows")), "{e}");
}

#[tokio::test]
async fn every_answer_carries_a_request_id_the_clients_when_sane() {
    let app = crate::support::app(AppState::detached());
    let id_of = |resp: &poem::test::TestResponse| {
        resp.0
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap()
    };
    let generated = id_of(&app.get("/api/v2/instruments/underlyings").send().await);
    assert_eq!(generated.len(), 32);
    assert!(generated.bytes().all(|b| b.is_ascii_hexdigit()));
    let other = id_of(&app.get("/api/v2/instruments/underlyings").send().await);
    assert_ne!(generated, other, "fresh per request");
    let given = app
        .get("/api/v2/realtime/greeks/NSE:NOPE")
        .header("X-Request-Id", "trace-abc-123")
        .send()
        .await;
    assert_eq!(given.0.status().as_u16(), 404, "errors carry it too");
    assert_eq!(id_of(&given), "trace-abc-123");
    let too_long = "x".repeat(200);
    let replaced = app
        .get("/health/live")
        .header("X-Request-Id", too_long.as_str())
        .send()
        .await;
    assert_eq!(id_of(&replaced).len(), 32);
}
