//! `GET /metrics`: the service's metrics ([`crate::metrics`]) for Prometheus. Prometheus text
//! 0.0.4 unless the scraper's `Accept` names OpenMetrics (`application/openmetrics-text`), which
//! it then gets. Not part of the OpenAPI document: it is for scrapers, not SDKs.

use poem::http::HeaderMap;
use poem::http::header::{ACCEPT, CONTENT_TYPE};
use poem::web::Data;
use poem::{Response, handler};

use super::AppState;
use crate::metrics::{OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, StateReading, render};

/// Whether the scraper asked for OpenMetrics.
fn wants_openmetrics(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"))
}

/// What the state holds now (readiness probes its dependencies, each within 600 ms).
async fn reading(state: &AppState) -> StateReading {
    let ready = state.readiness.check().await;
    let mut reading = StateReading {
        readiness: Some((ready.state, ready.database.is_ok(), ready.redis.map(|r| r.is_ok()))),
        backlog: Some(ready.snapshots),
        hub: Some(state.subscriptions.hub.stats()),
        ws_connections: Some(state.subscriptions.connections()),
        aggregate_cache: state.aggregate_cache.as_ref().map(|c| c.stats()),
        mapping_cache: Some(state.mappings.stats().snapshot()),
        ..StateReading::now()
    };
    for source in &state.metric_sources {
        source.read_into(&mut reading);
    }
    reading
}

/// The scrape.
#[handler]
pub async fn metrics(state: Data<&AppState>, headers: &HeaderMap) -> Response {
    let openmetrics = wants_openmetrics(headers);
    let body = render(&state.metrics, reading(&state).await, openmetrics);
    let content_type = if openmetrics {
        OPENMETRICS_CONTENT_TYPE
    } else {
        PROMETHEUS_CONTENT_TYPE
    };
    Response::builder().header(CONTENT_TYPE, content_type).body(body)
}
