//! `docker_containers`: the fleet inventory, one row per Docker container of each host with Docker support.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "docker_containers")]
pub struct Model {
    /// `<host id>:<docker id>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub host_id: String,
    /// The host's name, kept here so the list sorts by it over an index.
    pub host_name: String,
    pub docker_id: String,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub image: String,
    pub image_id: String,
    #[sea_orm(column_type = "Text")]
    pub command: String,
    pub state: String,
    #[sea_orm(column_type = "Text")]
    pub status: String,
    pub health: Option<String>,
    pub exit_code: Option<i64>,
    pub created_at: ChronoDateTimeUtc,
    pub started_at: Option<ChronoDateTimeUtc>,
    /// JSON array of published ports.
    #[sea_orm(column_type = "Text")]
    pub ports: String,
    /// JSON object of labels.
    #[sea_orm(column_type = "Text")]
    pub labels: String,
    pub compose_project: Option<String>,
    pub compose_service: Option<String>,
    /// Berth's definition and instance, for Berth's own containers.
    pub container_id: Option<String>,
    pub instance_id: Option<String>,
    /// Lower-case name, image and labels, for the text filter.
    #[sea_orm(column_type = "Text")]
    pub search: String,
    /// False while the host does not answer.
    pub current: bool,
    pub last_seen_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
