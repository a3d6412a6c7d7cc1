//! `alert_rules`: a condition, a scope (everything, a host, a container, a label) and the channels to notify.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub name: String,
    /// An `AlertCondition` word.
    pub condition: String,
    pub host_id: Option<String>,
    pub container_id: Option<String>,
    /// `key` or `key=value`.
    #[sea_orm(column_type = "Text", nullable)]
    pub label_selector: Option<String>,
    /// JSON list of channel ids.
    #[sea_orm(column_type = "Text")]
    pub channel_ids: String,
    /// 0: notify once.
    pub repeat_secs: i32,
    pub restart_count: Option<i32>,
    pub restart_window_secs: Option<i32>,
    /// HOST_CPU_HIGH / HOST_MEMORY_HIGH: percent of the host (1 to 100).
    pub threshold_percent: Option<i32>,
    pub enabled: bool,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
