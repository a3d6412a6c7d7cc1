//! `containers`: container definitions, the desired state users edit.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "containers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub name: String,
    pub image: String,
    /// JSON array of strings; null = the image's default.
    #[sea_orm(column_type = "Text", nullable)]
    pub command: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub entrypoint: Option<String>,
    /// JSON array of `[name, value]`.
    #[sea_orm(column_type = "Text")]
    pub env: String,
    /// JSON array of `PortSpec` strings.
    #[sea_orm(column_type = "Text")]
    pub ports: String,
    #[sea_orm(column_type = "Double", nullable)]
    pub cpus: Option<f64>,
    pub memory_bytes: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub restart_policy: String,
    pub host_id: Option<String>,
    pub replicas: i32,
    /// JSON array of `{diskId, containerPath, readOnly}`.
    #[sea_orm(column_type = "Text")]
    pub mounts: String,
    pub desired_state: String,
    /// The summary status of the contract (`summary_status` of the desired state, the replica count and the
    /// instances' statuses), kept by every write of a definition or an instance so lists filter and sort on it.
    pub status_summary: String,
    /// The Docker container a definition was adopted from (the fleet inventory); written only by adoption.
    pub adopted_docker_id: Option<String>,
    /// JSON `HealthCheck` (`berth_shared::HealthCheck`); null = the image's own check.
    #[sea_orm(column_type = "Text", nullable)]
    pub health_check: Option<String>,
    /// Replace a replica whose health check has said unhealthy for longer than this.
    pub replace_unhealthy_after_secs: Option<i64>,
    pub version: i32,
    pub created_at: ChronoDateTimeUtc,
    /// The rollout in progress or last finished (`berth_shared::RolloutState` wire name); written only by the
    /// reconciler, kept by edits.
    pub rollout_state: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub rollout_reason: Option<String>,
    pub rollout_from: Option<i32>,
    pub rollout_to: Option<i32>,
    /// Replicas replaced at a time by a rolling update.
    pub max_parallel: i32,
    /// How long a new replica without a health check must run before the next is replaced.
    pub min_healthy_secs: i32,
    /// SHA-256 (hex) of the deploy-hook token; written only by `set_deploy_hook_hash`, kept by edits.
    pub deploy_hook_hash: Option<String>,
    /// `berth_shared::UpdatePolicy` wire name.
    pub update_policy: String,
    /// `berth_shared::UpdateWindow` as written (`HH:MM-HH:MM`, UTC); `None`: any time.
    pub update_window: Option<String>,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
