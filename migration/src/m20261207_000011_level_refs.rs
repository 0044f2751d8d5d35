//! `signal_moneyness_packs.refs` (PostgreSQL): the options whose sealed Greeks a level pack's
//! minutes are taken from, in the order the pack's references count them (the adapter's
//! `store/compact/levels.rs`). Packs written before it have none (`{}`) and keep every value.
//! SQLite does not seal, and gets nothing.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// The column's migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
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
            return Ok(());
        }
        // Level packs that refer to Greeks read only with this column: rolling back past it
        // while some exist would lose their values, so it is refused, saying why.
        let db = manager.get_connection();
        let left = db
            .query_one_raw(sea_orm_migration::sea_orm::Statement::from_string(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM signal_moneyness_packs WHERE cardinality(refs) > 0",
            ))
            .await?
            .map(|r| r.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        if left > 0 {
            return Err(DbErr::Migration(format!(
                "signal_moneyness_packs holds {left} level packs whose minutes refer to options' Greeks \
                 (sealed by this release); the release before cannot read them, so they stay: not rolled back"
            )));
        }
        db.execute_unprepared("ALTER TABLE signal_moneyness_packs DROP COLUMN IF EXISTS refs")
            .await?;
        Ok(())
    }
}
