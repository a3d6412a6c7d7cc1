//! `alert_channels`: where alert notifications go (webhook, Slack, ntfy, email); URLs and passwords sealed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_channels")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub name: String,
    /// `WEBHOOK`, `SLACK`, `NTFY` or `EMAIL`.
    pub kind: String,
    /// The receiver's URL, sealed by `secrets::SecretBox` (it may carry a token).
    #[sea_orm(column_type = "Text", nullable)]
    pub url_sealed: Option<String>,
    /// The URL as shown: scheme, host and port only.
    #[sea_orm(column_type = "Text", nullable)]
    pub url_shown: Option<String>,
    /// The webhook's HMAC key, sealed.
    #[sea_orm(column_type = "Text", nullable)]
    pub secret_sealed: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<i32>,
    /// `STARTTLS`, `TLS` or `NONE`.
    pub smtp_security: Option<String>,
    pub smtp_username: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub smtp_password_sealed: Option<String>,
    pub email_from: Option<String>,
    /// Addresses, comma-separated.
    #[sea_orm(column_type = "Text", nullable)]
    pub email_to: Option<String>,
    pub enabled: bool,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
