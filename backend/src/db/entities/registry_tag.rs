//! `registry_tags`: the last good list of one registry's tags, one row per repository and tag.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "registry_tags")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub registry_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub repository: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag: String,
    pub digest: Option<String>,
    pub size_bytes: Option<i64>,
    /// JSON array of strings.
    #[sea_orm(column_type = "Text")]
    pub architectures: String,
    pub created_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
