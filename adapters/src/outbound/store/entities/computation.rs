//! `signal_computation_metadata`.

use sea_orm::entity::prelude::*;

/// One computation run.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "signal_computation_metadata")]
#[allow(missing_docs)]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub computation: String,
    pub scope: String,
    pub input_from_ms: i64,
    pub input_to_ms: i64,
    pub started_at_ms: i64,
    pub duration_us: i64,
    pub rows: i32,
    pub rows_without_iv: i32,
    pub iv_errors: String,
    pub stale_inputs: i32,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
