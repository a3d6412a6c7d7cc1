//! `container_instances`: one row per replica of a container, with where it runs and its observed status.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "container_instances")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub container_id: String,
    pub replica: i32,
    pub host_id: Option<String>,
    pub docker_id: Option<String>,
    pub status: berth_shared::InstanceStatus,
    pub exit_code: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// The definition version the Docker container was created from.
    pub definition_version: i32,
    /// Replacements in a row after the replica exited (for the back-off); reset once it runs long enough.
    pub attempts: i32,
    pub next_attempt_at: Option<ChronoDateTimeUtc>,
    pub started_at: Option<ChronoDateTimeUtc>,
    pub finished_at: Option<ChronoDateTimeUtc>,
    pub updated_at: ChronoDateTimeUtc,
    /// The engine's health of the replica (`berth_shared::Health` wire name); null = not known (not running).
    pub health: Option<berth_shared::Health>,
    /// The last probe's output, capped.
    #[sea_orm(column_type = "Text", nullable)]
    pub health_output: Option<String>,
    /// Since when the health check has said unhealthy (reset when it says anything else).
    pub unhealthy_since: Option<ChronoDateTimeUtc>,
    /// The registry digest of the image its Docker container was created from.
    pub image_digest: Option<String>,
    /// The container revision (`container_revisions.number`) its Docker container runs.
    pub revision: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
