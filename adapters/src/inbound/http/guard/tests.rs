//! Tests of `guard.rs`.

use super::*;
use poem::test::TestClient;
use poem::{EndpointExt, handler};

#[handler]
async fn echo(body: Vec<u8>) -> String {
    body.len().to_string()
}

fn guard(rates: Option<RateLimits>) -> GuardLayer {
    GuardLayer(std::sync::Arc::new(Guard::new(
        BodyLimits {
            ingest: 100,
            analytics: 50,
            other: 10,
            read_timeout: Duration::from_secs(1),
        },
        vec!["k1".into()],
        rates,
    )))
}

#[tokio::test]
async fn bodies_over_the_group_limit_are_refused_and_the_key_is_checked_first() {
    let app = poem::Route::new().at("/*", poem::post(echo)).with(guard(None));
    let cli = TestClient::new(app);
    let r = cli
        .post("/api/v2/ingest/ticks")
        .header("x-api-key", "k1")
        .header("content-length", "100")
        .body(vec![b'x'; 100])
        .send()
        .await;
    r.assert_status_is_ok();
    r.assert_text("100").await;
    let r = cli
        .post("/api/v2/ingest/ticks")
        .header("x-api-key", "k1")
        .header("content-length", "101")
        .body(vec![b'x'; 101])
        .send()
        .await;
    r.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    r.assert_header("connection", "close");
    // A wrong key is 401 whatever the body, even one over the limit.
    let r = cli
        .post("/api/v2/ingest/ticks")
        .header("x-api-key", "nope")
        .header("content-length", "1000")
        .body(vec![b'x'; 1000])
        .send()
        .await;
    r.assert_status(StatusCode::UNAUTHORIZED);
    r.assert_json(serde_json::json!({"code": "unauthorized", "message": "a valid X-API-Key header is required", "field": "X-API-Key"})).await;
    let r = cli
        .post("/api/v2/analytics/iv")
        .header("content-length", "51")
        .body(vec![b'x'; 51])
        .send()
        .await;
    r.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    let r = cli
        .post("/api/v2/realtime/x")
        .header("content-length", "11")
        .body(vec![b'x'; 11])
        .send()
        .await;
    r.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn rates_and_failed_authentications_are_limited_with_retry_after() {
    let rates = RateLimits {
        per_key: (1000, 1000),
        per_address: (2, 2),
        auth_failures_per_minute: 1000,
    };
    let app = poem::Route::new().at("/*", poem::post(echo)).with(guard(Some(rates)));
    let cli = TestClient::new(app);
    for _ in 0..2 {
        cli.post("/api/v2/realtime/x").send().await.assert_status_is_ok();
    }
    let r = cli.post("/api/v2/realtime/x").send().await;
    r.assert_status(StatusCode::TOO_MANY_REQUESTS);
    assert!(r.0.headers().contains_key("retry-after"));
    // Health probes are never rate limited.
    cli.post("/health/live").send().await.assert_status_is_ok();

    let rates = RateLimits {
        per_key: (1000, 1000),
        per_address: (1000, 1000),
        auth_failures_per_minute: 3,
    };
    let app = poem::Route::new().at("/*", poem::post(echo)).with(guard(Some(rates)));
    let cli = TestClient::new(app);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = cli.post("/api/v2/ingest/ticks").header("x-api-key", "bad").send().await;
        statuses.push(r.0.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 429, 429]);
}
