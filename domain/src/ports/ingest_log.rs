//! The ingest log: the rows each instance accepted, shared with the other instances so every
//! instance's realtime state reflects all ingest (`application::ingest`'s `follow.rs`).

use async_trait::async_trait;

use super::PortError;
use crate::market_data::Tick;

/// Where an instance appends the rows it accepted, for the others to follow.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IngestLog: Send + Sync {
    /// Appends one batch's accepted rows, in order.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the log's backend does not answer; the batch is still
    /// this instance's (stored and published), only the others' realtime state misses it.
    async fn append(&self, ticks: &[Tick]) -> Result<(), PortError>;
}
