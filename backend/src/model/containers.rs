//! Container domain types: a definition, its replicas, revisions and rollouts as the services, the event bus and
//! the engine share them. Plain data and pure helpers, no I/O; `service::containers` re-exports them.

use berth_shared::{
    DesiredState, Health, HealthCheck, ImageRef, InstanceStatus, PortSpec, Protocol, RestartPolicy,
    RolloutState, UpdatePolicy, UpdateWindow,
};
use chrono::{DateTime, Utc};

/// One port mapping as a user submits it.
#[derive(Clone, Debug)]
pub struct PortInput {
    pub container_port: i64,
    pub host_port: Option<i64>,
    pub host_ip: Option<String>,
    pub protocol: Protocol,
}

/// A disk mounted into a container.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mount {
    pub disk_id: String,
    pub container_path: String,
    pub read_only: bool,
}

/// What a user submits to create or edit a container.
#[derive(Clone, Debug)]
pub struct ContainerSettings {
    pub name: String,
    pub image: String,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub ports: Vec<PortInput>,
    pub cpus: Option<f64>,
    /// "512m", "1.5g" or bytes.
    pub memory: Option<String>,
    pub cpu_shares: Option<i64>,
    pub restart_policy: RestartPolicy,
    pub host_id: Option<String>,
    pub replicas: i64,
    pub mounts: Vec<Mount>,
    /// `None` = the image's own check.
    pub health_check: Option<HealthCheck>,
    pub replace_unhealthy_after_secs: Option<i64>,
    /// Replicas a rolling update replaces at a time (`None` = 1).
    pub max_parallel: Option<i64>,
    /// Seconds a new replica without a health check must run before the next is replaced (`None` = 5).
    pub min_healthy_secs: Option<i64>,
    /// `None` = NOTIFY.
    pub update_policy: Option<UpdatePolicy>,
    /// `HH:MM-HH:MM` (UTC) within which AUTO rolls out; `None` or empty = any time.
    pub update_window: Option<String>,
}

/// The message of the `ContainerChanged` event an edit of a definition publishes.
pub const EDITED: &str = "definition updated";

/// Replicas a rolling update replaces at a time unless the definition says otherwise.
pub const DEFAULT_MAX_PARALLEL: i32 = 1;
/// How long a new replica without a health check must run unless the definition says otherwise.
pub const DEFAULT_MIN_HEALTHY_SECS: i32 = 5;

/// A rolling update of a container's replicas: in progress or how the last one ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rollout {
    pub state: RolloutState,
    /// Why it was rolled back or failed.
    pub reason: Option<String>,
    pub from_revision: i32,
    pub to_revision: i32,
}

impl Rollout {
    /// The revision the replicas should run now: the new one while rolling or once done, the old one after a
    /// roll back or a failure.
    pub fn target(&self) -> i32 {
        match self.state {
            RolloutState::Rolling | RolloutState::Succeeded => self.to_revision,
            RolloutState::RolledBack | RolloutState::Failed => self.from_revision,
        }
    }
}

/// What a container was rolled out with: a definition version and the image digest resolved for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revision {
    pub number: i32,
    pub version: i32,
    /// The definition's image reference at the time.
    pub image: String,
    /// The registry digest (`sha256:…`) the replicas run; `None` for an image without one (built locally).
    pub image_digest: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The user who asked for it; `None` when Berth made it (a first run, an automatic roll back).
    pub created_by: Option<String>,
}

impl Revision {
    /// The reference replicas of this revision are created from: the repository at its digest, so a tag that
    /// moves never changes what they run; the tag when there is no digest.
    pub fn pinned_image(&self) -> String {
        match (&self.image_digest, ImageRef::parse(&self.image)) {
            (Some(digest), Ok(r)) => format!("{}@{digest}", r.familiar_name()),
            _ => self.image.clone(),
        }
    }
}

/// A container definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Container {
    pub id: String,
    pub name: String,
    /// Normalised reference.
    pub image: String,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub ports: Vec<PortSpec>,
    pub cpus: Option<f64>,
    pub memory_bytes: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub restart_policy: RestartPolicy,
    pub host_id: Option<String>,
    pub replicas: i64,
    pub mounts: Vec<Mount>,
    pub desired_state: DesiredState,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The Docker container (on the pinned host) this definition was adopted from, until its first run removes
    /// it (see `service::adoption`).
    pub adopted_docker_id: Option<String>,
    /// `None` = the image's own check (`["NONE"]` switches it off).
    pub health_check: Option<HealthCheck>,
    /// Replace a replica whose check has said unhealthy for longer than this many seconds.
    pub replace_unhealthy_after_secs: Option<i64>,
    pub max_parallel: i32,
    pub min_healthy_secs: i32,
    /// The rolling update in progress or the last one (`None`: never rolled).
    pub rollout: Option<Rollout>,
    /// Whether a deploy hook is set (`POST /hooks/deploy/{token}`).
    pub has_deploy_hook: bool,
    /// OFF: no update is shown or raised; NOTIFY: shown and raised; AUTO: also rolled out when it appears.
    pub update_policy: UpdatePolicy,
    /// When AUTO may roll out (`None`: any time).
    pub update_window: Option<UpdateWindow>,
}

/// One replica of a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    pub container_id: String,
    pub replica: i32,
    pub host_id: Option<String>,
    pub docker_id: Option<String>,
    pub status: InstanceStatus,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub definition_version: i32,
    /// Replacements in a row after the replica exited; the back-off grows with it.
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// What the engine's health check says while it runs; `None` = not known (not running, not observed yet).
    pub health: Option<Health>,
    /// The last probe's output (capped at [`HEALTH_OUTPUT_MAX`] bytes).
    pub health_output: Option<String>,
    /// Since when the check has said unhealthy.
    pub unhealthy_since: Option<DateTime<Utc>>,
    /// The registry digest (`sha256:…`) of the image its Docker container was created from, as the engine
    /// recorded it at creation; `None` when unknown (an image never pulled from or pushed to a registry, or a
    /// replica created before Berth recorded digests).
    pub image_digest: Option<String>,
    /// The revision its Docker container runs (`None`: created before Berth kept revisions).
    pub revision: Option<i32>,
}

/// Whether an active replica runs another image than `latest`, the registry's current digest of the definition's
/// tag (a replica whose digest is unknown counts as up to date).
pub fn update_available(latest: &str, instances: &[Instance]) -> bool {
    instances
        .iter()
        .any(|i| i.status.is_active() && i.image_digest.as_deref().is_some_and(|d| d != latest))
}

/// The longest health probe output kept, in bytes (Docker keeps 4 KiB of each probe).
pub const HEALTH_OUTPUT_MAX: usize = 4_096;

/// A container with its instances as they were right after a status change; published with the change so
/// that subscribers need not read the database each.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusSnapshot {
    pub container: Container,
    pub instances: Vec<Instance>,
}
