//! `signal_greeks`.

use sea_orm::entity::prelude::*;

/// IV and Greeks of one option at one minute.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "signal_greeks")]
#[allow(missing_docs)]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub instrument_key: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub minute_ms: i64,
    pub underlying_price: f64,
    pub forward: f64,
    pub forward_source: String,
    pub option_price: Option<f64>,
    pub price_source: Option<String>,
    pub iv: Option<f64>,
    pub iv_error: Option<String>,
    pub delta: Option<f64>,
    pub gamma: Option<f64>,
    pub theta_per_year: Option<f64>,
    pub vega_per_unit: Option<f64>,
    pub rho_per_unit: Option<f64>,
    pub vanna: Option<f64>,
    pub volga: Option<f64>,
    pub charm_per_year: Option<f64>,
    pub speed: Option<f64>,
    pub model: String,
    pub rate: f64,
    pub time_basis: String,
    pub t_years: f64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
