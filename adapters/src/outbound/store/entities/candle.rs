//! `candles_1m`.

use sea_orm::entity::prelude::*;

/// One 1-minute bar.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "candles_1m")]
pub struct Model {
    /// Instrument key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub instrument_key: String,
    /// Bar start, epoch ms UTC.
    #[sea_orm(primary_key, auto_increment = false)]
    pub start_ms: i64,
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
    /// VWAP when the source gave one.
    pub vwap: Option<f64>,
    /// Open interest, units.
    pub oi: Option<f64>,
    /// Last write, epoch ms.
    pub updated_at_ms: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
