//! Stage 6, persistence: a batch's 1-minute bars are staged for the group commit
//! (`commits.rs`) and the batch is answered once they are written (durable); minute snapshots
//! of Greeks and moneyness wait in the bounded backlog (`backlog.rs`) and are
//! written by [`super::IngestTicks::flush`], each table on its own, a failed write kept for the
//! next flush. A full backlog refuses new batches rather than dropping anything. Bulk loads
//! (`replay`) take their writes out as a [`BulkWrite`] and store them in order.

use std::sync::Arc;

use domain::ports::{
    AggregateCache, Clock, ComputationRecord, GreeksRecord, InstrumentCandle, MoneynessRecord, PortError, SignalStore,
};

use super::backlog::{SnapshotBacklog, SnapshotTable};
use super::commits::BarCommits;
use crate::market::InstrumentRegistry;

/// What [`super::IngestTicks::load_many`] leaves to store, in the order
/// [`super::IngestTicks::write_bulk`] writes it.
#[derive(Debug, Default)]
pub struct BulkWrite {
    /// 1-minute bars of the accepted ticks.
    pub candles: Vec<InstrumentCandle>,
    /// Moneyness aggregates of the expiries priced.
    pub moneyness: Vec<MoneynessRecord>,
    /// Greeks snapshots, one per option and minute.
    pub greeks: Vec<GreeksRecord>,
}

/// The persistence stage.
pub(super) struct Persistence {
    pub(super) store: Arc<dyn SignalStore>,
    pub(super) backlog: SnapshotBacklog,
    /// The live 1-minute bars' group commit (which also tells the aggregate cache about
    /// bulk-written bars).
    pub(super) bars: BarCommits,
    clock: Arc<dyn Clock>,
}

impl Persistence {
    pub(super) fn new(store: Arc<dyn SignalStore>, registry: Arc<InstrumentRegistry>, clock: Arc<dyn Clock>) -> Self {
        Self {
            bars: BarCommits::new(store.clone(), registry, clock.clone()),
            store,
            backlog: SnapshotBacklog::default(),
            clock,
        }
    }

    /// Tells `cache` about every bar written into a closed session day, live or bulk.
    pub(super) fn set_aggregate_cache(&self, cache: Option<Arc<dyn AggregateCache>>) {
        self.bars.set_aggregate_cache(cache);
    }

    /// Refuses new work while the backlog is full: minute snapshots and the bars a failed write
    /// left staged count together against its limit.
    pub(super) fn check_backlog(&self) -> Result<(), PortError> {
        let (snapshots, bars) = (self.backlog.len(), self.bars.pending());
        if self.backlog.is_full() || snapshots + bars >= self.backlog.limit() {
            return Err(PortError::Overloaded(format!(
                "{snapshots} minute snapshots and {bars} bars are waiting to be written (at most {} together); the store is behind",
                self.backlog.limit()
            )));
        }
        Ok(())
    }

    /// Writes the pending snapshots, each table on its own; what fails stays pending. Returns
    /// the snapshots written.
    pub(super) async fn flush(&self, started: std::time::Instant) -> Result<usize, PortError> {
        let records = self.backlog.take_moneyness();
        let moneyness = match self.store.save_moneyness(&records).await {
            Ok(()) => Ok(records.len()),
            Err(e) => {
                self.backlog.restore_moneyness(records);
                Err(e)
            }
        };
        let greeks = self.flush_greeks().await;
        let failures: Vec<(SnapshotTable, &PortError)> = [
            (SnapshotTable::Moneyness, moneyness.as_ref().err()),
            (SnapshotTable::Greeks, greeks.as_ref().err()),
        ]
        .into_iter()
        .filter_map(|(t, e)| e.map(|e| (t, e)))
        .collect();
        self.backlog.record_flush(started, &failures);
        Ok(moneyness? + greeks?)
    }

    async fn flush_greeks(&self) -> Result<usize, PortError> {
        let batch = self.backlog.greeks();
        if batch.is_empty() {
            return Ok(0);
        }
        self.save_greeks_run(&batch).await?;
        self.backlog.written_greeks(&batch);
        Ok(batch.len())
    }

    /// Stores what a bulk load took: candles, moneyness aggregates, Greeks snapshots and the
    /// run's computation record. Returns the number of Greeks snapshots.
    pub(super) async fn write_bulk(&self, w: &BulkWrite) -> Result<usize, PortError> {
        let started = self.clock.now();
        let timer = std::time::Instant::now();
        self.store.save_history(&w.candles, &w.moneyness, &w.greeks).await?;
        self.bars.forget_rewritten_days(&w.candles);
        self.record_greeks_run("bulk", &w.greeks, started, timer).await;
        Ok(w.greeks.len())
    }

    /// Stores Greeks snapshots, then a computation record of the run (what it covered, how long
    /// it took, the rows without IV and why); a failing record is logged, not fatal.
    async fn save_greeks_run(&self, batch: &[GreeksRecord]) -> Result<(), PortError> {
        if batch.is_empty() {
            return Ok(());
        }
        let started = self.clock.now();
        let timer = std::time::Instant::now();
        self.store.save_greeks(batch).await?;
        self.record_greeks_run("flush", batch, started, timer).await;
        Ok(())
    }

    /// Stores the computation record of a Greeks run that started at `started` (`timer` for
    /// its duration: the flush's Greeks write, or a bulk group's whole write); a failing record
    /// is logged, not fatal.
    async fn record_greeks_run(
        &self,
        scope: &str,
        batch: &[GreeksRecord],
        started: chrono::DateTime<chrono::Utc>,
        timer: std::time::Instant,
    ) {
        if batch.is_empty() {
            return;
        }
        let mut iv_errors: std::collections::BTreeMap<String, u32> = std::collections::BTreeMap::new();
        for r in batch.iter().filter(|r| r.iv.is_none()) {
            *iv_errors
                .entry(r.iv_error.map_or("no_price", |e| e.code()).to_owned())
                .or_default() += 1;
        }
        let meta = ComputationRecord {
            computation: "greeks".into(),
            scope: scope.into(),
            input_from: batch.iter().map(|r| r.minute).min().unwrap_or(started),
            input_to: batch.iter().map(|r| r.minute).max().unwrap_or(started),
            started_at: started,
            duration_us: i64::try_from(timer.elapsed().as_micros()).unwrap_or(i64::MAX),
            rows: u32::try_from(batch.len()).unwrap_or(u32::MAX),
            rows_without_iv: iv_errors.values().sum(),
            iv_errors,
            stale_inputs: 0,
        };
        if let Err(e) = self.store.save_computation(&meta).await {
            tracing::warn!(error = %e, "computation metadata not stored");
        }
    }
}
