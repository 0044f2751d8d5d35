//! History upkeep, one cycle at a time: partitions ahead of the rows they take, closed days
//! sealed into the compact layout, and retention by whole months.
//!
//! The service runs [`HistoryKeeper::cycle`] on an interval (`[history]` settings); every step
//! is idempotent and safe on several instances at once, so each instance runs it and whichever
//! comes first does the work. A failed step is returned to the caller (which logs it and tries
//! again next interval); the steps before it stay done.

use std::sync::Arc;

use chrono::{Duration, Months};
use domain::ports::{Clock, CompactionReport, HistoryTable, HistoryUpkeep, PortError};

/// What the keeper does (`[history]` settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpkeepPolicy {
    /// A UTC day is sealed this long after it ends (late 1-minute bars of a day arriving after
    /// the seal still land, and the day is sealed again).
    pub seal_after: Duration,
    /// Series-days sealed per table and call (bounds one transaction burst).
    pub batch_series_days: usize,
    /// Calls per cycle at most (so one cycle ends; the rest waits for the next).
    pub max_calls_per_cycle: usize,
    /// Months of partitions kept ready after the current one.
    pub partitions_ahead_months: u32,
    /// Days of history kept per table (whole months older are dropped); `None` keeps all.
    pub retention_days: Vec<(HistoryTable, Option<u32>)>,
}

impl Default for UpkeepPolicy {
    fn default() -> Self {
        Self {
            seal_after: Duration::hours(1),
            batch_series_days: 2_000,
            max_calls_per_cycle: 50,
            partitions_ahead_months: 2,
            retention_days: HistoryTable::ALL.iter().map(|t| (*t, None)).collect(),
        }
    }
}

/// What one cycle did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CycleReport {
    /// The sealing's totals.
    pub compaction: CompactionReport,
    /// Partitions dropped by retention.
    pub dropped: Vec<String>,
}

/// Runs the upkeep cycles.
#[derive(Clone)]
pub struct HistoryKeeper {
    store: Arc<dyn HistoryUpkeep>,
    clock: Arc<dyn Clock>,
    policy: UpkeepPolicy,
}

impl std::fmt::Debug for HistoryKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryKeeper")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl HistoryKeeper {
    /// A keeper of `store`'s history.
    #[must_use]
    pub fn new(store: Arc<dyn HistoryUpkeep>, clock: Arc<dyn Clock>, policy: UpkeepPolicy) -> Self {
        Self { store, clock, policy }
    }

    /// The policy.
    #[must_use]
    pub fn policy(&self) -> &UpkeepPolicy {
        &self.policy
    }

    /// One cycle: partitions from this month through the months ahead, sealing until nothing
    /// sealed is left in row form (or the call bound), then retention.
    ///
    /// # Errors
    /// The first failing step's [`PortError`].
    pub async fn cycle(&self) -> Result<CycleReport, PortError> {
        let now = self.clock.now();
        let ahead = now
            .checked_add_months(Months::new(self.policy.partitions_ahead_months))
            .unwrap_or(now);
        self.store.prepare_partitions(now, ahead).await?;
        let mut report = CycleReport::default();
        let sealed_before = now - self.policy.seal_after;
        for _ in 0..self.policy.max_calls_per_cycle.max(1) {
            let r = self
                .store
                .compact(sealed_before, self.policy.batch_series_days.max(1))
                .await?;
            report.compaction += r;
            report.compaction.more = r.more;
            if !r.more {
                break;
            }
        }
        for (table, days) in &self.policy.retention_days {
            if let Some(days) = days {
                let before = now - Duration::days(i64::from(*days));
                report
                    .dropped
                    .extend(self.store.drop_months_before(*table, before).await?);
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests;
