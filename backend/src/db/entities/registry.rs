//! `registries`: image registries Berth lists, with their refresh state.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "registries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub name: String,
    pub url: String,
    /// `V2` or `DOCKER_HUB`.
    pub kind: berth_shared::RegistryKind,
    pub namespace: Option<String>,
    pub username: Option<String>,
    /// The password, sealed by `secrets::SecretBox`.
    #[sea_orm(column_type = "Text", nullable)]
    pub password_sealed: Option<String>,
    pub insecure: bool,
    pub refresh_interval_seconds: i32,
    pub status: berth_shared::RegistryStatus,
    pub last_refreshed_at: Option<ChronoDateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    /// SHA-256 (hex) of the push-hook secret; `None`: no hook.
    pub hook_secret_hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
