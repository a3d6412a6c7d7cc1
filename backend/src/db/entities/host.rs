//! `hosts`: Docker engines Berth manages, with their last known status and capabilities.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hosts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub name: String,
    pub endpoint: String,
    pub docker_support: bool,
    pub maintenance: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub tls_ca_pem: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub tls_cert_pem: Option<String>,
    /// The client key, sealed by `secrets::SecretBox`.
    #[sea_orm(column_type = "Text", nullable)]
    pub tls_key_sealed: Option<String>,
    pub status: berth_shared::HostStatus,
    pub last_seen_at: Option<ChronoDateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// JSON of `docker::Capabilities`.
    #[sea_orm(column_type = "Text", nullable)]
    pub capabilities: Option<String>,
    pub checked_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
