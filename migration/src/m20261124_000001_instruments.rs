//! `instruments`: every instrument the service has met: underlyings, futures and option contracts.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("instruments")
                    .if_not_exists()
                    .col(string("key").primary_key())
                    .col(string("kind")) // underlying | future | option
                    .col(string("underlying"))
                    .col(string("market"))
                    .col(big_integer_null("expiry_ms"))
                    .col(double_null("strike"))
                    .col(string_null("option_right")) // call | put
                    .col(integer("lot_size"))
                    .col(double("tick_size"))
                    .col(big_integer("registered_at_ms"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("instruments_chain")
                    .table("instruments")
                    .col("underlying")
                    .col("expiry_ms")
                    .col("strike")
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("instruments").if_exists().to_owned())
            .await
    }
}
