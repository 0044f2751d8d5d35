//! `/health/live` (the process answers) and `/health/ready` (it can do its work, and how well:
//! [`application::readiness`] decides; this renders it, 503 when `not_ready`).

use std::time::Duration;

use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{EndpointExt, IntoResponse, Route, get, handler};

use application::readiness::ReadinessState;

use super::AppState;

#[handler]
fn live() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "live"}))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[handler]
async fn ready(state: Data<&AppState>) -> poem::Response {
    let r = state.readiness.check().await;
    let show = |r: &Result<(), String>| r.as_ref().map_or_else(Clone::clone, |()| "ok".to_owned());
    let backlog = &r.snapshots;
    let mut body = serde_json::json!({
        "status": r.state.as_str(),
        "database": show(&r.database),
        "snapshots": {
            "pending": backlog.pending(),
            "greeks": backlog.greeks,
            "moneyness": backlog.moneyness,
            "limit": backlog.limit,
            "oldest_pending_age_ms": backlog.oldest_pending.map(millis),
            "failing_for_ms": backlog.failing_for.map(millis),
            "last_error": backlog.last_error,
        },
    });
    if !r.reasons.is_empty() {
        body["reasons"] = serde_json::json!(r.reasons);
    }
    if let Some(redis) = &r.redis {
        body["redis"] = serde_json::Value::String(show(redis));
    }
    let resp = Json(body);
    if r.state == ReadinessState::NotReady {
        resp.with_status(StatusCode::SERVICE_UNAVAILABLE).into_response()
    } else {
        resp.into_response()
    }
}

/// The health routes.
pub fn routes(state: AppState) -> impl poem::Endpoint {
    Route::new().at("/live", get(live)).at("/ready", get(ready)).data(state)
}
