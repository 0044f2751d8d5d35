//! Bars on any timeframe, read through the `signal_custom_timeframes` cache.
//!
//! [`TimeframeBars::bars`] answers with the aggregated bars of one instrument whose bucket starts
//! in a range: buckets already cached are read as they are; the others are aggregated from the
//! stored 1-minute candles (one read spanning them) and, once their bucket has closed, cached.
//! A bucket still open is never cached, and the store drops a cached bucket in the same
//! transaction that writes a 1-minute bar inside it (late or corrected data), so the cache never
//! answers with a stale aggregate. Buckets without data are not bars (and not cached), so they
//! are looked for again on each read; that costs an index probe, not a scan.
//!
//! In front of that table sits an optional in-process [`AggregateCache`] of whole closed
//! session days (intraday timeframes only): a read takes each closed day it touches from memory
//! when it can, reads the days it lacks whole (one store read per run of consecutive missing
//! days) and keeps them, and reads the still-open part of the range through the table as above.
//! [`forget_rewritten_days`] is what the ingest calls after writing 1-minute bars: it drops the
//! closed days they fall in.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::candles::{AggregatedBar, Bucketer, Timeframe, aggregate};
use domain::instrument::{InstrumentKey, Market, TradingDay};
use domain::ports::{AggregateCache, AggregateDay, Clock, InstrumentCandle, PortError, SignalStore, TimeRange};

/// What a timeframe read did, for metrics and tests. Days read whole for the in-process cache
/// count every bucket read, also those outside the requested range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeframeReadStats {
    /// Buckets answered from the in-process cache of closed days.
    pub memory: usize,
    /// Buckets answered from the store's cache table.
    pub cached: usize,
    /// Buckets aggregated from 1-minute bars.
    pub computed: usize,
    /// Of those, buckets written to the cache (closed ones).
    pub stored: usize,
}

/// The use case.
pub struct TimeframeBars {
    store: Arc<dyn SignalStore>,
    clock: Arc<dyn Clock>,
    memory: Option<Arc<dyn AggregateCache>>,
}

impl TimeframeBars {
    /// Wires the use case (without an in-process cache).
    #[must_use]
    pub fn new(store: Arc<dyn SignalStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            memory: None,
        }
    }

    /// Keeps closed days of intraday timeframes in `memory` too.
    #[must_use]
    pub fn with_memory(mut self, memory: Option<Arc<dyn AggregateCache>>) -> Self {
        self.memory = memory;
        self
    }

    /// Bars of `key` on `timeframe` (buckets of `market`'s sessions) starting in `range`, ascending.
    ///
    /// # Errors
    /// [`PortError`] from the store.
    pub async fn bars(
        &self,
        key: &InstrumentKey,
        market: &Market,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<(Vec<AggregatedBar>, TimeframeReadStats), PortError> {
        match &self.memory {
            Some(memory) if timeframe.intraday_minutes().is_some() && range.from < range.to => {
                let read = DayRead {
                    memory: memory.as_ref(),
                    key,
                    market,
                    timeframe,
                    range,
                };
                self.through_memory(&read).await
            }
            _ => self.through_table(key, market, timeframe, range).await,
        }
    }

    /// Closed days from memory (reading and keeping the missing ones whole), the rest of the
    /// range through the table.
    async fn through_memory(&self, read: &DayRead<'_>) -> Result<(Vec<AggregatedBar>, TimeframeReadStats), PortError> {
        let now = self.clock.now();
        let DayRead {
            memory,
            key,
            market,
            timeframe,
            range,
        } = *read;
        let mut answer = (Vec::new(), TimeframeReadStats::default());
        let mut missing: Vec<TradingDay> = Vec::new();
        let mut open_from = None;
        for day in sessions_touching(market, range) {
            if day.close > now {
                // This session and every later one are still open: the table path answers them.
                open_from = Some(day.open.max(range.from));
                break;
            }
            let unit = AggregateDay {
                key: key.clone(),
                timeframe,
                day: day.date,
            };
            if let Some(bars) = memory.get(&unit) {
                // A hit closes the run of missing days before it, which is filled first so the
                // answer stays in order.
                self.fill(read, &mut missing, &mut answer).await?;
                let before = answer.0.len();
                answer.0.extend(bars.iter().filter(|b| read.wants(b)).copied());
                answer.1.memory += answer.0.len() - before;
            } else {
                missing.push(day);
            }
        }
        self.fill(read, &mut missing, &mut answer).await?;
        let (mut out, mut stats) = answer;
        if let Some(from) = open_from.filter(|from| *from < range.to) {
            let (rest, rest_stats) = self
                .through_table(key, market, timeframe, TimeRange { from, to: range.to })
                .await?;
            out.extend(rest);
            stats.cached += rest_stats.cached;
            stats.computed += rest_stats.computed;
            stats.stored += rest_stats.stored;
        }
        Ok((out, stats))
    }

    /// Reads the closed days in `missing` (consecutive sessions) whole through the table,
    /// keeps each in memory, and appends their bars inside the requested range to `answer`.
    async fn fill(
        &self,
        read: &DayRead<'_>,
        missing: &mut Vec<TradingDay>,
        answer: &mut (Vec<AggregatedBar>, TimeframeReadStats),
    ) -> Result<(), PortError> {
        let (Some(first), Some(last)) = (missing.first(), missing.last()) else {
            return Ok(());
        };
        let ticket = read.memory.ticket();
        let span = TimeRange {
            from: first.open,
            to: last.close,
        };
        let (bars, stats) = self.through_table(read.key, read.market, read.timeframe, span).await?;
        let mut rest = bars.as_slice();
        for day in missing.drain(..) {
            let n = rest.iter().take_while(|b| b.start < day.close).count();
            let (of_day, after) = rest.split_at(n);
            rest = after;
            let unit = AggregateDay {
                key: read.key.clone(),
                timeframe: read.timeframe,
                day: day.date,
            };
            read.memory.put(unit, of_day.into(), ticket);
            answer.0.extend(of_day.iter().filter(|b| read.wants(b)).copied());
        }
        answer.1.cached += stats.cached;
        answer.1.computed += stats.computed;
        answer.1.stored += stats.stored;
        Ok(())
    }

    /// Buckets from the store's cache table, the missing ones aggregated (and the closed ones
    /// among them stored).
    async fn through_table(
        &self,
        key: &InstrumentKey,
        market: &Market,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<(Vec<AggregatedBar>, TimeframeReadStats), PortError> {
        let now = self.clock.now();
        let mut bars = self.store.timeframe_bars(key, timeframe, range).await?;
        let have: HashSet<_> = bars.iter().map(|b| b.start).collect();
        let grid = Bucketer::new(market.clone(), timeframe).buckets_between(range.from, range.to.min(now));
        let missing: Vec<_> = grid.iter().filter(|b| !have.contains(&b.start)).collect();
        let mut stats = TimeframeReadStats {
            cached: bars.len(),
            ..TimeframeReadStats::default()
        };
        let (Some(first), Some(last)) = (missing.first(), missing.last()) else {
            return Ok((bars, stats));
        };
        let span = TimeRange {
            from: first.start,
            to: last.end,
        };
        let minutes: Vec<_> = self
            .store
            .candles(key, span)
            .await?
            .into_iter()
            .map(|c| c.bar)
            .collect();
        let wanted: HashSet<_> = missing.iter().map(|b| b.start).collect();
        let computed: Vec<AggregatedBar> = aggregate(&minutes, timeframe, market)
            .map_err(|e| PortError::Invalid(format!("stored 1-minute bars of {key}: {e}")))?
            .into_iter()
            .filter(|b| wanted.contains(&b.start))
            .collect();
        let closed: Vec<AggregatedBar> = computed.iter().filter(|b| b.end <= now).copied().collect();
        self.store.save_timeframe_bars(key, timeframe, &closed).await?;
        stats.computed = computed.len();
        stats.stored = closed.len();
        bars.extend(computed);
        bars.sort_by_key(|b| b.start);
        Ok((bars, stats))
    }
}

/// One read through the in-process cache.
#[derive(Clone, Copy)]
struct DayRead<'a> {
    memory: &'a dyn AggregateCache,
    key: &'a InstrumentKey,
    market: &'a Market,
    timeframe: Timeframe,
    range: TimeRange,
}

impl DayRead<'_> {
    /// True when `bar` starts inside the requested range.
    fn wants(&self, bar: &AggregatedBar) -> bool {
        bar.start >= self.range.from && bar.start < self.range.to
    }
}

/// The sessions of `market` whose days `range` touches, ascending (closed days and holidays
/// have none).
fn sessions_touching(market: &Market, range: TimeRange) -> impl Iterator<Item = TradingDay> + '_ {
    let first = market.local_date(range.from);
    let last = market.local_date(range.to);
    first
        .iter_days()
        .take_while(move |d| *d <= last)
        .filter_map(|d| market.session_on(d))
        .filter(move |s| s.close > range.from && s.open < range.to)
}

/// After 1-minute bars were written (and are durable): drops from `memory` every closed session
/// day they fall in, so the next read aggregates it again. Bars whose minute has not ended yet
/// (live data) cannot be in a closed day and cost nothing. `market_of` gives each instrument's
/// market; instruments without one are skipped (nothing of theirs can have been cached).
pub fn forget_rewritten_days(
    memory: &dyn AggregateCache,
    written: &[InstrumentCandle],
    market_of: impl Fn(&InstrumentKey) -> Option<Market>,
    now: DateTime<Utc>,
) {
    let mut done: HashSet<(&InstrumentKey, NaiveDate)> = HashSet::new();
    for c in written {
        if c.bar.start + Duration::minutes(1) > now {
            continue;
        }
        let Some(market) = market_of(&c.key) else { continue };
        let Some(day) = market.session_containing(c.bar.start) else {
            continue;
        };
        if day.close <= now && done.insert((&c.key, day.date)) {
            memory.invalidate(&c.key, day.date);
        }
    }
}
