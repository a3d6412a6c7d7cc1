//! Disks in the API: Docker volumes and host directories that containers mount (`disks`, `createDisk`,
//! `deleteDisk`).

use berth_shared::DiskKind;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiError, HostRef, execute_field};

/// A container that mounts a disk: enough to name it and link to it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
pub struct ContainerRef {
    pub id: String,
    pub name: String,
}

/// A disk as Berth records it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Disk {
    pub id: String,
    pub name: String,
    pub kind: DiskKind,
    /// HOST_PATH: the directory on the host.
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub size_bytes: Option<i64>,
    /// Where it lives; `None` for a path present on every host.
    #[serde(default)]
    pub host: Option<HostRef>,
    /// The containers whose definitions mount it.
    #[serde(default)]
    pub attached_to: Vec<ContainerRef>,
}

impl Disk {
    /// Whether it lives on one host (so a container mounting it runs there).
    pub fn is_host_bound(&self) -> bool {
        self.host.is_some()
    }

    /// "Docker volume on h1", "Host path /srv/data on every host".
    pub fn describe(&self) -> String {
        let place = match &self.host {
            Some(host) => format!("on {}", host.name),
            None => "on every host".to_owned(),
        };
        match (&self.kind, &self.path) {
            (DiskKind::HostPath, Some(path)) => format!("{} {path} {place}", self.kind.label()),
            _ => format!("{} {place}", self.kind.label()),
        }
    }
}

/// A new disk, for `createDisk`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiskInput {
    pub name: String,
    pub kind: DiskKind,
    pub host_id: Option<String>,
    pub path: Option<String>,
    pub size_bytes: Option<i64>,
}

const DISK_FIELDS: &str =
    "id name kind path sizeBytes host { id name endpoint } attachedTo { id name }";

/// Every disk, by name.
pub async fn disks() -> Result<Vec<Disk>, ApiError> {
    let mut disks: Vec<Disk> = execute_field(
        &format!("query Disks {{ disks {{ {DISK_FIELDS} }} }}"),
        json!({}),
        "disks",
    )
    .await?;
    disks.sort_by_key(|disk| disk.name.to_lowercase());
    Ok(disks)
}

/// Saves a new disk (a volume is created by its engine when a container first mounts it).
pub async fn create_disk(input: &DiskInput) -> Result<Disk, ApiError> {
    execute_field(
        &format!(
            "mutation CreateDisk($input: DiskInput!) {{ createDisk(input: $input) {{ {DISK_FIELDS} }} }}"
        ),
        json!({ "input": input }),
        "createDisk",
    )
    .await
}

/// Deletes a disk no container mounts (`CONFLICT` otherwise); a volume's data goes with it.
pub async fn delete_disk(id: &str) -> Result<bool, ApiError> {
    execute_field(
        "mutation DeleteDisk($id: ID!) { deleteDisk(id: $id) }",
        json!({ "id": id }),
        "deleteDisk",
    )
    .await
}
