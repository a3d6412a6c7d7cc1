//! `alert_deliveries`: the outbox. One row per notification and channel, written with the alert change it
//! announces; its `id` is the idempotency key the receiver sees.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    #[sea_orm(unique)]
    pub id: String,
    /// Null for a channel's test message.
    pub alert_id: Option<String>,
    pub channel_id: String,
    /// `OPENED`, `RESOLVED`, `REPEAT` or `TEST`.
    pub event: String,
    /// The notification, JSON.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// `PENDING`, `DELIVERED` or `FAILED` (given up).
    pub state: String,
    pub attempts: i32,
    /// Due from then; while an attempt runs, the end of its lease.
    pub next_attempt_at: ChronoDateTimeUtc,
    pub created_at: ChronoDateTimeUtc,
    pub delivered_at: Option<ChronoDateTimeUtc>,
    pub last_status: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
