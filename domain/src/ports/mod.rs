//! Ports: the traits through which the application reaches the outside world. Adapters implement
//! them; tests use the `Mock*` types (feature `mocks`) or in-memory fakes.
//!
//! All async ports are `#[async_trait]` and object-safe, used as `Arc<dyn Port>`.

mod aggregate_cache;
mod cache;
mod clock;
mod error;
mod history;
mod ingest_log;
mod instruments;
mod probe;
mod publisher;
mod records;
mod store;

pub use crate::moneyness::MoneynessMapping;
pub use aggregate_cache::{AggregateCache, AggregateCacheStats, AggregateDay, FillTicket};
pub use cache::{MappingSource, SignalCache};
pub use clock::{Clock, ManualClock};
pub use error::PortError;
pub use history::{CompactionReport, HistoryTable, HistoryUpkeep};
pub use ingest_log::IngestLog;
pub use instruments::InstrumentSource;
pub use probe::HealthProbe;
pub use publisher::{Outgoing, SignalEvent, SignalPublisher, TopicUpdate, UpdateSink};
pub use records::{ChainInputs, ComputationRecord, GreeksRecord, InstrumentCandle, MoneynessRecord, TimeRange};
pub use store::SignalStore;

#[cfg(any(test, feature = "mocks"))]
pub use aggregate_cache::MockAggregateCache;
#[cfg(any(test, feature = "mocks"))]
pub use cache::{MockMappingSource, MockSignalCache};
#[cfg(any(test, feature = "mocks"))]
pub use clock::MockClock;
#[cfg(any(test, feature = "mocks"))]
pub use history::MockHistoryUpkeep;
#[cfg(any(test, feature = "mocks"))]
pub use ingest_log::MockIngestLog;
#[cfg(any(test, feature = "mocks"))]
pub use instruments::MockInstrumentSource;
#[cfg(any(test, feature = "mocks"))]
pub use probe::MockHealthProbe;
#[cfg(any(test, feature = "mocks"))]
pub use publisher::{MockSignalPublisher, MockUpdateSink};
#[cfg(any(test, feature = "mocks"))]
pub use store::MockSignalStore;
