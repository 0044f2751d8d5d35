//! The HTTP API (poem-openapi): health, ingest and realtime reads under `/api/v2`.
//!
//! [`routes`] builds the whole endpoint tree from an [`AppState`]; bootstrap serves it. Every
//! error, including poem-openapi's own parameter and body errors, is the JSON [`error::ErrorBody`].

mod analytics;
mod body_schema;
mod chain;
mod compression;
mod conformance;
mod csv_body;
mod document;
pub mod error;
mod examples;
mod export;
pub mod guard;
mod health;
mod historical;
mod indicators;
mod ingest;
mod instruments;
mod json_rows;
pub mod known_params;
pub mod listener;
pub mod metrics;
pub use ingest::{CandleIn, IngestResult, RejectedRow, TickIn};
mod moneyness;
mod realtime;
pub mod request_id;
mod serialized;
pub mod server;
mod shapes;
mod spec_routes;
pub mod websocket;

use std::sync::Arc;

use application::history::HistoryReads;
use application::indicators::IndicatorReads;
use application::ingest::{IngestTicks, InstrumentRegistry, RealtimeState};
use application::instruments::InstrumentReads;
use application::realtime::RealtimeReads;
use domain::chain::Conventions;
use domain::ports::Clock;
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;

pub use document::openapi_json;

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
    /// The WebSocket subscriptions: the hub and the connection limits.
    pub subscriptions: websocket::WsContext,
    /// Rate limits, the ingest key check and body limits, before any handler.
    pub guard: Arc<guard::Guard>,
}

impl AppState {
    /// The realtime read use cases over this state.
    #[must_use]
    pub fn reads(&self) -> RealtimeReads {
        RealtimeReads::new(self.ingest.state().clone(), self.clock.clone())
    }

    /// The instrument read use cases over the pipeline's registry.
    #[must_use]
    pub fn instruments(&self) -> InstrumentReads {
        InstrumentReads::new(self.ingest.registry().clone(), self.clock.clone())
    }

    /// The historical read use cases over the store.
    #[must_use]
    pub fn history(&self) -> HistoryReads {
        HistoryReads::new(
            Arc::new(self.store.clone()),
            self.ingest.registry().clone(),
            self.clock.clone(),
        )
        .with_memory(self.ingest.aggregate_cache().cloned())
    }

    /// The indicator read use cases over the store.
    #[must_use]
    pub fn indicators(&self) -> IndicatorReads {
        IndicatorReads::new(self.history(), self.clock.clone())
    }

    /// A state that serves nothing (no database, no instruments, no data): enough to render the
    /// OpenAPI document without a running service.
    #[must_use]
    pub fn detached() -> Self {
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
        let store = SeaStore::new(sea_orm::DatabaseConnection::default());
        Self {
            ingest: Arc::new(IngestTicks::new(
                Arc::new(InstrumentRegistry::default()),
                Arc::new(RealtimeState::default()),
                Arc::new(store.clone()),
                clock.clone(),
                Conventions::DEFAULT,
            )),
            store,
            clock,
            api_keys: Arc::default(),
            redis: None,
            subscriptions: websocket::WsContext::new(Arc::default(), websocket::WsLimits::default()),
            guard: Arc::default(),
        }
    }
}

/// The document's description: conventions, units and errors that hold for every operation.
const API_DESCRIPTION: &str = "Listed-options analytics: implied volatility, Greeks, moneyness, \
chain statistics, candles and indicators.\n\n\
**Units.** IV is a decimal per √year (0.15 = 15 %); prices, strikes and forwards are in the \
underlying's price units; theta is per calendar day, vega per volatility point (0.01), rho per \
rate point (0.01); times are RFC 3339, minutes are identified by their UTC start. Every answer \
carries the conventions it was computed with (`conventions`: model, rate, time basis, price \
source, units) and the as-of time of its data; realtime answers say whether they are `stale` \
(more than 120 s behind the service clock).\n\n\
**Errors.** Every error is a JSON body `{code, message, field}`: `field` names the parameter, \
body field or header to blame. 400 for malformed parameters or bodies, 401 for a missing or \
wrong API key, 404 when nothing is known for what was asked, 413 for a body over its limit, \
415 for an unsupported Content-Type, 503 when a dependency (the database) is down.\n\n\
**Compression.** Answers of 1 400 bytes or more are compressed with the best coding the \
`Accept-Encoding` header allows (zstd, br, gzip, deflate); smaller ones are sent as they are.";

/// Every endpoint group of the v2 API.
pub type ApiGroups = (
    ingest::IngestApi,
    realtime::RealtimeApi,
    chain::ChainApi,
    moneyness::MoneynessApi,
    instruments::InstrumentsApi,
    analytics::AnalyticsApi,
    historical::HistoricalApi,
    indicators::IndicatorsApi,
    export::ExportApi,
);

/// The OpenAPI service of the v2 API.
#[must_use]
pub fn api(state: &AppState) -> OpenApiService<ApiGroups, ()> {
    OpenApiService::new(
        (
            ingest::IngestApi { state: state.clone() },
            realtime::RealtimeApi::new(state.clone()),
            chain::ChainApi { state: state.clone() },
            moneyness::MoneynessApi { state: state.clone() },
            instruments::InstrumentsApi { state: state.clone() },
            analytics::AnalyticsApi,
            historical::HistoricalApi { state: state.clone() },
            indicators::IndicatorsApi { state: state.clone() },
            export::ExportApi { state: state.clone() },
        ),
        "Signal Service",
        "2.0",
    )
    .description(API_DESCRIPTION)
    .server("/api/v2")
}

/// Every route: `/api/v2/…`, `/api/v2/subscriptions/websocket` (WebSocket, outside the OpenAPI
/// document: docs/websocket.md), `/openapi.json` (the document), `/health/…`, `/metrics`
/// (Prometheus), `/docs` (Swagger UI).
pub fn routes(state: AppState) -> impl Endpoint {
    let api = api(&state);
    // The document as served (`document.rs`: optional properties `nullable`, …), so the checks
    // accept exactly what it promises.
    let spec = document::openapi_json();
    let known = known_params::KnownParams::from_spec(&spec, "/api/v2");
    // Inside the `/api/v2` nest, paths are relative to it.
    let bodies = body_schema::BodySchemas::from_spec(&spec, "", "/ingest/");
    let ui = api.swagger_ui();
    let state_for_metrics = state.clone();
    let subscriptions = state.subscriptions.clone();
    let guard = guard::GuardLayer(state.guard.clone());
    Route::new()
        .at(
            "/api/v2/subscriptions/websocket",
            poem::get(websocket::subscriptions_websocket).data(subscriptions),
        )
        .nest(
            "/api/v2",
            api.with(body_schema::CheckBodies(bodies))
                .with(compression::Compression),
        )
        .nest("/health", health::routes(state))
        .nest("/docs", ui)
        .at("/openapi.json", document::openapi_document)
        .at("/metrics", poem::get(metrics::metrics).data(state_for_metrics))
        .catch_all_error(error::catch_all)
        .with(known_params::RefuseUnknownParams(known))
        .with(guard)
        .with(conformance::Conformance)
        .with(request_id::RequestId)
}
