//! The compact layout of sealed history: one row per series and UTC day holding that day's
//! minutes as a pack (the adapter's `store/compact`: columns compressed with pco), beside the
//! row tables that keep today's minutes and late bars.
//!
//! - `signal_greeks_packs` (`instrument_key`, `day_ms`), `candles_1m_packs` (`instrument_key`,
//!   `day_ms`) and `signal_moneyness_packs` (`underlying`, `expiry`, `option_right`, `level`,
//!   `day_ms`); `day_ms` is the UTC midnight of the day, `first_ms`/`last_ms` the pack's first
//!   and last minute, `minutes` how many it holds.
//! - On PostgreSQL each is partitioned by range of `day_ms`, one partition a calendar month
//!   (`<table>_yYYYYmMM`), created by the service ahead of use; retention drops whole
//!   partitions. SQLite has plain tables (the embedded default does not compact).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// (table, series key columns) of every pack table.
pub const PACK_TABLES: [(&str, &[&str]); 3] = [
    ("signal_greeks_packs", &["instrument_key"]),
    ("candles_1m_packs", &["instrument_key"]),
    (
        "signal_moneyness_packs",
        &["underlying", "expiry", "option_right", "level"],
    ),
];

/// The pack tables' migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The statement creating the pack table `table` keyed by `keys` (and `day_ms`).
pub(crate) fn create(table: &str, keys: &[&str], backend: DbBackend) -> String {
    let key_columns: String = keys.iter().map(|k| format!("{k} TEXT NOT NULL, ")).collect();
    let (blob, partition) = match backend {
        DbBackend::Postgres => ("BYTEA", " PARTITION BY RANGE (day_ms)"),
        _ => ("BLOB", ""),
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {table} ({key_columns}day_ms BIGINT NOT NULL, first_ms BIGINT NOT NULL, \
         last_ms BIGINT NOT NULL, minutes INTEGER NOT NULL, pack {blob} NOT NULL, \
         PRIMARY KEY ({}, day_ms)){partition}",
        keys.join(", ")
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        for (table, keys) in PACK_TABLES {
            manager
                .get_connection()
                .execute_unprepared(&create(table, keys, backend))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, _) in PACK_TABLES {
            manager
                .get_connection()
                .execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
                .await?;
        }
        Ok(())
    }
}
