//! `audit_log`: one row per mutation or significant engine action, newest last (`seq`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    #[sea_orm(unique)]
    pub id: String,
    pub at: ChronoDateTimeUtc,
    /// Null for Berth's own actions.
    pub username: Option<String>,
    pub action: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub target: Option<String>,
    /// `OK` or an error code.
    pub result: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
