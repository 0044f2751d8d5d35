//! Bars on any timeframe, read through the `signal_custom_timeframes` cache.
//!
//! [`TimeframeBars::bars`] answers with the aggregated bars of one instrument whose bucket starts
//! in a range: buckets already cached are read as they are; the others are aggregated from the
//! stored 1-minute candles (one read spanning them) and, once their bucket has closed, cached.
//! A bucket still open is never cached, and the store drops a cached bucket in the same
//! transaction that writes a 1-minute bar inside it (late or corrected data), so the cache never
//! answers with a stale aggregate. Buckets without data are not bars (and not cached), so they
//! are looked for again on each read; that costs an index probe, not a scan.

use std::collections::HashSet;
use std::sync::Arc;

use domain::candles::{AggregatedBar, Bucketer, Timeframe, aggregate};
use domain::instrument::{InstrumentKey, Market};
use domain::ports::{Clock, PortError, SignalStore, TimeRange};

/// What a timeframe read did, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeframeReadStats {
    /// Buckets answered from the cache.
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
}

impl TimeframeBars {
    /// Wires the use case.
    #[must_use]
    pub fn new(store: Arc<dyn SignalStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
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
