//! `signal_moneyness_greeks`.

use sea_orm::entity::prelude::*;

/// Aggregates of one underlying, expiry, right and level at one minute.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "signal_moneyness_greeks")]
#[allow(missing_docs)]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub underlying: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub expiry: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub option_right: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub level: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub minute_ms: i64,
    pub count: i32,
    pub count_with_iv: i32,
    pub mean_iv: Option<f64>,
    pub delta: f64,
    pub gamma: f64,
    pub theta_per_year: f64,
    pub vega_per_unit: f64,
    pub rho_per_unit: f64,
    pub vanna: f64,
    pub volga: f64,
    pub charm_per_year: f64,
    pub speed: f64,
    pub total_volume: f64,
    pub total_oi: f64,
    pub atm_iv: Option<f64>,
    pub chain_forward: Option<f64>,
    pub chain_forward_source: Option<String>,
    pub chain_t_years: Option<f64>,
    pub chain_spot: Option<f64>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
