//! The HTTP API (poem-openapi): health, ingest and realtime reads under `/api/v2`.
//!
//! [`routes`] builds the whole endpoint tree from an [`AppState`]; bootstrap serves it. Every
//! error, including poem-openapi's own parameter and body errors, is the JSON [`error::ErrorBody`].

mod csv_body;
pub mod error;
mod health;
mod ingest;
pub use ingest::{CandleIn, IngestResult, RejectedRow, TickIn};
mod realtime;

use std::sync::Arc;

use application::ingest::IngestTicks;
use domain::ports::Clock;
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;

use crate::store::SeaStore;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The ingest pipeline (and, through it, the realtime state).
    pub ingest: Arc<IngestTicks>,
    /// The store (health checks).
    pub store: SeaStore,
    /// The clock (staleness).
    pub clock: Arc<dyn Clock>,
    /// API keys accepted by the ingest endpoints; empty means no key is needed.
    pub api_keys: Arc<Vec<String>>,
    /// Redis, when configured (production): part of readiness.
    pub redis: Option<crate::cache::RedisMappingCache>,
}

/// The OpenAPI service of the v2 API.
#[must_use]
pub fn api(state: &AppState) -> OpenApiService<(ingest::IngestApi, realtime::RealtimeApi), ()> {
    OpenApiService::new(
        (
            ingest::IngestApi { state: state.clone() },
            realtime::RealtimeApi { state: state.clone() },
        ),
        "Signal Service",
        "2.0",
    )
    .server("/api/v2")
}

/// Every route: `/api/v2/…`, `/health/…`, `/docs` (Swagger UI).
pub fn routes(state: AppState) -> impl Endpoint {
    let api = api(&state);
    let ui = api.swagger_ui();
    Route::new()
        .nest("/api/v2", api)
        .nest("/health", health::routes(state))
        .nest("/docs", ui)
        .catch_all_error(error::catch_all)
}
