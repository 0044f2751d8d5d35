//! [`MemoryAggregateCache`]: the [`AggregateCache`] port on moka, bounded in bytes, with a
//! time-to-live and counters.
//!
//! One moka entry per instrument and session day holds every cached timeframe of that day, so
//! invalidating a day (a late 1-minute bar) is one removal whatever the timeframes. Adding a
//! timeframe replaces the day's entry with a copy plus the new bars (days hold a handful of
//! timeframes; fills are rare next to hits).
//!
//! The time-to-live bounds how long another instance's late write can go unseen here: the
//! invalidation reaches only the cache of the process that wrote (the durable
//! `signal_custom_timeframes` rows are dropped for everyone in the write's transaction).

use application::sync::LockOrRecover;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use domain::candles::{AggregatedBar, Timeframe};
use domain::instrument::InstrumentKey;
use domain::ports::{AggregateCache, AggregateCacheStats, AggregateDay, FillTicket};
use moka::notification::RemovalCause;
use moka::sync::Cache;

type DayKey = (InstrumentKey, NaiveDate);
type DayBars = Arc<Vec<(Timeframe, Arc<[AggregatedBar]>)>>;

/// Bytes charged per day entry and per timeframe in it, on top of the bars themselves.
const ENTRY_OVERHEAD_BYTES: usize = 128;
const TIMEFRAME_OVERHEAD_BYTES: usize = 48;

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
    stale_fills: AtomicU64,
    invalidations: AtomicU64,
    evictions: AtomicU64,
    expirations: AtomicU64,
}

/// What [`MemoryAggregateCache::new`] is given.
#[derive(Debug, Clone, Copy)]
pub struct AggregateCacheConfig {
    /// Memory bound, bytes (estimated from the bars held).
    pub max_bytes: u64,
    /// How long a day stays cached after it was stored.
    pub time_to_live: Duration,
}

impl Default for AggregateCacheConfig {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            time_to_live: Duration::from_secs(600),
        }
    }
}

/// The in-process aggregate cache.
#[derive(Clone)]
pub struct MemoryAggregateCache {
    days: Cache<DayKey, DayBars>,
    /// Bumped by every invalidation; fills compare it with their ticket under the same lock.
    generation: Arc<Mutex<u64>>,
    counters: Arc<Counters>,
    max_bytes: u64,
}

impl std::fmt::Debug for MemoryAggregateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryAggregateCache")
            .field("stats", &self.stats())
            .finish()
    }
}

fn weight(bars: &DayBars) -> u32 {
    let bytes = ENTRY_OVERHEAD_BYTES
        + bars
            .iter()
            .map(|(_, b)| TIMEFRAME_OVERHEAD_BYTES + std::mem::size_of_val::<[AggregatedBar]>(b))
            .sum::<usize>();
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

impl MemoryAggregateCache {
    /// A cache bounded by `config`.
    #[must_use]
    pub fn new(config: AggregateCacheConfig) -> Self {
        let counters = Arc::new(Counters::default());
        let listener = {
            let counters = counters.clone();
            move |_: Arc<DayKey>, _: DayBars, cause: RemovalCause| match cause {
                RemovalCause::Size => {
                    counters.evictions.fetch_add(1, Ordering::Relaxed);
                }
                RemovalCause::Expired => {
                    counters.expirations.fetch_add(1, Ordering::Relaxed);
                }
                RemovalCause::Explicit | RemovalCause::Replaced => {}
            }
        };
        Self {
            days: Cache::builder()
                .max_capacity(config.max_bytes)
                .weigher(|_, v: &DayBars| weight(v))
                .time_to_live(config.time_to_live)
                .eviction_listener(listener)
                .build(),
            generation: Arc::new(Mutex::new(0)),
            counters,
            max_bytes: config.max_bytes,
        }
    }

    /// Applies pending evictions and expirations now (moka does it lazily), so that
    /// [`AggregateCache::stats`] is exact (tests; a scrape reads the lazily updated figures).
    pub fn sync(&self) {
        self.days.run_pending_tasks();
    }
}

impl AggregateCache for MemoryAggregateCache {
    fn get(&self, day: &AggregateDay) -> Option<Arc<[AggregatedBar]>> {
        let found = self
            .days
            .get(&(day.key.clone(), day.day))
            .and_then(|d| d.iter().find(|(tf, _)| *tf == day.timeframe).map(|(_, b)| b.clone()));
        let counter = if found.is_some() {
            &self.counters.hits
        } else {
            &self.counters.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn ticket(&self) -> FillTicket {
        FillTicket(*self.generation.lock_or_recover())
    }

    fn put(&self, day: AggregateDay, bars: Arc<[AggregatedBar]>, ticket: FillTicket) -> bool {
        let generation = self.generation.lock_or_recover();
        if *generation != ticket.0 {
            self.counters.stale_fills.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        self.days.entry((day.key, day.day)).and_upsert_with(|old| {
            let mut all: Vec<_> = old
                .map(|e| {
                    e.into_value()
                        .iter()
                        .filter(|(tf, _)| *tf != day.timeframe)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            all.push((day.timeframe, bars));
            Arc::new(all)
        });
        drop(generation);
        self.counters.inserts.fetch_add(1, Ordering::Relaxed);
        true
    }

    fn invalidate(&self, key: &InstrumentKey, day: NaiveDate) {
        let mut generation = self.generation.lock_or_recover();
        *generation += 1;
        if self.days.remove(&(key.clone(), day)).is_some() {
            self.counters.invalidations.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn stats(&self) -> AggregateCacheStats {
        let c = &self.counters;
        AggregateCacheStats {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            inserts: c.inserts.load(Ordering::Relaxed),
            stale_fills: c.stale_fills.load(Ordering::Relaxed),
            invalidations: c.invalidations.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed),
            expirations: c.expirations.load(Ordering::Relaxed),
            entries: self.days.entry_count(),
            weighted_bytes: self.days.weighted_size(),
            capacity_bytes: self.max_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    fn bars(n: usize) -> Arc<[AggregatedBar]> {
        let start: DateTime<Utc> = "2026-02-02T03:45:00Z".parse().unwrap();
        let bar = domain::candles::Bar::ohlcv(start, 1.0, 2.0, 0.5, 1.5, 10.0);
        let tf: Timeframe = "1m".parse().unwrap();
        let one = domain::candles::aggregate(&[bar], tf, &domain::instrument::Market::nse()).unwrap()[0];
        vec![one; n].into()
    }

    fn day(tf: &str, d: u32) -> AggregateDay {
        AggregateDay {
            key: InstrumentKey::parse("NSE:NIFTY").unwrap(),
            timeframe: tf.parse().unwrap(),
            day: NaiveDate::from_ymd_opt(2026, 2, d).unwrap(),
        }
    }

    #[test]
    fn hits_misses_and_invalidation_of_every_timeframe_of_a_day() {
        let c = MemoryAggregateCache::new(AggregateCacheConfig::default());
        assert!(c.get(&day("5m", 2)).is_none());
        let t = c.ticket();
        assert!(c.put(day("5m", 2), bars(75), t));
        assert!(c.put(day("15m", 2), bars(25), t));
        assert!(c.put(day("5m", 3), bars(75), t));
        assert_eq!(c.get(&day("5m", 2)).unwrap().len(), 75);
        assert_eq!(c.get(&day("15m", 2)).unwrap().len(), 25);
        assert!(
            c.get(&day("7m", 2)).is_none(),
            "another timeframe of a cached day is a miss"
        );
        c.invalidate(
            &InstrumentKey::parse("NSE:NIFTY").unwrap(),
            NaiveDate::from_ymd_opt(2026, 2, 2).unwrap(),
        );
        assert!(c.get(&day("5m", 2)).is_none());
        assert!(c.get(&day("15m", 2)).is_none());
        assert!(c.get(&day("5m", 3)).is_some(), "other days stay");
        c.sync();
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.inserts, s.invalidations), (3, 4, 3, 1), "{s:?}");
        assert_eq!(s.entries, 1);
    }

    #[test]
    fn a_fill_that_read_before_an_invalidation_is_refused() {
        let c = MemoryAggregateCache::new(AggregateCacheConfig::default());
        let t = c.ticket();
        c.invalidate(
            &InstrumentKey::parse("NSE:NIFTY").unwrap(),
            NaiveDate::from_ymd_opt(2026, 2, 2).unwrap(),
        );
        assert!(!c.put(day("5m", 2), bars(75), t));
        assert!(c.get(&day("5m", 2)).is_none());
        assert_eq!(c.stats().stale_fills, 1);
        assert!(c.put(day("5m", 2), bars(75), c.ticket()));
    }

    #[test]
    fn memory_stays_within_its_bound_by_evicting() {
        let one_day = u64::from(weight(&Arc::new(vec![("5m".parse().unwrap(), bars(75))])));
        let c = MemoryAggregateCache::new(AggregateCacheConfig {
            max_bytes: one_day * 10,
            time_to_live: Duration::from_secs(600),
        });
        for d in 1..=28 {
            c.put(day("5m", d), bars(75), c.ticket());
            c.sync();
        }
        let s = c.stats();
        assert!(s.weighted_bytes <= s.capacity_bytes, "{s:?}");
        assert!(s.entries <= 10 && s.entries > 0, "{s:?}");
        assert!(s.evictions >= 18, "{s:?}");
    }
}
