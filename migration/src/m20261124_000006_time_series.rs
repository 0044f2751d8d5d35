//! PostgreSQL only: make the time-series tables cheap to scan by time.
//!
//! With the `timescaledb` extension available, each becomes a hypertable chunked by one day of
//! its `*_ms` column. Without it (as on the project machine) each gets a BRIN index on its time
//! column instead of native partitioning: the data arrives in time order, so BRIN answers range
//! scans with an index of a few pages, needs no partition upkeep (no partitions to create ahead
//! of time, no default partition to split), and keeps plain primary keys for idempotent upserts.
//! SQLite needs nothing here: its primary keys already lead with the series and end with time.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DbBackend, Statement};

/// (table, time column) of every time-series table.
pub const TIME_SERIES: [(&str, &str); 4] = [
    ("candles_1m", "start_ms"),
    ("signal_greeks", "minute_ms"),
    ("signal_moneyness_greeks", "minute_ms"),
    ("signal_custom_timeframes", "bucket_start_ms"),
];

const DAY_MS: i64 = 86_400_000;

/// The time-series migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// True when the server can install TimescaleDB.
///
/// # Errors
/// The query's error.
pub async fn timescale_available(conn: &impl ConnectionTrait) -> Result<bool, DbErr> {
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM pg_available_extensions WHERE name = 'timescaledb'",
        ))
        .await?;
    Ok(row.map(|r| r.try_get::<i64>("", "n").unwrap_or(0) > 0).unwrap_or(false))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let conn = manager.get_connection();
        if timescale_available(conn).await? {
            conn.execute_unprepared("CREATE EXTENSION IF NOT EXISTS timescaledb")
                .await?;
            for (table, col) in TIME_SERIES {
                conn.execute_unprepared(&format!(
                    "SELECT create_hypertable('{table}', by_range('{col}', {DAY_MS}::bigint), if_not_exists => TRUE, migrate_data => TRUE)"
                ))
                .await?;
            }
        } else {
            for (table, col) in TIME_SERIES {
                conn.execute_unprepared(&format!(
                    "CREATE INDEX IF NOT EXISTS {table}_{col}_brin ON {table} USING BRIN ({col})"
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        for (table, col) in TIME_SERIES {
            manager
                .get_connection()
                .execute_unprepared(&format!("DROP INDEX IF EXISTS {table}_{col}_brin"))
                .await?;
        }
        Ok(())
    }
}
