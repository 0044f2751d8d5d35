//! What several test modules share: a fixed clock inside an NSE session, an ingest pipeline
//! that knows NIFTY and one of its calls, and the whole HTTP app in process.

use std::sync::Arc;

use application::ingest::IngestTicks;
use application::market::{InstrumentRegistry, RealtimeState};
use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::instrument::{InstrumentKey, LotSize, OptionContract, OptionRight, Strike};
use domain::ports::{AggregateCache, Clock, ManualClock, SignalPublisher, SignalStore};

/// Monday 2026-02-02 10:00 IST, inside the NSE session.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 2, 4, 30, 0).unwrap()
}

/// An instant `minutes` after 09:30 IST on that day (RFC 3339).
pub fn ts(minutes: i64) -> String {
    (now() - Duration::minutes(30) + Duration::minutes(minutes)).to_rfc3339()
}

/// The one option contract the pipeline knows besides the index.
pub const CALL: &str = "NSE:NIFTY-20260224-26000-CE";

/// An ingest pipeline and the parts it was built from, so a test can read what it wrote.
pub struct Pipeline {
    /// The use case.
    pub ingest: Arc<IngestTicks>,
    /// The instruments it knows (NIFTY and [`CALL`]).
    pub registry: Arc<InstrumentRegistry>,
    /// The realtime state it keeps.
    pub state: Arc<RealtimeState>,
    /// Its clock, at [`now`].
    pub clock: Arc<dyn Clock>,
    /// Its store.
    pub store: Arc<dyn SignalStore>,
    /// The aggregate cache it tells about late bars.
    pub aggregates: Option<Arc<dyn AggregateCache>>,
}

impl Pipeline {
    /// The HTTP state over this pipeline (`database` answers readiness).
    pub fn app_state(&self, database: Arc<dyn domain::ports::HealthProbe>) -> adapters::inbound::http::AppState {
        adapters::inbound::http::AppState::new(adapters::inbound::http::UseCaseParts {
            ingest: self.ingest.clone(),
            state: self.state.clone(),
            registry: self.registry.clone(),
            store: self.store.clone(),
            aggregate_cache: self.aggregates.clone(),
            database,
            redis: None,
            mappings: ladder_mappings(&self.registry, &self.clock),
            clock: self.clock.clone(),
        })
    }
}

/// Moneyness mappings from the registry's strike ladder alone (no Redis, no instrument service).
pub fn ladder_mappings(
    registry: &Arc<InstrumentRegistry>,
    clock: &Arc<dyn Clock>,
) -> Arc<application::moneyness::MappingService> {
    Arc::new(application::moneyness::MappingService::new(
        Arc::new(adapters::outbound::cache::MemoryMappingCache::new(100)),
        None,
        None,
        Arc::new(application::market::RegistryListing(registry.clone())),
        clock.clone(),
        application::moneyness::MappingConfig::default(),
    ))
}

/// An ingest pipeline over `store` with the default conventions and the clock at [`now`].
pub fn pipeline(store: Arc<dyn SignalStore>) -> Pipeline {
    pipeline_with(store, None)
}

/// [`pipeline`] with an in-process aggregate cache.
pub fn pipeline_with(store: Arc<dyn SignalStore>, aggregates: Option<Arc<dyn AggregateCache>>) -> Pipeline {
    pipeline_publishing(store, aggregates, None)
}

/// [`pipeline_with`], publishing updates through `publisher`.
pub fn pipeline_publishing(
    store: Arc<dyn SignalStore>,
    aggregates: Option<Arc<dyn AggregateCache>>,
    publisher: Option<Arc<dyn SignalPublisher>>,
) -> Pipeline {
    let registry = InstrumentRegistry::default();
    registry
        .register_underlying(InstrumentKey::parse("NSE:NIFTY").unwrap(), "NSE")
        .unwrap();
    registry
        .register_option(
            OptionContract {
                key: InstrumentKey::parse(CALL).unwrap(),
                underlying: InstrumentKey::parse("NSE:NIFTY").unwrap(),
                expiry: Utc.with_ymd_and_hms(2026, 2, 24, 10, 0, 0).unwrap(),
                strike: Strike::new(26_000.0).unwrap(),
                right: OptionRight::Call,
                lot_size: LotSize::new(65).unwrap(),
                tick_size: 0.05,
            },
            "NSE",
        )
        .unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now()));
    let registry = Arc::new(registry);
    let state = Arc::new(RealtimeState::default());
    let ingest = Arc::new(
        IngestTicks::new(registry.clone(), state.clone(), store.clone(), clock.clone())
            .with_aggregate_cache(aggregates.clone())
            .with_publisher(publisher),
    );
    Pipeline {
        ingest,
        registry,
        state,
        clock,
        store,
        aggregates,
    }
}

/// The whole HTTP app in process (poem's test client).
pub type App = poem::test::TestClient<poem::endpoint::BoxEndpoint<'static>>;

/// The app serving `state`.
pub fn app(state: adapters::inbound::http::AppState) -> App {
    use poem::EndpointExt;
    poem::test::TestClient::new(adapters::inbound::http::routes(state).map_to_response().boxed())
}

/// A response's status and JSON body (`Null` when the body is not JSON).
pub async fn status_and_json(resp: poem::test::TestResponse) -> (u16, serde_json::Value) {
    let status = resp.0.status().as_u16();
    (
        status,
        resp.0
            .into_body()
            .into_json::<serde_json::Value>()
            .await
            .unwrap_or(serde_json::Value::Null),
    )
}

/// `GET path` on `app`.
pub async fn get(app: &App, path: &str) -> (u16, serde_json::Value) {
    status_and_json(app.get(path).send().await).await
}

/// The value of one sample of the Prometheus text at `GET /metrics`.
pub async fn metric(app: &App, name: &str) -> u64 {
    let resp = app.get("/metrics").send().await;
    resp.assert_status_is_ok();
    let text = resp.0.into_body().into_string().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// A store on `db` with the schema applied.
pub async fn migrated_store(db: &e2e_tests::FreshDatabase) -> adapters::outbound::store::SeaStore {
    use migration::MigratorTrait;
    let s = adapters::outbound::store::SeaStore::connect(&db.url).await.unwrap();
    migration::Migrator::up(s.connection(), None).await.unwrap();
    s
}
