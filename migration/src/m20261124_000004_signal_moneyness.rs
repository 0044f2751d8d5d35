//! `signal_moneyness_greeks`: per underlying, expiry, right, level and minute: the aggregates.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("signal_moneyness_greeks")
                    .if_not_exists()
                    .col(string("underlying"))
                    .col(string("expiry")) // exchange-local YYYY-MM-DD
                    .col(string("option_right"))
                    .col(string("level")) // ATM, ITM1…, OTM1…, ITM, OTM
                    .col(big_integer("minute_ms"))
                    .col(integer("count"))
                    .col(integer("count_with_iv"))
                    .col(double_null("mean_iv"))
                    .col(double("delta"))
                    .col(double("gamma"))
                    .col(double("theta_per_year"))
                    .col(double("vega_per_unit"))
                    .col(double("rho_per_unit"))
                    .col(double("vanna"))
                    .col(double("volga"))
                    .col(double("charm_per_year"))
                    .col(double("speed"))
                    .col(double("total_volume"))
                    .col(double("total_oi"))
                    .col(double_null("atm_iv"))
                    .primary_key(
                        Index::create()
                            .col("underlying")
                            .col("expiry")
                            .col("option_right")
                            .col("level")
                            .col("minute_ms"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("signal_moneyness_greeks").if_exists().to_owned())
            .await
    }
}
