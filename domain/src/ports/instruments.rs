//! Instrument data: underlyings, expiries, chains, contracts.

use async_trait::async_trait;
use chrono::NaiveDate;

use super::PortError;
use crate::instrument::{FutureContract, InstrumentKey, OptionContract, Underlying};

/// Where the instrument catalogue comes from (a file, an instrument service, a database).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait InstrumentSource: Send + Sync {
    /// All underlyings with listed options.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the source cannot be reached.
    async fn underlyings(&self) -> Result<Vec<Underlying>, PortError>;

    /// An underlying's expiry dates (exchange-local), ascending.
    ///
    /// # Errors
    /// [`PortError::NotFound`] for an unknown underlying; [`PortError::Unavailable`] when unreachable.
    async fn expiries(&self, underlying: &InstrumentKey) -> Result<Vec<NaiveDate>, PortError>;

    /// Every contract of one expiry, ascending by strike then right.
    ///
    /// # Errors
    /// [`PortError::NotFound`] for an unknown underlying or expiry; [`PortError::Unavailable`].
    async fn chain(&self, underlying: &InstrumentKey, expiry: NaiveDate) -> Result<Vec<OptionContract>, PortError>;

    /// One contract by key.
    ///
    /// # Errors
    /// [`PortError::NotFound`] for an unknown key; [`PortError::Unavailable`].
    async fn contract(&self, key: &InstrumentKey) -> Result<OptionContract, PortError>;

    /// An underlying's listed futures, ascending by expiry; none by default (a source without
    /// futures leaves the forward to put–call parity).
    ///
    /// # Errors
    /// [`PortError::NotFound`] for an unknown underlying; [`PortError::Unavailable`].
    async fn futures(&self, underlying: &InstrumentKey) -> Result<Vec<FutureContract>, PortError> {
        let _ = underlying;
        Ok(Vec::new())
    }

    /// The distance between an underlying's listed strikes, price units.
    ///
    /// # Errors
    /// [`PortError::NotFound`] for an unknown underlying; [`PortError::Unavailable`].
    async fn strike_step(&self, underlying: &InstrumentKey) -> Result<f64, PortError> {
        self.underlyings()
            .await?
            .into_iter()
            .find(|u| &u.key == underlying)
            .map(|u| u.strike_step)
            .ok_or_else(|| PortError::NotFound(format!("underlying {underlying}")))
    }
}
