//! The minute snapshots waiting to be written, and how their writing is going.
//!
//! Greeks and moneyness snapshots are kept by primary key (the newest value of a key replaces an
//! older one before any write is attempted, so a write never carries one row twice — PostgreSQL
//! refuses an upsert that touches a row twice). Each table is written on its own: one failing
//! never holds the other back. The backlog is bounded ([`SnapshotBacklog::is_full`]): the
//! ingest refuses new batches while it is full instead of dropping anything.
//!
//! A failure episode (from the first failed write to the next fully successful flush) is logged
//! twice: once when it starts, with its cause, and once when it ends, with its length and the
//! number of failed attempts. [`SnapshotBacklog::status`] is what readiness shows.

use crate::fast_map::FastMap;
use crate::sync::LockOrRecover;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use domain::instrument::{InstrumentKey, OptionRight};
use domain::moneyness::MoneynessLevel;
use domain::ports::{GreeksRecord, MoneynessRecord, PortError};

/// The primary key of a moneyness row.
type MoneynessKey = (InstrumentKey, NaiveDate, OptionRight, MoneynessLevel, DateTime<Utc>);

fn moneyness_key(r: &MoneynessRecord) -> MoneynessKey {
    (r.underlying.clone(), r.expiry, r.right, r.level, r.minute)
}

/// Where a snapshot write failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotTable {
    /// `signal_greeks`.
    Greeks,
    /// `signal_moneyness_greeks`.
    Moneyness,
}

impl SnapshotTable {
    /// The table's name in the store.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Greeks => "signal_greeks",
            Self::Moneyness => "signal_moneyness_greeks",
        }
    }
}

/// The backlog as readiness shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct BacklogStatus {
    /// Greeks snapshots waiting.
    pub greeks: usize,
    /// Moneyness rows waiting.
    pub moneyness: usize,
    /// The bound of both together.
    pub limit: usize,
    /// How long the oldest waiting snapshot has waited.
    pub oldest_pending: Option<Duration>,
    /// How long writes have been failing, when they are.
    pub failing_for: Option<Duration>,
    /// The last failed write: table and cause (kept after recovery, for the record).
    pub last_error: Option<String>,
    /// Failed writes since start, by table: Greeks, then moneyness.
    pub write_failures: [u64; 2],
}

impl BacklogStatus {
    /// Waiting snapshots of both tables.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.greeks + self.moneyness
    }
}

#[derive(Debug, Default)]
struct Health {
    /// When the oldest waiting snapshot was queued.
    oldest: Option<Instant>,
    /// The failure episode under way: its start and failed attempts.
    failing: Option<(Instant, u64)>,
    last_error: Option<String>,
    /// Failed writes since start: Greeks, moneyness.
    failures: [u64; 2],
}

/// The waiting snapshots.
#[derive(Debug)]
pub struct SnapshotBacklog {
    greeks: Mutex<BTreeMap<(InstrumentKey, DateTime<Utc>), GreeksRecord>>,
    moneyness: Mutex<FastMap<MoneynessKey, MoneynessRecord>>,
    health: Mutex<Health>,
    limit: usize,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock_or_recover()
}

impl Default for SnapshotBacklog {
    fn default() -> Self {
        Self::new(usize::MAX)
    }
}

impl SnapshotBacklog {
    /// An empty backlog holding at most `limit` snapshots (both tables together).
    #[must_use]
    pub fn new(limit: usize) -> Self {
        Self {
            greeks: Mutex::default(),
            moneyness: Mutex::default(),
            health: Mutex::default(),
            limit: limit.max(1),
        }
    }

    /// Waiting snapshots of both tables.
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.greeks).len() + lock(&self.moneyness).len()
    }

    /// Nothing waiting.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// At or over the bound: new batches must wait.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.len() >= self.limit
    }

    /// The bound.
    #[must_use]
    pub fn limit(&self) -> usize {
        self.limit
    }

    fn mark_queued(&self) {
        let mut h = lock(&self.health);
        if h.oldest.is_none() {
            h.oldest = Some(Instant::now());
        }
    }

    /// Queues Greeks snapshots; a newer one of the same option and minute replaces the older.
    pub fn add_greeks(&self, records: impl IntoIterator<Item = GreeksRecord>) {
        let mut g = lock(&self.greeks);
        let before = g.len();
        for r in records {
            g.insert((r.key.clone(), r.minute), r);
        }
        if g.len() > before {
            drop(g);
            self.mark_queued();
        }
    }

    /// Queues moneyness rows; a newer one of the same key replaces the older.
    pub fn add_moneyness(&self, records: impl IntoIterator<Item = MoneynessRecord>) {
        let mut m = lock(&self.moneyness);
        let before = m.len();
        for r in records {
            m.insert(moneyness_key(&r), r);
        }
        if m.len() > before {
            drop(m);
            self.mark_queued();
        }
    }

    /// Takes every waiting moneyness row (for a write; give back what failed with
    /// [`Self::restore_moneyness`]).
    pub fn take_moneyness(&self) -> Vec<MoneynessRecord> {
        let mut out: Vec<MoneynessRecord> = std::mem::take(&mut *lock(&self.moneyness)).into_values().collect();
        // Compared in place: a key per comparison would clone the underlying's key each time.
        out.sort_unstable_by(|a, b| {
            (a.underlying.as_str(), a.expiry, a.right, a.level, a.minute).cmp(&(
                b.underlying.as_str(),
                b.expiry,
                b.right,
                b.level,
                b.minute,
            ))
        });
        out
    }

    /// Puts back rows whose write failed, unless a newer value of the same key arrived since.
    pub fn restore_moneyness(&self, records: Vec<MoneynessRecord>) {
        let mut m = lock(&self.moneyness);
        for r in records {
            m.entry(moneyness_key(&r)).or_insert(r);
        }
    }

    /// A copy of every waiting Greeks snapshot (removed by [`Self::written_greeks`] once stored).
    #[must_use]
    pub fn greeks(&self) -> Vec<GreeksRecord> {
        lock(&self.greeks).values().cloned().collect()
    }

    /// Takes every waiting Greeks snapshot.
    pub fn take_greeks(&self) -> Vec<GreeksRecord> {
        std::mem::take(&mut *lock(&self.greeks)).into_values().collect()
    }

    /// Drops stored snapshots, unless a newer value of the key arrived while they were written.
    pub fn written_greeks(&self, stored: &[GreeksRecord]) {
        let mut g = lock(&self.greeks);
        for r in stored {
            let key = (r.key.clone(), r.minute);
            if g.get(&key).is_some_and(|x| x == r) {
                g.remove(&key);
            }
        }
    }

    /// Records a flush that started at `started`: `failures` lists the tables that failed and
    /// why. Logs the start and the end of a failure episode (once each).
    pub fn record_flush(&self, started: Instant, failures: &[(SnapshotTable, &PortError)]) {
        let empty = self.is_empty();
        let mut h = lock(&self.health);
        if failures.is_empty() {
            // Everything queued before `started` is stored; what is left came during the flush.
            h.oldest = if empty {
                None
            } else {
                Some(h.oldest.map_or(started, |o| o.max(started)))
            };
            if let Some((since, attempts)) = h.failing.take() {
                tracing::info!(
                    failed_for_ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX),
                    failed_attempts = attempts,
                    "snapshot writes recovered"
                );
            }
            return;
        }
        for (table, _) in failures {
            h.failures[match table {
                SnapshotTable::Greeks => 0,
                SnapshotTable::Moneyness => 1,
            }] += 1;
        }
        let cause = failures
            .iter()
            .map(|(t, e)| format!("{}: {e}", t.name()))
            .collect::<Vec<_>>()
            .join("; ");
        match &mut h.failing {
            Some((_, attempts)) => *attempts += 1,
            None => {
                tracing::warn!(
                    error = %cause,
                    "snapshot writes failing; snapshots are kept and retried with backoff"
                );
                h.failing = Some((Instant::now(), 1));
            }
        }
        h.last_error = Some(cause);
    }

    /// What readiness shows.
    #[must_use]
    pub fn status(&self) -> BacklogStatus {
        let greeks = lock(&self.greeks).len();
        let moneyness = lock(&self.moneyness).len();
        let h = lock(&self.health);
        BacklogStatus {
            greeks,
            moneyness,
            limit: self.limit,
            oldest_pending: h.oldest.filter(|_| greeks + moneyness > 0).map(|o| o.elapsed()),
            failing_for: h.failing.map(|(since, _)| since.elapsed()),
            last_error: h.last_error.clone(),
            write_failures: h.failures,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::moneyness::LevelAggregate;

    fn row(minute: i64, count: u32) -> MoneynessRecord {
        MoneynessRecord {
            underlying: InstrumentKey::parse("NSE:NIFTY").unwrap(),
            expiry: NaiveDate::from_ymd_opt(2026, 12, 8).unwrap(),
            minute: DateTime::from_timestamp(minute * 60, 0).unwrap(),
            right: OptionRight::Call,
            level: MoneynessLevel::Atm,
            aggregate: LevelAggregate {
                count,
                ..LevelAggregate::default()
            },
            atm_iv: None,
            chain: None,
        }
    }

    #[test]
    fn one_row_per_key_the_newest_wins_and_a_failed_write_does_not_overwrite_newer_values() {
        let b = SnapshotBacklog::new(10);
        b.add_moneyness([row(1, 1), row(1, 2), row(2, 1)]);
        assert_eq!(b.len(), 2);
        let taken = b.take_moneyness();
        assert_eq!(taken.iter().map(|r| r.aggregate.count).collect::<Vec<_>>(), [2, 1]);
        // While the write fails, a newer value of minute 1 arrives: it must survive the restore.
        b.add_moneyness([row(1, 3)]);
        b.restore_moneyness(taken);
        let again = b.take_moneyness();
        assert_eq!(again.iter().map(|r| r.aggregate.count).collect::<Vec<_>>(), [3, 1]);
    }

    #[test]
    fn the_bound_and_the_failure_episode_show_in_the_status() {
        let b = SnapshotBacklog::new(2);
        assert!(!b.is_full());
        b.add_moneyness([row(1, 1), row(2, 1)]);
        assert!(b.is_full());
        let started = Instant::now();
        let e = PortError::Unavailable("database: connection refused".into());
        b.record_flush(started, &[(SnapshotTable::Moneyness, &e)]);
        let s = b.status();
        assert_eq!((s.moneyness, s.limit), (2, 2));
        assert!(s.failing_for.is_some() && s.oldest_pending.is_some());
        assert!(
            s.last_error
                .as_deref()
                .unwrap()
                .starts_with("signal_moneyness_greeks: ")
        );
        b.take_moneyness();
        b.record_flush(Instant::now(), &[]);
        let s = b.status();
        assert_eq!((s.pending(), s.failing_for, s.oldest_pending), (0, None, None));
        assert_eq!(s.write_failures, [0, 1], "failed writes stay counted after recovery");
    }
}
