//! [`HistoryUpkeep`] of the store: sealing into packs, monthly partitions and retention on
//! PostgreSQL (see `compact`); with TimescaleDB, retention by `drop_chunks` and nothing else
//! (its compression policy seals); SQLite, the embedded default, keeps its rows as they are.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::ports::{CompactionReport, HistoryTable, HistoryUpkeep, PortError};

use super::compact::{self, partitions};
use super::{Layout, SeaStore, db_error};

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
        // The level packs' chain days go with them (`compact/levels.rs`).
        let chain = (table == HistoryTable::Moneyness).then_some(compact::CHAIN_PACKS);
        let packs = packs.into_iter().chain(chain);
        Ok(match self.layout().await? {
            Layout::Partitioned => packs.chain([rows]).collect(),
            Layout::Plain => packs.collect(),
            Layout::Hypertables => Vec::new(),
        })
    }
}

#[async_trait]
impl HistoryUpkeep for SeaStore {
    async fn compact(
        &self,
        sealed_before: DateTime<Utc>,
        max_series_days: usize,
    ) -> Result<CompactionReport, PortError> {
        if !self.packed || self.layout().await? == Layout::Hypertables {
            // SQLite keeps rows; TimescaleDB compresses its chunks itself (its policy).
            return Ok(CompactionReport::default());
        }
        let sealed = sealed_before.timestamp_millis();
        let report = compact::compact(&self.db, &self.partitions, sealed, max_series_days).await?;
        if !report.more && self.layout().await? == Layout::Partitioned {
            // Months wholly sealed give their rows' pages and index pages back.
            for table in [HistoryTable::Greeks, HistoryTable::Candles, HistoryTable::Moneyness] {
                let (_, rows) = tables_of(table);
                partitions::truncate_sealed(&self.db, rows, compact::day_of(sealed))
                    .await
                    .map_err(db_error)?;
            }
        }
        Ok(report)
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
        if self.layout().await? == Layout::Hypertables {
            let (_, rows) = tables_of(table);
            let sql = format!(
                "SELECT drop_chunks('{rows}', older_than => {}::bigint)::text AS chunk",
                before.timestamp_millis()
            );
            let found = sea_orm::ConnectionTrait::query_all_raw(
                &self.db,
                sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql),
            )
            .await
            .map_err(db_error)?;
            dropped.extend(found.iter().filter_map(|r| r.try_get::<String>("", "chunk").ok()));
            return Ok(dropped);
        }
        for t in self.partitioned(table).await? {
            let mut before_ms = before.timestamp_millis();
            if t == "signal_greeks_packs" {
                // Level packs refer to the Greeks packs of their day (`compact/levels.rs`): a
                // month of Greeks packs stays while the moneyness packs of that month do.
                let levels = partitions::months(&self.db, "signal_moneyness_packs")
                    .await
                    .map_err(db_error)?;
                if let Some(first) = levels.first() {
                    before_ms = before_ms.min(first.start_ms());
                }
            }
            dropped.extend(
                partitions::drop_before(&self.db, &self.partitions, t, before_ms)
                    .await
                    .map_err(db_error)?,
            );
        }
        Ok(dropped)
    }
}
