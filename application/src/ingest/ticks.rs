//! The ingest use case for ticks.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use domain::candles::{MinuteBarBuilder, TickEffect};
use domain::chain::Conventions;
use domain::expiry::{Forward, time_to_expiry};
use domain::instrument::InstrumentKey;
use domain::market_data::Tick;
use domain::ports::{
    AggregateCache, Clock, ComputationRecord, GreeksRecord, InstrumentCandle, MoneynessRecord, PortError, SignalStore,
    TimeRange,
};

use super::moneyness::chain_records;
use super::pricing::{expiry_forward, minute_of, price_option};
use super::registry::{InstrumentKind, InstrumentRegistry};
use super::state::{ChainSnapshot, ExpiryKey, QuoteState, RealtimeState};

/// One rejected row of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRejection {
    /// 0-based index in the batch.
    pub index: usize,
    /// Offending field.
    pub field: String,
    /// Why.
    pub reason: String,
}

/// The answer to a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Rows accepted (and durable).
    pub accepted: usize,
    /// Rows rejected, with reasons.
    pub rejected: Vec<RowRejection>,
}

/// An expiry's minute still open: its forward, time to expiry (years) and the minute.
type OpenMinute = (Forward, f64, DateTime<Utc>);

/// The ingest pipeline for ticks.
pub struct IngestTicks {
    registry: Arc<InstrumentRegistry>,
    state: Arc<RealtimeState>,
    store: Arc<dyn SignalStore>,
    clock: Arc<dyn Clock>,
    conventions: Conventions,
    builders: Mutex<HashMap<InstrumentKey, MinuteBarBuilder>>,
    pending: Mutex<BTreeMap<(InstrumentKey, DateTime<Utc>), GreeksRecord>>,
    /// Expiries priced since the last flush: their forward, time to expiry and latest minute.
    dirty: Mutex<HashMap<ExpiryKey, OpenMinute>>,
    /// Moneyness records of minutes already closed, waiting for the next flush.
    staged: Mutex<Vec<MoneynessRecord>>,
    /// The in-process cache of closed days of custom-timeframe bars, told about late bars.
    aggregates: Option<Arc<dyn AggregateCache>>,
}

/// What applying a batch left to do: the bars to write and the options to price.
struct Applied {
    report: IngestReport,
    candles: Vec<InstrumentCandle>,
    /// Indexes of the accepted option ticks.
    priced: Vec<usize>,
    /// The underlyings and expiries quoted.
    touched: HashSet<(InstrumentKey, NaiveDate)>,
}

fn rejection(index: usize, field: &str, reason: impl Into<String>) -> RowRejection {
    RowRejection {
        index,
        field: field.to_owned(),
        reason: reason.into(),
    }
}

impl IngestTicks {
    /// Wires the use case.
    #[must_use]
    pub fn new(
        registry: Arc<InstrumentRegistry>,
        state: Arc<RealtimeState>,
        store: Arc<dyn SignalStore>,
        clock: Arc<dyn Clock>,
        conventions: Conventions,
    ) -> Self {
        Self {
            registry,
            state,
            store,
            clock,
            conventions,
            builders: Mutex::default(),
            pending: Mutex::default(),
            dirty: Mutex::default(),
            staged: Mutex::default(),
            aggregates: None,
        }
    }

    /// Tells `cache` about every 1-minute bar written into a closed session day (see
    /// [`crate::candles::forget_rewritten_days`]); the historical reads share it.
    #[must_use]
    pub fn with_aggregate_cache(mut self, cache: Option<Arc<dyn AggregateCache>>) -> Self {
        self.aggregates = cache;
        self
    }

    /// The in-process aggregate cache, when there is one.
    #[must_use]
    pub fn aggregate_cache(&self) -> Option<&Arc<dyn AggregateCache>> {
        self.aggregates.as_ref()
    }

    /// Writes 1-minute bars (durable on return), then drops the cached closed days they changed.
    pub(crate) async fn save_candles(&self, candles: &[InstrumentCandle]) -> Result<(), PortError> {
        self.store.save_candles(candles).await?;
        if let Some(cache) = &self.aggregates {
            crate::candles::forget_rewritten_days(
                cache.as_ref(),
                candles,
                |k| self.registry.market_for(k),
                self.clock.now(),
            );
        }
        Ok(())
    }

    /// The in-memory state.
    #[must_use]
    pub fn state(&self) -> &Arc<RealtimeState> {
        &self.state
    }

    /// The pricing conventions of this pipeline.
    #[must_use]
    pub fn conventions(&self) -> &Conventions {
        &self.conventions
    }

    /// The clock the pipeline judges timestamps by.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The instruments this pipeline accepts.
    #[must_use]
    pub fn registry(&self) -> &Arc<InstrumentRegistry> {
        &self.registry
    }

    /// Greeks snapshots waiting for [`Self::flush`].
    #[must_use]
    pub fn pending(&self) -> usize {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Validates and ingests a batch. Accepted rows' candles are stored before this returns.
    ///
    /// # Errors
    /// [`PortError`] when the store fails; then nothing of the batch is reported accepted.
    #[tracing::instrument(skip(self, ticks), fields(n = ticks.len()))]
    pub async fn execute(&self, ticks: &[Tick]) -> Result<IngestReport, PortError> {
        let applied = self.apply(ticks).await?;
        // Durable before the answer: the bars the accepted rows changed (a later bar of the same
        // minute supersedes an earlier one, as the store's port promises).
        self.save_candles(&applied.candles).await?;
        self.price(ticks, &applied.priced, &applied.touched);
        Ok(applied.report)
    }

    /// Ingests several batches in order, as [`Self::execute`] would one by one, but writes
    /// their candles in one transaction at the end: for bulk loads (`replay`), where nothing is
    /// answered per batch. Each batch is priced on the state its predecessors left.
    ///
    /// # Errors
    /// [`PortError`] when the store fails; then none of the batches' candles are stored (the
    /// in-memory state has moved on: the caller stops).
    #[tracing::instrument(skip(self, batches), fields(n = batches.len()))]
    pub async fn execute_many(&self, batches: &[&[Tick]]) -> Result<Vec<IngestReport>, PortError> {
        let mut reports = Vec::with_capacity(batches.len());
        let mut candles = Vec::new();
        for ticks in batches {
            let applied = self.apply(ticks).await?;
            self.price(ticks, &applied.priced, &applied.touched);
            candles.extend(applied.candles);
            reports.push(applied.report);
        }
        self.save_candles(&candles).await?;
        Ok(reports)
    }

    /// Validates a batch and applies it to the bar builders and the realtime quotes (nothing
    /// written, nothing priced yet).
    async fn apply(&self, ticks: &[Tick]) -> Result<Applied, PortError> {
        self.close_minutes(ticks);
        self.resume_builders(ticks).await?;
        let now = self.clock.now();
        let mut report = IngestReport::default();
        let mut candles = Vec::new();
        let mut touched: HashSet<(InstrumentKey, NaiveDate)> = HashSet::new();
        let mut priced: Vec<usize> = Vec::new();
        {
            let mut builders = self.builders.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for (i, t) in ticks.iter().enumerate() {
                let Some(reg) = self.registry.get(&t.key) else {
                    report
                        .rejected
                        .push(rejection(i, "key", format!("unknown instrument {}", t.key)));
                    continue;
                };
                let market = InstrumentRegistry::market_of(&reg);
                if let Err(e) = t.validate(now, &market) {
                    report.rejected.push(rejection(i, &e.field, e.reason));
                    continue;
                }
                let session = market.local_date(t.ts);
                let builder = builders.entry(t.key.clone()).or_default();
                match builder.apply(t, session) {
                    TickEffect::TooLate => {
                        report
                            .rejected
                            .push(rejection(i, "ts", "older than the session being built"));
                        continue;
                    }
                    TickEffect::Applied(m) => {
                        candles.extend(builder.affected(m).into_iter().map(|bar| InstrumentCandle {
                            key: t.key.clone(),
                            bar,
                        }))
                    }
                    TickEffect::QuoteOnly => {}
                }
                match &reg.kind {
                    InstrumentKind::Underlying => {
                        if let Some(px) = t.last.or_else(|| t.bid.zip(t.ask).map(|(b, a)| 0.5 * (b + a))) {
                            self.state.set_spot(&t.key, t.ts, px);
                        }
                    }
                    InstrumentKind::Future(f) => {
                        if let Some(px) = t.last.or_else(|| t.bid.zip(t.ask).map(|(b, a)| 0.5 * (b + a))) {
                            let expiry = market.local_date(f.expiry);
                            self.state.set_future(&f.underlying, expiry, t.ts, px);
                            touched.insert((f.underlying.clone(), expiry));
                        }
                    }
                    InstrumentKind::Option(c) => {
                        let expiry = market.local_date(c.expiry);
                        let q = QuoteState {
                            ts: t.ts,
                            last: t.last,
                            bid: t.bid,
                            ask: t.ask,
                            volume: t.volume.unwrap_or(0.0),
                            oi: t.oi.unwrap_or(0.0),
                        };
                        self.state
                            .set_quote(&c.underlying, expiry, &c.key, c.strike.value(), c.right, q);
                        touched.insert((c.underlying.clone(), expiry));
                        priced.push(i);
                    }
                }
                report.accepted += 1;
            }
        }
        Ok(Applied {
            report,
            candles,
            priced,
            touched,
        })
    }

    /// Gives every instrument met for the first time since start a bar builder resumed from the
    /// bars already stored for the tick's session, so a restart mid-session neither overwrites a
    /// stored minute with a partial one nor miscounts the next minute's volume.
    async fn resume_builders(&self, ticks: &[Tick]) -> Result<(), PortError> {
        let fresh: HashMap<InstrumentKey, (NaiveDate, TimeRange)> = {
            let builders = self.builders.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            ticks
                .iter()
                .filter(|t| !builders.contains_key(&t.key))
                .filter_map(|t| {
                    let market = InstrumentRegistry::market_of(&self.registry.get(&t.key)?);
                    let day = market.session_containing(t.ts)?;
                    Some((
                        t.key.clone(),
                        (
                            day.date,
                            TimeRange {
                                from: day.open,
                                to: day.close,
                            },
                        ),
                    ))
                })
                .collect()
        };
        for (key, (date, range)) in fresh {
            let bars: Vec<_> = self
                .store
                .candles(&key, range)
                .await?
                .into_iter()
                .map(|c| c.bar)
                .collect();
            self.builders
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(key)
                .or_insert_with(|| MinuteBarBuilder::resume(date, &bars));
        }
        Ok(())
    }

    fn price(&self, ticks: &[Tick], priced: &[usize], touched: &HashSet<(InstrumentKey, NaiveDate)>) {
        let c = &self.conventions;
        let mut forwards = HashMap::new();
        for (u, e) in touched {
            let spot = self.state.spot(u).map(|(_, s)| s);
            let st = self.state.expiry(u, *e);
            let latest = st.quotes.values().max_by_key(|(_, _, q)| q.ts);
            let contract = latest.and_then(|(k, _, _)| self.registry.get(k));
            let t = match (latest, contract) {
                (Some((_, _, q)), Some(reg)) => match &reg.kind {
                    InstrumentKind::Option(oc) => {
                        time_to_expiry(c.time_basis, q.ts, oc.expiry, &InstrumentRegistry::market_of(&reg))
                    }
                    InstrumentKind::Underlying | InstrumentKind::Future(_) => 0.0,
                },
                _ => 0.0,
            };
            let fwd = expiry_forward(c, &st, spot, t);
            if let (Some(f), Some((_, _, q))) = (fwd, latest) {
                self.dirty
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert((u.clone(), *e), (f, t, minute_of(q.ts)));
            }
            forwards.insert((u.clone(), *e), fwd);
        }
        let mut out = Vec::new();
        for &i in priced {
            let t = &ticks[i];
            let Some(reg) = self.registry.get(&t.key) else { continue };
            let InstrumentKind::Option(contract) = &reg.kind else {
                continue;
            };
            let market = InstrumentRegistry::market_of(&reg);
            let expiry = market.local_date(contract.expiry);
            let spot = self.state.spot(&contract.underlying).map(|(_, s)| s);
            let forward = forwards.get(&(contract.underlying.clone(), expiry)).copied().flatten();
            let quote = QuoteState {
                ts: t.ts,
                last: t.last,
                bid: t.bid,
                ask: t.ask,
                volume: t.volume.unwrap_or(0.0),
                oi: t.oi.unwrap_or(0.0),
            };
            if let Some(r) = price_option(c, contract, &market, t.ts, spot, forward, &quote) {
                out.push(r);
            }
        }
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for r in out {
            self.state.set_greeks(r.clone());
            pending.insert((r.key.clone(), minute_of(r.minute)), r);
        }
    }

    /// Writes the pending minute snapshots: Greeks of every priced option, and the moneyness
    /// aggregates of every expiry priced since the last flush (also kept in the state).
    ///
    /// # Errors
    /// [`PortError`] from the store; the snapshots stay pending for the next flush.
    pub async fn flush(&self) -> Result<usize, PortError> {
        let dirty: Vec<_> = std::mem::take(&mut *self.dirty.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
            .into_iter()
            .collect();
        let mut records = std::mem::take(&mut *self.staged.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        records.extend(self.snapshot_expiries(dirty));
        if let Err(e) = self.store.save_moneyness(&records).await {
            // Keep them for the next flush.
            self.staged
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(records);
            return Err(e);
        }
        self.flush_greeks().await
    }

    /// Chain analytics of each expiry at its minute: kept in the state, returned as records.
    fn snapshot_expiries(&self, expiries: Vec<(ExpiryKey, OpenMinute)>) -> Vec<MoneynessRecord> {
        let mut out = Vec::new();
        for ((u, e), (forward, t, minute)) in expiries {
            let spot = self.state.spot(&u).map(|(_, s)| s);
            let state = self.state.expiry(&u, e);
            let (analytics, recs) = chain_records(&self.conventions, &u, e, minute, &state, spot, forward, t);
            self.state.set_chain(
                &u,
                e,
                ChainSnapshot {
                    minute,
                    forward,
                    t_years: t,
                    spot,
                    analytics,
                },
            );
            out.extend(recs);
        }
        out
    }

    /// Before a batch moves an expiry into a later minute, snapshots the expiry as it stood at
    /// the end of its previous minute (the state still holds that minute's quotes).
    fn close_minutes(&self, ticks: &[Tick]) {
        let mut first_minute: HashMap<(InstrumentKey, NaiveDate), DateTime<Utc>> = HashMap::new();
        for t in ticks {
            let Some(reg) = self.registry.get(&t.key) else { continue };
            let InstrumentKind::Option(c) = &reg.kind else { continue };
            let e = InstrumentRegistry::market_of(&reg).local_date(c.expiry);
            let m = minute_of(t.ts);
            first_minute
                .entry((c.underlying.clone(), e))
                .and_modify(|x| *x = (*x).min(m))
                .or_insert(m);
        }
        let closing: Vec<_> = {
            let mut dirty = self.dirty.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            first_minute
                .iter()
                .filter_map(|(k, m)| match dirty.get(k) {
                    Some((_, _, old)) if old < m => dirty.remove(k).map(|v| (k.clone(), v)),
                    _ => None,
                })
                .collect()
        };
        let out = self.snapshot_expiries(closing);
        self.staged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(out);
    }

    async fn flush_greeks(&self) -> Result<usize, PortError> {
        let batch: Vec<GreeksRecord> = {
            let p = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            p.values().cloned().collect()
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let started = self.clock.now();
        let timer = std::time::Instant::now();
        self.store.save_greeks(&batch).await?;
        let mut iv_errors: std::collections::BTreeMap<String, u32> = std::collections::BTreeMap::new();
        for r in batch.iter().filter(|r| r.iv.is_none()) {
            *iv_errors
                .entry(r.iv_error.map_or("no_price", |e| e.code()).to_owned())
                .or_default() += 1;
        }
        let meta = ComputationRecord {
            computation: "greeks".into(),
            scope: "flush".into(),
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
        let mut p = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for r in &batch {
            if p.get(&(r.key.clone(), r.minute)).is_some_and(|x| x == r) {
                p.remove(&(r.key.clone(), r.minute));
            }
        }
        Ok(batch.len())
    }
}
