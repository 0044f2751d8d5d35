//! [`HistoryUpkeep`] of the store: sealing into packs, monthly partitions and retention on
//! PostgreSQL (see `compact`); SQLite, the embedded default, keeps its rows as they are.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::ports::{CompactionReport, HistoryTable, HistoryUpkeep, PortError};

use super::compact::{self, partitions};
use super::{SeaStore, db_error};

/// The partitioned tables holding each table's history.
pub(super) fn partitioned(table: HistoryTable) -> &'static [&'static str] {
    match table {
        HistoryTable::Greeks => &["signal_greeks_packs"],
        HistoryTable::Candles => &["candles_1m_packs"],
        HistoryTable::Moneyness => &["signal_moneyness_packs"],
        HistoryTable::Timeframes => &[],
    }
}

#[async_trait]
impl HistoryUpkeep for SeaStore {
    async fn compact(
        &self,
        sealed_before: DateTime<Utc>,
        max_series_days: usize,
    ) -> Result<CompactionReport, PortError> {
        if !self.packed {
            return Ok(CompactionReport::default());
        }
        compact::compact(
            &self.db,
            &self.partitions,
            sealed_before.timestamp_millis(),
            max_series_days,
        )
        .await
    }

    async fn prepare_partitions(&self, from: DateTime<Utc>, through: DateTime<Utc>) -> Result<(), PortError> {
        if !self.packed {
            return Ok(());
        }
        let last = partitions::Month::of_ms(through.timestamp_millis());
        for table in HistoryTable::ALL.iter().flat_map(|t| partitioned(*t)) {
            let mut month = partitions::Month::of_ms(from.timestamp_millis());
            while month <= last {
                partitions::ensure(&self.db, &self.partitions, table, month)
                    .await
                    .map_err(db_error)?;
                month = month.next();
            }
        }
        Ok(())
    }

    async fn drop_months_before(&self, table: HistoryTable, before: DateTime<Utc>) -> Result<Vec<String>, PortError> {
        if !self.packed {
            return Ok(Vec::new());
        }
        let mut dropped = Vec::new();
        for t in partitioned(table) {
            dropped.extend(
                partitions::drop_before(&self.db, &self.partitions, t, before.timestamp_millis())
                    .await
                    .map_err(db_error)?,
            );
        }
        Ok(dropped)
    }
}
