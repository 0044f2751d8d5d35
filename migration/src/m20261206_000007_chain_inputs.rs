//! `signal_moneyness_greeks` gains what each expiry's chain was evaluated on at each minute:
//! the forward and its source, the time to expiry and the spot. Only the `ATM` rows carry them
//! (the other levels leave them `NULL`, which costs a bit in the row's null bitmap), so that a
//! past minute's chain can be evaluated again exactly and a past day's ATM term structure
//! rebuilt for IV rank.
//!
//! Nullable columns added at the end: the previous release, which does not know them, keeps
//! reading and writing the table during a rolling upgrade.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "signal_moneyness_greeks";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            double_null("chain_forward"),
            string_null("chain_forward_source"),
            double_null("chain_t_years"),
            double_null("chain_spot"),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(TABLE)
                        .add_column_if_not_exists(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["chain_forward", "chain_forward_source", "chain_t_years", "chain_spot"] {
            manager
                .alter_table(Table::alter().table(TABLE).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
