//! `silences`: a matcher (rule, condition, host, container, label; empty parts match anything) and an end time.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "silences")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub rule_id: Option<String>,
    pub condition: Option<String>,
    pub host_id: Option<String>,
    pub container_id: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub label_selector: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub comment: String,
    pub ends_at: ChronoDateTimeUtc,
    pub created_by: String,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
