//! Disks: Docker named volumes (`berth-<disk id>`, on one host, created by the engine at first use) and host
//! paths (on one host, or present on every host such as a network file system), and the rules for mounting them.

use crate::db::containers::{self as q, DiskRow};
use crate::docker::DockerError;
use crate::service::ServiceError;
use crate::service::auth::User;
use crate::service::authz::{self, Action};
use crate::service::hosts::HostService;
use berth_shared::{DiskKind, normalize_host_path, validate_container_name};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

/// What a user submits to create a disk.
#[derive(Clone, Debug)]
pub struct DiskSettings {
    pub name: String,
    pub kind: DiskKind,
    pub host_id: Option<String>,
    pub path: Option<String>,
    pub size_bytes: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    pub id: String,
    pub name: String,
    pub kind: DiskKind,
    pub host_id: Option<String>,
    pub path: Option<String>,
    pub size_bytes: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl Disk {
    /// The Docker volume name of a VOLUME disk.
    pub fn volume_name(&self) -> String {
        format!("berth-{}", self.id)
    }

    /// What `-v` gets for a mount of this disk at `container_path`.
    pub fn bind(&self, container_path: &str, read_only: bool) -> String {
        let source = match self.kind {
            DiskKind::Volume => self.volume_name(),
            DiskKind::HostPath => self.path.clone().unwrap_or_default(),
        };
        let mode = if read_only { ":ro" } else { "" };
        format!("{source}:{container_path}{mode}")
    }
}

pub(crate) fn to_disk(row: DiskRow) -> Disk {
    Disk {
        kind: row.kind.parse().unwrap_or(DiskKind::Volume),
        id: row.id,
        name: row.name,
        host_id: row.host_id,
        path: row.path,
        size_bytes: row.size_bytes,
        created_at: row.created_at,
    }
}

#[derive(Clone)]
pub struct DiskService {
    db: DatabaseConnection,
    hosts: HostService,
}

impl DiskService {
    pub fn new(db: DatabaseConnection, hosts: HostService) -> Self {
        Self { db, hosts }
    }

    pub async fn list(&self) -> Result<Vec<Disk>, ServiceError> {
        Ok(q::disks(&self.db).await?.into_iter().map(to_disk).collect())
    }

    pub async fn get(&self, id: &str) -> Result<Option<Disk>, ServiceError> {
        Ok(q::disk(&self.db, id).await?.map(to_disk))
    }

    /// The names of the containers whose definitions mount the disk.
    pub async fn attached_to(&self, disk_id: &str) -> Result<Vec<String>, ServiceError> {
        let mut ids = Vec::new();
        for row in q::all(&self.db).await? {
            let mounts: Vec<serde_json::Value> =
                serde_json::from_str(&row.mounts).unwrap_or_default();
            if mounts.iter().any(|m| m["diskId"] == disk_id) {
                ids.push(row.id);
            }
        }
        Ok(ids)
    }

    pub async fn create(&self, actor: &User, settings: DiskSettings) -> Result<Disk, ServiceError> {
        authz::require(actor, Action::ManageDisks)?;
        let name = settings.name.trim().to_owned();
        validate_container_name(&name).map_err(|e| {
            ServiceError::bad_input("name", e.to_string().replace("container name", "disk name"))
        })?;
        let host_id = settings.host_id.filter(|h| !h.is_empty());
        if let Some(h) = &host_id
            && self.hosts.get(h).await?.is_none()
        {
            return Err(ServiceError::bad_input(
                "hostId",
                format!("no host with id {h}"),
            ));
        }
        let path = match settings.kind {
            DiskKind::Volume => {
                if host_id.is_none() {
                    return Err(ServiceError::bad_input(
                        "hostId",
                        "a volume lives on one host: choose it",
                    ));
                }
                if settings
                    .path
                    .as_deref()
                    .is_some_and(|p| !p.trim().is_empty())
                {
                    return Err(ServiceError::bad_input(
                        "path",
                        "a volume has no host path; use kind HOST_PATH to mount a directory",
                    ));
                }
                None
            }
            DiskKind::HostPath => {
                let path = settings.path.as_deref().map(str::trim).unwrap_or_default();
                if path.is_empty() {
                    return Err(ServiceError::bad_input(
                        "path",
                        "give the directory on the host, e.g. /srv/data",
                    ));
                }
                Some(
                    normalize_host_path(path)
                        .map_err(|e| ServiceError::bad_input("path", e.to_string()))?,
                )
            }
        };
        if settings.size_bytes.is_some_and(|s| s <= 0) {
            return Err(ServiceError::bad_input(
                "sizeBytes",
                "size must be more than 0 bytes",
            ));
        }
        if q::disk_by_name(&self.db, &name).await?.is_some() {
            return Err(ServiceError::ConflictOn {
                field: "name".into(),
                message: format!("a disk named {name} exists already"),
            });
        }
        let row = q::insert_disk(
            &self.db,
            DiskRow {
                id: uuid::Uuid::new_v4().to_string(),
                name,
                kind: settings.kind.as_str().to_owned(),
                host_id,
                path,
                size_bytes: settings.size_bytes,
                created_at: Utc::now(),
            },
        )
        .await?;
        Ok(to_disk(row))
    }

    /// Deletes a disk no definition mounts; a VOLUME's Docker volume goes with it.
    pub async fn delete(&self, actor: &User, id: &str) -> Result<(), ServiceError> {
        authz::require(actor, Action::ManageDisks)?;
        let disk = self
            .get(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no disk with id {id}")))?;
        let attached = self.attached_to(id).await?;
        if !attached.is_empty() {
            let mut names = Vec::new();
            for cid in attached {
                if let Some(row) = q::by_id(&self.db, &cid).await? {
                    names.push(row.name);
                }
            }
            return Err(ServiceError::Conflict(format!(
                "disk {} is mounted by {}; remove the mount first",
                disk.name,
                names.join(", ")
            )));
        }
        if disk.kind == DiskKind::Volume
            && let Some(host_id) = &disk.host_id
            && self.hosts.get(host_id).await?.is_some()
        {
            let (host, engine) = self.hosts.engine(host_id).await?;
            match engine.remove_volume(&disk.volume_name()).await {
                Ok(()) | Err(DockerError::NotFound(_)) => {}
                Err(e) => {
                    return Err(ServiceError::Unavailable(format!(
                        "cannot remove the volume of disk {} on {}: {e}",
                        disk.name, host.name
                    )));
                }
            }
        }
        q::delete_disk(&self.db, id).await?;
        Ok(())
    }
}
