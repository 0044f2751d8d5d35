//! The ingest use case for ticks.

use crate::sync::LockOrRecover;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use domain::candles::{MinuteBarBuilder, TickEffect, Timeframe};
use domain::chain::Conventions;
use domain::expiry::{Forward, time_to_expiry};
use domain::instrument::InstrumentKey;
use domain::instrument::OptionRight;
use domain::market_data::{Sanity, Tick};
use domain::moneyness::{LevelAggregate, MappingBasis, MoneynessLevel};
use domain::ports::{
    AggregateCache, Clock, ComputationRecord, GreeksRecord, InstrumentCandle, MoneynessRecord, Outgoing, PortError,
    SignalEvent, SignalPublisher, SignalStore, TimeRange,
};
use domain::subscriptions::Topic;

use super::backlog::{BacklogStatus, SnapshotBacklog, SnapshotTable};
use super::moneyness::chain_records;
use super::pricing::{expiry_forward, minute_of, price_option};
use crate::market::{ChainSnapshot, ExpiryKey, InstrumentKind, InstrumentRegistry, QuoteState, RealtimeState};
use crate::moneyness::MappingService;

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

/// What [`IngestTicks::load_many`] leaves to store, in the order [`IngestTicks::write_bulk`]
/// writes it.
#[derive(Debug, Default)]
pub struct BulkWrite {
    /// 1-minute bars of the accepted ticks.
    pub candles: Vec<InstrumentCandle>,
    /// Moneyness aggregates of the expiries priced.
    pub moneyness: Vec<MoneynessRecord>,
    /// Greeks snapshots, one per option and minute.
    pub greeks: Vec<GreeksRecord>,
}

/// One level's call and put aggregates and the expiry's ATM IV, for a `moneyness` update.
type BothRights = (Option<LevelAggregate>, Option<LevelAggregate>, Option<f64>);

/// An expiry's minute still open: its forward, time to expiry (years) and the minute.
type OpenMinute = (Forward, f64, DateTime<Utc>);

/// The ingest pipeline for ticks.
pub struct IngestTicks {
    pub(super) registry: Arc<InstrumentRegistry>,
    pub(super) state: Arc<RealtimeState>,
    store: Arc<dyn SignalStore>,
    pub(super) clock: Arc<dyn Clock>,
    builders: Mutex<HashMap<InstrumentKey, MinuteBarBuilder>>,
    /// Ceilings of prices and quantities.
    pub(super) sanity: Sanity,
    /// Greeks and moneyness snapshots waiting for the next flush, one per key.
    backlog: SnapshotBacklog,
    /// Expiries priced since the last flush: their forward, time to expiry and latest minute.
    dirty: Mutex<HashMap<ExpiryKey, OpenMinute>>,
    /// The in-process cache of closed days of custom-timeframe bars, told about late bars.
    aggregates: Option<Arc<dyn AggregateCache>>,
    /// Fan-out of updates to subscribers, when there are any.
    publisher: Option<Arc<dyn SignalPublisher>>,
    /// The instrument service's moneyness mappings, when configured: each minute snapshot
    /// groups strikes by the current one (else by the local strike ladder).
    mappings: Option<Arc<MappingService>>,
    /// Chain updates (ATM IV, moneyness) waiting for the next publish.
    unpublished: Mutex<Vec<Outgoing>>,
    /// The minute of each instrument's bar last published as forming.
    forming_bars: Mutex<HashMap<InstrumentKey, DateTime<Utc>>>,
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
    ) -> Self {
        Self {
            registry,
            state,
            store,
            clock,
            builders: Mutex::default(),
            sanity: Sanity::default(),
            backlog: SnapshotBacklog::default(),
            dirty: Mutex::default(),
            aggregates: None,
            publisher: None,
            mappings: None,
            unpublished: Mutex::default(),
            forming_bars: Mutex::default(),
        }
    }

    /// Publishes through `publisher`: every Greeks update (`greeks:{key}`), and each expiry's
    /// minute snapshot (`atm_iv:{underlying}:{expiry}`, `moneyness:{underlying}:{expiry}:{level}`).
    #[must_use]
    pub fn with_publisher(mut self, publisher: Option<Arc<dyn SignalPublisher>>) -> Self {
        self.publisher = publisher;
        self
    }

    /// Groups each minute snapshot's strikes by `mappings`' current mapping of the expiry when
    /// it comes from the instrument service (see [`MappingService::current`]).
    #[must_use]
    pub fn with_mappings(mut self, mappings: Option<Arc<MappingService>>) -> Self {
        self.mappings = mappings;
        self
    }

    /// Bounds the snapshots waiting to be written at `limit` (Greeks and moneyness together):
    /// while that many wait, [`Self::execute`] refuses batches with [`PortError::Overloaded`].
    #[must_use]
    pub fn with_backlog_limit(mut self, limit: usize) -> Self {
        self.backlog = SnapshotBacklog::new(limit);
        self
    }

    /// Refuses prices and quantities over `sanity`'s ceilings (rows rejected naming the field).
    #[must_use]
    pub fn with_sanity(mut self, sanity: Sanity) -> Self {
        self.sanity = sanity;
        self
    }

    /// The snapshots waiting to be written and how their writing goes (for readiness).
    #[must_use]
    pub fn backlog(&self) -> BacklogStatus {
        self.backlog.status()
    }

    /// Tells `cache` about every 1-minute bar written into a closed session day (see
    /// [`crate::candles::forget_rewritten_days`]); the historical reads share it.
    #[must_use]
    pub fn with_aggregate_cache(mut self, cache: Option<Arc<dyn AggregateCache>>) -> Self {
        self.aggregates = cache;
        self
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

    /// The conventions of an underlying's market (`None` for an unregistered underlying,
    /// whose options cannot have been accepted either).
    fn conventions_of(&self, underlying: &InstrumentKey) -> Option<Conventions> {
        self.registry.get(underlying).map(|r| *r.conventions())
    }

    /// Snapshots (Greeks and moneyness) waiting for [`Self::flush`].
    #[must_use]
    pub fn pending(&self) -> usize {
        self.backlog.len()
    }

    /// Validates and ingests a batch: prices and publishes it, then stores the accepted rows'
    /// candles before returning (see the module's documentation for why in that order).
    ///
    /// # Errors
    /// [`PortError`] when the store fails; then nothing of the batch is reported accepted
    /// (subscribers and the realtime state have seen it, and a retry repeats the same values).
    /// [`PortError::Overloaded`] when the snapshot backlog is full: nothing of the batch was
    /// looked at.
    #[tracing::instrument(skip(self, ticks), fields(n = ticks.len()))]
    pub async fn execute(&self, ticks: &[Tick]) -> Result<IngestReport, PortError> {
        self.check_backlog()?;
        let applied = self.apply(ticks).await?;
        let mut updates = self.candle_updates(ticks, &applied.candles);
        updates.extend(self.take_unpublished());
        updates.extend(self.price(ticks, &applied.priced, &applied.touched));
        self.publish(updates).await;
        // Durable before the answer: the bars the accepted rows changed (a later bar of the same
        // minute supersedes an earlier one, as the store's port promises).
        self.save_candles(&applied.candles).await?;
        Ok(applied.report)
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
            let applied = self.apply(ticks).await?;
            let mut updates = self.candle_updates(ticks, &applied.candles);
            updates.extend(self.take_unpublished());
            updates.extend(self.price(ticks, &applied.priced, &applied.touched));
            self.publish(updates).await;
            candles.extend(applied.candles);
            reports.push(applied.report);
        }
        let dirty: Vec<_> = std::mem::take(&mut *self.dirty.lock_or_recover()).into_iter().collect();
        let closing = self.snapshot_expiries(dirty);
        self.backlog.add_moneyness(closing);
        let moneyness = self.backlog.take_moneyness();
        self.publish(self.take_unpublished()).await;
        let greeks = self.backlog.take_greeks();
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
        self.save_candles(&w.candles).await?;
        self.store.save_moneyness(&w.moneyness).await?;
        self.save_greeks_run(&w.greeks).await?;
        Ok(w.greeks.len())
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
            let mut builders = self.builders.lock_or_recover();
            for (i, t) in ticks.iter().enumerate() {
                let Some(reg) = self.registry.get(&t.key) else {
                    report
                        .rejected
                        .push(rejection(i, "key", format!("unknown instrument {}", t.key)));
                    continue;
                };
                let market = reg.market();
                if let Err(e) = t.validate(now, market).and_then(|()| self.sanity.check_tick(t)) {
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
            let builders = self.builders.lock_or_recover();
            ticks
                .iter()
                .filter(|t| !builders.contains_key(&t.key))
                .filter_map(|t| {
                    let market = self.registry.get(&t.key)?.market().clone();
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
                .lock_or_recover()
                .entry(key)
                .or_insert_with(|| MinuteBarBuilder::resume(date, &bars));
        }
        Ok(())
    }

    /// Prices the options of a batch; returns the Greeks updates for subscribers (none without a
    /// publisher).
    fn price(&self, ticks: &[Tick], priced: &[usize], touched: &HashSet<(InstrumentKey, NaiveDate)>) -> Vec<Outgoing> {
        let mut forwards = HashMap::new();
        for (u, e) in touched {
            // The underlying's market decides how its expiries are priced.
            let Some(c) = self.conventions_of(u) else { continue };
            let c = &c;
            let spot = self.state.spot(u).map(|(_, s)| s);
            let st = self.state.expiry(u, *e);
            let latest = st.quotes.values().max_by_key(|(_, _, q)| q.ts);
            let contract = latest.and_then(|(k, _, _)| self.registry.get(k));
            let t = match (latest, contract) {
                (Some((_, _, q)), Some(reg)) => match &reg.kind {
                    InstrumentKind::Option(oc) => time_to_expiry(c.time_basis, q.ts, oc.expiry, reg.market()),
                    InstrumentKind::Underlying | InstrumentKind::Future(_) => 0.0,
                },
                _ => 0.0,
            };
            let fwd = expiry_forward(c, &st, spot, t);
            if let (Some(f), Some((_, _, q))) = (fwd, latest) {
                self.dirty
                    .lock_or_recover()
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
            let market = reg.market();
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
            if let Some(r) = price_option(reg.conventions(), contract, market, t.ts, spot, forward, &quote) {
                out.push(r);
            }
        }
        let updates: Vec<Outgoing> = if self.publisher.is_some() {
            out.iter()
                .map(|r| Outgoing {
                    topic: Topic::Greeks { key: r.key.clone() }.to_string(),
                    source_ts: r.minute,
                    forming: false,
                    event: SignalEvent::Greeks(r.clone()),
                })
                .collect()
        } else {
            Vec::new()
        };
        for r in &out {
            self.state.set_greeks(r.clone());
        }
        // Keyed by option and minute (`price_option` labels each record with its minute).
        self.backlog.add_greeks(out);
        updates
    }

    /// Hands updates to the publisher, when there is one. A fan-out failure is logged, not
    /// fatal: the data is stored, and subscribers see a hole they resume across with a snapshot.
    async fn publish(&self, updates: Vec<Outgoing>) {
        if let (Some(p), false) = (&self.publisher, updates.is_empty())
            && let Err(e) = p.publish(updates).await
        {
            tracing::warn!(error = %e, "updates not published to subscribers");
        }
    }

    /// Writes the pending minute snapshots: Greeks of every priced option, and the moneyness
    /// aggregates of every expiry priced since the last flush (also kept in the state). Each
    /// table is written on its own: one failing does not hold the other back. Returns the
    /// snapshots written.
    ///
    /// # Errors
    /// The first [`PortError`] from the store; what failed stays pending for the next flush
    /// (see [`Self::backlog`]).
    pub async fn flush(&self) -> Result<usize, PortError> {
        let started = std::time::Instant::now();
        let dirty: Vec<_> = std::mem::take(&mut *self.dirty.lock_or_recover()).into_iter().collect();
        let closing = self.snapshot_expiries(dirty);
        self.backlog.add_moneyness(closing);
        self.publish(self.take_unpublished()).await;
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

    /// Refuses new work while the snapshot backlog is full.
    fn check_backlog(&self) -> Result<(), PortError> {
        if self.backlog.is_full() {
            return Err(PortError::Overloaded(format!(
                "{} minute snapshots are waiting to be written (at most {}); the store is behind",
                self.backlog.len(),
                self.backlog.limit()
            )));
        }
        Ok(())
    }

    /// Chain analytics of each expiry at its minute: kept in the state, returned as records.
    fn snapshot_expiries(&self, expiries: Vec<(ExpiryKey, OpenMinute)>) -> Vec<MoneynessRecord> {
        let mut out = Vec::new();
        for ((u, e), (forward, t, minute)) in expiries {
            let spot = self.state.spot(&u).map(|(_, s)| s);
            let state = self.state.expiry(&u, e);
            let Some(conventions) = self.conventions_of(&u) else {
                continue;
            };
            let service = self
                .mappings
                .as_ref()
                .and_then(|m| m.current(&u, e))
                .filter(|m| m.basis == MappingBasis::InstrumentService);
            let (analytics, recs) =
                chain_records(&conventions, &u, e, minute, &state, spot, forward, t, service.as_ref());
            let snapshot = ChainSnapshot {
                minute,
                forward,
                t_years: t,
                spot,
                analytics,
                mapping: service.map_or((MappingBasis::LocalLadder, minute), |m| (m.basis, m.as_of)),
            };
            if self.publisher.is_some() {
                self.stage_chain_updates(&u, e, &snapshot, &recs);
            }
            self.state.set_chain(&u, e, snapshot);
            out.extend(recs);
        }
        out
    }

    /// Queues the subscribers' updates of one expiry's minute snapshot: `chain:{u}:{e}`,
    /// `atm_iv:{u}:{e}` and `moneyness:{u}:{e}:{level}` (both rights in one update). They go
    /// out with the next publish.
    fn stage_chain_updates(
        &self,
        underlying: &InstrumentKey,
        expiry: NaiveDate,
        snapshot: &ChainSnapshot,
        records: &[MoneynessRecord],
    ) {
        let minute = snapshot.minute;
        let atm_iv = snapshot.analytics.atm_iv;
        let mut out = Vec::with_capacity(records.len() + 2);
        out.push(Outgoing {
            topic: Topic::Chain {
                underlying: underlying.clone(),
                expiry,
            }
            .to_string(),
            source_ts: minute,
            forming: false,
            event: snapshot.event(underlying, expiry),
        });
        out.push(Outgoing {
            topic: Topic::AtmIv {
                underlying: underlying.clone(),
                expiry,
            }
            .to_string(),
            source_ts: minute,
            forming: false,
            event: SignalEvent::AtmIv {
                underlying: underlying.clone(),
                expiry,
                minute,
                atm_iv,
            },
        });
        let mut levels: BTreeMap<MoneynessLevel, BothRights> = BTreeMap::new();
        for r in records {
            let entry = levels.entry(r.level).or_default();
            match r.right {
                OptionRight::Call => entry.0 = Some(r.aggregate),
                OptionRight::Put => entry.1 = Some(r.aggregate),
            }
            entry.2 = entry.2.or(r.atm_iv);
        }
        out.extend(levels.into_iter().map(|(level, (call, put, atm_iv))| {
            Outgoing {
                topic: Topic::Moneyness {
                    underlying: underlying.clone(),
                    expiry,
                    level,
                }
                .to_string(),
                source_ts: minute,
                forming: false,
                event: SignalEvent::MoneynessLevel {
                    underlying: underlying.clone(),
                    expiry,
                    level,
                    minute,
                    call,
                    put,
                    atm_iv,
                    mapping_source: snapshot.mapping.0,
                    mapping_as_of: Some(snapshot.mapping.1),
                },
            }
        }));
        self.unpublished.lock_or_recover().extend(out);
    }

    /// The `candles:{key}:1m` updates of a batch: the last state of each bar it changed, marked
    /// forming while its minute is not over by the batch's newest tick of that instrument; and,
    /// when an instrument's forming bar is overtaken by a later minute, that bar once more as
    /// closed (`forming: false`). None without a publisher.
    fn candle_updates(&self, ticks: &[Tick], candles: &[InstrumentCandle]) -> Vec<Outgoing> {
        if self.publisher.is_none() || candles.is_empty() {
            return Vec::new();
        }
        let mut newest: HashMap<&InstrumentKey, DateTime<Utc>> = HashMap::new();
        for t in ticks {
            newest
                .entry(&t.key)
                .and_modify(|ts| *ts = (*ts).max(t.ts))
                .or_insert(t.ts);
        }
        let mut last: BTreeMap<(&InstrumentKey, DateTime<Utc>), &InstrumentCandle> = BTreeMap::new();
        for c in candles {
            last.insert((&c.key, c.bar.start), c);
        }
        let one_minute = chrono::Duration::minutes(1);
        let update = |c: InstrumentCandle, seen: DateTime<Utc>, forming: bool| Outgoing {
            topic: Topic::Candles {
                key: c.key.clone(),
                timeframe: Timeframe::ONE_MINUTE,
            }
            .to_string(),
            source_ts: seen,
            forming,
            event: SignalEvent::Candle(c),
        };
        let mut out = Vec::with_capacity(last.len());
        let builders = self.builders.lock_or_recover();
        let mut open = self.forming_bars.lock_or_recover();
        for c in last.into_values() {
            let seen = newest.get(&c.key).copied().unwrap_or(c.bar.start);
            let forming = c.bar.start + one_minute > seen;
            if forming {
                let previous = open.insert(c.key.clone(), c.bar.start);
                if let Some(p) = previous.filter(|p| *p < c.bar.start)
                    && let Some(bar) = builders.get(&c.key).and_then(|b| b.bar(p))
                {
                    out.push(update(
                        InstrumentCandle {
                            key: c.key.clone(),
                            bar,
                        },
                        seen,
                        false,
                    ));
                }
            }
            out.push(update(c.clone(), seen, forming));
        }
        out
    }

    /// Takes the queued chain updates.
    fn take_unpublished(&self) -> Vec<Outgoing> {
        std::mem::take(&mut *self.unpublished.lock_or_recover())
    }

    /// Before a batch moves an expiry into a later minute, snapshots the expiry as it stood at
    /// the end of its previous minute (the state still holds that minute's quotes).
    fn close_minutes(&self, ticks: &[Tick]) {
        let mut first_minute: HashMap<(InstrumentKey, NaiveDate), DateTime<Utc>> = HashMap::new();
        for t in ticks {
            let Some(reg) = self.registry.get(&t.key) else { continue };
            let InstrumentKind::Option(c) = &reg.kind else { continue };
            let e = reg.market().local_date(c.expiry);
            let m = minute_of(t.ts);
            first_minute
                .entry((c.underlying.clone(), e))
                .and_modify(|x| *x = (*x).min(m))
                .or_insert(m);
        }
        let closing: Vec<_> = {
            let mut dirty = self.dirty.lock_or_recover();
            first_minute
                .iter()
                .filter_map(|(k, m)| match dirty.get(k) {
                    Some((_, _, old)) if old < m => dirty.remove(k).map(|v| (k.clone(), v)),
                    _ => None,
                })
                .collect()
        };
        let out = self.snapshot_expiries(closing);
        self.backlog.add_moneyness(out);
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

    /// Stores Greeks snapshots, then a computation record of the run (what it covered, how long
    /// it took, the rows without IV and why); a failing record is logged, not fatal.
    async fn save_greeks_run(&self, batch: &[GreeksRecord]) -> Result<(), PortError> {
        if batch.is_empty() {
            return Ok(());
        }
        let started = self.clock.now();
        let timer = std::time::Instant::now();
        self.store.save_greeks(batch).await?;
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
        Ok(())
    }
}
