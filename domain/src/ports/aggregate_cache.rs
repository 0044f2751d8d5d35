//! The in-process cache of custom-timeframe bars: whole closed session days of one instrument
//! on one intraday timeframe, kept in memory in front of the store's `signal_custom_timeframes`
//! table (which holds the same buckets durably and is shared by every instance).
//!
//! A day is only cached once its session has closed, so what is cached changes only when a
//! 1-minute bar of that day is written late (a correction or a replay); the writer then calls
//! [`AggregateCache::invalidate`]. A fill that read the store before such a write must not land
//! after it: fills take a [`FillTicket`] before reading, and [`AggregateCache::put`] refuses a
//! ticket older than the last invalidation.

use std::sync::Arc;

use chrono::NaiveDate;

use crate::candles::{AggregatedBar, Timeframe};
use crate::instrument::InstrumentKey;

/// One cached unit: an instrument's bars on a timeframe for one session (its local date).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AggregateDay {
    /// The instrument.
    pub key: InstrumentKey,
    /// An intraday timeframe (above 1m).
    pub timeframe: Timeframe,
    /// The session's local trading date.
    pub day: NaiveDate,
}

/// Taken before reading what a later [`AggregateCache::put`] stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillTicket(pub u64);

/// Counters and gauges of an aggregate cache, since the process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AggregateCacheStats {
    /// Lookups answered from memory.
    pub hits: u64,
    /// Lookups that had to read the store.
    pub misses: u64,
    /// Days stored.
    pub inserts: u64,
    /// Fills refused because an invalidation happened while they read the store.
    pub stale_fills: u64,
    /// Days dropped because a late 1-minute bar was written into them.
    pub invalidations: u64,
    /// Days dropped to stay within the memory bound.
    pub evictions: u64,
    /// Days dropped because they outlived the time-to-live.
    pub expirations: u64,
    /// Days held now.
    pub entries: u64,
    /// Estimated memory held now, bytes.
    pub weighted_bytes: u64,
    /// The memory bound, bytes.
    pub capacity_bytes: u64,
}

/// An in-process cache of closed days of custom-timeframe bars (never fails; a miss is the
/// worst it does).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait AggregateCache: Send + Sync {
    /// The bars of a closed day (ascending; possibly none), when cached.
    fn get(&self, day: &AggregateDay) -> Option<Arc<[AggregatedBar]>>;

    /// A ticket to take before reading the store for a later [`Self::put`].
    fn ticket(&self) -> FillTicket;

    /// Keeps every bar of a closed day, unless an invalidation came after `ticket` was taken.
    /// Returns whether the day was kept.
    fn put(&self, day: AggregateDay, bars: Arc<[AggregatedBar]>, ticket: FillTicket) -> bool;

    /// Drops every timeframe of `key` on the session `day`: a 1-minute bar of it was written
    /// after the day closed. Call after the write is durable.
    fn invalidate(&self, key: &InstrumentKey, day: NaiveDate);

    /// The counters, for metrics.
    fn stats(&self) -> AggregateCacheStats;
}
