//! A store with no database behind it: every call answers `unavailable`. It lets the API be
//! assembled where there is nothing to serve (rendering the OpenAPI document).

use async_trait::async_trait;
use chrono::NaiveDate;
use domain::candles::{AggregatedBar, Timeframe};
use domain::instrument::{InstrumentKey, OptionContract, OptionRight};
use domain::moneyness::MoneynessLevel;
use domain::ports::{
    ComputationRecord, GreeksRecord, InstrumentCandle, MoneynessRecord, PortError, SignalStore, TimeRange,
};

/// The store of a state that serves nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unconnected;

fn none<T>() -> Result<T, PortError> {
    Err(PortError::Unavailable("no database is connected".into()))
}

#[async_trait]
impl SignalStore for Unconnected {
    async fn save_candles(&self, _: &[InstrumentCandle]) -> Result<(), PortError> {
        none()
    }

    async fn candles(&self, _: &InstrumentKey, _: TimeRange) -> Result<Vec<InstrumentCandle>, PortError> {
        none()
    }

    async fn timeframe_bars(
        &self,
        _: &InstrumentKey,
        _: Timeframe,
        _: TimeRange,
    ) -> Result<Vec<AggregatedBar>, PortError> {
        none()
    }

    async fn save_timeframe_bars(&self, _: &InstrumentKey, _: Timeframe, _: &[AggregatedBar]) -> Result<(), PortError> {
        none()
    }

    async fn save_greeks(&self, _: &[GreeksRecord]) -> Result<(), PortError> {
        none()
    }

    async fn greeks(&self, _: &InstrumentKey, _: TimeRange, _: usize) -> Result<Vec<GreeksRecord>, PortError> {
        none()
    }

    async fn register_contracts(&self, _: &[OptionContract], _: &str) -> Result<(), PortError> {
        none()
    }

    async fn save_computation(&self, _: &ComputationRecord) -> Result<(), PortError> {
        none()
    }

    async fn save_moneyness(&self, _: &[MoneynessRecord]) -> Result<(), PortError> {
        none()
    }

    async fn moneyness(
        &self,
        _: &InstrumentKey,
        _: NaiveDate,
        _: OptionRight,
        _: MoneynessLevel,
        _: TimeRange,
        _: usize,
    ) -> Result<Vec<MoneynessRecord>, PortError> {
        none()
    }

    async fn moneyness_expiries(&self, _: &InstrumentKey, _: NaiveDate) -> Result<Vec<NaiveDate>, PortError> {
        none()
    }
}
