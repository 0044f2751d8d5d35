//! Upkeep of stored history: sealing closed days into the compact layout, monthly partitions
//! ahead of the rows they take, and retention by whole months.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PortError;

/// The time-series tables history upkeep knows, each with its own retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HistoryTable {
    /// IV and Greeks per option and minute.
    Greeks,
    /// 1-minute candles.
    Candles,
    /// Moneyness aggregates per level and minute.
    Moneyness,
    /// Cached custom-timeframe bars (recomputable from the candles).
    Timeframes,
}

impl HistoryTable {
    /// Every table.
    pub const ALL: [Self; 4] = [Self::Greeks, Self::Candles, Self::Moneyness, Self::Timeframes];

    /// The name in settings, logs and metrics.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Greeks => "greeks",
            Self::Candles => "candles",
            Self::Moneyness => "moneyness",
            Self::Timeframes => "timeframes",
        }
    }
}

/// What one compaction call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Series-days folded into the compact layout (new or merged with late rows).
    pub series_days: u64,
    /// Rows moved out of the row layout.
    pub rows_folded: u64,
    /// Series-days another instance was folding at the time (left to it).
    pub skipped_busy: u64,
    /// Whether sealed rows are left for another call (this one hit its bound).
    pub more: bool,
}

impl std::ops::AddAssign for CompactionReport {
    fn add_assign(&mut self, o: Self) {
        self.series_days += o.series_days;
        self.rows_folded += o.rows_folded;
        self.skipped_busy += o.skipped_busy;
        self.more |= o.more;
    }
}

/// Storage that keeps history compactly and by month.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait HistoryUpkeep: Send + Sync {
    /// Folds the rows of every UTC day that ended at or before `sealed_before` into the compact
    /// layout, at most `max_series_days` series-days per table; idempotent, and safe while
    /// other instances do the same. A store without a compact layout does nothing.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database is down; what was folded stays folded.
    async fn compact(
        &self,
        sealed_before: DateTime<Utc>,
        max_series_days: usize,
    ) -> Result<CompactionReport, PortError>;

    /// Makes sure every partitioned table has its partitions from the month of `from` through
    /// the month of `through`. A store without partitions does nothing.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database is down.
    async fn prepare_partitions(&self, from: DateTime<Utc>, through: DateTime<Utc>) -> Result<(), PortError>;

    /// Drops `table`'s history in whole months that end at or before `before`; returns what
    /// was dropped (partition names), empty when the store keeps no partitions.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database is down.
    async fn drop_months_before(&self, table: HistoryTable, before: DateTime<Utc>) -> Result<Vec<String>, PortError>;
}
