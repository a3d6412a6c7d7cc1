//! Container definitions: validation, storage with optimistic locking, and the requests (run, stop, restart, kill,
//! delete) that the reconciler carries out. Instance rows are written only through [`InstanceWriter`], which
//! exists once and is handed to the reconciler at start-up: nothing else can change an instance's status.

use crate::bus::{Bus, Event};
use crate::db::containers::{self as q, ContainerRow, InstanceRow, RevisionRow};
use crate::service::ServiceError;
use crate::service::auth::User;
use crate::service::authz::{self, Action};
use crate::service::hosts::HostService;
use berth_shared::{
    DesiredState, Health, HealthCheck, ImageRef, InstanceStatus, PortSpec, RestartPolicy,
    UpdatePolicy, UpdateWindow, parse_bytes, summary_status, summary_with_health,
    validate_container_name, validate_container_path, validate_cpu_shares, validate_cpus,
    validate_env_name, validate_health_check, validate_replace_unhealthy_after, validate_replicas,
};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use tokio::sync::{mpsc, oneshot};

pub use crate::model::containers::*;

/// Filter of the containers list.
#[derive(Clone, Debug, Default)]
pub struct ContainerFilter {
    pub search: Option<String>,
    pub host_id: Option<String>,
    pub status: Option<InstanceStatus>,
}

/// The longest text `filter.search` takes.
pub const MAX_SEARCH_CHARS: usize = 200;

/// The sort orders of the containers list; each ends on the id, so the order is total.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ContainerSortKey {
    /// By name.
    #[default]
    Name,
    /// By image reference, then id.
    Image,
    /// By summary status (its name), then name.
    Status,
    /// By creation time, then id.
    Created,
}

impl ContainerSortKey {
    /// The name a cursor carries.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerSortKey::Name => "NAME",
            ContainerSortKey::Image => "IMAGE",
            ContainerSortKey::Status => "STATUS",
            ContainerSortKey::Created => "CREATED",
        }
    }

    fn order(self) -> q::ContainerOrder {
        match self {
            ContainerSortKey::Name => q::ContainerOrder::Name,
            ContainerSortKey::Image => q::ContainerOrder::Image,
            ContainerSortKey::Status => q::ContainerOrder::Status,
            ContainerSortKey::Created => q::ContainerOrder::Created,
        }
    }
}

/// A row's place in a sorted list: its sort values in text form (times as RFC 3339 with nanoseconds) and its
/// id. A page continues after the mark of the last row of the page before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageMark {
    pub values: Vec<String>,
    pub id: String,
}

/// One page of the containers list.
#[derive(Clone, Debug, Default)]
pub struct ContainerPageRequest {
    pub filter: ContainerFilter,
    pub sort: ContainerSortKey,
    pub desc: bool,
    /// Rows to return (the caller clamps it).
    pub first: usize,
    /// Continue after this row (its mark under the same sort and direction).
    pub after: Option<PageMark>,
    /// Count the containers the filter matches (one more query, which reads every match).
    pub count: bool,
}

/// A page of containers with their instances and marks, the number of containers the filter matches (when
/// asked for), and whether more follow.
#[derive(Clone, Debug)]
pub struct ContainerPage {
    pub items: Vec<(Container, Vec<Instance>, PageMark)>,
    pub total: Option<u64>,
    pub has_next: bool,
}

fn mark_of(order: q::ContainerOrder, row: &ContainerRow) -> PageMark {
    PageMark {
        values: order
            .values_of(row)
            .into_iter()
            .map(|v| match v {
                q::SeekValue::Text(t) => t,
                q::SeekValue::Time(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            })
            .collect(),
        id: row.id.clone(),
    }
}

/// A mark's text values as the sort's typed values; junk is BAD_USER_INPUT on `after`.
fn seek_of(
    order: q::ContainerOrder,
    mark: &PageMark,
) -> Result<(Vec<q::SeekValue>, String), ServiceError> {
    let junk = || ServiceError::bad_input("after", "not a cursor of this list and sort order");
    let columns = order.columns();
    if mark.values.len() != columns.len() {
        return Err(junk());
    }
    let template = match order {
        q::ContainerOrder::Created => vec![true],
        q::ContainerOrder::Status => vec![false, false],
        q::ContainerOrder::Name | q::ContainerOrder::Image => vec![false],
    };
    let mut values = Vec::with_capacity(mark.values.len());
    for (text, is_time) in mark.values.iter().zip(template) {
        values.push(if is_time {
            q::SeekValue::Time(
                DateTime::parse_from_rfc3339(text)
                    .map_err(|_| junk())?
                    .with_timezone(&Utc),
            )
        } else {
            q::SeekValue::Text(text.clone())
        });
    }
    Ok((values, mark.id.clone()))
}

/// Requests the reconciler carries out (see `engine::reconciler`). Each answers once it is placed or refused.
#[derive(Debug)]
pub enum ReconcileCommand {
    Run {
        container_id: String,
        host_id: Option<String>,
        reply: oneshot::Sender<Result<(), ServiceError>>,
    },
    Stop {
        container_id: String,
        reply: oneshot::Sender<Result<(), ServiceError>>,
    },
    Restart {
        container_id: String,
        reply: oneshot::Sender<Result<(), ServiceError>>,
    },
    Kill {
        container_id: String,
        reply: oneshot::Sender<Result<(), ServiceError>>,
    },
    Delete {
        container_id: String,
        reply: oneshot::Sender<Result<(), ServiceError>>,
    },
    Scale {
        container_id: String,
        replicas: i32,
        reply: oneshot::Sender<Result<(), ServiceError>>,
    },
    /// Pull (when asked) and roll the replicas to the image's current digest, a few at a time.
    Redeploy {
        container_id: String,
        pull: bool,
        by: String,
        reply: oneshot::Sender<Result<(), ServiceError>>,
    },
    /// Roll the replicas back to an earlier revision.
    Rollback {
        container_id: String,
        revision: i32,
        reply: oneshot::Sender<Result<(), ServiceError>>,
    },
}

fn json_err(e: serde_json::Error) -> ServiceError {
    ServiceError::Unexpected(anyhow::Error::new(e).context("stored container JSON"))
}

fn to_container(row: ContainerRow) -> Result<Container, ServiceError> {
    let decode_list = |text: Option<String>| -> Result<Option<Vec<String>>, ServiceError> {
        text.map(|t| serde_json::from_str(&t).map_err(json_err))
            .transpose()
    };
    Ok(Container {
        command: decode_list(row.command)?,
        entrypoint: decode_list(row.entrypoint)?,
        env: serde_json::from_str(&row.env).map_err(json_err)?,
        ports: serde_json::from_str(&row.ports).map_err(json_err)?,
        mounts: serde_json::from_str(&row.mounts).map_err(json_err)?,
        restart_policy: row.restart_policy.parse().unwrap_or(RestartPolicy::No),
        desired_state: row.desired_state.parse().unwrap_or(DesiredState::Stopped),
        id: row.id,
        name: row.name,
        image: row.image,
        cpus: row.cpus,
        memory_bytes: row.memory_bytes,
        cpu_shares: row.cpu_shares,
        host_id: row.host_id,
        replicas: i64::from(row.replicas),
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
        adopted_docker_id: row.adopted_docker_id,
        health_check: row
            .health_check
            .map(|t| serde_json::from_str(&t).map_err(json_err))
            .transpose()?,
        replace_unhealthy_after_secs: row.replace_unhealthy_after_secs,
        max_parallel: row.max_parallel,
        min_healthy_secs: row.min_healthy_secs,
        has_deploy_hook: row.deploy_hook_hash.is_some(),
        update_policy: row.update_policy.parse().unwrap_or(UpdatePolicy::Notify),
        update_window: row
            .update_window
            .as_deref()
            .and_then(|w| UpdateWindow::parse(w).ok()),
        rollout: match (row.rollout_state, row.rollout_from, row.rollout_to) {
            (Some(state), Some(from), Some(to)) => state.parse().ok().map(|state| Rollout {
                state,
                reason: row.rollout_reason,
                from_revision: from,
                to_revision: to,
            }),
            _ => None,
        },
    })
}

/// How a deploy-hook token is kept: its SHA-256 in hex (tokens are 256 random bits, so no salt or stretching).
fn deploy_hook_hash(token: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

fn to_revision(row: RevisionRow) -> Revision {
    Revision {
        number: row.number,
        version: row.version,
        image: row.image,
        image_digest: row.image_digest,
        created_at: row.created_at,
        created_by: row.created_by,
    }
}

fn to_instance(row: InstanceRow) -> Instance {
    Instance {
        status: row.status,
        id: row.id,
        container_id: row.container_id,
        replica: row.replica,
        host_id: row.host_id,
        docker_id: row.docker_id,
        exit_code: row.exit_code,
        error: row.error,
        definition_version: row.definition_version,
        attempts: row.attempts,
        next_attempt_at: row.next_attempt_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
        updated_at: row.updated_at,
        health: row.health,
        health_output: row.health_output,
        unhealthy_since: row.unhealthy_since,
        image_digest: row.image_digest,
        revision: row.revision,
    }
}

fn to_instance_row(i: Instance) -> InstanceRow {
    InstanceRow {
        status: i.status,
        id: i.id,
        container_id: i.container_id,
        replica: i.replica,
        host_id: i.host_id,
        docker_id: i.docker_id,
        exit_code: i.exit_code,
        error: i.error,
        definition_version: i.definition_version,
        attempts: i.attempts,
        next_attempt_at: i.next_attempt_at,
        started_at: i.started_at,
        finished_at: i.finished_at,
        updated_at: i.updated_at,
        health: i.health,
        health_output: i.health_output,
        unhealthy_since: i.unhealthy_since,
        image_digest: i.image_digest,
        revision: i.revision,
    }
}

/// The summary status of a stored definition with these stored instances, as `status_summary` holds it; every
/// write of a definition's desired state, replicas or instances recomputes it with this (see `db::containers`).
fn summarize(row: &ContainerRow, instances: &[InstanceRow]) -> String {
    let desired = row.desired_state.parse().unwrap_or(DesiredState::Stopped);
    let statuses: Vec<(InstanceStatus, Option<Health>)> =
        instances.iter().map(|i| (i.status, i.health)).collect();
    summary_with_health(
        desired,
        usize::try_from(row.replicas).unwrap_or(0),
        &statuses,
    )
    .as_str()
    .to_owned()
}

impl Container {
    /// The summary status of the contract, from this container's instances.
    pub fn summary(&self, instances: &[Instance]) -> InstanceStatus {
        let statuses: Vec<(InstanceStatus, Option<Health>)> =
            instances.iter().map(|i| (i.status, i.health)).collect();
        summary_with_health(
            self.desired_state,
            usize::try_from(self.replicas).unwrap_or(0),
            &statuses,
        )
    }
}

/// Validates a submission; `field` names follow the GraphQL input (`ports.0.hostPort`).
fn validate(settings: &ContainerSettings) -> Result<ValidDefinition, ServiceError> {
    let name = settings.name.trim().to_owned();
    validate_container_name(&name).map_err(|e| ServiceError::bad_input("name", e.to_string()))?;
    let image = ImageRef::parse(settings.image.trim())
        .map_err(|e| ServiceError::bad_input("image", e.to_string()))?
        .to_string();
    let list =
        |field: &str, value: &Option<Vec<String>>| -> Result<Option<Vec<String>>, ServiceError> {
            match value {
                None => Ok(None),
                Some(items) if items.is_empty() => Ok(None),
                Some(items) => {
                    if items.iter().any(|a| a.contains('\0')) {
                        return Err(ServiceError::bad_input(
                            field,
                            "arguments must not contain NUL characters",
                        ));
                    }
                    Ok(Some(items.clone()))
                }
            }
        };
    let command = list("command", &settings.command)?;
    let entrypoint = list("entrypoint", &settings.entrypoint)?;
    let mut env = Vec::with_capacity(settings.env.len());
    for (i, (name, value)) in settings.env.iter().enumerate() {
        let name = name.trim();
        validate_env_name(name)
            .map_err(|e| ServiceError::bad_input(format!("env.{i}.name"), e.to_string()))?;
        if env.iter().any(|(n, _): &(String, String)| n == name) {
            return Err(ServiceError::bad_input(
                format!("env.{i}.name"),
                format!("environment variable {name} is given twice"),
            ));
        }
        if value.contains('\0') {
            return Err(ServiceError::bad_input(
                format!("env.{i}.value"),
                "value must not contain NUL characters",
            ));
        }
        env.push((name.to_owned(), value.clone()));
    }
    let mut ports: Vec<PortSpec> = Vec::with_capacity(settings.ports.len());
    for (i, p) in settings.ports.iter().enumerate() {
        let as_u32 = |field: &str, v: i64| {
            u32::try_from(v).map_err(|_| {
                ServiceError::bad_input(
                    format!("ports.{i}.{field}"),
                    format!("port {v} is out of range; use a number from 1 to 65535"),
                )
            })
        };
        let container_port = as_u32("containerPort", p.container_port)?;
        let host_port = p.host_port.map(|h| as_u32("hostPort", h)).transpose()?;
        PortSpec::validate_port(container_port).map_err(|e| {
            ServiceError::bad_input(format!("ports.{i}.containerPort"), e.to_string())
        })?;
        if let Some(h) = host_port {
            PortSpec::validate_port(h).map_err(|e| {
                ServiceError::bad_input(format!("ports.{i}.hostPort"), e.to_string())
            })?;
        }
        let spec = PortSpec::new(
            p.host_ip.as_deref().map(str::trim),
            host_port,
            container_port,
            p.protocol,
        )
        .map_err(|e| ServiceError::bad_input(format!("ports.{i}.hostIp"), e.to_string()))?;
        if let Some(h) = spec.host_port()
            && ports
                .iter()
                .any(|o| o.host_port() == Some(h) && o.protocol() == spec.protocol())
        {
            return Err(ServiceError::bad_input(
                format!("ports.{i}.hostPort"),
                format!("host port {h}/{} is mapped twice", spec.protocol()),
            ));
        }
        ports.push(spec);
    }
    let cpus = settings
        .cpus
        .map(validate_cpus)
        .transpose()
        .map_err(|e| ServiceError::bad_input("resources.cpus", e.to_string()))?;
    let memory_bytes = match settings.memory.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => {
            let bytes = parse_bytes(text)
                .map_err(|e| ServiceError::bad_input("resources.memory", e.to_string()))?;
            // Docker refuses limits under 6 MiB.
            if bytes < 6 * 1024 * 1024 {
                return Err(ServiceError::bad_input(
                    "resources.memory",
                    "memory limit must be at least 6m (Docker's minimum)",
                ));
            }
            Some(i64::try_from(bytes).map_err(|_| {
                ServiceError::bad_input("resources.memory", "memory limit is too large")
            })?)
        }
    };
    let cpu_shares = settings
        .cpu_shares
        .map(validate_cpu_shares)
        .transpose()
        .map_err(|e| ServiceError::bad_input("resources.cpuShares", e.to_string()))?;
    let replicas = validate_replicas(settings.replicas)
        .map_err(|e| ServiceError::bad_input("replicas", e.to_string()))?;
    if let Some(check) = &settings.health_check {
        validate_health_check(check).map_err(|e| {
            ServiceError::bad_input(format!("healthCheck.{}", e.field()), e.to_string())
        })?;
    }
    validate_replace_unhealthy_after(settings.replace_unhealthy_after_secs)
        .map_err(|e| ServiceError::bad_input(e.field(), e.to_string()))?;
    let max_parallel = match settings.max_parallel {
        None => DEFAULT_MAX_PARALLEL,
        Some(n) => berth_shared::validate_max_parallel(n)
            .map(|n| i32::try_from(n).unwrap_or(DEFAULT_MAX_PARALLEL))
            .map_err(|e| ServiceError::bad_input("maxParallel", e))?,
    };
    let min_healthy_secs = match settings.min_healthy_secs {
        None => DEFAULT_MIN_HEALTHY_SECS,
        Some(n) => berth_shared::validate_min_healthy_secs(n)
            .map(|n| i32::try_from(n).unwrap_or(DEFAULT_MIN_HEALTHY_SECS))
            .map_err(|e| ServiceError::bad_input("minHealthySecs", e))?,
    };
    let update_window = match settings.update_window.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(w) => {
            Some(UpdateWindow::parse(w).map_err(|e| ServiceError::bad_input("updateWindow", e))?)
        }
    };
    let mut mounts: Vec<Mount> = Vec::with_capacity(settings.mounts.len());
    for (i, m) in settings.mounts.iter().enumerate() {
        let path = m.container_path.trim();
        validate_container_path(path).map_err(|e| {
            ServiceError::bad_input(format!("mounts.{i}.containerPath"), e.to_string())
        })?;
        let path = path.trim_end_matches('/').to_owned();
        if mounts.iter().any(|o| o.container_path == path) {
            return Err(ServiceError::bad_input(
                format!("mounts.{i}.containerPath"),
                format!("{path} is mounted twice"),
            ));
        }
        mounts.push(Mount {
            disk_id: m.disk_id.trim().to_owned(),
            container_path: path,
            read_only: m.read_only,
        });
    }
    Ok(ValidDefinition {
        name,
        image,
        command,
        entrypoint,
        env,
        ports,
        cpus,
        memory_bytes,
        cpu_shares,
        restart_policy: settings.restart_policy,
        host_id: settings.host_id.clone().filter(|h| !h.is_empty()),
        replicas,
        mounts,
        health_check: settings.health_check.clone().map(|mut c| {
            if c.test.first().is_some_and(|k| k == "CMD-SHELL") {
                // One shell string: trimmed as the form shows it.
                c.test[1] = c.test[1].trim().to_owned();
            }
            c
        }),
        replace_unhealthy_after_secs: settings.replace_unhealthy_after_secs,
        max_parallel,
        min_healthy_secs,
        update_policy: settings.update_policy.unwrap_or(UpdatePolicy::Notify),
        update_window,
    })
}

struct ValidDefinition {
    name: String,
    image: String,
    command: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    env: Vec<(String, String)>,
    ports: Vec<PortSpec>,
    cpus: Option<f64>,
    memory_bytes: Option<i64>,
    cpu_shares: Option<i64>,
    restart_policy: RestartPolicy,
    host_id: Option<String>,
    replicas: i64,
    mounts: Vec<Mount>,
    health_check: Option<HealthCheck>,
    replace_unhealthy_after_secs: Option<i64>,
    max_parallel: i32,
    min_healthy_secs: i32,
    update_policy: UpdatePolicy,
    update_window: Option<UpdateWindow>,
}

impl ValidDefinition {
    fn into_row(
        self,
        id: String,
        desired: DesiredState,
        version: i32,
        created_at: DateTime<Utc>,
    ) -> Result<ContainerRow, ServiceError> {
        let encode = |v: &Option<Vec<String>>| -> Result<Option<String>, ServiceError> {
            v.as_ref()
                .map(|l| serde_json::to_string(l).map_err(json_err))
                .transpose()
        };
        Ok(ContainerRow {
            id,
            name: self.name,
            image: self.image,
            command: encode(&self.command)?,
            entrypoint: encode(&self.entrypoint)?,
            env: serde_json::to_string(&self.env).map_err(json_err)?,
            ports: serde_json::to_string(&self.ports).map_err(json_err)?,
            cpus: self.cpus,
            memory_bytes: self.memory_bytes,
            cpu_shares: self.cpu_shares,
            restart_policy: self.restart_policy.as_str().to_owned(),
            host_id: self.host_id,
            replicas: i32::try_from(self.replicas).unwrap_or(1),
            mounts: serde_json::to_string(&self.mounts).map_err(json_err)?,
            desired_state: desired.as_str().to_owned(),
            // A new definition has no instances; an update keeps the stored value (`update_if_version`).
            status_summary: summary_status(
                desired,
                usize::try_from(self.replicas).unwrap_or(0),
                &[],
            )
            .as_str()
            .to_owned(),
            adopted_docker_id: None,
            health_check: self
                .health_check
                .as_ref()
                .map(|c| serde_json::to_string(c).map_err(json_err))
                .transpose()?,
            replace_unhealthy_after_secs: self.replace_unhealthy_after_secs,
            max_parallel: self.max_parallel,
            min_healthy_secs: self.min_healthy_secs,
            rollout_state: None,
            rollout_reason: None,
            rollout_from: None,
            rollout_to: None,
            deploy_hook_hash: None,
            update_policy: self.update_policy.as_str().to_owned(),
            update_window: self.update_window.map(|w| w.to_string()),
            version,
            created_at,
            updated_at: Utc::now(),
        })
    }
}

#[derive(Clone)]
pub struct ContainerService {
    db: DatabaseConnection,
    bus: Bus,
    hosts: HostService,
    reconciler: mpsc::UnboundedSender<ReconcileCommand>,
}

/// The only writer of instance rows (status, placement, Docker id). Created once; each term of leadership hands
/// the reconciler a copy fenced with that term ([`InstanceWriter::fenced`]), which refuses to write once the term's
/// lease has ended, so a server that stopped leading never overwrites what the new leader recorded.
pub struct InstanceWriter {
    db: DatabaseConnection,
    bus: Bus,
    fence: Option<crate::cluster::Fence>,
}

impl ContainerService {
    /// The service, the single [`InstanceWriter`] and the receiving end of the reconciler's command channel.
    pub fn new(
        db: DatabaseConnection,
        bus: Bus,
        hosts: HostService,
    ) -> (
        Self,
        InstanceWriter,
        mpsc::UnboundedReceiver<ReconcileCommand>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = InstanceWriter {
            db: db.clone(),
            bus: bus.clone(),
            fence: None,
        };
        (
            Self {
                db,
                bus,
                hosts,
                reconciler: tx,
            },
            writer,
            rx,
        )
    }

    /// The label value that marks this installation's Docker containers.
    pub async fn installation_id(&self) -> Result<String, ServiceError> {
        Ok(q::installation_id(&self.db).await?)
    }

    pub async fn list(&self, filter: &ContainerFilter) -> Result<Vec<Container>, ServiceError> {
        Ok(self
            .list_with_instances(filter)
            .await?
            .into_iter()
            .map(|(c, _)| c)
            .collect())
    }

    /// The ids of the definitions with an instance on `host_id`.
    pub async fn ids_on_host(&self, host_id: &str) -> Result<Vec<String>, ServiceError> {
        Ok(q::container_ids_on_host(&self.db, host_id).await?)
    }

    /// Which of `ids` name a definition.
    pub async fn existing_ids(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashSet<String>, ServiceError> {
        Ok(q::existing_ids(&self.db, ids).await?.into_iter().collect())
    }

    /// Containers by name with their instances (two queries, whatever the number of containers).
    pub async fn list_with_instances(
        &self,
        filter: &ContainerFilter,
    ) -> Result<Vec<(Container, Vec<Instance>)>, ServiceError> {
        let rows = q::all(&self.db).await?;
        let mut by_container: std::collections::HashMap<String, Vec<Instance>> =
            std::collections::HashMap::new();
        for i in q::all_instances(&self.db).await? {
            by_container
                .entry(i.container_id.clone())
                .or_default()
                .push(to_instance(i));
        }
        let search = filter
            .search
            .as_deref()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty());
        let mut out = Vec::new();
        for row in rows {
            let c = to_container(row)?;
            let mine = by_container.remove(&c.id).unwrap_or_default();
            if let Some(s) = &search
                && !c.name.to_lowercase().contains(s)
                && !c.image.to_lowercase().contains(s)
            {
                continue;
            }
            if let Some(h) = &filter.host_id
                && c.host_id.as_ref() != Some(h)
                && !mine.iter().any(|i| i.host_id.as_ref() == Some(h))
            {
                continue;
            }
            if let Some(st) = filter.status
                && c.summary(&mine) != st
            {
                continue;
            }
            out.push((c, mine));
        }
        Ok(out)
    }

    /// One page of definitions, filtered, sorted and cut in SQL (keyset paging: the page after `after`'s row),
    /// with the instances of that page's definitions only and, when `count` asks for it, the number the filter
    /// matches (the page and the count run at once). At most three queries, whatever the number of definitions.
    pub async fn page(
        &self,
        request: &ContainerPageRequest,
    ) -> Result<ContainerPage, ServiceError> {
        let search = match request.filter.search.as_deref().map(str::trim) {
            Some(s) if s.chars().count() > MAX_SEARCH_CHARS => {
                return Err(ServiceError::bad_input(
                    "filter.search",
                    format!("search text is too long (at most {MAX_SEARCH_CHARS} characters)"),
                ));
            }
            Some(s) if !s.is_empty() => Some(s.to_lowercase()),
            _ => None,
        };
        let order = request.sort.order();
        let after = request
            .after
            .as_ref()
            .map(|m| seek_of(order, m))
            .transpose()?;
        let first = request.first.max(1);
        let query = q::ContainerPageQuery {
            search,
            host_id: request.filter.host_id.clone().filter(|h| !h.is_empty()),
            status: request.filter.status.map(|s| s.as_str().to_owned()),
            order,
            desc: request.desc,
            after,
            limit: u64::try_from(first).unwrap_or(u64::MAX).saturating_add(1),
        };
        let counting = async {
            if request.count {
                q::page_count(&self.db, &query).await.map(Some)
            } else {
                Ok(None)
            }
        };
        let (mut rows, total) = futures::try_join!(q::page(&self.db, &query), counting)?;
        let has_next = rows.len() > first;
        rows.truncate(first);
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut by_container: std::collections::HashMap<String, Vec<Instance>> =
            std::collections::HashMap::new();
        for i in q::instances_of_many(&self.db, &ids).await? {
            by_container
                .entry(i.container_id.clone())
                .or_default()
                .push(to_instance(i));
        }
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let mark = mark_of(order, &row);
            let instances = by_container.remove(&row.id).unwrap_or_default();
            items.push((to_container(row)?, instances, mark));
        }
        Ok(ContainerPage {
            items,
            total,
            has_next,
        })
    }

    /// Recomputes every stored summary that differs from its definition and instances (at start-up: a database
    /// from before the column, or written by an older version); each fix under the definition's lock. Returns how
    /// many were fixed.
    pub async fn repair_summaries(&self) -> Result<usize, ServiceError> {
        let (definitions, instances) = q::summary_inputs(&self.db).await?;
        let mut statuses: std::collections::HashMap<String, Vec<(InstanceStatus, Option<Health>)>> =
            std::collections::HashMap::new();
        for (container_id, status, health) in instances {
            statuses
                .entry(container_id)
                .or_default()
                .push((status, health));
        }
        let mut fixed = 0;
        for (id, stored, desired, replicas) in definitions {
            let expected = summary_with_health(
                desired.parse().unwrap_or(DesiredState::Stopped),
                usize::try_from(replicas).unwrap_or(0),
                statuses.get(&id).map_or(&[][..], Vec::as_slice),
            );
            if stored != expected.as_str() && q::refresh_summary(&self.db, &id, &summarize).await? {
                fixed += 1;
            }
        }
        Ok(fixed)
    }

    pub async fn get(&self, id: &str) -> Result<Option<Container>, ServiceError> {
        q::by_id(&self.db, id).await?.map(to_container).transpose()
    }

    pub async fn require(&self, id: &str) -> Result<Container, ServiceError> {
        self.get(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no container with id {id}")))
    }

    pub async fn instances(&self, container_id: &str) -> Result<Vec<Instance>, ServiceError> {
        Ok(q::instances_of(&self.db, container_id)
            .await?
            .into_iter()
            .map(to_instance)
            .collect())
    }

    pub async fn all_instances(&self) -> Result<Vec<Instance>, ServiceError> {
        Ok(q::all_instances(&self.db)
            .await?
            .into_iter()
            .map(to_instance)
            .collect())
    }

    pub async fn instance(&self, id: &str) -> Result<Option<Instance>, ServiceError> {
        Ok(q::instance(&self.db, id).await?.map(to_instance))
    }

    async fn ensure_unique_name(
        &self,
        name: &str,
        except: Option<&str>,
    ) -> Result<(), ServiceError> {
        match q::by_name(&self.db, name).await? {
            Some(other) if Some(other.id.as_str()) != except => Err(ServiceError::ConflictOn {
                field: "name".into(),
                message: format!("a container named {name} exists already"),
            }),
            _ => Ok(()),
        }
    }

    async fn check_host(&self, host_id: &Option<String>) -> Result<(), ServiceError> {
        if let Some(h) = host_id
            && self.hosts.get(h).await?.is_none()
        {
            return Err(ServiceError::bad_input(
                "hostId",
                format!("no host with id {h}"),
            ));
        }
        Ok(())
    }

    /// Checks the mounts against the disks: they exist; host-bound disks agree on one host, which a pinned host
    /// must match; a host-bound read-write disk allows one replica only.
    async fn check_mounts(
        &self,
        mounts: &[Mount],
        host_id: &Option<String>,
        replicas: i64,
    ) -> Result<(), ServiceError> {
        let mut bound: Option<(String, String)> = None;
        for (i, m) in mounts.iter().enumerate() {
            let field = format!("mounts.{i}.diskId");
            let disk = q::disk(&self.db, &m.disk_id).await?.ok_or_else(|| {
                ServiceError::bad_input(&field, format!("no disk with id {}", m.disk_id))
            })?;
            let Some(disk_host) = disk.host_id.clone() else {
                continue;
            };
            if let Some((other_host, other_disk)) = &bound
                && *other_host != disk_host
            {
                return Err(ServiceError::bad_input(
                    &field,
                    format!(
                        "disks {other_disk} and {} live on different hosts; a container runs on one",
                        disk.name
                    ),
                ));
            }
            if let Some(pinned) = host_id
                && *pinned != disk_host
            {
                return Err(ServiceError::bad_input(
                    "hostId",
                    format!(
                        "disk {} lives on another host than the one chosen",
                        disk.name
                    ),
                ));
            }
            if replicas > 1 && !m.read_only {
                return Err(ServiceError::bad_input(
                    "replicas",
                    format!(
                        "disk {} lives on one host and is mounted read-write: only one replica can use it (mount it read-only, use a path shared by every host, or run one replica)",
                        disk.name
                    ),
                ));
            }
            bound = Some((disk_host, disk.name));
        }
        Ok(())
    }

    /// The host a container must run on because of its disks, if any.
    pub async fn disk_host(&self, c: &Container) -> Result<Option<String>, ServiceError> {
        for m in &c.mounts {
            if let Some(disk) = q::disk(&self.db, &m.disk_id).await?
                && let Some(h) = disk.host_id
            {
                return Ok(Some(h));
            }
        }
        Ok(None)
    }

    /// The `-v` binds of a container's mounts.
    pub async fn binds(&self, c: &Container) -> Result<Vec<String>, ServiceError> {
        let mut out = Vec::with_capacity(c.mounts.len());
        for m in &c.mounts {
            let disk = q::disk(&self.db, &m.disk_id).await?.ok_or_else(|| {
                ServiceError::NotFound(format!("disk {} of {} no longer exists", m.disk_id, c.name))
            })?;
            out.push(crate::service::disks::to_disk(disk).bind(&m.container_path, m.read_only));
        }
        Ok(out)
    }

    /// The definitions (id, name, image) whose image is in one of these repositories, written as definitions
    /// may write them (see `RegistryService::repository_names`); read through an index range per name.
    pub async fn with_repository(
        &self,
        names: &[String],
    ) -> Result<Vec<(String, String, String)>, ServiceError> {
        Ok(q::with_repository(&self.db, names).await?)
    }

    /// Every image reference the definitions name, once each (for the background update checks).
    /// The definitions with update policy AUTO limited to a daily window (ids).
    pub async fn auto_with_window(&self) -> Result<Vec<String>, ServiceError> {
        Ok(q::auto_with_window(&self.db).await?)
    }

    pub async fn distinct_images(&self) -> Result<Vec<String>, ServiceError> {
        Ok(q::distinct_images(&self.db).await?)
    }

    /// Tells subscribers something derived from a definition changed (an image update became available or
    /// went away): they read it again.
    pub fn announce_changed(&self, container_id: &str, message: String) {
        self.bus.publish(Event::ContainerChanged {
            container_id: container_id.to_owned(),
            at: Utc::now(),
            message: Some(message),
        });
    }

    fn changed(&self, c: &Container, message: &str) {
        self.bus.publish(Event::ContainerChanged {
            container_id: c.id.clone(),
            at: Utc::now(),
            message: Some(message.to_owned()),
        });
    }

    pub async fn create(
        &self,
        actor: &User,
        settings: ContainerSettings,
    ) -> Result<Container, ServiceError> {
        self.create_adopted(actor, settings, None).await
    }

    /// Creates a definition; `adopted_from` is the Docker container it was adopted from (on its pinned host),
    /// which its first run stops and removes before starting the replacement.
    pub async fn create_adopted(
        &self,
        actor: &User,
        settings: ContainerSettings,
        adopted_from: Option<String>,
    ) -> Result<Container, ServiceError> {
        authz::require(actor, Action::EditContainers)?;
        let valid = validate(&settings)?;
        self.check_host(&valid.host_id).await?;
        self.check_mounts(&valid.mounts, &valid.host_id, valid.replicas)
            .await?;
        self.ensure_unique_name(&valid.name, None).await?;
        let now = Utc::now();
        let mut row = valid.into_row(
            uuid::Uuid::new_v4().to_string(),
            DesiredState::Stopped,
            1,
            now,
        )?;
        row.adopted_docker_id = adopted_from;
        let row = q::insert(&self.db, row).await.map_err(|e| {
            // Two creates with one name racing: the unique index decides.
            let text = e.to_string().to_lowercase();
            if text.contains("unique") || text.contains("duplicate") {
                ServiceError::ConflictOn {
                    field: "name".into(),
                    message: format!("a container named {} exists already", settings.name.trim()),
                }
            } else {
                e.into()
            }
        })?;
        let c = to_container(row)?;
        self.changed(&c, "created");
        Ok(c)
    }

    /// Saves a new definition if `version` is still current; running instances keep running and show
    /// "changed since start" until they are applied (run again).
    pub async fn update(
        &self,
        actor: &User,
        id: &str,
        version: i32,
        settings: ContainerSettings,
    ) -> Result<Container, ServiceError> {
        authz::require(actor, Action::EditContainers)?;
        let existing = self.require(id).await?;
        let valid = validate(&settings)?;
        self.check_host(&valid.host_id).await?;
        self.check_mounts(&valid.mounts, &valid.host_id, valid.replicas)
            .await?;
        self.ensure_unique_name(&valid.name, Some(id)).await?;
        let stale = || {
            ServiceError::Conflict(format!(
                "container {} was changed by someone else (you edited version {version}); reload it and apply your changes again",
                existing.name
            ))
        };
        if existing.version != version {
            return Err(stale());
        }
        let row = valid.into_row(
            id.to_owned(),
            existing.desired_state,
            version + 1,
            existing.created_at,
        )?;
        if !q::update_if_version(&self.db, row, version, &summarize).await? {
            return Err(stale());
        }
        let c = self.require(id).await?;
        self.changed(&c, EDITED);
        Ok(c)
    }

    async fn ask(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<(), ServiceError>>) -> ReconcileCommand,
    ) -> Result<(), ServiceError> {
        let (tx, rx) = oneshot::channel();
        self.reconciler
            .send(make(tx))
            .map_err(|_| ServiceError::Unavailable("the reconciler is not running".into()))?;
        rx.await
            .map_err(|_| ServiceError::Unavailable("the reconciler stopped".into()))?
    }

    /// Places every replica (answers once placed; pulling, creating and starting follow on `containerStatus`).
    /// Running it again recreates instances whose definition changed since they started.
    pub async fn run(
        &self,
        actor: &User,
        id: &str,
        host_id: Option<String>,
    ) -> Result<Container, ServiceError> {
        authz::require(actor, Action::RunContainers)?;
        self.require(id).await?;
        let host_id = host_id.filter(|h| !h.is_empty());
        if let Some(h) = &host_id
            && self.hosts.get(h).await?.is_none()
        {
            return Err(ServiceError::bad_input(
                "hostId",
                format!("no host with id {h}"),
            ));
        }
        self.ask(|reply| ReconcileCommand::Run {
            container_id: id.to_owned(),
            host_id,
            reply,
        })
        .await?;
        self.require(id).await
    }

    /// Sets the number of replicas; when the container runs, replicas are started or (highest index first)
    /// stopped and removed to match. Calls on one container are carried out one after another, in order.
    pub async fn scale(
        &self,
        actor: &User,
        id: &str,
        replicas: i64,
    ) -> Result<Container, ServiceError> {
        authz::require(actor, Action::RunContainers)?;
        let c = self.require(id).await?;
        validate_replicas(replicas)
            .map_err(|e| ServiceError::bad_input("replicas", e.to_string()))?;
        self.check_mounts(&c.mounts, &c.host_id, replicas).await?;
        let replicas = i32::try_from(replicas).unwrap_or(1);
        self.ask(|reply| ReconcileCommand::Scale {
            container_id: id.to_owned(),
            replicas,
            reply,
        })
        .await?;
        self.require(id).await
    }

    /// Pulls the image (when `pull`) on the hosts of the running replicas and rolls them to its current digest
    /// as a new revision, `maxParallel` at a time, each healthy before the next; a replica that fails rolls the
    /// replaced ones back. Answers once the rollout started (or at once when every replica already runs that
    /// digest); progress is on `containerStatus`.
    pub async fn redeploy(
        &self,
        actor: &User,
        id: &str,
        pull: bool,
    ) -> Result<Container, ServiceError> {
        authz::require(actor, Action::RunContainers)?;
        self.require(id).await?;
        self.ask(|reply| ReconcileCommand::Redeploy {
            container_id: id.to_owned(),
            pull,
            by: actor.username.clone(),
            reply,
        })
        .await?;
        self.require(id).await
    }

    /// Rolls the replicas back to an earlier revision, the same way as a redeploy. A revision of another
    /// definition version, or whose image no host has and no registry gives, is refused before anything stops.
    pub async fn rollback(
        &self,
        actor: &User,
        id: &str,
        revision: i32,
    ) -> Result<Container, ServiceError> {
        authz::require(actor, Action::RunContainers)?;
        self.require(id).await?;
        self.ask(|reply| ReconcileCommand::Rollback {
            container_id: id.to_owned(),
            revision,
            reply,
        })
        .await?;
        self.require(id).await
    }

    /// Creates (or replaces) the container's deploy hook: answers the token, shown once; only its hash is kept.
    /// `POST /hooks/deploy/{token}` then redeploys the container with a pull.
    pub async fn create_deploy_hook(&self, actor: &User, id: &str) -> Result<String, ServiceError> {
        authz::require(actor, Action::RunContainers)?;
        self.require(id).await?;
        let token = crate::service::auth::new_secret();
        q::set_deploy_hook_hash(&self.db, id, Some(deploy_hook_hash(&token))).await?;
        Ok(token)
    }

    /// Revokes the container's deploy hook (its URL answers 404 from now on).
    pub async fn revoke_deploy_hook(
        &self,
        actor: &User,
        id: &str,
    ) -> Result<Container, ServiceError> {
        authz::require(actor, Action::RunContainers)?;
        self.require(id).await?;
        q::set_deploy_hook_hash(&self.db, id, None).await?;
        self.require(id).await
    }

    /// A deploy hook was called with `token`: the container it belongs to is redeployed with a pull (as Berth,
    /// recorded as "deploy hook" on the revision). `Ok(None)` when no container has that token.
    pub async fn deploy_hook(&self, token: &str) -> Result<Option<Container>, ServiceError> {
        let Some(row) = q::by_deploy_hook_hash(&self.db, &deploy_hook_hash(token.trim())).await?
        else {
            return Ok(None);
        };
        let id = row.id.clone();
        self.ask(|reply| ReconcileCommand::Redeploy {
            container_id: id.clone(),
            pull: true,
            by: "deploy hook".to_owned(),
            reply,
        })
        .await?;
        self.require(&id).await.map(Some)
    }

    /// The container's revisions, newest first (the last 50).
    pub async fn revisions(&self, id: &str) -> Result<Vec<Revision>, ServiceError> {
        Ok(q::revisions(&self.db, id, 50)
            .await?
            .into_iter()
            .map(to_revision)
            .collect())
    }

    /// One revision by number.
    pub async fn revision(&self, id: &str, number: i32) -> Result<Option<Revision>, ServiceError> {
        Ok(q::revision(&self.db, id, number).await?.map(to_revision))
    }

    /// The newest revision.
    pub async fn latest_revision(&self, id: &str) -> Result<Option<Revision>, ServiceError> {
        Ok(q::revisions(&self.db, id, 1)
            .await?
            .into_iter()
            .next()
            .map(to_revision))
    }

    /// Records a new revision (numbered after the newest); used by the reconciler.
    pub async fn record_revision(
        &self,
        container: &Container,
        image_digest: Option<String>,
        by: Option<String>,
    ) -> Result<Revision, ServiceError> {
        let row = q::insert_revision(
            &self.db,
            RevisionRow {
                id: uuid::Uuid::new_v4().to_string(),
                container_id: container.id.clone(),
                number: 0,
                version: container.version,
                image: container.image.clone(),
                image_digest,
                created_at: Utc::now(),
                created_by: by,
            },
        )
        .await?;
        Ok(to_revision(row))
    }

    /// Records where a rollout stands and tells subscribers (`None` clears it); used by the reconciler.
    pub async fn set_rollout(
        &self,
        container_id: &str,
        rollout: Option<&Rollout>,
    ) -> Result<(), ServiceError> {
        q::set_rollout(
            &self.db,
            container_id,
            rollout.map(|r| {
                (
                    r.state.as_str().to_owned(),
                    r.reason.clone(),
                    r.from_revision,
                    r.to_revision,
                )
            }),
        )
        .await?;
        let message = rollout.map(|r| match (&r.reason, r.state) {
            (Some(reason), _) => format!(
                "rollout {} → {}: {}: {reason}",
                r.from_revision,
                r.to_revision,
                r.state.label().to_lowercase()
            ),
            (None, _) => format!(
                "rollout {} → {}: {}",
                r.from_revision,
                r.to_revision,
                r.state.label().to_lowercase()
            ),
        });
        self.bus.publish(Event::ContainerChanged {
            container_id: container_id.to_owned(),
            at: Utc::now(),
            message,
        });
        Ok(())
    }

    /// Records a new replica count (the version moves on); used by the reconciler while it scales.
    pub async fn set_replicas(&self, id: &str, replicas: i32) -> Result<(), ServiceError> {
        q::set_replicas(&self.db, id, replicas, Utc::now(), &summarize).await?;
        Ok(())
    }

    pub async fn stop(&self, actor: &User, id: &str) -> Result<Container, ServiceError> {
        authz::require(actor, Action::RunContainers)?;
        self.require(id).await?;
        self.ask(|reply| ReconcileCommand::Stop {
            container_id: id.to_owned(),
            reply,
        })
        .await?;
        self.require(id).await
    }

    pub async fn restart(&self, actor: &User, id: &str) -> Result<Container, ServiceError> {
        authz::require(actor, Action::RunContainers)?;
        self.require(id).await?;
        self.ask(|reply| ReconcileCommand::Restart {
            container_id: id.to_owned(),
            reply,
        })
        .await?;
        self.require(id).await
    }

    pub async fn kill(&self, actor: &User, id: &str) -> Result<Container, ServiceError> {
        authz::require(actor, Action::RunContainers)?;
        self.require(id).await?;
        self.ask(|reply| ReconcileCommand::Kill {
            container_id: id.to_owned(),
            reply,
        })
        .await?;
        self.require(id).await
    }

    /// Deletes a container that runs nowhere, with its Docker containers.
    pub async fn delete(&self, actor: &User, id: &str) -> Result<(), ServiceError> {
        authz::require(actor, Action::EditContainers)?;
        self.require(id).await?;
        self.ask(|reply| ReconcileCommand::Delete {
            container_id: id.to_owned(),
            reply,
        })
        .await
    }

    /// Announces (for the audit log) that the reconciler replaced or moved replicas on its own.
    pub fn announce_reschedule(&self, container_id: &str, detail: String) {
        self.bus.publish(Event::Reschedule {
            container_id: container_id.to_owned(),
            detail,
        });
    }

    /// Tells whoever watches (alerts) that no host could take replicas of a container.
    pub fn announce_unplaceable(&self, container_id: &str, name: &str, reason: String) {
        self.bus.publish(Event::Unplaceable {
            container_id: container_id.to_owned(),
            name: name.to_owned(),
            reason,
        });
    }

    /// Tells whoever watches (alerts) that replicas of a container were placed.
    pub fn announce_placed(&self, container_id: &str, name: &str) {
        self.bus.publish(Event::Placed {
            container_id: container_id.to_owned(),
            name: name.to_owned(),
        });
    }

    /// Sets what the user asked for (run or stop); used by the reconciler while it handles the request.
    pub async fn set_desired_state(
        &self,
        id: &str,
        state: DesiredState,
    ) -> Result<(), ServiceError> {
        q::set_desired_state(&self.db, id, state.as_str(), Utc::now(), &summarize).await?;
        Ok(())
    }

    /// Forgets the Docker container a definition was adopted from, once it is removed (the reconciler, before
    /// the first replacement starts); a no-op when another one is recorded by now.
    pub async fn clear_adopted(&self, id: &str, docker_id: &str) -> Result<(), ServiceError> {
        crate::db::adoption::clear_adopted_docker_id(&self.db, id, docker_id).await?;
        Ok(())
    }

    /// Removes the definition (its instances must be gone already); used by the reconciler.
    pub async fn delete_definition(&self, id: &str) -> Result<(), ServiceError> {
        q::delete(&self.db, id).await?;
        Ok(())
    }
}

impl InstanceWriter {
    /// The writer for one term of leadership.
    pub fn fenced(&self, fence: crate::cluster::Fence) -> InstanceWriter {
        InstanceWriter {
            db: self.db.clone(),
            bus: self.bus.clone(),
            fence: Some(fence),
        }
    }

    fn may_write(&self) -> Result<(), ServiceError> {
        match &self.fence {
            Some(f) => f.check().map_err(ServiceError::Unavailable),
            None => Ok(()),
        }
    }

    /// Saves an instance and publishes `containerStatus` when its status changed (or when `message` says
    /// something new, e.g. a health check result).
    pub async fn save(
        &self,
        mut instance: Instance,
        previous: Option<InstanceStatus>,
        message: Option<String>,
    ) -> Result<Instance, ServiceError> {
        self.may_write()?;
        instance.updated_at = Utc::now();
        if instance.status != InstanceStatus::Running {
            // Health is known only while it runs (the last probe's output stays, to say why it went).
            instance.health = None;
            instance.unhealthy_since = None;
        }
        let publish = previous != Some(instance.status) || message.is_some();
        // The definition's summary is recomputed in the same transaction whenever the stored status changes.
        let read = q::save_instance(
            &self.db,
            to_instance_row(instance.clone()),
            publish,
            &summarize,
        )
        .await?;
        if publish {
            let snapshot = match read {
                Some((row, instances)) => Some(std::sync::Arc::new(StatusSnapshot {
                    container: to_container(row)?,
                    instances: instances.into_iter().map(to_instance).collect(),
                })),
                None => None,
            };
            self.bus.publish(Event::ContainerStatus {
                container_id: instance.container_id.clone(),
                instance_id: Some(instance.id.clone()),
                status: instance.status,
                previous,
                at: instance.updated_at,
                message: message.or_else(|| instance.error.clone()),
                snapshot,
            });
        }
        Ok(instance)
    }

    /// Forgets an instance; its definition's summary is recomputed in the same transaction.
    pub async fn delete(&self, instance_id: &str) -> Result<(), ServiceError> {
        self.may_write()?;
        q::delete_instance(&self.db, instance_id, &summarize).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_shared::Protocol;

    #[test]
    fn an_update_is_available_when_an_active_replica_runs_another_digest() {
        let replica = |status: InstanceStatus, digest: Option<&str>| Instance {
            id: "i".into(),
            container_id: "c".into(),
            replica: 0,
            host_id: None,
            docker_id: None,
            status,
            exit_code: None,
            error: None,
            definition_version: 1,
            attempts: 0,
            next_attempt_at: None,
            started_at: None,
            finished_at: None,
            updated_at: Utc::now(),
            health: None,
            health_output: None,
            unhealthy_since: None,
            image_digest: digest.map(str::to_owned),
            revision: None,
        };
        let latest = "sha256:new";
        assert!(!update_available(latest, &[]));
        assert!(!update_available(
            latest,
            &[replica(InstanceStatus::Running, Some(latest))]
        ));
        assert!(update_available(
            latest,
            &[
                replica(InstanceStatus::Running, Some(latest)),
                replica(InstanceStatus::Running, Some("sha256:old"))
            ]
        ));
        // Unknown digests and replicas that do not run count as up to date.
        assert!(!update_available(
            latest,
            &[replica(InstanceStatus::Running, None)]
        ));
        assert!(!update_available(
            latest,
            &[replica(InstanceStatus::Stopped, Some("sha256:old"))]
        ));
    }

    fn settings() -> ContainerSettings {
        ContainerSettings {
            name: "web".into(),
            image: "nginx:1.27".into(),
            command: None,
            entrypoint: None,
            env: vec![("A".into(), "1".into())],
            ports: vec![PortInput {
                container_port: 80,
                host_port: Some(8080),
                host_ip: None,
                protocol: Protocol::Tcp,
            }],
            cpus: Some(0.5),
            memory: Some("64m".into()),
            cpu_shares: None,
            restart_policy: RestartPolicy::No,
            host_id: None,
            replicas: 1,
            mounts: Vec::new(),
            health_check: None,
            replace_unhealthy_after_secs: None,
            max_parallel: None,
            min_healthy_secs: None,
            update_policy: None,
            update_window: None,
        }
    }

    fn field_of(e: ServiceError) -> String {
        match e {
            ServiceError::BadInput { field, .. } => field,
            other => panic!("expected bad input, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_definition_is_normalised() {
        let v = validate(&settings()).unwrap();
        assert_eq!(v.image, "docker.io/library/nginx:1.27");
        assert_eq!(v.memory_bytes, Some(64 * 1024 * 1024));
        assert_eq!(v.ports[0].docker_key(), "80/tcp");
    }

    /// A container service on a fresh SQLite file, or on a fresh PostgreSQL database of the server at
    /// `BERTH_TEST_POSTGRES` (e.g. `postgres://postgres@127.0.0.1:5432`); the folder is removed by the caller.
    async fn service_on_sqlite() -> (ContainerService, InstanceWriter, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("berth-unit-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = match std::env::var("BERTH_TEST_POSTGRES") {
            Ok(server) => {
                use sea_orm::ConnectionTrait as _;
                let name = format!("berth_unit_{}", uuid::Uuid::new_v4().simple());
                let admin = sea_orm::Database::connect(format!("{server}/postgres"))
                    .await
                    .unwrap();
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                format!("{server}/{name}")
            }
            Err(_) => format!("sqlite://{}?mode=rwc", dir.join("berth.db").display()),
        };
        let db = crate::db::connect(&url).await.unwrap();
        let (svc, writer) = service_on(db, &dir);
        (svc, writer, dir)
    }

    /// A container service on `db`, its secrets in `dir`.
    fn service_on(
        db: DatabaseConnection,
        dir: &std::path::Path,
    ) -> (ContainerService, InstanceWriter) {
        let bus = Bus::new();
        let secrets = crate::secrets::SecretBox::load(dir, None).unwrap();
        let (monitors, _) = mpsc::unbounded_channel();
        let hosts = HostService::new(db.clone(), secrets, bus.clone(), monitors);
        let (svc, writer, _) = ContainerService::new(db, bus, hosts);
        (svc, writer)
    }

    fn named(name: &str, image: &str) -> ContainerSettings {
        ContainerSettings {
            name: name.into(),
            image: image.into(),
            ports: Vec::new(),
            ..settings()
        }
    }

    fn record(c: &Container, replica: i32, status: InstanceStatus) -> Instance {
        Instance {
            id: uuid::Uuid::new_v4().to_string(),
            container_id: c.id.clone(),
            replica,
            host_id: None,
            docker_id: None,
            status,
            exit_code: None,
            error: None,
            definition_version: c.version,
            attempts: 0,
            next_attempt_at: None,
            started_at: None,
            finished_at: None,
            updated_at: Utc::now(),
            health: None,
            health_output: None,
            unhealthy_since: None,
            image_digest: None,
            revision: None,
        }
    }

    /// The stored summary equals the one computed from the definition and its instances.
    async fn assert_summary(svc: &ContainerService, id: &str, expected: InstanceStatus) {
        let row = q::by_id(&svc.db, id).await.unwrap().unwrap();
        let c = svc.require(id).await.unwrap();
        let computed = c.summary(&svc.instances(id).await.unwrap());
        assert_eq!(computed, expected, "computed summary");
        assert_eq!(row.status_summary, expected.as_str(), "stored summary");
    }

    #[tokio::test]
    async fn status_summary_follows_every_write() {
        let (svc, writer, dir) = service_on_sqlite().await;
        let admin = authz::system();
        let c = svc.create(&admin, named("one", "busybox")).await.unwrap();
        assert_summary(&svc, &c.id, InstanceStatus::Stopped).await;
        svc.set_desired_state(&c.id, DesiredState::Running)
            .await
            .unwrap();
        assert_summary(&svc, &c.id, InstanceStatus::Pending).await;
        let mut i = record(&c, 0, InstanceStatus::Pending);
        i = writer.save(i, None, None).await.unwrap();
        assert_summary(&svc, &c.id, InstanceStatus::Pending).await;
        i.status = InstanceStatus::Running;
        i = writer
            .save(i, Some(InstanceStatus::Pending), None)
            .await
            .unwrap();
        assert_summary(&svc, &c.id, InstanceStatus::Running).await;
        // A caller that names a wrong previous status does not leave the summary stale.
        i.status = InstanceStatus::Failed;
        i = writer
            .save(i, Some(InstanceStatus::Failed), None)
            .await
            .unwrap();
        assert_summary(&svc, &c.id, InstanceStatus::Failed).await;
        i.status = InstanceStatus::Running;
        i = writer.save(i, None, None).await.unwrap();
        svc.set_replicas(&c.id, 2).await.unwrap();
        let mut second = record(
            &svc.require(&c.id).await.unwrap(),
            1,
            InstanceStatus::Pulling,
        );
        second = writer.save(second, None, None).await.unwrap();
        assert_summary(&svc, &c.id, InstanceStatus::Pulling).await;
        // An edit recomputes the summary for the new replica count (one of one runs).
        let edited = svc
            .update(
                &admin,
                &c.id,
                svc.require(&c.id).await.unwrap().version,
                ContainerSettings {
                    replicas: 1,
                    ..named("one", "busybox:1.36")
                },
            )
            .await
            .unwrap();
        assert_eq!(edited.replicas, 1);
        assert_summary(&svc, &c.id, InstanceStatus::Running).await;
        writer.delete(&second.id).await.unwrap();
        assert_summary(&svc, &c.id, InstanceStatus::Running).await;
        // Stop: desired STOPPED with the replica still running, then stopped.
        svc.set_desired_state(&c.id, DesiredState::Stopped)
            .await
            .unwrap();
        assert_summary(&svc, &c.id, InstanceStatus::Running).await;
        i.status = InstanceStatus::Stopped;
        let i = writer
            .save(i, Some(InstanceStatus::Running), None)
            .await
            .unwrap();
        assert_summary(&svc, &c.id, InstanceStatus::Stopped).await;
        writer.delete(&i.id).await.unwrap();
        assert_summary(&svc, &c.id, InstanceStatus::Stopped).await;
        // A stale value (a database from before the column) is repaired at start-up.
        svc.set_desired_state(&c.id, DesiredState::Running)
            .await
            .unwrap();
        crate::db::containers::set_summary_for_tests(&svc.db, &c.id, "STOPPED").await;
        assert_eq!(svc.repair_summaries().await.unwrap(), 1);
        assert_summary(&svc, &c.id, InstanceStatus::Pending).await;
        assert_eq!(svc.repair_summaries().await.unwrap(), 0);
        svc.db.clone().close().await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A write transaction waits for another connection's write (the busy timeout) instead of failing with
    /// "database is locked": deleting a definition on fresh connections (whose first statement opens the
    /// search index, a read) while another connection holds the write lock.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_waits_for_another_writer() {
        use sea_orm::ConnectionTrait as _;
        let dir = std::env::temp_dir().join(format!("berth-unit-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("berth.db").display());
        let db = crate::db::connect(&url).await.unwrap();
        let (svc, _writer) = service_on(db.clone(), &dir);
        let admin = authz::system();
        let mut ids = Vec::new();
        for n in 0..4 {
            ids.push(
                svc.create(&admin, named(&format!("gone{n}"), "busybox"))
                    .await
                    .unwrap()
                    .id,
            );
        }
        // A second process's worth of connections, none of which has touched the search index yet.
        let other = crate::db::connect(&url).await.unwrap();
        for (round, id) in ids.iter().enumerate() {
            let holder = crate::db::begin_write(&db).await.unwrap();
            holder
                .execute_unprepared("UPDATE containers SET status_summary = status_summary")
                .await
                .unwrap();
            let (started_tx, started_rx) = tokio::sync::oneshot::channel();
            let deleting = {
                let other = other.clone();
                let id = id.clone();
                tokio::spawn(async move {
                    let _ = started_tx.send(());
                    q::delete(&other, &id).await
                })
            };
            started_rx.await.unwrap();
            // Hold the write lock while the delete runs into it.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            holder.commit().await.unwrap();
            assert_eq!(deleting.await.unwrap(), Ok(true), "round {round}");
        }
        other.close().await.unwrap();
        db.close().await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// `container_hosts` (SQLite) follows every write of definitions and instances, and a host's page in name
    /// order reads it through its index, in order, without sorting.
    #[tokio::test]
    async fn the_host_table_follows_every_write() {
        use sea_orm::ConnectionTrait as _;
        if std::env::var_os("BERTH_TEST_POSTGRES").is_some() {
            return; // SQLite's table; PostgreSQL has none.
        }
        let (svc, writer, dir) = service_on_sqlite().await;
        let db = svc.db.clone();
        let check = |step: &'static str| {
            let db = db.clone();
            async move {
                let (stored, expected) = q::container_hosts_for_tests(&db).await;
                assert_eq!(stored, expected, "after {step}");
                stored
            }
        };
        let set = |sql: String| {
            let db = db.clone();
            async move {
                db.execute_unprepared(&sql).await.unwrap();
            }
        };
        let admin = authz::system();
        let a = svc.create(&admin, named("alpha", "busybox")).await.unwrap();
        let b = svc.create(&admin, named("bravo", "busybox")).await.unwrap();
        let c = svc
            .create(&admin, named("charlie", "busybox"))
            .await
            .unwrap();
        set(format!(
            "UPDATE containers SET host_id = 'h1' WHERE id = '{}'",
            a.id
        ))
        .await;
        assert_eq!(check("pinning alpha").await.len(), 1);
        let on = |c: &Container, replica: i32, host: &str| {
            let mut i = record(c, replica, InstanceStatus::Running);
            i.host_id = Some(host.into());
            i
        };
        writer.save(on(&a, 0, "h1"), None, None).await.unwrap();
        let a1 = writer.save(on(&a, 1, "h3"), None, None).await.unwrap();
        writer.save(on(&b, 0, "h2"), None, None).await.unwrap();
        let mut b1 = writer.save(on(&b, 1, "h2"), None, None).await.unwrap();
        let stored = check("instances").await;
        assert!(
            stored.contains(&("h1".into(), a.id.clone(), "alpha".into(), 2)),
            "{stored:?}"
        );
        assert!(
            stored.contains(&("h2".into(), b.id.clone(), "bravo".into(), 2)),
            "{stored:?}"
        );
        // Saving an instance unchanged, then moving it.
        b1 = writer
            .save(b1, Some(InstanceStatus::Running), None)
            .await
            .unwrap();
        check("an unchanged save").await;
        b1.host_id = Some("h3".into());
        writer
            .save(b1, Some(InstanceStatus::Running), None)
            .await
            .unwrap();
        check("moving bravo's second replica").await;
        set(format!(
            "UPDATE containers SET name = 'alpha2' WHERE id = '{}'",
            a.id
        ))
        .await;
        check("a rename").await;
        set(format!(
            "UPDATE containers SET host_id = 'h3' WHERE id = '{}'",
            c.id
        ))
        .await;
        set(format!(
            "UPDATE containers SET host_id = NULL WHERE id = '{}'",
            a.id
        ))
        .await;
        check("re-pinning").await;
        writer.delete(&a1.id).await.unwrap();
        check("deleting an instance").await;
        q::delete(&db, &b.id).await.unwrap();
        let stored = check("deleting a definition").await;
        assert!(stored.iter().all(|(_, id, _, _)| *id != b.id), "{stored:?}");

        // h3 now holds charlie (pinned) only; a page of it comes through the index, in its order.
        let request = ContainerPageRequest {
            first: 10,
            filter: ContainerFilter {
                host_id: Some("h3".into()),
                ..Default::default()
            },
            count: true,
            ..Default::default()
        };
        let page = svc.page(&request).await.unwrap();
        let names: Vec<&str> = page.items.iter().map(|(c, _, _)| c.name.as_str()).collect();
        assert_eq!((names, page.total), (vec!["charlie"], Some(1)));
        let plan = q::plan_for_tests(
            &db,
            &q::page_sql_for_tests(&q::ContainerPageQuery {
                search: None,
                host_id: Some("h3".into()),
                status: None,
                order: q::ContainerOrder::Name,
                desc: false,
                after: None,
                limit: 51,
            }),
        )
        .await;
        assert!(
            plan.iter().any(|l| l.contains("ix_container_hosts_name"))
                && !plan.iter().any(|l| l.contains("TEMP B-TREE")),
            "{plan:?}"
        );
        svc.db.clone().close().await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Every page of `request` in turn.
    async fn all_pages(
        svc: &ContainerService,
        mut request: ContainerPageRequest,
    ) -> Vec<(String, u64)> {
        let mut seen = Vec::new();
        loop {
            request.count = true;
            let page = svc.page(&request).await.unwrap();
            let last = page.items.last().map(|(_, _, m)| m.clone());
            let total = page.total.unwrap();
            seen.extend(page.items.into_iter().map(|(c, _, _)| (c.name, total)));
            match (page.has_next, last) {
                (true, Some(mark)) => request.after = Some(mark),
                _ => return seen,
            }
        }
    }

    #[tokio::test]
    async fn the_list_filters_sorts_and_pages_in_sql() {
        let (svc, writer, dir) = service_on_sqlite().await;
        let admin = authz::system();
        let mut created = Vec::new();
        for n in 0..40 {
            let image = ["busybox", "nginx:1.27", "redis"][n % 3];
            created.push(
                svc.create(&admin, named(&format!("c{:02}", (n * 7) % 40), image))
                    .await
                    .unwrap(),
            );
        }
        // LIKE wildcards in the search are literal: "d_x" finds odd_x, not oddax.
        svc.create(&admin, named("odd_x", "busybox")).await.unwrap();
        svc.create(&admin, named("oddax", "busybox")).await.unwrap();
        let running = &created[5];
        svc.set_desired_state(&running.id, DesiredState::Running)
            .await
            .unwrap();
        let mut i = record(running, 0, InstanceStatus::Running);
        i.host_id = Some("h2".into());
        writer.save(i, None, None).await.unwrap();

        let mut names: Vec<String> = created.iter().map(|c| c.name.clone()).collect();
        names.push("odd_x".into());
        names.push("oddax".into());
        names.sort();
        for first in [1, 7, 40, 500] {
            let seen = all_pages(
                &svc,
                ContainerPageRequest {
                    first,
                    ..Default::default()
                },
            )
            .await;
            assert_eq!(
                seen.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
                names,
                "NAME ASC by {first}"
            );
            assert!(seen.iter().all(|(_, t)| *t == 42));
        }
        let mut desc = names.clone();
        desc.reverse();
        let seen = all_pages(
            &svc,
            ContainerPageRequest {
                first: 6,
                desc: true,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            seen.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
            desc
        );
        for sort in [
            ContainerSortKey::Image,
            ContainerSortKey::Status,
            ContainerSortKey::Created,
        ] {
            for desc in [false, true] {
                let seen = all_pages(
                    &svc,
                    ContainerPageRequest {
                        first: 4,
                        sort,
                        desc,
                        ..Default::default()
                    },
                )
                .await;
                let mut unique: Vec<String> = seen.iter().map(|(n, _)| n.clone()).collect();
                assert_eq!(unique.len(), 42, "{sort:?} {desc}");
                unique.sort();
                unique.dedup();
                assert_eq!(unique, names, "{sort:?} {desc}: each once");
                if sort == ContainerSortKey::Status {
                    // RUNNING sorts before STOPPED.
                    let edge = if desc { seen.last() } else { seen.first() };
                    assert_eq!(edge.map(|(n, _)| n.as_str()), Some(running.name.as_str()));
                }
            }
        }
        let filtered = |filter: ContainerFilter| {
            let svc = svc.clone();
            async move {
                all_pages(
                    &svc,
                    ContainerPageRequest {
                        filter,
                        first: 5,
                        ..Default::default()
                    },
                )
                .await
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>()
            }
        };
        let redis = filtered(ContainerFilter {
            search: Some(" REDIS ".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(redis.len(), 13);
        assert_eq!(
            filtered(ContainerFilter {
                search: Some("D_X".into()),
                ..Default::default()
            })
            .await,
            vec!["odd_x".to_string()]
        );
        assert!(
            filtered(ContainerFilter {
                search: Some("%".into()),
                ..Default::default()
            })
            .await
            .is_empty()
        );
        // Three characters and more go through the trigram index, which follows renames and deletions; a quote
        // is text like any other.
        let search = |text: &str| {
            filtered(ContainerFilter {
                search: Some(text.into()),
                ..Default::default()
            })
        };
        assert_eq!(search("ODD").await, vec!["odd_x", "oddax"]);
        assert!(search("a\"b").await.is_empty());
        let find = |name: &str| {
            let svc = svc.clone();
            let name = name.to_owned();
            async move {
                let page = svc
                    .page(&ContainerPageRequest {
                        filter: ContainerFilter {
                            search: Some(name),
                            ..Default::default()
                        },
                        first: 1,
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                page.items[0].0.clone()
            }
        };
        let oddax = find("oddax").await;
        svc.update(&admin, &oddax.id, oddax.version, named("evenax", "busybox"))
            .await
            .unwrap();
        assert_eq!(search("odd").await, vec!["odd_x"]);
        assert_eq!(search("venA").await, vec!["evenax"]);
        let odd_x = find("odd_x").await;
        svc.delete_definition(&odd_x.id).await.unwrap();
        assert!(search("odd").await.is_empty());
        assert_eq!(
            filtered(ContainerFilter {
                status: Some(InstanceStatus::Running),
                ..Default::default()
            })
            .await,
            vec![running.name.clone()]
        );
        assert_eq!(
            filtered(ContainerFilter {
                host_id: Some("h2".into()),
                ..Default::default()
            })
            .await,
            vec![running.name.clone()]
        );
        let too_long = svc
            .page(&ContainerPageRequest {
                filter: ContainerFilter {
                    search: Some("x".repeat(201)),
                    ..Default::default()
                },
                first: 5,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(field_of(too_long), "filter.search");
        for values in [vec![], vec!["a".to_string(), "b".to_string()]] {
            let junk = svc
                .page(&ContainerPageRequest {
                    first: 5,
                    after: Some(PageMark {
                        values,
                        id: "x".into(),
                    }),
                    ..Default::default()
                })
                .await
                .unwrap_err();
            assert_eq!(field_of(junk), "after");
        }
        let not_a_time = svc
            .page(&ContainerPageRequest {
                first: 5,
                sort: ContainerSortKey::Created,
                after: Some(PageMark {
                    values: vec!["yesterday".into()],
                    id: "x".into(),
                }),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(field_of(not_a_time), "after");
        svc.db.clone().close().await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_fields_are_named() {
        let mut s = settings();
        s.ports[0].host_port = Some(70000);
        assert_eq!(field_of(validate(&s).err().unwrap()), "ports.0.hostPort");
        let mut s = settings();
        s.memory = Some("lots".into());
        assert_eq!(field_of(validate(&s).err().unwrap()), "resources.memory");
        let mut s = settings();
        s.image = "Bad Image".into();
        assert_eq!(field_of(validate(&s).err().unwrap()), "image");
        let mut s = settings();
        s.cpus = Some(0.0);
        assert_eq!(field_of(validate(&s).err().unwrap()), "resources.cpus");
        let mut s = settings();
        s.env.push(("1X".into(), "v".into()));
        assert_eq!(field_of(validate(&s).err().unwrap()), "env.1.name");
        let mut s = settings();
        s.name = "no spaces".into();
        assert_eq!(field_of(validate(&s).err().unwrap()), "name");
        let check = |test: &[&str], interval: Option<i64>, retries: Option<i64>| HealthCheck {
            test: test.iter().map(|t| (*t).to_owned()).collect(),
            interval_secs: interval,
            retries,
            ..Default::default()
        };
        for (health, field) in [
            (
                check(&["CMD-SHELL", "true"], Some(0), None),
                "healthCheck.intervalSecs",
            ),
            (
                check(&["CMD-SHELL", "true"], None, Some(-1)),
                "healthCheck.retries",
            ),
            (check(&["BOGUS"], Some(1), None), "healthCheck.test"),
            (check(&[], None, None), "healthCheck.test"),
            (check(&["NONE", "x"], None, None), "healthCheck.test"),
        ] {
            let mut s = settings();
            s.health_check = Some(health);
            assert_eq!(field_of(validate(&s).err().unwrap()), field);
        }
        let mut s = settings();
        s.replace_unhealthy_after_secs = Some(0);
        assert_eq!(
            field_of(validate(&s).err().unwrap()),
            "replaceUnhealthyAfterSecs"
        );
        let mut s = settings();
        s.health_check = Some(check(&["CMD-SHELL", " test -f /tmp/ok "], Some(1), Some(2)));
        let v = validate(&s).unwrap();
        assert_eq!(v.health_check.unwrap().test[1], "test -f /tmp/ok");
    }
}
