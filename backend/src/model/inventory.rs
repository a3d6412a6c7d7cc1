//! Inventory domain types: one Docker container as the fleet inventory knows it, and one change of it as the
//! bus carries it. `service::inventory` re-exports them and keeps the logic that reads and filters them.

use crate::docker::PublishedPort;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// One Docker container as the inventory knows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DockerContainer {
    pub id: String,
    pub host_id: String,
    pub host_name: String,
    pub docker_id: String,
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub command: String,
    pub state: String,
    pub status: String,
    pub health: Option<String>,
    pub exit_code: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ports: Vec<PublishedPort>,
    pub labels: Vec<(String, String)>,
    pub compose_project: Option<String>,
    pub compose_service: Option<String>,
    pub container_id: Option<String>,
    pub instance_id: Option<String>,
    pub search: String,
    pub current: bool,
    pub last_seen_at: DateTime<Utc>,
}

impl DockerContainer {
    /// Created by this Berth.
    pub fn managed(&self) -> bool {
        self.container_id.is_some()
    }
}

/// One change of the inventory: `before` absent = added, `after` absent = removed.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct InventoryChange {
    pub before: Option<Arc<DockerContainer>>,
    pub after: Option<Arc<DockerContainer>>,
}
