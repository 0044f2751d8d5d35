//! Database migrations (sea-orm-migration) for SQLite and PostgreSQL.
//!
//! Conventions of the schema:
//! - Instants are `BIGINT` epoch milliseconds in UTC, in columns named `*_ms`. SQLite has no
//!   timestamp type, so one integer representation keeps both backends identical, sorts and
//!   compares natively, and makes time-range scans index-friendly (BRIN on PostgreSQL).
//! - Expiry dates are exchange-local `YYYY-MM-DD` text.
//! - Every time-series table's primary key is (series …, time), which makes upserts idempotent:
//!   replaying the same input writes the same rows.
//! - On PostgreSQL the time-series tables get BRIN indexes on their time column (append-mostly
//!   data, a few KB of index for months of rows) and are partitioned by month
//!   ([`m20261207_000009_monthly_partitions`]); when the `timescaledb` extension is available
//!   they become hypertables instead ([`m20261124_000006_time_series`]), compressed natively
//!   ([`m20261207_000010_timescale_compression`]). Sealed days live in
//!   the pack tables ([`m20261207_000008_packs`]), partitioned by month as well.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_instruments;
mod m20261124_000002_candles;
mod m20261124_000003_signal_greeks;
mod m20261124_000004_signal_moneyness;
mod m20261124_000005_custom_timeframes_and_metadata;
pub mod m20261124_000006_time_series;
mod m20261206_000007_chain_inputs;
pub mod m20261207_000008_packs;
pub mod m20261207_000009_monthly_partitions;
pub mod m20261207_000010_timescale_compression;
mod m20261207_000011_level_refs;

/// All migrations, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_instruments::Migration),
            Box::new(m20261124_000002_candles::Migration),
            Box::new(m20261124_000003_signal_greeks::Migration),
            Box::new(m20261124_000004_signal_moneyness::Migration),
            Box::new(m20261124_000005_custom_timeframes_and_metadata::Migration),
            Box::new(m20261124_000006_time_series::Migration),
            Box::new(m20261206_000007_chain_inputs::Migration),
            Box::new(m20261207_000008_packs::Migration),
            Box::new(m20261207_000009_monthly_partitions::Migration),
            Box::new(m20261207_000010_timescale_compression::Migration),
            Box::new(m20261207_000011_level_refs::Migration),
        ]
    }
}
