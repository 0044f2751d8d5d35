//! [`HistoryUpkeep`] of the store: sealing into packs, monthly partitions and retention on
//! PostgreSQL (see `compact`); SQLite, the embedded default, keeps its rows as they are.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::ports::{CompactionReport, HistoryTable, HistoryUpkeep, PortError};

use super::compact::{self, partitions};
use super::{SeaStore, db_error};

/// The tables holding each table's history: its packs (always partitioned on PostgreSQL) and
/// its rows (partitioned when the partitioning migration ran, not on TimescaleDB).
fn tables_of(table: HistoryTable) -> (Option<&'static str>, &'static str) {
    match table {
        HistoryTable::Greeks => (Some("signal_greeks_packs"), "signal_greeks"),
        HistoryTable::Candles => (Some("candles_1m_packs"), "candles_1m"),
        HistoryTable::Moneyness => (Some("signal_moneyness_packs"), "signal_moneyness_greeks"),
        HistoryTable::Timeframes => (None, "signal_custom_timeframes"),
    }
}

impl SeaStore {
    /// The partitioned tables of `table` in this database.
    async fn partitioned(&self, table: HistoryTable) -> Result<Vec<&'static str>, PortError> {
        let (packs, rows) = tables_of(table);
        let mut out: Vec<&'static str> = packs.into_iter().collect();
        if self.rows_partitioned().await? {
            out.push(rows);
        }
        Ok(out)
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
        for table in HistoryTable::ALL {
            for table in self.partitioned(table).await? {
                let mut month = partitions::Month::of_ms(from.timestamp_millis());
                while month <= last {
                    partitions::ensure(&self.db, &self.partitions, table, month)
                        .await
                        .map_err(db_error)?;
                    month = month.next();
                }
            }
        }
        Ok(())
    }

    async fn drop_months_before(&self, table: HistoryTable, before: DateTime<Utc>) -> Result<Vec<String>, PortError> {
        if !self.packed {
            return Ok(Vec::new());
        }
        let mut dropped = Vec::new();
        for t in self.partitioned(table).await? {
            dropped.extend(
                partitions::drop_before(&self.db, &self.partitions, t, before.timestamp_millis())
                    .await
                    .map_err(db_error)?,
            );
        }
        Ok(dropped)
    }
}
