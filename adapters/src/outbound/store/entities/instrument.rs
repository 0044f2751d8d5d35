//! `instruments`.

use sea_orm::entity::prelude::*;

/// A registered instrument.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "instruments")]
#[allow(missing_docs)]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub kind: String,
    pub underlying: String,
    pub market: String,
    pub expiry_ms: Option<i64>,
    pub strike: Option<f64>,
    pub option_right: Option<String>,
    pub lot_size: i32,
    pub tick_size: f64,
    pub registered_at_ms: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
