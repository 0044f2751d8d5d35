//! Publishing computed signals to subscribers (in-process broadcast or Redis pub/sub).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{GreeksRecord, InstrumentCandle, MoneynessRecord, PortError};

/// One update for subscribers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SignalEvent {
    /// New Greeks for one option.
    Greeks(GreeksRecord),
    /// New moneyness aggregates.
    Moneyness(MoneynessRecord),
    /// A 1-minute candle closed or changed.
    Candle(InstrumentCandle),
}

/// Fan-out of signal updates.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SignalPublisher: Send + Sync {
    /// Publishes `event` on `topic`; returns the topic's sequence number for it.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the fan-out backend is down.
    async fn publish(&self, topic: &str, event: &SignalEvent) -> Result<u64, PortError>;
}
