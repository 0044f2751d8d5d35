//! The ingest use case: the stages composed (see the module documentation of [`super`]).

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use domain::market_data::{Sanity, Tick};
use domain::ports::{
    AggregateCache, Clock, IngestLog, InstrumentCandle, Outgoing, PortError, SignalPublisher, SignalStore,
};

use super::backlog::{BacklogStatus, SnapshotBacklog};
use super::bars::MinuteBars;
use super::commits::Durable;
use super::observe::{IngestObserver, PricingReport};
use super::persist::{BulkWrite, Persistence};
use super::pricing::{OpenMinute, Pricing, Quoted, Role};
use super::publish::Publishing;
use super::snapshot::ChainSnapshots;
use super::validate::{IngestReport, Validation};
use crate::market::{ExpiryKey, InstrumentRegistry, RealtimeState};
use crate::moneyness::MappingService;

/// The ingest pipeline for ticks: validate → minute bars → pricing → chain snapshot → publish →
/// persist, each a stage with its own state.
pub struct IngestTicks {
    pub(super) registry: Arc<InstrumentRegistry>,
    pub(super) state: Arc<RealtimeState>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) validation: Validation,
    bars: MinuteBars,
    pub(super) pricing: Pricing,
    snapshots: ChainSnapshots,
    publishing: Publishing,
    pub(super) persist: Persistence,
    observer: Option<Arc<dyn IngestObserver>>,
    /// Where the accepted rows go for the other instances to follow.
    log: Option<Arc<dyn IngestLog>>,
}

/// When a batch arrived: the instant (for durations) and the wall-clock time (stamped on its
/// updates, for the tick-to-send lag measured where they are sent).
#[derive(Clone, Copy)]
struct Arrival {
    at: Instant,
    received: DateTime<Utc>,
}

impl Arrival {
    fn now(clock: &dyn Clock) -> Self {
        Self {
            at: Instant::now(),
            received: clock.now(),
        }
    }
}

/// What applying a batch left to do: the answer so far, the bars to write, the options to price.
pub(super) struct Applied {
    pub(super) report: IngestReport,
    candles: Vec<InstrumentCandle>,
    pub(super) quoted: Quoted,
}

impl IngestTicks {
    /// Wires the use case: instruments (and their markets) from `registry`, the latest state
    /// into `state`, bars and snapshots into `store`, times judged by `clock`.
    #[must_use]
    pub fn new(
        registry: Arc<InstrumentRegistry>,
        state: Arc<RealtimeState>,
        store: Arc<dyn SignalStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            validation: Validation::new(registry.clone()),
            bars: MinuteBars::default(),
            pricing: Pricing::new(registry.clone(), state.clone()),
            snapshots: ChainSnapshots::new(registry.clone(), state.clone()),
            publishing: Publishing::default(),
            persist: Persistence::new(store, registry.clone(), clock.clone()),
            observer: None,
            log: None,
            registry,
            state,
            clock,
        }
    }

    /// Publishes through `publisher`: every Greeks update (`greeks:{key}`), the 1-minute bars
    /// (`candles:{key}:1m`), and each expiry's minute snapshot (`chain`, `atm_iv`, `moneyness`).
    #[must_use]
    pub fn with_publisher(mut self, publisher: Option<Arc<dyn SignalPublisher>>) -> Self {
        self.publishing = Publishing::new(publisher);
        self
    }

    /// Appends each batch's accepted rows to `log`, for the other instances to
    /// [`follow`](Self::follow) (a log that fails is logged, not fatal: the batch is still this
    /// instance's, stored and published).
    #[must_use]
    pub fn with_log(mut self, log: Option<Arc<dyn IngestLog>>) -> Self {
        self.log = log;
        self
    }

    /// Tells `observer` about each batch's pricing and publishing (the metrics).
    #[must_use]
    pub fn with_observer(mut self, observer: Option<Arc<dyn IngestObserver>>) -> Self {
        self.observer = observer;
        self
    }

    /// Groups each minute snapshot's strikes by `mappings`' current mapping of the expiry when
    /// it comes from the instrument service (see [`MappingService::current`]).
    #[must_use]
    pub fn with_mappings(mut self, mappings: Option<Arc<MappingService>>) -> Self {
        self.snapshots.mappings = mappings;
        self
    }

    /// Bounds the snapshots waiting to be written at `limit` (Greeks and moneyness together):
    /// while that many wait, [`Self::execute`] refuses batches with [`PortError::Overloaded`].
    #[must_use]
    pub fn with_backlog_limit(mut self, limit: usize) -> Self {
        self.persist.backlog = SnapshotBacklog::new(limit);
        self
    }

    /// Refuses prices and quantities over `sanity`'s ceilings (rows rejected naming the field).
    #[must_use]
    pub fn with_sanity(mut self, sanity: Sanity) -> Self {
        self.validation.sanity = sanity;
        self
    }

    /// Tells `cache` about every 1-minute bar written into a closed session day (see
    /// [`crate::candles::forget_rewritten_days`]); the historical reads share it.
    #[must_use]
    pub fn with_aggregate_cache(self, cache: Option<Arc<dyn AggregateCache>>) -> Self {
        self.persist.set_aggregate_cache(cache);
        self
    }

    /// The snapshots waiting to be written and how their writing goes (for readiness).
    #[must_use]
    pub fn backlog(&self) -> BacklogStatus {
        self.persist.backlog.status()
    }

    /// Snapshots (Greeks and moneyness) waiting for [`Self::flush`].
    #[must_use]
    pub fn pending(&self) -> usize {
        self.persist.backlog.len()
    }

    /// 1-minute bars staged and not yet written (see [`Self::accept`]).
    #[must_use]
    pub fn pending_bars(&self) -> usize {
        self.persist.bars.pending()
    }

    /// Validates and ingests a batch: prices and publishes it, then stores the accepted rows'
    /// candles before returning (see the module's documentation for why in that order):
    /// [`Self::accept`] and its [`Durable`] awaited.
    ///
    /// # Errors
    /// [`PortError`] when the store fails; then nothing of the batch is reported accepted
    /// (subscribers and the realtime state have seen it, and a retry repeats the same values).
    /// [`PortError::Overloaded`] when the backlog is full: nothing of the batch was looked at.
    #[tracing::instrument(skip(self, ticks), fields(n = ticks.len()))]
    pub async fn execute(&self, ticks: &[Tick]) -> Result<IngestReport, PortError> {
        let (report, durable) = self.accept(ticks).await?;
        durable.wait().await?;
        Ok(report)
    }

    /// [`Self::execute`] without the wait: the batch is validated, priced and published, its
    /// bars staged for the group commit (`commits.rs`), and the report comes back with the
    /// [`Durable`] that resolves when they are written. The report may be acknowledged to its
    /// sender only after that; meanwhile the caller may ingest its next batches, whose bars
    /// join the same or the next write. For feeds that keep reading while acknowledgements are
    /// pending (the Redis Streams consumer).
    ///
    /// # Errors
    /// [`PortError::Overloaded`] when the backlog is full (nothing of the batch was looked at);
    /// [`PortError`] when the store fails reading the bars a resumed instrument already has.
    pub async fn accept(&self, ticks: &[Tick]) -> Result<(IngestReport, Durable), PortError> {
        let arrival = Arrival::now(self.clock.as_ref());
        self.persist.check_backlog()?;
        let applied = self.apply(ticks, Role::Own).await?;
        self.price_and_publish(ticks, &applied, arrival).await;
        self.share(ticks, &applied.report).await;
        // A later bar of the same minute supersedes an earlier one, as the store's port promises.
        let durable = self.persist.bars.stage(applied.candles);
        Ok((applied.report, durable))
    }

    /// Resumes the bar builders of every instrument that `batches` meet for the first time, from
    /// the bars stored for the session of its first tick: one read per session day, up front.
    /// For a bulk load that knows its batches (`replay`), so that pricing never waits on a read
    /// queued behind the load's own writes (a hundred such reads were two thirds of a SQLite
    /// replay's time). Instruments must be registered first; the others are left to the batch
    /// that meets them.
    ///
    /// # Errors
    /// [`PortError`] when the store fails reading the bars.
    pub async fn resume_bars(&self, batches: &[&[Tick]]) -> Result<(), PortError> {
        let mut seen = std::collections::HashSet::new();
        let firsts: Vec<Tick> = batches
            .iter()
            .flat_map(|b| b.iter())
            .filter(|t| seen.insert(&t.key))
            .cloned()
            .collect();
        self.bars
            .resume(&firsts, &self.registry, self.persist.store.as_ref())
            .await
    }

    /// Ingests several batches in order, as [`Self::execute`] would one by one, but writes
    /// nothing: their candles and every minute snapshot taken so far (as [`Self::flush`] would
    /// write them) come back as a [`BulkWrite`] for [`Self::write_bulk`]. For bulk loads
    /// (`replay`), where nothing is answered per batch: the next batches can be priced while
    /// one writer stores this one. Each batch is priced on the state its predecessors left.
    ///
    /// Bulk writes must be stored in the order they were taken (later ones overwrite the still
    /// open minutes of earlier ones), by one writer at a time.
    ///
    /// # Errors
    /// [`PortError`] when the store fails reading the bars a resumed instrument already has.
    #[tracing::instrument(skip(self, batches), fields(n = batches.len()))]
    pub async fn load_many(&self, batches: &[&[Tick]]) -> Result<(Vec<IngestReport>, BulkWrite), PortError> {
        let mut reports = Vec::with_capacity(batches.len());
        let mut candles = Vec::new();
        for ticks in batches {
            let arrival = Arrival::now(self.clock.as_ref());
            let applied = self.apply(ticks, Role::Own).await?;
            self.price_and_publish(ticks, &applied, arrival).await;
            candles.extend(applied.candles);
            reports.push(applied.report);
        }
        self.snapshot(self.pricing.take_open(Role::Own), Role::Own);
        let moneyness = self.persist.backlog.take_moneyness();
        self.publish(self.publishing.take_queued(), Arrival::now(self.clock.as_ref()))
            .await;
        let greeks = self.persist.backlog.take_greeks();
        Ok((
            reports,
            BulkWrite {
                candles,
                moneyness,
                greeks,
            },
        ))
    }

    /// Stores what [`Self::load_many`] took: candles, moneyness aggregates, Greeks snapshots and
    /// the run's computation record. Returns the number of Greeks snapshots.
    ///
    /// # Errors
    /// [`PortError`] from the store; what was not written is lost to this run (the caller stops).
    pub async fn write_bulk(&self, w: &BulkWrite) -> Result<usize, PortError> {
        self.persist.write_bulk(w).await
    }

    /// Writes the pending minute snapshots: Greeks of every priced option, and the moneyness
    /// aggregates of every expiry priced since the last flush (also kept in the state), after
    /// any staged 1-minute bars. Each table is written on its own: one failing does not hold
    /// the other back. Returns the snapshots written.
    ///
    /// # Errors
    /// The first [`PortError`] from the store; what failed stays pending for the next flush
    /// (see [`Self::backlog`]).
    pub async fn flush(&self) -> Result<usize, PortError> {
        let started = std::time::Instant::now();
        // Bars nobody waited for (a failed write's, or a batch whose sender went away) are
        // written here at the latest.
        let bars = self.persist.bars.sync().await;
        self.snapshot(self.pricing.take_open(Role::Own), Role::Own);
        self.snapshot(self.pricing.take_open(Role::Followed), Role::Followed);
        self.publish(self.publishing.take_queued(), Arrival::now(self.clock.as_ref()))
            .await;
        let written = self.persist.flush(started).await?;
        bars.map(|()| written)
    }

    /// Stages 1–3 of a batch: snapshots the minutes it closes, validates it, applies it to the
    /// minute bars and the realtime quotes (nothing written, nothing priced yet).
    pub(super) async fn apply(&self, ticks: &[Tick], role: Role) -> Result<Applied, PortError> {
        self.snapshot(self.pricing.closing(ticks, role), role);
        self.bars
            .resume(ticks, &self.registry, self.persist.store.as_ref())
            .await?;
        let mut report = IngestReport::default();
        let mut rows = self.validation.rows(ticks, self.clock.now(), &mut report);
        let candles = self.bars.apply(ticks, &mut rows, &mut report);
        let quoted = self.pricing.record(ticks, &rows);
        report.accepted = rows.len();
        report.rejected.sort_by_key(|r| r.index);
        Ok(Applied {
            report,
            candles,
            quoted,
        })
    }

    /// Stages 3 and 5: prices the batch's options, then publishes its updates (bars, queued
    /// chain updates, Greeks); the Greeks snapshots join the backlog.
    async fn price_and_publish(&self, ticks: &[Tick], applied: &Applied, arrival: Arrival) {
        let started = Instant::now();
        let (records, unpriced) = self.pricing.price(ticks, &applied.quoted, Role::Own);
        if let Some(o) = &self.observer
            && !(records.is_empty() && unpriced == 0)
        {
            o.priced(&PricingReport::of(&records, unpriced, started.elapsed()));
        }
        let updates = if self.publishing.is_on() {
            let mut u = self.bars.updates(ticks, &applied.candles);
            u.extend(self.publishing.take_queued());
            u.extend(Publishing::greeks_updates(&records));
            u
        } else {
            Vec::new()
        };
        // Keyed by option and minute (each record is labelled with its minute).
        self.persist.backlog.add_greeks(records);
        self.publish(updates, arrival).await;
    }

    /// The batch's accepted rows to the ingest log, when there is one.
    async fn share(&self, ticks: &[Tick], report: &IngestReport) {
        let Some(log) = &self.log else { return };
        if report.accepted == 0 {
            return;
        }
        let rejected: std::collections::HashSet<usize> = report.rejected.iter().map(|r| r.index).collect();
        let rows: Vec<Tick> = ticks
            .iter()
            .enumerate()
            .filter(|(i, _)| !rejected.contains(i))
            .map(|(_, t)| t.clone())
            .collect();
        // The log's adapter reports an outage once; per batch this is detail.
        if let Err(e) = log.append(&rows).await {
            tracing::debug!(error = %e, "accepted rows not shared with the other instances");
        }
    }

    /// Stage 5: `updates` to the fan-out, stamped with their batch's arrival, which the
    /// observer is told how long ago that was.
    async fn publish(&self, updates: Vec<Outgoing>, arrival: Arrival) {
        if updates.is_empty() {
            return;
        }
        let n = updates.len();
        self.publishing.publish(updates, arrival.received).await;
        if let Some(o) = &self.observer {
            o.published(n, arrival.at.elapsed());
        }
    }

    /// Stage 4 for `expiries`: kept in the state; for this instance's own batches their records
    /// also join the backlog and their updates the queue (a followed batch's are stored and
    /// published by the instance that took it in).
    fn snapshot(&self, expiries: Vec<(ExpiryKey, OpenMinute)>, role: Role) {
        if expiries.is_empty() {
            return;
        }
        let own = role == Role::Own;
        let (records, updates) =
            self.snapshots
                .take(expiries, own && self.publishing.is_on(), self.clock.now().date_naive());
        if own {
            self.persist.backlog.add_moneyness(records);
            self.publishing.queue(updates);
        }
    }
}
