//! `alerts`: one row per time a rule's condition held for a subject (open, acknowledged, resolved).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alerts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    #[sea_orm(unique)]
    pub id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub condition: String,
    /// What the alert is about, as a key (`container:<inventory id>`, `host:<id>`, …): one open per rule and key.
    pub subject_key: String,
    /// The subject's names and ids, JSON.
    #[sea_orm(column_type = "Text")]
    pub subject: String,
    pub host_id: Option<String>,
    pub container_id: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub message: String,
    /// `OPEN`, `ACKNOWLEDGED` or `RESOLVED`.
    pub state: String,
    /// Opened while a silence matched: nothing is sent for it.
    pub silenced: bool,
    pub opened_at: ChronoDateTimeUtc,
    pub acknowledged_at: Option<ChronoDateTimeUtc>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<ChronoDateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub resolve_message: Option<String>,
    /// When the next reminder is due (open, not acknowledged, the rule repeats).
    pub next_repeat_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
