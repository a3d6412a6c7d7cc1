//! Adoption: a Docker container Berth did not create becomes a definition pinned to its host. The engine's
//! inspect (`docker::ContainerConfig`) is mapped to the settings a definition holds; everything else that differs
//! from Docker's and the image's defaults is listed, one sentence each, and must be confirmed, so nothing is
//! dropped silently. Host directories become HOST_PATH disks (an existing disk of that host and path, else a new
//! one). The definition is created STOPPED through the container service; its first run removes the original
//! (`engine::reconciler::placement`) and starts a labelled replacement on the same host.

use crate::db;
use crate::docker::{ContainerConfig, DockerError, FoundMountKind};
use crate::engine::reconciler::LABEL_OWNER;
use crate::service::ServiceError;
use crate::service::auth::User;
use crate::service::authz::{self, Action};
use crate::service::containers::{
    Container, ContainerService, ContainerSettings, Mount, PortInput,
};
use crate::service::disks::{Disk, DiskService, DiskSettings};
use crate::service::hosts::{HostService, engine_error};
use crate::service::inventory::InventoryService;
use berth_shared::{
    DiskKind, HostStatus, ImageRef, Protocol, RestartPolicy, validate_container_name,
    validate_container_path, validate_cpu_shares, validate_cpus, validate_env_name,
    validate_host_path,
};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const COMPOSE_PREFIX: &str = "com.docker.compose.";
const COMPOSE_PROJECT: &str = "com.docker.compose.project";
const COMPOSE_SERVICE: &str = "com.docker.compose.service";
/// Docker refuses memory limits under 6 MiB; so does a definition.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// What adopting a Docker container would do.
#[derive(Clone, Debug, PartialEq)]
pub struct Adoption {
    /// The definition adoption would create, in the shape of `ContainerInput` (host pinned); each mount also
    /// carries `disk`: the disk it reuses, or the one adoption creates (`create: true`).
    pub input: Value,
    /// Settings a definition cannot express, one sentence each.
    pub unsupported: Vec<String>,
    pub compose_project: Option<String>,
    pub compose_service: Option<String>,
    /// What happens to the running container, one paragraph.
    pub effect: String,
}

/// The disk behind one mount of the definition.
#[derive(Clone, Debug, PartialEq)]
pub enum DiskPlan {
    /// A HOST_PATH disk of that host (or of every host) and path exists: it is mounted.
    Existing(Disk),
    /// A HOST_PATH disk on the host is created at adoption.
    New { name: String, path: String },
}

#[derive(Clone, Debug, PartialEq)]
pub struct PlannedMount {
    pub disk: DiskPlan,
    pub container_path: String,
    pub read_only: bool,
}

/// A container's settings as a definition (mounts apart: their disks may not exist yet) and what it cannot
/// hold.
#[derive(Clone, Debug)]
pub struct Mapping {
    pub settings: ContainerSettings,
    pub mounts: Vec<PlannedMount>,
    pub unsupported: Vec<String>,
}

fn list(items: &[String]) -> String {
    items.join(", ")
}

/// `64m`, `1g` or bytes: the shortest exact form `parse_bytes` reads back.
fn memory_text(bytes: i64) -> String {
    const GIB: i64 = 1 << 30;
    const MIB: i64 = 1 << 20;
    if bytes % GIB == 0 {
        format!("{}g", bytes / GIB)
    } else if bytes % MIB == 0 {
        format!("{}m", bytes / MIB)
    } else {
        bytes.to_string()
    }
}

/// A name for a new disk: the definition's name and the last part of the container path (`web-data`), unique
/// among `taken`, at most 63 characters.
fn disk_name(definition: &str, container_path: &str, taken: &[String]) -> String {
    let slug: String = container_path
        .rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or("disk")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let base: String = format!("{definition}-{slug}");
    let fits = |s: String| -> String { s.chars().take(63).collect() };
    let mut n = 1;
    loop {
        let candidate = if n == 1 {
            fits(base.clone())
        } else {
            let suffix = format!("-{n}");
            let room = 63 - suffix.len();
            format!("{}{suffix}", base.chars().take(room).collect::<String>())
        };
        let candidate = if validate_container_name(&candidate).is_ok() {
            candidate
        } else {
            format!("disk-{n}")
        };
        if !taken.contains(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

/// The image as a definition names it: `Config.Image` when it is a reference, else the image's first tag.
fn image_of(c: &ContainerConfig, unsupported: &mut Vec<String>) -> Result<String, ServiceError> {
    let written = c.image.trim();
    // `sha256:…` or a hex prefix of the image id would parse as a repository on Docker Hub.
    let hex = written.strip_prefix("sha256:").unwrap_or(written);
    let is_id = written.starts_with("sha256:")
        || (hex.len() >= 12
            && hex.chars().all(|ch| ch.is_ascii_hexdigit())
            && c.image_id.trim_start_matches("sha256:").starts_with(hex));
    if !is_id && let Ok(r) = ImageRef::parse(written) {
        return Ok(r.to_string());
    }
    for tag in &c.image_defaults.tags {
        if let Ok(r) = ImageRef::parse(tag) {
            unsupported.push(format!(
                "It was created from the image id {}; the definition names that image by its tag {tag}, which may point to another image later.",
                c.image
            ));
            return Ok(r.to_string());
        }
    }
    Err(ServiceError::Conflict(format!(
        "{} runs image {}, which has no name a definition could pull; tag the image and adopt again",
        c.name, c.image
    )))
}

/// Maps an inspected container to a definition pinned to `host_id`, named `name`; `disks` are every disk there
/// is (for reuse and free names). Pure: the unit tests drive it with hand-made inspects.
pub fn map_config(
    c: &ContainerConfig,
    host_id: &str,
    name: &str,
    disks: &[Disk],
) -> Result<Mapping, ServiceError> {
    let mut unsupported: Vec<String> = Vec::new();
    let image = image_of(c, &mut unsupported)?;
    let defaults = &c.image_defaults;

    // Entrypoint and command only where they differ from the image's. A custom entrypoint makes Docker drop the
    // image's command, so the container's command is kept as it is then.
    let entrypoint_differs = c.entrypoint != defaults.entrypoint;
    let entrypoint = if entrypoint_differs {
        if c.entrypoint.is_none() {
            unsupported.push(format!(
                "The image's entrypoint ({}) is switched off (--entrypoint \"\"); a definition cannot clear it, so the replacement runs it.",
                defaults.entrypoint.as_deref().map(list).unwrap_or_default()
            ));
        }
        c.entrypoint.clone()
    } else {
        None
    };
    let command = if entrypoint_differs || c.cmd != defaults.cmd {
        c.cmd.clone()
    } else {
        None
    };

    let mut env = Vec::new();
    for entry in &c.env {
        if defaults.env.contains(entry) {
            continue;
        }
        let (var, value) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
        if validate_env_name(var).is_err() || value.contains('\0') {
            unsupported.push(format!(
                "The environment variable {var:?} has a name a definition does not accept."
            ));
            continue;
        }
        env.push((var.to_owned(), value.to_owned()));
    }

    let mut ports: Vec<PortInput> = Vec::new();
    for p in &c.ports {
        let protocol = match p.protocol.as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            other => {
                unsupported.push(format!(
                    "Port {}/{other} is published; a definition publishes TCP and UDP only.",
                    p.container_port
                ));
                continue;
            }
        };
        let clash = p.host_port.is_some()
            && ports
                .iter()
                .any(|o| o.host_port == p.host_port.map(i64::from) && o.protocol == protocol);
        if clash {
            unsupported.push(format!(
                "Host port {}/{} is published on more than one address; the definition keeps the first.",
                p.host_port.unwrap_or_default(),
                p.protocol
            ));
            continue;
        }
        ports.push(PortInput {
            container_port: i64::from(p.container_port),
            host_port: p.host_port.map(i64::from),
            host_ip: p.host_ip.clone(),
            protocol,
        });
    }
    if c.publish_all_ports {
        unsupported.push(
            "Every exposed port is published on a random host port (-P); the definition publishes only the ports listed."
                .into(),
        );
    }
    let published: Vec<String> = c
        .ports
        .iter()
        .map(|p| format!("{}/{}", p.container_port, p.protocol))
        .collect();
    let exposed: Vec<String> = c
        .exposed_ports
        .iter()
        .filter(|e| !defaults.exposed_ports.contains(*e) && !published.contains(e))
        .cloned()
        .collect();
    if !exposed.is_empty() {
        unsupported.push(format!(
            "It exposes {} without publishing (--expose); a definition only publishes ports.",
            list(&exposed)
        ));
    }

    let memory = match c.memory_bytes {
        0 => None,
        m if m < MIN_MEMORY => {
            unsupported.push(format!(
                "Its memory limit of {m} bytes is under Docker's minimum of 6 MiB."
            ));
            None
        }
        m => Some(memory_text(m)),
    };
    let cpus = match c.nano_cpus {
        0 => None,
        n => {
            let cpus = n as f64 / 1e9;
            match validate_cpus(cpus) {
                Ok(v) => Some(v),
                Err(_) => {
                    unsupported.push(format!("Its CPU limit of {cpus} CPUs is out of range."));
                    None
                }
            }
        }
    };
    let cpu_shares = match c.cpu_shares {
        0 => None,
        s => match validate_cpu_shares(s) {
            Ok(v) => Some(v),
            Err(_) => {
                unsupported.push(format!(
                    "Its CPU shares of {s} are out of range (2 to 262144)."
                ));
                None
            }
        },
    };
    let restart_policy = match RestartPolicy::ALL
        .iter()
        .copied()
        .find(|p| p.docker_name() == c.restart_policy)
    {
        Some(p) => p,
        None => {
            unsupported.push(format!(
                "Its restart policy {:?} is unknown to Berth; the definition does not restart it.",
                c.restart_policy
            ));
            RestartPolicy::No
        }
    };
    if restart_policy == RestartPolicy::OnFailure && c.restart_max_retries > 0 {
        unsupported.push(format!(
            "It is restarted at most {} times after failures (--restart on-failure:{}); the definition restarts it without a limit.",
            c.restart_max_retries, c.restart_max_retries
        ));
    }

    // Mounts: host directories become HOST_PATH disks; volumes and tmpfs cannot carry over.
    let mut mounts: Vec<PlannedMount> = Vec::new();
    let mut taken: Vec<String> = disks.iter().map(|d| d.name.clone()).collect();
    let mut new_paths: BTreeMap<String, String> = BTreeMap::new();
    for m in &c.mounts {
        let at = &m.destination;
        match &m.kind {
            FoundMountKind::Bind { source } => {
                if let Err(e) = validate_host_path(source) {
                    unsupported.push(format!(
                        "The host path {source} is mounted at {at}, but Berth refuses it as a disk ({e})."
                    ));
                    continue;
                }
                if let Err(e) = validate_container_path(at) {
                    unsupported.push(format!(
                        "The host path {source} is mounted at {at}, which a definition does not accept ({e})."
                    ));
                    continue;
                }
                if let Some(p) = &m.propagation {
                    unsupported.push(format!(
                        "The mount of {source} at {at} uses {p} propagation; the replacement's mount is private."
                    ));
                }
                if let Some(z) = &m.relabel {
                    unsupported.push(format!(
                        "The mount of {source} at {at} asks for SELinux relabelling (:{z}); the replacement's does not."
                    ));
                }
                let clean = {
                    let t = source.trim().trim_end_matches('/');
                    if t.is_empty() { "/" } else { t }.to_owned()
                };
                let existing = disks.iter().find(|d| {
                    d.kind == DiskKind::HostPath
                        && d.path.as_deref() == Some(clean.as_str())
                        && d.host_id.as_deref().is_none_or(|h| h == host_id)
                });
                let disk = match existing {
                    Some(d) => DiskPlan::Existing(d.clone()),
                    None => {
                        let name = match new_paths.get(&clean) {
                            Some(n) => n.clone(),
                            None => {
                                let n = disk_name(name, at, &taken);
                                taken.push(n.clone());
                                new_paths.insert(clean.clone(), n.clone());
                                n
                            }
                        };
                        DiskPlan::New { name, path: clean }
                    }
                };
                mounts.push(PlannedMount {
                    disk,
                    container_path: at.trim_end_matches('/').to_owned(),
                    read_only: m.read_only,
                });
            }
            FoundMountKind::NamedVolume { name: volume } => unsupported.push(format!(
                "The named volume {volume} is mounted at {at}; Berth's volume disks use volumes of their own (berth-<disk id>), so its data would not carry over."
            )),
            FoundMountKind::AnonymousVolume { name: volume } => {
                let short: String = volume.chars().take(12).collect();
                unsupported.push(format!(
                    "An anonymous volume ({short}) is mounted at {at}; the replacement gets a fresh one, so its data would not carry over."
                ));
            }
            FoundMountKind::Tmpfs => {
                if !c.tmpfs.iter().any(|t| t.split(':').next() == Some(at.as_str())) {
                    unsupported.push(format!("A tmpfs is mounted at {at}."));
                }
            }
            FoundMountKind::Other(kind) => {
                unsupported.push(format!("A {kind} mount is at {at}."));
            }
        }
    }
    for t in &c.tmpfs {
        unsupported.push(format!("A tmpfs is mounted at {t} (--tmpfs)."));
    }

    match c.network_mode.as_str() {
        "default" | "bridge" => {}
        mode => unsupported.push(format!(
            "It uses the network mode {mode} (--network {mode}); the replacement joins the default bridge network."
        )),
    }
    for n in &c.extra_networks {
        unsupported.push(format!(
            "It is also connected to the network {n}; the replacement is not."
        ));
    }
    if c.privileged {
        unsupported.push("It runs privileged (--privileged); the replacement does not.".into());
    }
    if !c.cap_add.is_empty() {
        unsupported.push(format!(
            "It adds the capabilities {} (--cap-add).",
            list(&c.cap_add)
        ));
    }
    if !c.cap_drop.is_empty() {
        unsupported.push(format!(
            "It drops the capabilities {} (--cap-drop).",
            list(&c.cap_drop)
        ));
    }
    if !c.devices.is_empty() {
        unsupported.push(format!(
            "It is given the devices {} (--device, --gpus).",
            list(&c.devices)
        ));
    }
    if c.user != defaults.user {
        unsupported.push(format!(
            "It runs as the user {:?} (--user) instead of the image's.",
            c.user
        ));
    }
    if c.working_dir != defaults.working_dir {
        unsupported.push(format!(
            "Its working directory is {:?} (--workdir) instead of the image's.",
            c.working_dir
        ));
    }
    if let Some(h) = &c.hostname {
        unsupported.push(format!(
            "Its hostname is {h} (--hostname); the replacement gets Docker's."
        ));
    }
    if let Some(d) = &c.domainname {
        unsupported.push(format!("Its domain name is {d} (--domainname)."));
    }
    if !c.extra_hosts.is_empty() {
        unsupported.push(format!(
            "It has extra /etc/hosts entries {} (--add-host).",
            list(&c.extra_hosts)
        ));
    }
    if !c.dns.is_empty() {
        unsupported.push(format!(
            "It has its own DNS settings {} (--dns, --dns-option, --dns-search).",
            list(&c.dns)
        ));
    }
    if c.healthcheck != defaults.healthcheck {
        match &c.healthcheck {
            Some(h) if h.test.first().map(String::as_str) == Some("NONE") => unsupported.push(
                "Its image's health check is switched off (--no-healthcheck); the replacement runs it.".into(),
            ),
            Some(h) => unsupported.push(format!(
                "It has its own health check ({}); the replacement has the image's, if any.",
                h.test.join(" ")
            )),
            None => unsupported.push(
                "It has no health check although its image has one; the replacement runs the image's.".into(),
            ),
        }
    }
    if c.stop_signal != defaults.stop_signal {
        unsupported.push(format!(
            "It stops on the signal {} (--stop-signal) instead of the image's.",
            c.stop_signal.as_deref().unwrap_or("SIGTERM")
        ));
    }
    if let Some(driver) = &c.log_driver {
        let options: Vec<String> = c
            .log_options
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        unsupported.push(if options.is_empty() {
            format!("It logs with the {driver} driver (--log-driver); the replacement uses the engine's default.")
        } else {
            format!(
                "It logs with the {driver} driver and the options {} (--log-driver, --log-opt); the replacement uses the engine's defaults.",
                list(&options)
            )
        });
    }
    let labels: Vec<String> = c
        .labels
        .iter()
        .filter(|(k, v)| !k.starts_with(COMPOSE_PREFIX) && defaults.labels.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !labels.is_empty() {
        unsupported.push(format!(
            "It carries the labels {} (--label); the replacement carries Berth's.",
            list(&labels)
        ));
    }
    for o in &c.other {
        unsupported.push(format!(
            "It is run with {} {}, which a definition cannot express.",
            o.option, o.value
        ));
    }
    if let Some(project) = c.labels.get(COMPOSE_PROJECT) {
        unsupported.push(format!(
            "It belongs to the compose project {project}: compose project {project} will no longer manage it."
        ));
    }

    Ok(Mapping {
        settings: ContainerSettings {
            name: name.to_owned(),
            image,
            command,
            entrypoint,
            env,
            ports,
            cpus,
            memory,
            cpu_shares,
            restart_policy,
            host_id: Some(host_id.to_owned()),
            replicas: 1,
            mounts: Vec::new(),
            health_check: None,
            replace_unhealthy_after_secs: None,
            max_parallel: None,
            min_healthy_secs: None,
            update_policy: None,
            update_window: None,
        },
        mounts,
        unsupported,
    })
}

/// The definition in the shape of `ContainerInput`, each mount with the disk it uses or creates.
fn input_json(m: &Mapping, host_id: &str) -> Value {
    let s = &m.settings;
    json!({
        "name": s.name,
        "image": s.image,
        "command": s.command,
        "entrypoint": s.entrypoint,
        "env": s.env.iter().map(|(name, value)| json!({ "name": name, "value": value })).collect::<Vec<_>>(),
        "ports": s.ports.iter().map(|p| json!({
            "containerPort": p.container_port,
            "hostPort": p.host_port,
            "hostIp": p.host_ip,
            "protocol": match p.protocol { Protocol::Tcp => "TCP", Protocol::Udp => "UDP" },
        })).collect::<Vec<_>>(),
        "resources": {
            "cpus": s.cpus,
            "memory": s.memory,
            "cpuShares": s.cpu_shares,
        },
        "restartPolicy": s.restart_policy.as_str(),
        "hostId": host_id,
        "replicas": s.replicas,
        "mounts": m.mounts.iter().map(|pm| {
            let disk = match &pm.disk {
                DiskPlan::Existing(d) => json!({
                    "id": d.id, "name": d.name, "kind": d.kind.as_str(), "hostId": d.host_id,
                    "path": d.path, "create": false,
                }),
                DiskPlan::New { name, path } => json!({
                    "id": null, "name": name, "kind": DiskKind::HostPath.as_str(), "hostId": host_id,
                    "path": path, "create": true,
                }),
            };
            json!({
                "diskId": disk["id"].clone(),
                "containerPath": pm.container_path,
                "readOnly": pm.read_only,
                "disk": disk,
            })
        }).collect::<Vec<_>>(),
    })
}

fn effect(c: &ContainerConfig, name: &str, host_name: &str, mapping: &Mapping) -> String {
    let now = if c.state == "running" {
        format!(
            "The Docker container {} keeps running untouched until the definition is first run",
            c.name
        )
    } else {
        format!(
            "The Docker container {} stays as it is ({}) until the definition is first run",
            c.name,
            if c.state.is_empty() {
                "not running"
            } else {
                c.state.as_str()
            }
        )
    };
    let same = match (mapping.settings.ports.is_empty(), mapping.mounts.is_empty()) {
        (true, true) => "on the same host".to_owned(),
        (false, true) => "on the same host (same ports)".to_owned(),
        (true, false) => "on the same host (same host directories)".to_owned(),
        (false, false) => "on the same host (same ports and host directories)".to_owned(),
    };
    format!(
        "Adopting saves a definition named {name}, STOPPED and pinned to host {host_name}. {now}; then Berth stops \
         it (10 s grace), removes it and starts a replacement labelled as Berth's with these settings {same}. \
         Settings listed as unsupported are not carried over."
    )
}

#[derive(Clone)]
pub struct AdoptionService {
    db: DatabaseConnection,
    hosts: HostService,
    inventory: InventoryService,
    containers: ContainerService,
    disks: DiskService,
}

/// One adoptable container as found on its host.
struct Found {
    host_id: String,
    host_name: String,
    config: ContainerConfig,
}

impl AdoptionService {
    pub fn new(
        db: DatabaseConnection,
        hosts: HostService,
        inventory: InventoryService,
        containers: ContainerService,
        disks: DiskService,
    ) -> Self {
        Self {
            db,
            hosts,
            inventory,
            containers,
            disks,
        }
    }

    /// The inventory's container, inspected on its host; refused for Berth's own and for one adopted already.
    async fn find(&self, id: &str) -> Result<Found, ServiceError> {
        let row = self.inventory.require(id).await?;
        if let Some(definition) = &row.container_id {
            let name = self
                .containers
                .get(definition)
                .await?
                .map_or_else(|| definition.clone(), |c| c.name);
            return Err(ServiceError::Conflict(format!(
                "{} was created by Berth for container {name}; it is managed already",
                row.name
            )));
        }
        let host = self.hosts.get(&row.host_id).await?.ok_or_else(|| {
            ServiceError::NotFound(format!("host {} no longer exists", row.host_name))
        })?;
        if !host.docker_support || !matches!(host.status, HostStatus::Up | HostStatus::Maintenance)
        {
            return Err(ServiceError::Unavailable(format!(
                "host {} does not answer ({}){}",
                host.name,
                host.status.label().to_lowercase(),
                host.last_error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            )));
        }
        let (_, engine) = self.hosts.engine(&row.host_id).await?;
        let config = match engine.adoption_config(&row.docker_id).await {
            Ok(c) => c,
            Err(DockerError::NotFound(_)) => {
                self.inventory.forget(&row.host_id, &row.docker_id).await?;
                return Err(ServiceError::NotFound(format!(
                    "{} no longer exists on host {}",
                    row.name, host.name
                )));
            }
            Err(e) => return Err(engine_error(&host.name, e)),
        };
        let installation = self.containers.installation_id().await?;
        if config.labels.get(LABEL_OWNER) == Some(&installation) {
            return Err(ServiceError::Conflict(format!(
                "{} was created by Berth; it is managed already",
                config.name
            )));
        }
        if let Some(definition) = db::adoption::adopted_by(&self.db, &config.docker_id).await? {
            return Err(ServiceError::Conflict(format!(
                "{} is adopted already as container {definition}; run that to replace it",
                config.name
            )));
        }
        Ok(Found {
            host_id: row.host_id,
            host_name: host.name,
            config,
        })
    }

    /// What adopting the inventory's container `id` would create and drop (any user may look).
    pub async fn preview(&self, id: &str) -> Result<Adoption, ServiceError> {
        let found = self.find(id).await?;
        let disks = self.disks.list().await?;
        let name: String = found.config.name.chars().take(63).collect();
        let mapping = map_config(&found.config, &found.host_id, &name, &disks)?;
        Ok(Adoption {
            input: input_json(&mapping, &found.host_id),
            compose_project: found.config.labels.get(COMPOSE_PROJECT).cloned(),
            compose_service: found.config.labels.get(COMPOSE_SERVICE).cloned(),
            effect: effect(&found.config, &name, &found.host_name, &mapping),
            unsupported: mapping.unsupported,
        })
    }

    /// Makes a STOPPED definition pinned to the container's host (named `name`, else like the container), with
    /// HOST_PATH disks for its host directories. Settings it cannot keep must be confirmed (else CONFLICT on
    /// `confirmUnsupported`, listing them).
    pub async fn adopt(
        &self,
        actor: &User,
        id: &str,
        name: Option<String>,
        confirm_unsupported: bool,
    ) -> Result<Container, ServiceError> {
        authz::require(actor, Action::EditContainers)?;
        let found = self.find(id).await?;
        let name = name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| found.config.name.clone());
        validate_container_name(&name)
            .map_err(|e| ServiceError::bad_input("name", e.to_string()))?;
        if db::containers::by_name(&self.db, &name).await?.is_some() {
            return Err(ServiceError::ConflictOn {
                field: "name".into(),
                message: format!("a container named {name} exists already; choose another name"),
            });
        }
        let disks = self.disks.list().await?;
        let mapping = map_config(&found.config, &found.host_id, &name, &disks)?;
        if !mapping.unsupported.is_empty() && !confirm_unsupported {
            return Err(ServiceError::ConflictOn {
                field: "confirmUnsupported".into(),
                message: format!(
                    "a definition cannot keep everything {} has: {} Adopt with confirmUnsupported to go on without these.",
                    found.config.name,
                    mapping.unsupported.join(" ")
                ),
            });
        }
        // New disks first (as Berth: they describe directories the container mounts already); undone when the
        // definition cannot be created.
        let mut created: Vec<Disk> = Vec::new();
        let outcome = async {
            let mut mounts = Vec::with_capacity(mapping.mounts.len());
            for pm in &mapping.mounts {
                let disk_id = match &pm.disk {
                    DiskPlan::Existing(d) => d.id.clone(),
                    DiskPlan::New { name, path } => {
                        match created.iter().find(|d| d.path.as_deref() == Some(path.as_str())) {
                            Some(d) => d.id.clone(),
                            None => {
                                let d = self
                                    .disks
                                    .create(
                                        &authz::system(),
                                        DiskSettings {
                                            name: name.clone(),
                                            kind: DiskKind::HostPath,
                                            host_id: Some(found.host_id.clone()),
                                            path: Some(path.clone()),
                                            size_bytes: None,
                                        },
                                    )
                                    .await
                                    .map_err(|e| match e {
                                        ServiceError::BadInput { message, .. }
                                        | ServiceError::ConflictOn { message, .. } => {
                                            ServiceError::Conflict(format!(
                                                "cannot create the disk {name} for {path}: {message}"
                                            ))
                                        }
                                        other => other,
                                    })?;
                                let id = d.id.clone();
                                created.push(d);
                                id
                            }
                        }
                    }
                };
                mounts.push(Mount {
                    disk_id,
                    container_path: pm.container_path.clone(),
                    read_only: pm.read_only,
                });
            }
            let mut settings = mapping.settings.clone();
            settings.mounts = mounts;
            self.containers
                .create_adopted(actor, settings, Some(found.config.docker_id.clone()))
                .await
        }
        .await;
        if outcome.is_err() {
            for d in &created {
                if let Err(e) = self.disks.delete(&authz::system(), &d.id).await {
                    tracing::warn!(disk = %d.name, error = %e, "removing a disk made for a failed adoption failed");
                }
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::{FoundMount, FoundPort, ImageDefaults, OtherSetting};

    /// busybox running `httpd -f -p 8080` with nothing else set.
    fn plain() -> ContainerConfig {
        ContainerConfig {
            docker_id: "0123456789abcdef".repeat(4),
            name: "hand-made".into(),
            image: "registry.example:5000/tools/busybox:1.35".into(),
            image_id: "sha256:abc".into(),
            state: "running".into(),
            cmd: Some(vec![
                "httpd".into(),
                "-f".into(),
                "-p".into(),
                "8080".into(),
            ]),
            env: vec!["PATH=/usr/local/sbin:/usr/bin:/bin".into()],
            network_mode: "default".into(),
            restart_policy: "no".into(),
            image_defaults: ImageDefaults {
                cmd: Some(vec!["sh".into()]),
                env: vec!["PATH=/usr/local/sbin:/usr/bin:/bin".into()],
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn disk(id: &str, name: &str, host: Option<&str>, path: &str) -> Disk {
        Disk {
            id: id.into(),
            name: name.into(),
            kind: DiskKind::HostPath,
            host_id: host.map(str::to_owned),
            path: Some(path.into()),
            size_bytes: None,
            created_at: chrono::Utc::now(),
        }
    }

    fn bind(source: &str, at: &str) -> FoundMount {
        FoundMount {
            kind: FoundMountKind::Bind {
                source: source.into(),
            },
            destination: at.into(),
            read_only: false,
            propagation: None,
            relabel: None,
        }
    }

    fn map(c: &ContainerConfig, disks: &[Disk]) -> Mapping {
        map_config(c, "h1", "hand-made", disks).unwrap()
    }

    #[test]
    fn a_plain_container_maps_without_loss() {
        let mut c = plain();
        c.env.push("GREETING=hi".into());
        c.ports = vec![FoundPort {
            container_port: 8080,
            protocol: "tcp".into(),
            host_ip: None,
            host_port: Some(18941),
        }];
        c.memory_bytes = 64 << 20;
        c.nano_cpus = 500_000_000;
        c.restart_policy = "unless-stopped".into();
        let m = map(&c, &[]);
        assert!(m.unsupported.is_empty(), "{:?}", m.unsupported);
        let s = &m.settings;
        assert_eq!(s.image, "registry.example:5000/tools/busybox:1.35");
        assert_eq!(s.env, vec![("GREETING".to_owned(), "hi".to_owned())]);
        assert_eq!(s.command.as_deref().map(<[String]>::len), Some(4));
        assert_eq!(s.entrypoint, None);
        assert_eq!(s.memory.as_deref(), Some("64m"));
        assert_eq!(s.cpus, Some(0.5));
        assert_eq!(s.restart_policy, RestartPolicy::UnlessStopped);
        assert_eq!(s.host_id.as_deref(), Some("h1"));
        let input = input_json(&m, "h1");
        assert_eq!(input["ports"][0]["hostPort"], 18941);
        assert_eq!(input["ports"][0]["protocol"], "TCP");
        assert_eq!(input["restartPolicy"], "UNLESS_STOPPED");
        assert_eq!(
            input["image"],
            json!("registry.example:5000/tools/busybox:1.35")
        );
    }

    /// One row per rule: a change to the plain container, then a check of the mapping.
    #[test]
    fn mapping_rules() {
        type Case = (&'static str, fn(&mut ContainerConfig), fn(&Mapping) -> bool);
        let cases: &[Case] = &[
            (
                "command equal to the image's is left to the image",
                |c| c.cmd = Some(vec!["sh".into()]),
                |m| m.settings.command.is_none() && m.unsupported.is_empty(),
            ),
            (
                "a custom entrypoint keeps the command even when it is the image's",
                |c| {
                    c.cmd = Some(vec!["sh".into()]);
                    c.entrypoint = Some(vec!["/init".into()]);
                },
                |m| {
                    m.settings.command == Some(vec!["sh".into()])
                        && m.settings.entrypoint == Some(vec!["/init".into()])
                },
            ),
            (
                "env minus the image's own entries; a changed PATH is kept",
                |c| c.env = vec!["PATH=/opt/bin".into(), "A=1=2".into()],
                |m| {
                    m.settings.env
                        == vec![
                            ("PATH".to_owned(), "/opt/bin".to_owned()),
                            ("A".to_owned(), "1=2".to_owned()),
                        ]
                },
            ),
            (
                "a port on one host address keeps its address",
                |c| {
                    c.ports = vec![FoundPort {
                        container_port: 80,
                        protocol: "tcp".into(),
                        host_ip: Some("127.0.0.1".into()),
                        host_port: Some(8080),
                    }]
                },
                |m| {
                    m.unsupported.is_empty()
                        && m.settings.ports[0].host_ip.as_deref() == Some("127.0.0.1")
                        && m.settings.ports[0].host_port == Some(8080)
                },
            ),
            (
                "one host port on two addresses: the second is unsupported",
                |c| {
                    c.ports = ["127.0.0.1", "10.0.0.1"]
                        .iter()
                        .map(|ip| FoundPort {
                            container_port: 80,
                            protocol: "tcp".into(),
                            host_ip: Some((*ip).into()),
                            host_port: Some(8080),
                        })
                        .collect()
                },
                |m| m.settings.ports.len() == 1 && m.unsupported.len() == 1,
            ),
            (
                "sctp is unsupported",
                |c| {
                    c.ports = vec![FoundPort {
                        container_port: 9,
                        protocol: "sctp".into(),
                        host_ip: None,
                        host_port: Some(9),
                    }]
                },
                |m| m.settings.ports.is_empty() && m.unsupported[0].contains("9/sctp"),
            ),
            (
                "a bind mount becomes a new HOST_PATH disk named after the container",
                |c| c.mounts = vec![bind("/srv/site/", "/data")],
                |m| {
                    m.unsupported.is_empty()
                        && m.mounts
                            == vec![PlannedMount {
                                disk: DiskPlan::New {
                                    name: "hand-made-data".into(),
                                    path: "/srv/site".into(),
                                },
                                container_path: "/data".into(),
                                read_only: false,
                            }]
                },
            ),
            (
                "a bind of a path with a disk on this host (or every host) reuses it",
                |c| c.mounts = vec![bind("/srv/shared", "/a"), bind("/srv/other", "/b")],
                |m| {
                    matches!(&m.mounts[0].disk, DiskPlan::Existing(d) if d.id == "d1")
                        && matches!(&m.mounts[1].disk, DiskPlan::Existing(d) if d.id == "d3")
                },
            ),
            (
                "two binds of one new path share one disk; a taken name gets a number",
                |c| c.mounts = vec![bind("/srv/x", "/taken"), bind("/srv/x", "/y")],
                |m| {
                    m.mounts[0].disk
                        == DiskPlan::New {
                            name: "hand-made-taken-2".into(),
                            path: "/srv/x".into(),
                        }
                        && m.mounts[1].disk == m.mounts[0].disk
                },
            ),
            (
                "a system path is refused as a disk: unsupported",
                |c| c.mounts = vec![bind("/var/run/docker.sock", "/var/run/docker.sock")],
                |m| m.mounts.is_empty() && m.unsupported[0].contains("docker.sock"),
            ),
            (
                "a named volume is unsupported",
                |c| {
                    c.mounts = vec![FoundMount {
                        kind: FoundMountKind::NamedVolume {
                            name: "pgdata".into(),
                        },
                        ..bind("", "/var/lib/postgresql/data")
                    }]
                },
                |m| m.mounts.is_empty() && m.unsupported[0].contains("named volume pgdata"),
            ),
            (
                "privileged is unsupported",
                |c| c.privileged = true,
                |m| {
                    m.unsupported
                        == vec![
                            "It runs privileged (--privileged); the replacement does not."
                                .to_owned(),
                        ]
                },
            ),
            (
                "network mode host, caps, user, labels and other options: one line each",
                |c| {
                    c.network_mode = "host".into();
                    c.cap_add = vec!["NET_ADMIN".into()];
                    c.user = "1000".into();
                    c.labels.insert("team".into(), "blue".into());
                    c.labels.insert(COMPOSE_PROJECT.into(), "shop".into());
                    c.other.push(OtherSetting {
                        option: "--pid",
                        value: "host".into(),
                    });
                },
                |m| {
                    m.unsupported.len() == 6
                        && m.unsupported
                            .iter()
                            .any(|u| u.contains("team=blue") && !u.contains("compose.project"))
                        && m.unsupported
                            .iter()
                            .any(|u| u.contains("compose project shop will no longer manage it"))
                },
            ),
            (
                "on-failure with a retry limit keeps the policy and says the limit goes",
                |c| {
                    c.restart_policy = "on-failure".into();
                    c.restart_max_retries = 3;
                },
                |m| {
                    m.settings.restart_policy == RestartPolicy::OnFailure
                        && m.unsupported.len() == 1
                },
            ),
            (
                "an image id falls back to the image's tag",
                |c| {
                    c.image = "sha256:0123".into();
                    c.image_defaults.tags = vec!["busybox:1.36".into()];
                },
                |m| {
                    m.settings.image == "docker.io/library/busybox:1.36" && m.unsupported.len() == 1
                },
            ),
        ];
        let disks = [
            disk("d1", "shared", None, "/srv/shared"),
            disk("d2", "elsewhere", Some("h2"), "/srv/other"),
            disk("d3", "other", Some("h1"), "/srv/other"),
            disk("d4", "hand-made-taken", Some("h2"), "/srv/unrelated"),
        ];
        for (what, change, check) in cases {
            let mut c = plain();
            change(&mut c);
            let m = map(&c, &disks);
            assert!(check(&m), "{what}: {m:#?}");
        }
    }

    #[test]
    fn an_image_without_a_name_cannot_be_adopted() {
        let mut c = plain();
        c.image = "sha256:0123".into();
        assert!(matches!(
            map_config(&c, "h1", "x", &[]),
            Err(ServiceError::Conflict(_))
        ));
    }

    #[test]
    fn memory_is_written_in_its_shortest_exact_form() {
        assert_eq!(memory_text(64 << 20), "64m");
        assert_eq!(memory_text(2 << 30), "2g");
        assert_eq!(memory_text(10_000_000), "10000000");
        for bytes in [64 << 20, 2 << 30, 10_000_000] {
            assert_eq!(
                berth_shared::parse_bytes(&memory_text(bytes)).ok(),
                u64::try_from(bytes).ok()
            );
        }
    }
}
