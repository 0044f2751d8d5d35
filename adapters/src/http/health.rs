//! `/health/live` (the process answers) and `/health/ready` (the database answers).

use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{EndpointExt, IntoResponse, Route, get, handler};

use super::AppState;

#[handler]
fn live() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "live"}))
}

/// Ready when the database answers and, when Redis is configured, Redis answers too.
#[handler]
async fn ready(state: Data<&AppState>) -> poem::Response {
    let db = state.store.ping().await;
    let redis = match &state.redis {
        Some(r) => Some(r.ping().await),
        None => None,
    };
    let ok = db.is_ok() && redis.as_ref().is_none_or(Result::is_ok);
    let show =
        |r: &Result<(), domain::ports::PortError>| r.as_ref().map_or_else(ToString::to_string, |()| "ok".to_owned());
    let mut body = serde_json::json!({"status": if ok { "ready" } else { "not_ready" }, "database": show(&db)});
    if let Some(r) = &redis {
        body["redis"] = serde_json::Value::String(show(r));
    }
    let resp = Json(body);
    if ok {
        resp.into_response()
    } else {
        resp.with_status(StatusCode::SERVICE_UNAVAILABLE).into_response()
    }
}

/// The health routes.
pub fn routes(state: AppState) -> impl poem::Endpoint {
    Route::new().at("/live", get(live)).at("/ready", get(ready)).data(state)
}
