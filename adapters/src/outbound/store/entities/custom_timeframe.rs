//! `signal_custom_timeframes`: aggregated bars cached per instrument and timeframe.

use sea_orm::entity::prelude::*;

/// One cached bucket.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "signal_custom_timeframes")]
pub struct Model {
    /// Instrument key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub instrument_key: String,
    /// Canonical timeframe, e.g. `7m`, `1h`, `1d`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub timeframe: String,
    /// Bucket start, epoch ms UTC.
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket_start_ms: i64,
    /// Bucket end (exclusive), epoch ms UTC.
    pub bucket_end_ms: i64,
    /// Open.
    pub open: f64,
    /// High.
    pub high: f64,
    /// Low.
    pub low: f64,
    /// Close.
    pub close: f64,
    /// Volume, units.
    pub volume: f64,
    /// VWAP; `None` when no volume traded.
    pub vwap: Option<f64>,
    /// Last open interest, units.
    pub oi: Option<f64>,
    /// 1-minute bars aggregated.
    pub n_bars: i32,
    /// 1-minute bars a complete bucket holds.
    pub expected_bars: i32,
    /// Cut short by the session close.
    pub partial: bool,
    /// Missing 1-minute bars.
    pub gaps: i32,
    /// When it was computed, epoch ms.
    pub computed_at_ms: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
