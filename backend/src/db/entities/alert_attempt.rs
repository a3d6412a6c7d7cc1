//! `alert_attempts`: every try of a delivery, with the receiver's status code or the error.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub delivery_id: String,
    pub at: ChronoDateTimeUtc,
    pub status_code: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub duration_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
