//! `container_revisions`: what a container was rolled out with, numbered per container (definition version and
//! the image digest resolved for it).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "container_revisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub container_id: String,
    pub number: i32,
    pub version: i32,
    #[sea_orm(column_type = "Text")]
    pub image: String,
    pub image_digest: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub created_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
