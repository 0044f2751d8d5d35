//! `signal_custom_timeframes` (aggregated bars cached per instrument and timeframe) and
//! `signal_computation_metadata` (what was computed, over which inputs, how long, how well).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("signal_custom_timeframes")
                    .if_not_exists()
                    .col(string("instrument_key"))
                    .col(string("timeframe")) // 5m, 7m, 1h, 1d …
                    .col(big_integer("bucket_start_ms"))
                    .col(big_integer("bucket_end_ms"))
                    .col(double("open"))
                    .col(double("high"))
                    .col(double("low"))
                    .col(double("close"))
                    .col(double("volume"))
                    .col(double_null("vwap"))
                    .col(double_null("oi"))
                    .col(integer("n_bars"))
                    .col(integer("expected_bars"))
                    .col(boolean("partial"))
                    .col(integer("gaps"))
                    .col(big_integer("computed_at_ms"))
                    .primary_key(
                        Index::create()
                            .col("instrument_key")
                            .col("timeframe")
                            .col("bucket_start_ms"),
                    )
                    .to_owned(),
            )
            .await?;
        // A late 1-minute bar invalidates every cached bucket of its instrument that spans it.
        manager
            .create_index(
                Index::create()
                    .name("custom_timeframes_invalidation")
                    .table("signal_custom_timeframes")
                    .col("instrument_key")
                    .col("bucket_start_ms")
                    .col("bucket_end_ms")
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("signal_computation_metadata")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(string("computation")) // e.g. greeks, moneyness, custom_timeframe
                    .col(string("scope")) // instrument key or underlying:expiry
                    .col(big_integer("input_from_ms"))
                    .col(big_integer("input_to_ms"))
                    .col(big_integer("started_at_ms"))
                    .col(big_integer("duration_us"))
                    .col(integer("rows"))
                    .col(integer("rows_without_iv"))
                    .col(text("iv_errors")) // JSON object: reason → count
                    .col(integer("stale_inputs"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("computation_metadata_by_time")
                    .table("signal_computation_metadata")
                    .col("computation")
                    .col("started_at_ms")
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table("signal_computation_metadata")
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table("signal_custom_timeframes").if_exists().to_owned())
            .await
    }
}
