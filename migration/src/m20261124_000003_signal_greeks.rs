//! `signal_greeks`: IV and Greeks per option per minute, with every convention used.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("signal_greeks")
                    .if_not_exists()
                    .col(string("instrument_key"))
                    .col(big_integer("minute_ms"))
                    .col(double("underlying_price"))
                    .col(double("forward"))
                    .col(string("forward_source")) // future | put_call_parity | carry_spot
                    .col(double_null("option_price"))
                    .col(string_null("price_source")) // mid | last
                    .col(double_null("iv"))
                    .col(string_null("iv_error")) // below_intrinsic | above_upper_bound | no_time_value | invalid_input
                    .col(double_null("delta"))
                    .col(double_null("gamma"))
                    .col(double_null("theta_per_year"))
                    .col(double_null("vega_per_unit"))
                    .col(double_null("rho_per_unit"))
                    .col(double_null("vanna"))
                    .col(double_null("volga"))
                    .col(double_null("charm_per_year"))
                    .col(double_null("speed"))
                    .col(string("model")) // bsm | black76
                    .col(double("rate"))
                    .col(string("time_basis")) // exact | calendar_days
                    .col(double("t_years"))
                    .primary_key(Index::create().col("instrument_key").col("minute_ms"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("signal_greeks").if_exists().to_owned())
            .await
    }
}
