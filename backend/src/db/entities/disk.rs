//! `disks`: storage containers mount: Docker named volumes on one host, or host paths.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "disks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub name: String,
    /// `VOLUME` or `HOST_PATH`.
    pub kind: String,
    pub host_id: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub path: Option<String>,
    pub size_bytes: Option<i64>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
