//! The moneyness-mapping cache, implemented in process (L1) and in Redis (L2, shared between instances).

use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;

use super::PortError;
use crate::instrument::InstrumentKey;
use crate::moneyness::MoneynessMapping;

/// A cache of moneyness mappings. Freshness is judged by the caller from the mapping's `as_of`;
/// the cache only keeps an entry until its `ttl` runs out.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SignalCache: Send + Sync {
    /// The cached mapping, if present and not expired.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the cache cannot be reached (callers fall back).
    async fn mapping(
        &self,
        underlying: &InstrumentKey,
        expiry: NaiveDate,
    ) -> Result<Option<MoneynessMapping>, PortError>;

    /// Stores a mapping for `ttl`.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the cache cannot be reached.
    async fn put_mapping(&self, mapping: &MoneynessMapping, ttl: Duration) -> Result<(), PortError>;
}

/// Where moneyness mappings come from when no cache has one (the instrument service).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MappingSource: Send + Sync {
    /// The mapping of one underlying and expiry.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the source is down; [`PortError::NotFound`] for an unknown
    /// underlying or expiry; [`PortError::Invalid`] for a garbled answer.
    async fn mapping(&self, underlying: &InstrumentKey, expiry: NaiveDate) -> Result<MoneynessMapping, PortError>;
}
