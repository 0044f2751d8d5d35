//! What level packs refer to (the adapter's `store/compact/levels.rs`):
//!
//! - `signal_moneyness_packs.refs` (PostgreSQL): the options whose sealed Greeks a level
//!   pack's minutes are taken from, in the order the pack's references count them. Packs
//!   written before it have none (`{}`) and keep every value.
//! - `signal_chain_packs` (`underlying`, `expiry`, `day_ms`): each expiry-day's ATM IV by
//!   minute, once, which the level packs of that expiry-day refer to; partitioned by month
//!   like the other pack tables.
//!
//! SQLite does not seal: it gets the (unused) table, not the column.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// The column's migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .get_connection()
            .execute_unprepared(&super::m20261207_000008_packs::create(
                "signal_chain_packs",
                &["underlying", "expiry"],
                backend,
            ))
            .await?;
        if backend != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(
                "ALTER TABLE signal_moneyness_packs ADD COLUMN IF NOT EXISTS refs TEXT[] NOT NULL DEFAULT '{}'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP TABLE IF EXISTS signal_chain_packs")
                .await?;
            return Ok(());
        }
        // Level packs sealed by this release (layout version 2, the pack's first byte) read
        // only with the column and the chain days, and not at all by the release before:
        // rolling back past it while some exist would lose their values, so it is refused.
        let db = manager.get_connection();
        let left = db
            .query_one_raw(sea_orm_migration::sea_orm::Statement::from_string(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM signal_moneyness_packs WHERE get_byte(pack, 0) > 1",
            ))
            .await?
            .map(|r| r.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        if left > 0 {
            return Err(DbErr::Migration(format!(
                "signal_moneyness_packs holds {left} level packs sealed by this release (they refer to options' \
                 Greeks and chain days); the release before cannot read them, so they stay: not rolled back"
            )));
        }
        db.execute_unprepared(
            "ALTER TABLE signal_moneyness_packs DROP COLUMN IF EXISTS refs; DROP TABLE IF EXISTS signal_chain_packs",
        )
        .await?;
        Ok(())
    }
}
