//! The store, timed: a [`SignalStore`] that hands every call to the real one and records its
//! duration by operation (`signal_store_operation_duration_seconds{operation}`) and its
//! failures (`signal_store_operation_errors_total{operation}`). Every method is passed through,
//! the store's own bulk paths (`candles_of`, `save_history`) included, so wrapping changes
//! nothing but the counts.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::NaiveDate;
use domain::candles::{AggregatedBar, Timeframe};
use domain::instrument::{InstrumentKey, OptionContract, OptionRight};
use domain::moneyness::MoneynessLevel;
use domain::ports::{
    ComputationRecord, GreeksRecord, InstrumentCandle, MoneynessRecord, PortError, SignalStore, TimeRange,
};

use super::{Metrics, OperationLabels};

/// Every operation the wrapper times (the `SignalStore` methods).
pub(super) const OPERATIONS: [&str; 15] = [
    "save_candles",
    "candles",
    "candles_of",
    "timeframe_bars",
    "save_timeframe_bars",
    "save_greeks",
    "greeks",
    "register_contracts",
    "save_computation",
    "save_moneyness",
    "save_history",
    "moneyness",
    "moneyness_expiries",
    "last_atm",
    "latest_greeks",
];

/// A store whose calls are timed into [`Metrics`].
pub struct MeteredStore {
    inner: Arc<dyn SignalStore>,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    /// Times `inner`'s calls into `metrics`.
    #[must_use]
    pub fn new(inner: Arc<dyn SignalStore>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    async fn timed<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, PortError>>,
    ) -> Result<T, PortError> {
        let started = Instant::now();
        let out = call.await;
        let labels = OperationLabels { operation };
        self.metrics
            .store_duration
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
        if out.is_err() {
            self.metrics.store_errors.get_or_create(&labels).inc();
        }
        out
    }
}

#[async_trait]
impl SignalStore for MeteredStore {
    async fn save_candles(&self, candles: &[InstrumentCandle]) -> Result<(), PortError> {
        self.timed("save_candles", self.inner.save_candles(candles)).await
    }

    async fn candles(&self, key: &InstrumentKey, range: TimeRange) -> Result<Vec<InstrumentCandle>, PortError> {
        self.timed("candles", self.inner.candles(key, range)).await
    }

    async fn candles_of(&self, keys: &[InstrumentKey], range: TimeRange) -> Result<Vec<InstrumentCandle>, PortError> {
        self.timed("candles_of", self.inner.candles_of(keys, range)).await
    }

    async fn timeframe_bars(
        &self,
        key: &InstrumentKey,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<Vec<AggregatedBar>, PortError> {
        self.timed("timeframe_bars", self.inner.timeframe_bars(key, timeframe, range))
            .await
    }

    async fn save_timeframe_bars(
        &self,
        key: &InstrumentKey,
        timeframe: Timeframe,
        bars: &[AggregatedBar],
    ) -> Result<(), PortError> {
        self.timed(
            "save_timeframe_bars",
            self.inner.save_timeframe_bars(key, timeframe, bars),
        )
        .await
    }

    async fn save_greeks(&self, records: &[GreeksRecord]) -> Result<(), PortError> {
        self.timed("save_greeks", self.inner.save_greeks(records)).await
    }

    async fn greeks(
        &self,
        key: &InstrumentKey,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<GreeksRecord>, PortError> {
        self.timed("greeks", self.inner.greeks(key, range, limit)).await
    }

    async fn register_contracts(&self, contracts: &[OptionContract], market: &str) -> Result<(), PortError> {
        self.timed("register_contracts", self.inner.register_contracts(contracts, market))
            .await
    }

    async fn save_computation(&self, record: &ComputationRecord) -> Result<(), PortError> {
        self.timed("save_computation", self.inner.save_computation(record))
            .await
    }

    async fn save_moneyness(&self, records: &[MoneynessRecord]) -> Result<(), PortError> {
        self.timed("save_moneyness", self.inner.save_moneyness(records)).await
    }

    async fn save_history(
        &self,
        candles: &[InstrumentCandle],
        moneyness: &[MoneynessRecord],
        greeks: &[GreeksRecord],
    ) -> Result<(), PortError> {
        self.timed("save_history", self.inner.save_history(candles, moneyness, greeks))
            .await
    }

    async fn moneyness(
        &self,
        underlying: &InstrumentKey,
        expiry: NaiveDate,
        right: OptionRight,
        level: MoneynessLevel,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<MoneynessRecord>, PortError> {
        self.timed(
            "moneyness",
            self.inner.moneyness(underlying, expiry, right, level, range, limit),
        )
        .await
    }

    async fn moneyness_expiries(
        &self,
        underlying: &InstrumentKey,
        from: NaiveDate,
    ) -> Result<Vec<NaiveDate>, PortError> {
        self.timed("moneyness_expiries", self.inner.moneyness_expiries(underlying, from))
            .await
    }

    async fn last_atm(
        &self,
        underlying: &InstrumentKey,
        expiry: NaiveDate,
        range: TimeRange,
    ) -> Result<Option<MoneynessRecord>, PortError> {
        self.timed("last_atm", self.inner.last_atm(underlying, expiry, range))
            .await
    }

    async fn latest_greeks(&self, keys: &[InstrumentKey], range: TimeRange) -> Result<Vec<GreeksRecord>, PortError> {
        self.timed("latest_greeks", self.inner.latest_greeks(keys, range)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::ports::MockSignalStore;

    #[tokio::test]
    async fn every_call_is_timed_and_failures_counted_by_operation() {
        let mut inner = MockSignalStore::new();
        inner.expect_save_greeks().returning(|_| Ok(()));
        inner
            .expect_save_candles()
            .returning(|_| Err(PortError::Unavailable("database down".into())));
        let metrics = Arc::new(Metrics::default());
        let store = MeteredStore::new(Arc::new(inner), metrics.clone());
        store.save_greeks(&[]).await.unwrap();
        store.save_greeks(&[]).await.unwrap();
        assert!(store.save_candles(&[]).await.is_err());
        let text = super::super::render(&metrics, super::super::StateReading::default(), false);
        for line in [
            r#"signal_store_operation_duration_seconds_count{operation="save_greeks"} 2"#,
            r#"signal_store_operation_duration_seconds_count{operation="save_candles"} 1"#,
            r#"signal_store_operation_errors_total{operation="save_candles"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
        assert!(
            text.lines()
                .any(|l| l == r#"signal_store_operation_errors_total{operation="save_greeks"} 0"#),
            "every operation's error count starts at 0"
        );
    }
}
