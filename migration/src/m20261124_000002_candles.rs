//! `candles_1m`: 1-minute bars per instrument, keyed by bar start.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("candles_1m")
                    .if_not_exists()
                    .col(string("instrument_key"))
                    .col(big_integer("start_ms"))
                    .col(double("open"))
                    .col(double("high"))
                    .col(double("low"))
                    .col(double("close"))
                    .col(double("volume"))
                    .col(double_null("vwap"))
                    .col(double_null("oi"))
                    .col(big_integer("updated_at_ms"))
                    .primary_key(Index::create().col("instrument_key").col("start_ms"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("candles_1m").if_exists().to_owned())
            .await
    }
}
