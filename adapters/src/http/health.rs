//! `/health/live` (the process answers) and `/health/ready` (it can do its work, and how well).
//!
//! Readiness answers within a second in every state: each dependency is asked at once,
//! each with its own deadline, so a database that hangs shows as `timed out` instead of holding
//! the probe. Three states:
//! - `ready` (200): the database and Redis answer and snapshot writes keep up;
//! - `degraded` (200, `reasons` say why): serving, with something to look at — snapshot writes
//!   failing (the backlog, its oldest entry's age and the last error are in `snapshots`), or
//!   Redis down (this instance's subscribers are still served; other instances' are not);
//! - `not_ready` (503): the database does not answer, or the snapshot backlog is full (ingest
//!   is refused with 503 either way), so a load balancer should send work elsewhere.

use std::time::Duration;

use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{EndpointExt, IntoResponse, Route, get, handler};

use super::AppState;

/// How long one dependency check may take.
const CHECK_TIMEOUT: Duration = Duration::from_millis(600);

#[handler]
fn live() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "live"}))
}

/// `ok`, or what went wrong, within [`CHECK_TIMEOUT`].
async fn check(f: impl Future<Output = Result<(), domain::ports::PortError>>) -> Result<(), String> {
    match tokio::time::timeout(CHECK_TIMEOUT, f).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("timed out after {} ms", CHECK_TIMEOUT.as_millis())),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[handler]
async fn ready(state: Data<&AppState>) -> poem::Response {
    let redis = async {
        match &state.redis {
            Some(r) => Some(check(r.ping()).await),
            None => None,
        }
    };
    let (db, redis) = tokio::join!(check(state.store.ping()), redis);
    let backlog = state.ingest.backlog();
    let mut reasons: Vec<String> = Vec::new();
    let mut serving = true;
    if let Err(e) = &db {
        serving = false;
        reasons.push(format!("database: {e}"));
    }
    if backlog.pending() >= backlog.limit {
        serving = false;
        reasons.push(format!(
            "snapshot backlog full ({} of {}): ingest is refused until it drains",
            backlog.pending(),
            backlog.limit
        ));
    }
    if let Some(failing) = backlog.failing_for {
        reasons.push(format!(
            "snapshot writes failing for {} s: {}",
            failing.as_secs(),
            backlog.last_error.as_deref().unwrap_or("unknown error")
        ));
    }
    if let Some(Err(e)) = &redis {
        reasons.push(format!("redis: {e} (updates reach this instance's subscribers only)"));
    }
    let status = match (serving, reasons.is_empty()) {
        (false, _) => "not_ready",
        (true, true) => "ready",
        (true, false) => "degraded",
    };
    let show = |r: &Result<(), String>| r.as_ref().map_or_else(Clone::clone, |()| "ok".to_owned());
    let mut body = serde_json::json!({
        "status": status,
        "database": show(&db),
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
    if !reasons.is_empty() {
        body["reasons"] = serde_json::json!(reasons);
    }
    if let Some(r) = &redis {
        body["redis"] = serde_json::Value::String(show(r));
    }
    let resp = Json(body);
    if serving {
        resp.into_response()
    } else {
        resp.with_status(StatusCode::SERVICE_UNAVAILABLE).into_response()
    }
}

/// The health routes.
pub fn routes(state: AppState) -> impl poem::Endpoint {
    Route::new().at("/live", get(live)).at("/ready", get(ready)).data(state)
}
