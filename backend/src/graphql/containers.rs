//! Containers: definitions (list, create, edit, delete), run/stop/restart/kill, live status and logs.

use super::disks::Disk;
use super::error::{ApiError, ApiResult};
use super::hosts::Host;
use super::paging::{KeysetCursor, PageInfo, SortDirection, count, page_size};
use super::scalars::Bytes;
use super::{authorized_services, require_user, services};
use crate::bus::Event;
use crate::service::containers::{self as svc, ContainerSettings, PortInput};
use async_graphql::{
    ComplexObject, Context, Enum, ID, InputObject, Object, SimpleObject, Subscription,
};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use std::sync::{Arc, Weak};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "berth_shared::InstanceStatus")]
pub enum InstanceStatus {
    Pending,
    Pulling,
    Creating,
    Running,
    Stopping,
    Stopped,
    Exited,
    Failed,
    Unknown,
    /// A container's summary only: every desired replica runs, and a running replica's health check says
    /// unhealthy.
    Unhealthy,
}

/// Where a rolling update stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "berth_shared::RolloutState")]
pub enum RolloutState {
    /// Replicas are being replaced, one batch at a time.
    Rolling,
    /// Every replica runs the new revision.
    Succeeded,
    /// A new replica failed its health gate: the replicas went (or are going) back to the revision before.
    RolledBack,
    /// Rolling back failed too; the reason says where it stopped.
    Failed,
}

/// What Berth does when the registry has a newer image for a definition's tag.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "berth_shared::UpdatePolicy")]
pub enum UpdatePolicy {
    /// Nothing: `updateAvailable` stays false and no UPDATE_AVAILABLE alert opens.
    Off,
    /// `updateAvailable` (the Update tag) and, when a rule asks for it, an UPDATE_AVAILABLE alert.
    Notify,
    /// As NOTIFY, and a rolling update to the new digest starts by itself when the registry's index sees it.
    Auto,
}

/// A rolling update of a container's replicas: in progress, or how the last one ended.
#[derive(SimpleObject, Clone, Debug)]
pub struct Rollout {
    pub state: RolloutState,
    /// Why it was rolled back or failed.
    pub reason: Option<String>,
    pub from_revision: i32,
    pub to_revision: i32,
}

/// What a container was rolled out with: a definition version and the image digest resolved for it.
#[derive(SimpleObject, Clone, Debug)]
pub struct Revision {
    /// 1, 2, … per container.
    pub number: i32,
    /// The definition version it was made from.
    pub version: i32,
    /// The image reference at the time.
    pub image: String,
    /// The registry digest its replicas run (`sha256:…`); null for an image without one.
    pub image_digest: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Who asked for it; null when Berth made it (a first run).
    pub created_by: Option<String>,
}

impl From<svc::Revision> for Revision {
    fn from(r: svc::Revision) -> Self {
        Revision {
            number: r.number,
            version: r.version,
            image: r.image,
            image_digest: r.image_digest,
            created_at: r.created_at,
            created_by: r.created_by,
        }
    }
}

/// What the engine's health check says about a running instance.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "berth_shared::Health")]
pub enum Health {
    /// It runs no health check.
    None,
    Starting,
    Healthy,
    Unhealthy,
}

/// A definition's health check (Docker's HEALTHCHECK); unset durations and retries are Docker's defaults
/// (interval 30 s, timeout 30 s, retries 3, start period 0 s).
#[derive(SimpleObject, Clone, Debug)]
pub struct HealthCheck {
    /// `["CMD", argv…]`, `["CMD-SHELL", "command"]`, or `["NONE"]` (the image's own check switched off).
    pub test: Vec<String>,
    pub interval_secs: Option<i32>,
    pub timeout_secs: Option<i32>,
    pub retries: Option<i32>,
    pub start_period_secs: Option<i32>,
}

impl From<berth_shared::HealthCheck> for HealthCheck {
    fn from(c: berth_shared::HealthCheck) -> Self {
        let int = |v: Option<i64>| v.and_then(|v| i32::try_from(v).ok());
        HealthCheck {
            test: c.test,
            interval_secs: int(c.interval_secs),
            timeout_secs: int(c.timeout_secs),
            retries: int(c.retries),
            start_period_secs: int(c.start_period_secs),
        }
    }
}

/// A health check to set: `test` is `["CMD", argv…]`, `["CMD-SHELL", "command"]` or `["NONE"]` (switch the
/// image's own off). Durations are whole seconds, at least 1; retries at least 0.
#[derive(InputObject, Clone, Debug)]
pub struct HealthCheckInput {
    pub test: Vec<String>,
    pub interval_secs: Option<i32>,
    pub timeout_secs: Option<i32>,
    pub retries: Option<i32>,
    pub start_period_secs: Option<i32>,
}

impl From<HealthCheckInput> for berth_shared::HealthCheck {
    fn from(i: HealthCheckInput) -> Self {
        berth_shared::HealthCheck {
            test: i.test,
            interval_secs: i.interval_secs.map(i64::from),
            timeout_secs: i.timeout_secs.map(i64::from),
            retries: i.retries.map(i64::from),
            start_period_secs: i.start_period_secs.map(i64::from),
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "berth_shared::RestartPolicy")]
pub enum RestartPolicy {
    No,
    OnFailure,
    Always,
    UnlessStopped,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "berth_shared::DesiredState")]
pub enum DesiredState {
    Running,
    Stopped,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "berth_shared::Protocol")]
pub enum Protocol {
    Tcp,
    Udp,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct PortMapping {
    pub container_port: i32,
    pub host_port: Option<i32>,
    pub host_ip: Option<String>,
    pub protocol: Protocol,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct Mount {
    pub container_path: String,
    pub read_only: bool,
    #[graphql(skip)]
    disk_id: String,
}

#[ComplexObject]
impl Mount {
    async fn disk(&self, ctx: &Context<'_>) -> ApiResult<Disk> {
        let disk = services(ctx)?
            .disks
            .get(&self.disk_id)
            .await?
            .ok_or_else(|| {
                crate::service::ServiceError::NotFound(format!(
                    "disk {} no longer exists",
                    self.disk_id
                ))
            })?;
        Ok(disk.into())
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Resources {
    pub cpus: Option<f64>,
    pub memory_bytes: Option<Bytes>,
    pub cpu_shares: Option<i32>,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct Container {
    pub id: ID,
    pub name: String,
    /// Normalised reference, e.g. docker.io/library/nginx:1.27
    pub image: String,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<EnvVar>,
    pub ports: Vec<PortMapping>,
    pub resources: Resources,
    pub restart_policy: RestartPolicy,
    pub replicas: i32,
    pub mounts: Vec<Mount>,
    /// The definition's health check; null = the image's own (if it has one).
    pub health_check: Option<HealthCheck>,
    /// A running replica whose health check has said unhealthy for longer than this many seconds is replaced
    /// (with the usual back-off); null = never (Docker itself never restarts an unhealthy container).
    pub replace_unhealthy_after_secs: Option<i32>,
    /// Replicas a rolling update replaces at a time (default 1).
    pub max_parallel: i32,
    /// How long a new replica without a health check must keep running before the next is replaced (default 5).
    pub min_healthy_secs: i32,
    /// The rolling update in progress, or how the last one ended; null when it was never rolled.
    pub rollout: Option<Rollout>,
    /// Whether a deploy hook is set (`createDeployHook`).
    pub has_deploy_hook: bool,
    pub update_policy: UpdatePolicy,
    /// The daily window, `HH:MM-HH:MM` in UTC, within which AUTO rolls out a new image (an image that appears
    /// outside it waits for it to open); null = any time.
    pub update_window: Option<String>,
    pub desired_state: DesiredState,
    /// Optimistic locking: updates name the version they edit.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[graphql(skip)]
    host_id: Option<String>,
    /// Instances read together with the container (a list or an event snapshot); `None` = read on demand.
    #[graphql(skip)]
    preloaded: Option<Arc<Vec<svc::Instance>>>,
    /// The hosts of a whole page, read at once; `None` = each read on demand.
    #[graphql(skip)]
    hosts: Option<PageHosts>,
    /// The registry's current digest of the image: filled from the page's one lookup, or read once on demand and
    /// then shared by `latestDigest` and `updateAvailable` and by every subscriber of a status snapshot (whose
    /// converted container they all share).
    #[graphql(skip)]
    latest: LatestDigest,
}

/// The registry index's current digest of a container's image, read at most once.
type LatestDigest = Arc<tokio::sync::OnceCell<Option<String>>>;

/// The hosts named by a page of containers and their instances, read in one query.
type PageHosts = Arc<std::collections::HashMap<String, crate::service::hosts::Host>>;

/// `id`'s host from the page's hosts when they were read with the page, else from the service.
async fn host_of(
    ctx: &Context<'_>,
    hosts: Option<&PageHosts>,
    id: &str,
) -> ApiResult<Option<Host>> {
    Ok(match hosts {
        Some(hosts) => hosts.get(id).cloned().map(Into::into),
        None => services(ctx)?.hosts.get(id).await?.map(Into::into),
    })
}

impl Container {
    fn with_instances(c: svc::Container, instances: Vec<svc::Instance>) -> Self {
        let mut out = Container::from(c);
        out.preloaded = Some(Arc::new(instances));
        out
    }

    /// The registry's current digest of this definition's image, from the page's batch when there is one.
    async fn latest_of(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        let latest = self
            .latest
            .get_or_try_init(|| async {
                Ok::<_, ApiError>(
                    services(ctx)?
                        .registries
                        .latest_digests(std::slice::from_ref(&self.image))
                        .await?
                        .remove(&self.image),
                )
            })
            .await?;
        Ok(latest.clone())
    }

    async fn instance_list(&self, ctx: &Context<'_>) -> ApiResult<Arc<Vec<svc::Instance>>> {
        match &self.preloaded {
            Some(list) => Ok(list.clone()),
            None => Ok(Arc::new(
                services(ctx)?.containers.instances(&self.id).await?,
            )),
        }
    }
}

impl From<svc::Container> for Container {
    fn from(c: svc::Container) -> Self {
        Container {
            id: ID(c.id),
            name: c.name,
            image: c.image,
            command: c.command,
            entrypoint: c.entrypoint,
            env: c
                .env
                .into_iter()
                .map(|(name, value)| EnvVar { name, value })
                .collect(),
            ports: c
                .ports
                .iter()
                .map(|p| PortMapping {
                    container_port: i32::from(p.container_port()),
                    host_port: p.host_port().map(i32::from),
                    host_ip: p.host_ip().map(str::to_owned),
                    protocol: p.protocol().into(),
                })
                .collect(),
            resources: Resources {
                cpus: c.cpus,
                memory_bytes: c.memory_bytes.map(Bytes),
                cpu_shares: c.cpu_shares.and_then(|s| i32::try_from(s).ok()),
            },
            restart_policy: c.restart_policy.into(),
            replicas: i32::try_from(c.replicas).unwrap_or(1),
            mounts: c
                .mounts
                .into_iter()
                .map(|m| Mount {
                    container_path: m.container_path,
                    read_only: m.read_only,
                    disk_id: m.disk_id,
                })
                .collect(),
            health_check: c.health_check.map(Into::into),
            replace_unhealthy_after_secs: c
                .replace_unhealthy_after_secs
                .and_then(|v| i32::try_from(v).ok()),
            max_parallel: c.max_parallel,
            min_healthy_secs: c.min_healthy_secs,
            has_deploy_hook: c.has_deploy_hook,
            update_policy: c.update_policy.into(),
            update_window: c.update_window.map(|w| w.to_string()),
            rollout: c.rollout.map(|r| Rollout {
                state: r.state.into(),
                reason: r.reason,
                from_revision: r.from_revision,
                to_revision: r.to_revision,
            }),
            desired_state: c.desired_state.into(),
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
            host_id: c.host_id,
            preloaded: None,
            hosts: None,
            latest: LatestDigest::default(),
        }
    }
}

#[ComplexObject]
impl Container {
    /// The pinned host; null = any host the scheduler picks.
    async fn host(&self, ctx: &Context<'_>) -> ApiResult<Option<Host>> {
        let Some(id) = &self.host_id else {
            return Ok(None);
        };
        host_of(ctx, self.hosts.as_ref(), id).await
    }

    async fn instances(&self, ctx: &Context<'_>) -> ApiResult<Vec<ContainerInstance>> {
        Ok(self
            .instance_list(ctx)
            .await?
            .iter()
            .cloned()
            .map(|i| ContainerInstance {
                hosts: self.hosts.clone(),
                ..i.into()
            })
            .collect())
    }

    /// STOPPED when desiredState is STOPPED and nothing runs; RUNNING when every desired replica runs (UNHEALTHY
    /// when one of them runs with a health check that says unhealthy); otherwise the state of the instance
    /// furthest from RUNNING.
    async fn status(&self, ctx: &Context<'_>) -> ApiResult<InstanceStatus> {
        let instances = self.instance_list(ctx).await?;
        let statuses: Vec<(berth_shared::InstanceStatus, Option<berth_shared::Health>)> =
            instances.iter().map(|i| (i.status, i.health)).collect();
        Ok(berth_shared::summary_with_health(
            self.desired_state.into(),
            usize::try_from(self.replicas).unwrap_or(0),
            &statuses,
        )
        .into())
    }

    /// The registry's current digest (`sha256:…`) of this definition's image tag, from Berth's index of a
    /// configured registry (re-read on the registry's refresh interval, and at once on a push when its hook is
    /// set); null when the image is on no configured registry, is pinned by digest, or the tag is not there.
    async fn latest_digest(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        self.latest_of(ctx).await
    }

    /// Whether an active replica runs another image than the registry's current one for this tag
    /// (`latestDigest` against each replica's `imageDigest`); false while either is unknown.
    async fn update_available(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        if self.update_policy == UpdatePolicy::Off {
            return Ok(false);
        }
        let Some(latest) = self.latest_of(ctx).await? else {
            return Ok(false);
        };
        let instances = self.instance_list(ctx).await?;
        Ok(svc::update_available(&latest, &instances))
    }

    /// What the container was rolled out with, newest first (the last 50): every run of a new definition
    /// version or image digest, every redeploy.
    async fn revisions(&self, ctx: &Context<'_>) -> ApiResult<Vec<Revision>> {
        Ok(services(ctx)?
            .containers
            .revisions(&self.id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Whether an active instance was started from an older version of this definition ("apply now" =
    /// `runContainer` again).
    async fn changed_since_start(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let instances = self.instance_list(ctx).await?;
        Ok(instances
            .iter()
            .any(|i| i.status.is_active() && i.definition_version < self.version))
    }
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct ContainerInstance {
    pub id: ID,
    pub replica: i32,
    pub docker_id: Option<String>,
    pub status: InstanceStatus,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The definition version this instance was created from.
    pub definition_version: i32,
    /// Replacements in a row after the replica exited (the back-off doubles with each).
    pub attempts: i32,
    /// When a replica that exited is started again.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// What the engine's health check says while it runs (NONE: no check); null while it does not run or
    /// before the engine has said.
    pub health: Option<Health>,
    /// The last health probe's output (at most 4 KiB), kept after it stops.
    pub health_output: Option<String>,
    /// The registry digest (`sha256:…`) of the image its Docker container was created from; null when unknown
    /// (an image built on the host, or a replica created before Berth recorded digests).
    pub image_digest: Option<String>,
    /// The container revision its Docker container runs; null for a replica from before Berth kept revisions.
    pub revision: Option<i32>,
    #[graphql(skip)]
    container_id: String,
    #[graphql(skip)]
    host_id: Option<String>,
    /// The page's hosts when the instance came with a page of containers.
    #[graphql(skip)]
    hosts: Option<PageHosts>,
}

impl From<svc::Instance> for ContainerInstance {
    fn from(i: svc::Instance) -> Self {
        ContainerInstance {
            id: ID(i.id),
            replica: i.replica,
            docker_id: i.docker_id,
            status: i.status.into(),
            exit_code: i.exit_code,
            error: i.error,
            started_at: i.started_at,
            finished_at: i.finished_at,
            definition_version: i.definition_version,
            attempts: i.attempts,
            next_attempt_at: i.next_attempt_at,
            health: i.health.map(Into::into),
            health_output: i.health_output,
            image_digest: i.image_digest,
            revision: i.revision,
            container_id: i.container_id,
            host_id: i.host_id,
            hosts: None,
        }
    }
}

#[ComplexObject]
impl ContainerInstance {
    async fn container(&self, ctx: &Context<'_>) -> ApiResult<Container> {
        Ok(services(ctx)?
            .containers
            .require(&self.container_id)
            .await?
            .into())
    }

    async fn host(&self, ctx: &Context<'_>) -> ApiResult<Option<Host>> {
        let Some(id) = &self.host_id else {
            return Ok(None);
        };
        host_of(ctx, self.hosts.as_ref(), id).await
    }

    /// Background samples of this instance from `since` on (default: the last 24 h), oldest first: 5-minute
    /// averages, then the samples of the last hour (every `BERTH_STATS_INTERVAL_SECS`); at most 1,000 points.
    async fn stats_history(
        &self,
        ctx: &Context<'_>,
        since: Option<DateTime<Utc>>,
    ) -> ApiResult<Vec<super::stats::StatsSample>> {
        super::stats::history(ctx, &self.id, since).await
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct ContainerConnection {
    pub edges: Vec<ContainerEdge>,
    pub page_info: PageInfo,
    /// How many containers the filter matches (counted only when this field is asked for).
    pub total_count: i32,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct ContainerEdge {
    pub cursor: String,
    pub node: Container,
}

#[derive(InputObject, Clone, Debug)]
pub struct PortMappingInput {
    pub container_port: i32,
    pub host_port: Option<i32>,
    pub host_ip: Option<String>,
    #[graphql(default_with = "Protocol::Tcp")]
    pub protocol: Protocol,
}

#[derive(InputObject, Clone, Debug)]
pub struct MountInput {
    pub disk_id: ID,
    /// Absolute path inside the container.
    pub container_path: String,
    #[graphql(default)]
    pub read_only: bool,
}

#[derive(InputObject, Clone, Debug)]
pub struct EnvVarInput {
    pub name: String,
    pub value: String,
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct ResourcesInput {
    pub cpus: Option<f64>,
    /// "512m", "1.5g", or bytes.
    pub memory: Option<String>,
    pub cpu_shares: Option<i32>,
}

#[derive(InputObject, Clone, Debug)]
pub struct ContainerInput {
    pub name: String,
    pub image: String,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    #[graphql(default)]
    pub env: Vec<EnvVarInput>,
    #[graphql(default)]
    pub ports: Vec<PortMappingInput>,
    pub resources: Option<ResourcesInput>,
    #[graphql(default_with = "RestartPolicy::No")]
    pub restart_policy: RestartPolicy,
    pub host_id: Option<ID>,
    #[graphql(default = 1)]
    pub replicas: i32,
    #[graphql(default)]
    pub mounts: Vec<MountInput>,
    /// Null or absent = the image's own health check.
    pub health_check: Option<HealthCheckInput>,
    /// Replace a replica that stays unhealthy longer than this many seconds (at least 1); null = never.
    pub replace_unhealthy_after_secs: Option<i32>,
    /// Replicas a rolling update replaces at a time (1–100); absent = 1.
    pub max_parallel: Option<i32>,
    /// Seconds a new replica without a health check must keep running before the next is replaced (0–3600);
    /// absent = 5.
    pub min_healthy_secs: Option<i32>,
    /// Absent = NOTIFY.
    pub update_policy: Option<UpdatePolicy>,
    /// `HH:MM-HH:MM` in UTC (an end before the start runs past midnight) within which AUTO rolls out; absent,
    /// null or empty = any time.
    pub update_window: Option<String>,
}

impl From<ContainerInput> for ContainerSettings {
    fn from(i: ContainerInput) -> Self {
        let resources = i.resources.unwrap_or_default();
        ContainerSettings {
            name: i.name,
            image: i.image,
            command: i.command,
            entrypoint: i.entrypoint,
            env: i.env.into_iter().map(|e| (e.name, e.value)).collect(),
            ports: i
                .ports
                .into_iter()
                .map(|p| PortInput {
                    container_port: i64::from(p.container_port),
                    host_port: p.host_port.map(i64::from),
                    host_ip: p.host_ip,
                    protocol: p.protocol.into(),
                })
                .collect(),
            cpus: resources.cpus,
            memory: resources.memory,
            cpu_shares: resources.cpu_shares.map(i64::from),
            restart_policy: i.restart_policy.into(),
            host_id: i.host_id.map(|h| h.0),
            replicas: i64::from(i.replicas),
            mounts: i
                .mounts
                .into_iter()
                .map(|m| svc::Mount {
                    disk_id: m.disk_id.0,
                    container_path: m.container_path,
                    read_only: m.read_only,
                })
                .collect(),
            health_check: i.health_check.map(Into::into),
            replace_unhealthy_after_secs: i.replace_unhealthy_after_secs.map(i64::from),
            max_parallel: i.max_parallel.map(i64::from),
            min_healthy_secs: i.min_healthy_secs.map(i64::from),
            update_policy: i.update_policy.map(Into::into),
            update_window: i.update_window,
        }
    }
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct ContainerFilter {
    /// Part of the name or image.
    pub search: Option<String>,
    pub host_id: Option<ID>,
    pub status: Option<InstanceStatus>,
}

/// What the containers list sorts on; every order ends on the id.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
#[graphql(remote = "svc::ContainerSortKey")]
pub enum ContainerSortKey {
    #[default]
    Name,
    Image,
    /// The summary status by its name, then the container name.
    Status,
    Created,
}

#[derive(InputObject, Clone, Copy, Debug, Default)]
pub struct ContainerSort {
    #[graphql(default_with = "ContainerSortKey::Name")]
    pub by: ContainerSortKey,
    #[graphql(default_with = "SortDirection::Asc")]
    pub direction: SortDirection,
}

/// How many sort values a cursor of `key` carries.
fn cursor_values(key: svc::ContainerSortKey) -> usize {
    match key {
        svc::ContainerSortKey::Status => 2,
        _ => 1,
    }
}

#[derive(Default)]
pub struct ContainerQuery;

#[Object]
impl ContainerQuery {
    /// Containers, filtered, sorted (by name unless `sort` says otherwise) and paged in the database: `after`
    /// takes an `endCursor` of the same sort and direction (another is BAD_USER_INPUT on `after`), and
    /// containers created or deleted meanwhile never make another show twice or go missing. `first` is clamped
    /// to 1..=500 (default 50); `filter.search` is at most 200 characters.
    async fn containers(
        &self,
        ctx: &Context<'_>,
        filter: Option<ContainerFilter>,
        sort: Option<ContainerSort>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<ContainerConnection> {
        require_user(ctx)?;
        let sort = sort.unwrap_or_default();
        let key: svc::ContainerSortKey = sort.by.into();
        let first = page_size(first);
        let after = after
            .as_deref()
            .map(|a| KeysetCursor::decode_for(a, key.as_str(), sort.direction, cursor_values(key)))
            .transpose()?
            .map(|c| svc::PageMark {
                values: c.values,
                id: c.id,
            });
        let filter = filter.unwrap_or_default();
        let page = services(ctx)?
            .containers
            .page(&svc::ContainerPageRequest {
                filter: svc::ContainerFilter {
                    search: filter.search,
                    host_id: filter.host_id.map(|h| h.0),
                    status: filter.status.map(Into::into),
                },
                sort: key,
                desc: sort.direction.is_desc(),
                first,
                after,
                // Counting reads every match: only when asked for.
                count: ctx.look_ahead().field("totalCount").exists(),
            })
            .await?;
        // The hosts the page names (pinned, or where an instance is), in one query rather than one per row.
        let mut host_ids: Vec<String> = page
            .items
            .iter()
            .flat_map(|(c, instances, _)| {
                c.host_id
                    .iter()
                    .chain(instances.iter().filter_map(|i| i.host_id.as_ref()))
            })
            .cloned()
            .collect();
        host_ids.sort_unstable();
        host_ids.dedup();
        let hosts: PageHosts = Arc::new(services(ctx)?.hosts.get_many(&host_ids).await?);
        // The registry digests of the page's images in one lookup, when the page asks for them.
        let node = ctx.look_ahead().field("edges").field("node");
        let latest: Option<std::collections::HashMap<String, String>> =
            if node.field("latestDigest").exists() || node.field("updateAvailable").exists() {
                let mut images: Vec<String> =
                    page.items.iter().map(|(c, _, _)| c.image.clone()).collect();
                images.sort_unstable();
                images.dedup();
                Some(services(ctx)?.registries.latest_digests(&images).await?)
            } else {
                None
            };
        let edges: Vec<ContainerEdge> = page
            .items
            .into_iter()
            .map(|(c, instances, mark)| ContainerEdge {
                cursor: KeysetCursor::new(key.as_str(), sort.direction, mark.values, mark.id)
                    .encode(),
                node: Container {
                    hosts: Some(hosts.clone()),
                    latest: match &latest {
                        Some(digests) => Arc::new(tokio::sync::OnceCell::new_with(Some(
                            digests.get(&c.image).cloned(),
                        ))),
                        None => LatestDigest::default(),
                    },
                    ..Container::with_instances(c, instances)
                },
            })
            .collect();
        Ok(ContainerConnection {
            page_info: PageInfo {
                has_next_page: page.has_next,
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total_count: count(usize::try_from(page.total.unwrap_or(0)).unwrap_or(usize::MAX)),
        })
    }

    async fn container(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Container>> {
        require_user(ctx)?;
        Ok(services(ctx)?.containers.get(&id).await?.map(Into::into))
    }
}

#[derive(Default)]
pub struct ContainerMutation;

#[Object]
impl ContainerMutation {
    async fn create_container(
        &self,
        ctx: &Context<'_>,
        input: ContainerInput,
    ) -> ApiResult<Container> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .containers
            .create(actor, input.into())
            .await?
            .into())
    }

    /// Saves a new definition if `version` is still current (else CONFLICT, nothing changed).
    async fn update_container(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        input: ContainerInput,
    ) -> ApiResult<Container> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .containers
            .update(actor, &id, version, input.into())
            .await?
            .into())
    }

    /// Deletes a container that runs nowhere (CONFLICT while it runs), with its Docker containers.
    async fn delete_container(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let actor = require_user(ctx)?;
        services(ctx)?.containers.delete(actor, &id).await?;
        Ok(true)
    }

    /// Places every replica and returns (PENDING/PULLING…); status then flows on `containerStatus`. `hostId`
    /// overrides the pinned host for this run. Running a running container applies an edited definition.
    async fn run_container(
        &self,
        ctx: &Context<'_>,
        id: ID,
        host_id: Option<ID>,
    ) -> ApiResult<Container> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .containers
            .run(actor, &id, host_id.map(|h| h.0))
            .await?
            .into())
    }

    /// Pulls the image (unless `pull` is false) on the hosts of the running replicas and rolls them to its
    /// current digest as a new revision: `maxParallel` at a time, each new replica started beside the old one
    /// (after it, when a published host port cannot be shared) and healthy (its health check, else running for
    /// `minHealthySecs`) before the old one goes. A replica that fails stops the rollout and the replaced ones
    /// go back by themselves (`rollout.state` ROLLED_BACK with the reason). Returns once the rollout started;
    /// progress is on `containerStatus`. CONFLICT when the container does not run or a rollout is under way.
    async fn redeploy_container(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = true)] pull: bool,
    ) -> ApiResult<Container> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .containers
            .redeploy(actor, &id, pull)
            .await?
            .into())
    }

    /// Creates (or replaces) the container's deploy hook and returns its token, shown only this once: a CI job
    /// POSTs to `/hooks/deploy/<token>` (no other credentials) for a pull and rolling update, like
    /// `redeployContainer`. A wrong token answers 404 and does nothing; every call is audited.
    async fn create_deploy_hook(&self, ctx: &Context<'_>, container_id: ID) -> ApiResult<String> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .containers
            .create_deploy_hook(actor, &container_id)
            .await?)
    }

    /// Revokes the container's deploy hook: its URL answers 404 from now on.
    async fn revoke_deploy_hook(
        &self,
        ctx: &Context<'_>,
        container_id: ID,
    ) -> ApiResult<Container> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .containers
            .revoke_deploy_hook(actor, &container_id)
            .await?
            .into())
    }

    /// Rolls the replicas back to an earlier revision of the current definition version, the same way as a
    /// redeploy. BAD_USER_INPUT on `revision` when there is no such revision, it belongs to another definition
    /// version, or its image is on no host and cannot be pulled (checked before anything stops).
    async fn rollback_container(
        &self,
        ctx: &Context<'_>,
        id: ID,
        revision: i32,
    ) -> ApiResult<Container> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .containers
            .rollback(actor, &id, revision)
            .await?
            .into())
    }

    /// Graceful stop; returns once STOPPING is recorded, STOPPED follows on `containerStatus`.
    async fn stop_container(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Container> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?.containers.stop(actor, &id).await?.into())
    }

    async fn restart_container(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Container> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?.containers.restart(actor, &id).await?.into())
    }

    /// Sets the number of replicas (1–100). When the container runs, missing replicas start (spread over hosts)
    /// and surplus ones (highest index first) stop and are removed. Calls on one container run in order.
    async fn scale_container(
        &self,
        ctx: &Context<'_>,
        id: ID,
        replicas: i32,
    ) -> ApiResult<Container> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .containers
            .scale(actor, &id, i64::from(replicas))
            .await?
            .into())
    }

    /// SIGKILL, no grace period; the container ends STOPPED.
    async fn kill_container(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Container> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?.containers.kill(actor, &id).await?.into())
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct ContainerStatusEvent {
    pub container: Arc<Container>,
    pub instance: Option<Arc<ContainerInstance>>,
    pub status: InstanceStatus,
    pub previous_status: Option<InstanceStatus>,
    pub at: DateTime<Utc>,
    pub message: Option<String>,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct LogLine {
    /// stdout or stderr
    pub stream: String,
    pub text: String,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct ContainerSubscription;

/// A status snapshot in GraphQL form: the container, its instances and its summary status.
struct Rendered {
    container: Arc<Container>,
    instances: Vec<Arc<ContainerInstance>>,
    summary: berth_shared::InstanceStatus,
}

impl Rendered {
    fn new(container: svc::Container, instances: Vec<svc::Instance>) -> Self {
        Rendered {
            summary: container.summary(&instances),
            instances: instances
                .iter()
                .cloned()
                .map(|i| Arc::new(i.into()))
                .collect(),
            container: Arc::new(Container::with_instances(container, instances)),
        }
    }
}

/// The last status snapshot in GraphQL form, shared by every subscriber: with a thousand subscribers,
/// converting the container and its instances once per event instead of once per subscriber saves thousands of
/// allocations. Keyed by the snapshot's allocation (the `Weak` keeps it from being reused while cached).
type SnapshotCache = Option<(Weak<svc::StatusSnapshot>, Arc<Rendered>)>;
static LAST_SNAPSHOT: std::sync::Mutex<SnapshotCache> = std::sync::Mutex::new(None);

fn render_snapshot(snapshot: &Arc<svc::StatusSnapshot>) -> Arc<Rendered> {
    if let Ok(last) = LAST_SNAPSHOT.lock()
        && let Some((weak, rendered)) = last.as_ref()
        && std::ptr::eq(weak.as_ptr(), Arc::as_ptr(snapshot))
    {
        return rendered.clone();
    }
    let rendered = Arc::new(Rendered::new(
        snapshot.container.clone(),
        snapshot.instances.clone(),
    ));
    if let Ok(mut last) = LAST_SNAPSHOT.lock() {
        *last = Some((Arc::downgrade(snapshot), rendered.clone()));
    }
    rendered
}

#[Subscription]
impl ContainerSubscription {
    /// Every instance status transition (of one container, or of all with no argument), and definition changes
    /// (with `instance` null and the container's summary status).
    async fn container_status(
        &self,
        ctx: &Context<'_>,
        container_id: Option<ID>,
    ) -> Result<impl Stream<Item = ContainerStatusEvent> + use<>, ApiError> {
        // One `Arc` per subscription: cloning the services for every event of every subscriber costs dozens of
        // contended reference counts each, which adds up with a thousand subscribers.
        let services = Arc::new(authorized_services(ctx)?);
        let wanted = container_id.map(|c| Arc::new(c.0));
        let stream = services.bus.stream().filter_map(move |event| {
            let services = services.clone();
            let wanted = wanted.clone();
            async move {
                let (cid, instance_id, status, previous, at, message, snapshot) = match &*event {
                    Event::ContainerStatus {
                        container_id,
                        instance_id,
                        status,
                        previous,
                        at,
                        message,
                        snapshot,
                    } => (
                        container_id,
                        instance_id.as_deref(),
                        Some(status),
                        *previous,
                        *at,
                        message,
                        snapshot.as_ref(),
                    ),
                    Event::ContainerChanged {
                        container_id,
                        at,
                        message,
                    } => (container_id, None, None, None, *at, message, None),
                    _ => return None,
                };
                if wanted.as_ref().is_some_and(|w| w.as_str() != cid) {
                    return None;
                }
                // The snapshot published with the change serves every subscriber without a database read, and
                // is converted once for all of them.
                let rendered = match snapshot {
                    Some(s) => render_snapshot(s),
                    None => Arc::new(Rendered::new(
                        services.containers.get(cid).await.ok().flatten()?,
                        services.containers.instances(cid).await.ok()?,
                    )),
                };
                let status = match status {
                    Some(s) => (*s).into(),
                    None => rendered.summary.into(),
                };
                let instance = instance_id
                    .and_then(|id| rendered.instances.iter().find(|i| i.id.0 == id).cloned());
                Some(ContainerStatusEvent {
                    container: rendered.container.clone(),
                    instance,
                    status,
                    previous_status: previous.map(Into::into),
                    at,
                    message: message.clone(),
                })
            }
        });
        Ok(stream)
    }

    /// The last `tail` lines (default 100, at most 5000) of an instance's output, then new lines as they come.
    /// Narrowed on the server: with `search`, only lines containing that plain text (case ignored unless
    /// `caseSensitive`; at most 200 characters, else BAD_USER_INPUT on `search`), the tail window searched first;
    /// with `since`, only lines from that time on. Each line says its stream (`stdout`/`stderr`) and time.
    async fn container_logs(
        &self,
        ctx: &Context<'_>,
        instance_id: ID,
        #[graphql(default = 100)] tail: i32,
        search: Option<String>,
        #[graphql(default = false)] case_sensitive: bool,
        since: Option<DateTime<Utc>>,
    ) -> Result<impl Stream<Item = LogLine> + use<>, ApiError> {
        super::logs::follow(
            ctx,
            crate::service::logs::LogTarget::Instance(instance_id.0),
            tail,
            search,
            case_sensitive,
            since,
        )
        .await
    }
}
