//! Test support for the group commit and what waits on it: a store whose bar writes wait at a
//! gate and can be made to fail, and bars to stage.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use domain::candles::{AggregatedBar, Bar, Timeframe};
use domain::instrument::{InstrumentKey, OptionContract, OptionRight};
use domain::moneyness::MoneynessLevel;
use domain::ports::{
    Clock, ComputationRecord, GreeksRecord, InstrumentCandle, ManualClock, MoneynessRecord, PortError, SignalStore,
    TimeRange,
};
use tokio::sync::Semaphore;

use super::commits::BarCommits;
use crate::market::InstrumentRegistry;
use crate::sync::LockOrRecover;

/// Records each `save_candles` call; each waits for a permit of `gate`, fails while `failing`.
pub(super) struct Gated {
    pub(super) gate: Semaphore,
    pub(super) failing: AtomicBool,
    writes: Mutex<Vec<Vec<InstrumentCandle>>>,
}

impl Gated {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            gate: Semaphore::new(0),
            failing: AtomicBool::new(false),
            writes: Mutex::new(Vec::new()),
        })
    }

    pub(super) fn writes(&self) -> Vec<Vec<InstrumentCandle>> {
        self.writes.lock_or_recover().clone()
    }
}

#[async_trait::async_trait]
impl SignalStore for Gated {
    async fn save_candles(&self, candles: &[InstrumentCandle]) -> Result<(), PortError> {
        self.gate.acquire().await.expect("gate open").forget();
        self.writes.lock_or_recover().push(candles.to_vec());
        if self.failing.load(Ordering::SeqCst) {
            return Err(PortError::Unavailable("database down".into()));
        }
        Ok(())
    }
    async fn candles(&self, _: &InstrumentKey, _: TimeRange) -> Result<Vec<InstrumentCandle>, PortError> {
        Ok(Vec::new())
    }
    async fn timeframe_bars(
        &self,
        _: &InstrumentKey,
        _: Timeframe,
        _: TimeRange,
    ) -> Result<Vec<AggregatedBar>, PortError> {
        Ok(Vec::new())
    }
    async fn save_timeframe_bars(&self, _: &InstrumentKey, _: Timeframe, _: &[AggregatedBar]) -> Result<(), PortError> {
        Ok(())
    }
    async fn save_greeks(&self, _: &[GreeksRecord]) -> Result<(), PortError> {
        Ok(())
    }
    async fn greeks(&self, _: &InstrumentKey, _: TimeRange, _: usize) -> Result<Vec<GreeksRecord>, PortError> {
        Ok(Vec::new())
    }
    async fn register_contracts(&self, _: &[OptionContract], _: &str) -> Result<(), PortError> {
        Ok(())
    }
    async fn save_computation(&self, _: &ComputationRecord) -> Result<(), PortError> {
        Ok(())
    }
    async fn save_moneyness(&self, _: &[MoneynessRecord]) -> Result<(), PortError> {
        Ok(())
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
        Ok(Vec::new())
    }

    async fn moneyness_expiries(&self, _: &InstrumentKey, _: NaiveDate) -> Result<Vec<NaiveDate>, PortError> {
        Ok(Vec::new())
    }
}

pub(super) fn commits(store: &Arc<Gated>) -> BarCommits {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(minute(0)));
    BarCommits::new(store.clone(), Arc::new(InstrumentRegistry::default()), clock)
}

pub(super) fn minute(m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 2, 4, m, 0).unwrap()
}

/// The bar of `key` at `m` whose close is `close`.
pub(super) fn bar(key: &str, m: u32, close: f64) -> InstrumentCandle {
    InstrumentCandle {
        key: InstrumentKey::parse(key).unwrap(),
        bar: Bar {
            start: minute(m),
            minutes: 1,
            open: 100.0,
            high: 100.0_f64.max(close),
            low: 100.0_f64.min(close),
            close,
            volume: 1.0,
            vwap: None,
            oi: None,
        },
    }
}

/// A write's (key, close) pairs, sorted (a write's rows come in no particular order).
pub(super) fn closes(write: &[InstrumentCandle]) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = write.iter().map(|c| (c.key.to_string(), c.bar.close)).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    out
}

/// Lets the spawned writer reach the gate.
pub(super) async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}
