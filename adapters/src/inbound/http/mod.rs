//! The HTTP API (poem-openapi): health, ingest and realtime reads under `/api/v2`.
//!
//! [`routes`] builds the whole endpoint tree from an [`AppState`]; bootstrap serves it. Every
//! error, including poem-openapi's own parameter and body errors, is the JSON [`error::ErrorBody`].

mod analytics;
mod body_schema;
mod chain;
mod compression;
mod conformance;
pub(crate) use conformance::document_template;
mod csv_body;
mod document;
pub mod error;
mod examples;
mod export;
#[doc(hidden)]
pub mod fuzz;
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
mod page;
mod realtime;
pub mod request_id;
mod serialized;
pub mod server;
mod shapes;
mod spec_routes;
mod surface;
mod time_param;
mod updates;
pub mod websocket;

use std::sync::Arc;

use application::history::HistoryReads;
use application::indicators::IndicatorReads;
use application::ingest::IngestTicks;
use application::instruments::InstrumentReads;
use application::market::{InstrumentRegistry, RealtimeState, RegistryListing};
use application::moneyness::{MappingConfig, MappingService, MoneynessReads};
use application::readiness::Readiness;
use application::realtime::RealtimeReads;
use domain::ports::{AggregateCache, Clock, HealthProbe, SignalStore};
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;

pub use document::openapi_json;

/// What the handlers share: the use cases, built once at start (`bootstrap`), and the HTTP
/// layer's own limits. Handlers reach the data only through these.
#[derive(Clone)]
pub struct AppState {
    /// The write use case: ticks and candles in.
    pub ingest: Arc<IngestTicks>,
    /// Realtime reads: the latest Greeks and evaluated chains, from memory.
    pub realtime: Arc<RealtimeReads>,
    /// Instrument reads: underlyings, expiries, listed chains.
    pub instruments: Arc<InstrumentReads>,
    /// Historical reads: candles, Greeks, ATM IV on any timeframe.
    pub history: Arc<HistoryReads>,
    /// Indicator reads over history or now.
    pub indicators: Arc<IndicatorReads>,
    /// The chain as of a past minute, from the stored snapshots.
    pub past_chains: Arc<application::past_chain::PastChains>,
    /// IV rank of the 30-day ATM IV.
    pub iv_ranks: Arc<application::iv_rank::IvRanks>,
    /// Moneyness reads: a level's aggregates and strikes, by the expiry's mapping.
    pub moneyness: Arc<MoneynessReads>,
    /// Whether the database, Redis and snapshot writes let this instance work.
    pub readiness: Arc<Readiness>,
    /// The closed-day aggregate cache, for its counters on `/metrics`.
    pub aggregate_cache: Option<Arc<dyn AggregateCache>>,
    /// API keys accepted by the ingest endpoints; empty means no key is needed.
    pub api_keys: Arc<Vec<String>>,
    /// The WebSocket subscriptions: the hub and the connection limits.
    pub subscriptions: websocket::WsContext,
    /// Rate limits, the ingest key check and body limits, before any handler.
    pub guard: Arc<guard::Guard>,
    /// The event metrics (`/metrics`), recorded by the HTTP middleware and the handlers.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The moneyness mappings, for their cache counters at `/metrics`.
    pub mappings: Arc<MappingService>,
    /// The adapters that show their state at `/metrics` (the store's pool, the Redis fan-out
    /// and mapping cache, the in-process mapping cache, the instrument-service client).
    pub metric_sources: Vec<Arc<dyn crate::metrics::Source>>,
}

/// The parts [`AppState::new`] builds the use cases from.
pub struct UseCaseParts {
    /// The ingest use case (it writes `state` and the store).
    pub ingest: Arc<IngestTicks>,
    /// The realtime state ingest keeps.
    pub state: Arc<RealtimeState>,
    /// The instruments and their markets.
    pub registry: Arc<InstrumentRegistry>,
    /// The store, for historical reads.
    pub store: Arc<dyn SignalStore>,
    /// The closed-day aggregate cache the historical reads share with ingest.
    pub aggregate_cache: Option<Arc<dyn AggregateCache>>,
    /// Readiness probes: the database, and Redis when configured.
    pub database: Arc<dyn HealthProbe>,
    /// Redis, when configured.
    pub redis: Option<Arc<dyn HealthProbe>>,
    /// The moneyness mappings (caches, instrument service, local ladder).
    pub mappings: Arc<MappingService>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    /// Builds every read use case once from `parts`; limits are the defaults (set the fields).
    #[must_use]
    pub fn new(parts: UseCaseParts) -> Self {
        let UseCaseParts {
            ingest,
            state,
            registry,
            store,
            aggregate_cache,
            database,
            redis,
            mappings,
            clock,
        } = parts;
        let past_chains = Arc::new(application::past_chain::PastChains::new(
            store.clone(),
            registry.clone(),
            clock.clone(),
        ));
        let iv_ranks = Arc::new(application::iv_rank::IvRanks::new(
            store.clone(),
            registry.clone(),
            clock.clone(),
        ));
        let history =
            Arc::new(HistoryReads::new(store, registry.clone(), clock.clone()).with_memory(aggregate_cache.clone()));
        let realtime = Arc::new(RealtimeReads::new(state, registry.clone(), clock.clone()));
        Self {
            past_chains,
            iv_ranks,
            moneyness: Arc::new(MoneynessReads::new(realtime.clone(), mappings.clone())),
            mappings,
            realtime,
            instruments: Arc::new(InstrumentReads::new(registry, clock.clone())),
            indicators: Arc::new(IndicatorReads::new(history.clone(), clock)),
            history,
            readiness: Arc::new(Readiness::new(database, redis, ingest.clone())),
            ingest,
            aggregate_cache,
            api_keys: Arc::default(),
            subscriptions: websocket::WsContext::new(Arc::default(), websocket::WsLimits::default()),
            guard: Arc::default(),
            metrics: Arc::default(),
            metric_sources: Vec::new(),
        }
    }

    /// A state with no data and no dependencies (an empty registry, a store and probes that
    /// answer `unavailable`): enough to render the OpenAPI document without a running service.
    #[must_use]
    pub fn detached() -> Self {
        let clock: Arc<dyn Clock> = Arc::new(crate::outbound::clock::SystemClock);
        let registry = Arc::new(InstrumentRegistry::default());
        let state = Arc::new(RealtimeState::default());
        let store: Arc<dyn SignalStore> = Arc::new(crate::outbound::store::Unconnected);
        let ingest = Arc::new(IngestTicks::new(
            registry.clone(),
            state.clone(),
            store.clone(),
            clock.clone(),
        ));
        let mappings = Arc::new(MappingService::new(
            Arc::new(crate::outbound::cache::MemoryMappingCache::new(1)),
            None,
            None,
            Arc::new(RegistryListing(registry.clone())),
            clock.clone(),
            MappingConfig::default(),
        ));
        Self::new(UseCaseParts {
            ingest,
            state,
            registry,
            store,
            aggregate_cache: None,
            database: Arc::new(application::readiness::Absent),
            redis: None,
            mappings,
            clock,
        })
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
**The live page.** The service serves a live option-chain page at [`/`](/): the chain, its \
statistics, the smile, the term structure and gamma exposure, from these endpoints and the \
WebSocket.\n\n\
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
    surface::SurfaceApi,
    moneyness::MoneynessApi,
    instruments::InstrumentsApi,
    analytics::AnalyticsApi,
    historical::HistoricalApi,
    historical::PastApi,
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
            surface::SurfaceApi { state: state.clone() },
            moneyness::MoneynessApi { state: state.clone() },
            instruments::InstrumentsApi { state: state.clone() },
            analytics::AnalyticsApi,
            historical::HistoricalApi { state: state.clone() },
            historical::PastApi { state: state.clone() },
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
    // The document's paths are absolute (`/api/v2/…`).
    let known = known_params::KnownParams::from_spec(&spec, "");
    let bodies = body_schema::BodySchemas::from_spec(&spec, "", "/api/v2/ingest/");
    let ui = api.swagger_ui();
    let state_for_metrics = state.clone();
    let metrics = state.metrics.clone();
    let subscriptions = state.subscriptions.clone();
    let guard = guard::GuardLayer(state.guard.clone());
    Route::new()
        .at(
            "/api/v2/subscriptions/websocket",
            poem::get(websocket::subscriptions_websocket).data(subscriptions),
        )
        .nest("/api/v2", api.with(compression::Compression))
        .nest("/health", health::routes(state))
        .nest("/docs", ui)
        .at("/", page::index_endpoint())
        .at("/favicon.ico", page::favicon_endpoint())
        .nest("/page", page::assets())
        .at("/openapi.json", document::openapi_document)
        .at("/metrics", poem::get(metrics::metrics).data(state_for_metrics))
        .catch_all_error(error::catch_all)
        // Outside the nest, where the path is the document's (absolute) one.
        .with(body_schema::CheckBodies(bodies))
        .with(known_params::RefuseUnknownParams(known))
        .with(guard)
        .with(conformance::Conformance)
        .with(request_id::RequestId)
        .with(crate::metrics::HttpMetrics(metrics))
}
