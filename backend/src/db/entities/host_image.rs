//! `host_images`: the engine's record of one host's local images, one row per reference.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "host_images")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub host_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub reference: String,
    pub image_id: String,
    pub digest: Option<String>,
    pub size_bytes: i64,
    pub pulled_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
