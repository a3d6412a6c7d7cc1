//! Containers in the API: definitions (with their replicas and mounts), their instances, the run/stop/restart and
//! scale mutations and the two live feeds (`containerStatus`, `containerLogs`).

use std::cmp::Ordering;

use berth_shared::{
    DesiredState, DiskKind, Health, HealthCheck, InstanceStatus, Protocol, RestartPolicy,
    RolloutState, UpdatePolicy,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use futures::{Stream, StreamExt};

use super::{
    ApiError, ConnectionData, Live, Page, SortDirection, execute, execute_field, subscriptions,
    watch,
};

/// The host a container is pinned to, or an instance runs on: enough to name it and to link to its ports.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
pub struct HostRef {
    pub id: String,
    pub name: String,
    pub endpoint: String,
}

/// One environment variable of a definition.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

/// One published port, as stored (and, for `createContainer`/`updateContainer`, as sent).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    pub container_port: i64,
    pub host_port: Option<i64>,
    pub host_ip: Option<String>,
    pub protocol: Protocol,
}

/// CPU and memory limits of a definition (`None` = unlimited).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    #[serde(default)]
    pub cpus: Option<f64>,
    #[serde(default)]
    pub memory_bytes: Option<i64>,
    #[serde(default)]
    pub cpu_shares: Option<i64>,
}

/// One replica of a container on a host.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerInstance {
    pub id: String,
    pub replica: i64,
    #[serde(default)]
    pub docker_id: Option<String>,
    pub status: InstanceStatus,
    #[serde(default)]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    pub definition_version: i64,
    /// Replacements in a row after the replica exited (the back-off doubles with each).
    #[serde(default)]
    pub attempts: i64,
    /// When a replica that exited is started again (it waits for its replacement until then).
    #[serde(default)]
    pub next_attempt_at: Option<String>,
    /// What the engine's health check says while it runs; `None` while it does not run.
    #[serde(default)]
    pub health: Option<Health>,
    /// The last probe's output.
    #[serde(default)]
    pub health_output: Option<String>,
    /// The registry digest of the image its Docker container was created from.
    #[serde(default)]
    pub image_digest: Option<String>,
    /// The container revision it runs (`None` for a replica from before revisions were kept).
    #[serde(default)]
    pub revision: Option<i64>,
    #[serde(default)]
    pub host: Option<HostRef>,
}

/// A rolling update: in progress, or how the last one ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    pub state: RolloutState,
    #[serde(default)]
    pub reason: Option<String>,
    pub from_revision: i64,
    pub to_revision: i64,
}

impl Rollout {
    /// The revision the replicas should run now.
    pub fn target(&self) -> i64 {
        match self.state {
            RolloutState::Rolling | RolloutState::Succeeded => self.to_revision,
            RolloutState::RolledBack | RolloutState::Failed => self.from_revision,
        }
    }
}

/// What a container was rolled out with.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    pub number: i64,
    pub version: i64,
    pub image: String,
    #[serde(default)]
    pub image_digest: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub created_by: Option<String>,
}

/// The disk a mount names: enough to show it and to send it back.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
pub struct DiskRef {
    pub id: String,
    pub name: String,
    pub kind: DiskKind,
    /// Where it lives; `None` for a path present on every host.
    #[serde(default)]
    pub host: Option<HostRef>,
}

/// A disk mounted into a container.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mount {
    pub disk: DiskRef,
    pub container_path: String,
    pub read_only: bool,
}

/// A container definition with its instances and summary status.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub id: String,
    pub name: String,
    /// Normalised reference, e.g. `docker.io/library/nginx:1.27`.
    pub image: String,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub env: Vec<EnvVar>,
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    #[serde(default)]
    pub resources: Resources,
    pub restart_policy: RestartPolicy,
    pub replicas: i64,
    #[serde(default)]
    pub mounts: Vec<Mount>,
    /// `None` = the image's own health check.
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
    #[serde(default)]
    pub replace_unhealthy_after_secs: Option<i64>,
    pub desired_state: DesiredState,
    /// Optimistic locking: an update names the version it edits.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    /// The pinned host; `None` = any host the scheduler picks.
    #[serde(default)]
    pub host: Option<HostRef>,
    #[serde(default)]
    pub instances: Vec<ContainerInstance>,
    pub status: InstanceStatus,
    /// An active instance was created from an older version of the definition.
    pub changed_since_start: bool,
    /// The registry's current digest of the image's tag (from Berth's index of a configured registry).
    #[serde(default)]
    pub latest_digest: Option<String>,
    /// An active replica runs another digest than `latest_digest`.
    #[serde(default)]
    pub update_available: bool,
    /// The rolling update in progress or the last one.
    #[serde(default)]
    pub rollout: Option<Rollout>,
    /// Whether a deploy hook is set.
    #[serde(default)]
    pub has_deploy_hook: bool,
    /// What happens when the registry has a newer image of the tag.
    #[serde(default = "notify")]
    pub update_policy: UpdatePolicy,
    /// `HH:MM-HH:MM` (UTC) within which AUTO rolls out; `None` = any time.
    #[serde(default)]
    pub update_window: Option<String>,
    /// Replicas a rolling update replaces at a time.
    #[serde(default = "one")]
    pub max_parallel: i64,
    /// Seconds a new replica without a health check must run before the next is replaced.
    #[serde(default = "five")]
    pub min_healthy_secs: i64,
}

fn notify() -> UpdatePolicy {
    UpdatePolicy::Notify
}

fn one() -> i64 {
    1
}

fn five() -> i64 {
    5
}

impl Container {
    /// The hosts it runs on (its instances'), or the pinned host when nothing was placed; by name, no repeats.
    pub fn hosts(&self) -> Vec<HostRef> {
        let mut hosts: Vec<HostRef> = self
            .instances
            .iter()
            .filter_map(|instance| instance.host.clone())
            .collect();
        if hosts.is_empty() {
            hosts.extend(self.host.clone());
        }
        hosts.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        hosts.dedup();
        hosts
    }

    /// Whether anything of it occupies a host (running or on the way).
    pub fn is_active(&self) -> bool {
        self.instances.iter().any(|i| i.status.is_active())
    }

    /// How many of its instances run.
    pub fn running_count(&self) -> i64 {
        let running = self
            .instances
            .iter()
            .filter(|i| i.status == InstanceStatus::Running)
            .count();
        i64::try_from(running).unwrap_or(i64::MAX)
    }
}

/// Resource limits as sent: `memory` is the text the user typed ("512m"), parsed by the server.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourcesInput {
    pub cpus: Option<f64>,
    pub memory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<i64>,
}

/// A mount as sent: the disk's id, where it appears inside the container, and whether it is read-only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MountInput {
    pub disk_id: String,
    pub container_path: String,
    pub read_only: bool,
}

/// A definition, for `createContainer` and `updateContainer`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerInput {
    pub name: String,
    pub image: String,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<EnvVar>,
    pub ports: Vec<PortMapping>,
    pub resources: ResourcesInput,
    pub restart_policy: RestartPolicy,
    pub host_id: Option<String>,
    pub replicas: i64,
    pub mounts: Vec<MountInput>,
    pub health_check: Option<HealthCheck>,
    pub replace_unhealthy_after_secs: Option<i64>,
    /// Kept from the definition being edited (absent = the server's default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_healthy_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_policy: Option<UpdatePolicy>,
    /// `HH:MM-HH:MM` (UTC) within which AUTO rolls out; `None` = any time.
    pub update_window: Option<String>,
}

const HOST_REF: &str = "host { id name endpoint }";

fn instance_fields() -> String {
    format!(
        "id replica dockerId status exitCode error startedAt finishedAt definitionVersion attempts nextAttemptAt \
         health healthOutput imageDigest revision {HOST_REF}"
    )
}

pub(crate) fn container_fields() -> String {
    format!(
        "id name image command entrypoint env {{ name value }} \
         ports {{ containerPort hostPort hostIp protocol }} resources {{ cpus memoryBytes cpuShares }} \
         restartPolicy replicas mounts {{ containerPath readOnly disk {{ id name kind {HOST_REF} }} }} desiredState version \
         createdAt updatedAt {HOST_REF} status changedSinceStart latestDigest updateAvailable \
         healthCheck {{ test intervalSecs timeoutSecs retries startPeriodSecs }} replaceUnhealthyAfterSecs \
         rollout {{ state reason fromRevision toRevision }} maxParallel minHealthySecs hasDeployHook updatePolicy updateWindow \
         instances {{ {} }}",
        instance_fields()
    )
}

/// What the definitions list is narrowed to (`ContainerFilter`); `None` fields are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerFilter {
    /// Part of the name or image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<InstanceStatus>,
}

impl ContainerFilter {
    /// Whether anything narrows the list.
    pub fn is_empty(&self) -> bool {
        self.search.is_none() && self.host_id.is_none() && self.status.is_none()
    }
}

/// The columns the server sorts the definitions by (`ContainerSortKey`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContainerSortKey {
    #[default]
    Name,
    Image,
    Status,
    Created,
}

impl ContainerSortKey {
    pub const ALL: &[Self] = &[Self::Name, Self::Image, Self::Status, Self::Created];

    /// The word in the page's address (`sort=created`).
    pub fn as_query(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Image => "image",
            Self::Status => "status",
            Self::Created => "created",
        }
    }

    pub fn from_query(value: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|key| key.as_query() == value)
    }
}

/// A sort order of the definitions list (`ContainerSort`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct ContainerSort {
    pub by: ContainerSortKey,
    pub direction: SortDirection,
}

impl ContainerSort {
    /// The server's order, for placing a row that arrives live: the key's columns, then the id, all turned
    /// around when descending (text compares as the database does, byte by byte).
    pub fn compare(&self, a: &Container, b: &Container) -> Ordering {
        let ordering = match self.by {
            ContainerSortKey::Name => a.name.cmp(&b.name),
            ContainerSortKey::Image => a.image.cmp(&b.image),
            ContainerSortKey::Status => a
                .status
                .as_str()
                .cmp(b.status.as_str())
                .then_with(|| a.name.cmp(&b.name)),
            ContainerSortKey::Created => time_key(&a.created_at)
                .total_cmp(&time_key(&b.created_at))
                .then_with(|| a.created_at.cmp(&b.created_at)),
        }
        .then_with(|| a.id.cmp(&b.id));
        match self.direction {
            SortDirection::Asc => ordering,
            SortDirection::Desc => ordering.reverse(),
        }
    }
}

/// Milliseconds since the epoch of an RFC 3339 time (0 when unreadable), for ordering.
pub(crate) fn time_key(iso: &str) -> f64 {
    let millis = js_sys::Date::parse(iso);
    if millis.is_nan() { 0.0 } else { millis }
}

#[derive(Deserialize)]
struct ContainersData {
    containers: ConnectionData<Container>,
}

/// One page of the definitions matching `filter`, in `sort` order, after the cursor `after` (keyset; a cursor of
/// another order is BAD_USER_INPUT). `first` is clamped by the server (at most 500).
pub async fn containers_page(
    filter: &ContainerFilter,
    sort: ContainerSort,
    first: i64,
    after: Option<&str>,
) -> Result<Page<Container>, ApiError> {
    let query = format!(
        "query Containers($filter: ContainerFilter, $sort: ContainerSort, $first: Int, $after: String) {{ \
         containers(filter: $filter, sort: $sort, first: $first, after: $after) {{ \
         edges {{ node {{ {} }} }} pageInfo {{ hasNextPage endCursor }} totalCount }} }}",
        container_fields()
    );
    let data: ContainersData = execute(
        &query,
        json!({ "filter": filter, "sort": sort, "first": first, "after": after }),
    )
    .await?;
    Ok(data.containers.into())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CountData {
    total_count: i64,
}

#[derive(Deserialize)]
struct ContainerCountData {
    containers: CountData,
}

/// How many definitions match `filter`.
pub async fn container_count(filter: &ContainerFilter) -> Result<i64, ApiError> {
    let data: ContainerCountData = execute(
        "query ContainerCount($filter: ContainerFilter) { \
         containers(filter: $filter, first: 1) { totalCount } }",
        json!({ "filter": filter }),
    )
    .await?;
    Ok(data.containers.total_count)
}

#[derive(Deserialize)]
struct ContainerData {
    container: Option<Container>,
}

/// One container; `None` when there is no such container.
pub async fn container(id: &str) -> Result<Option<Container>, ApiError> {
    let data: ContainerData = execute(
        &format!(
            "query Container($id: ID!) {{ container(id: $id) {{ {} }} }}",
            container_fields()
        ),
        json!({ "id": id }),
    )
    .await?;
    Ok(data.container)
}

/// Runs a mutation whose answer is one container under the field `field`.
async fn container_mutation(
    field: &str,
    signature: &str,
    arguments: &str,
    variables: serde_json::Value,
) -> Result<Container, ApiError> {
    execute_field(
        &format!(
            "mutation {field}{signature} {{ {field}({arguments}) {{ {} }} }}",
            container_fields()
        ),
        variables,
        field,
    )
    .await
}

/// Saves a new definition (stopped: nothing runs until [`run_container`]).
pub async fn create_container(input: &ContainerInput) -> Result<Container, ApiError> {
    container_mutation(
        "createContainer",
        "($input: ContainerInput!)",
        "input: $input",
        json!({ "input": input }),
    )
    .await
}

/// Saves a new version of a definition if `version` is still the current one (else `CONFLICT`).
pub async fn update_container(
    id: &str,
    version: i64,
    input: &ContainerInput,
) -> Result<Container, ApiError> {
    container_mutation(
        "updateContainer",
        "($id: ID!, $version: Int!, $input: ContainerInput!)",
        "id: $id, version: $version, input: $input",
        json!({ "id": id, "version": version, "input": input }),
    )
    .await
}

/// Places every replica (on `host_id`, else the pinned host, else where the scheduler says) and answers at once;
/// the status then flows on [`watch_container_status`]. Running a running container applies an edited definition.
pub async fn run_container(id: &str, host_id: Option<&str>) -> Result<Container, ApiError> {
    container_mutation(
        "runContainer",
        "($id: ID!, $hostId: ID)",
        "id: $id, hostId: $hostId",
        json!({ "id": id, "hostId": host_id }),
    )
    .await
}

/// Sets how many replicas should run (1–100). On a running container the missing ones start and the surplus
/// (highest index first) stop; the server runs the calls on one container in order.
pub async fn scale_container(id: &str, replicas: i64) -> Result<Container, ApiError> {
    container_mutation(
        "scaleContainer",
        "($id: ID!, $replicas: Int!)",
        "id: $id, replicas: $replicas",
        json!({ "id": id, "replicas": replicas }),
    )
    .await
}

/// Pulls the image and rolls the running replicas to its current digest, a few at a time behind a health gate;
/// answers once the rollout started (progress on [`watch_container_status`]).
pub async fn redeploy_container(id: &str) -> Result<Container, ApiError> {
    container_mutation(
        "redeployContainer",
        "($id: ID!)",
        "id: $id, pull: true",
        json!({ "id": id }),
    )
    .await
}

/// Rolls the replicas back to an earlier revision of the current definition version.
pub async fn rollback_container(id: &str, revision: i64) -> Result<Container, ApiError> {
    container_mutation(
        "rollbackContainer",
        "($id: ID!, $revision: Int!)",
        "id: $id, revision: $revision",
        json!({ "id": id, "revision": revision }),
    )
    .await
}

/// Creates (or replaces) the container's deploy hook; answers its token, which is shown only this once.
pub async fn create_deploy_hook(id: &str) -> Result<String, ApiError> {
    execute_field(
        "mutation CreateDeployHook($id: ID!) { createDeployHook(containerId: $id) }",
        json!({ "id": id }),
        "createDeployHook",
    )
    .await
}

/// Revokes the container's deploy hook.
pub async fn revoke_deploy_hook(id: &str) -> Result<Container, ApiError> {
    container_mutation(
        "revokeDeployHook",
        "($id: ID!)",
        "containerId: $id",
        json!({ "id": id }),
    )
    .await
}

#[derive(Deserialize)]
struct RevisionsData {
    container: Option<RevisionList>,
}

#[derive(Deserialize)]
struct RevisionList {
    revisions: Vec<Revision>,
}

/// The container's revisions, newest first.
pub async fn container_revisions(id: &str) -> Result<Vec<Revision>, ApiError> {
    let data: RevisionsData = execute(
        "query ContainerRevisions($id: ID!) { container(id: $id) { \
         revisions { number version image imageDigest createdAt createdBy } } }",
        json!({ "id": id }),
    )
    .await?;
    Ok(data.container.map(|c| c.revisions).unwrap_or_default())
}

/// The lifecycle mutations that take only the container's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    Stop,
    Restart,
    Kill,
}

impl Lifecycle {
    fn field(self) -> &'static str {
        match self {
            Self::Stop => "stopContainer",
            Self::Restart => "restartContainer",
            Self::Kill => "killContainer",
        }
    }
}

/// Stops (gracefully), restarts or kills a container; answers once the change is recorded.
pub async fn container_lifecycle(id: &str, action: Lifecycle) -> Result<Container, ApiError> {
    container_mutation(action.field(), "($id: ID!)", "id: $id", json!({ "id": id })).await
}

/// Deletes a container that runs nowhere (`CONFLICT` while it runs), with its Docker containers.
pub async fn delete_container(id: &str) -> Result<(), ApiError> {
    let _: bool = execute_field(
        "mutation DeleteContainer($id: ID!) { deleteContainer(id: $id) }",
        json!({ "id": id }),
        "deleteContainer",
    )
    .await?;
    Ok(())
}

/// Every image reference the registries list (`registry/repo:tag`), sorted, for the image field's suggestions.
/// Registries that fail to answer are left out.
pub async fn image_suggestions() -> Result<Vec<String>, ApiError> {
    let mut references = Vec::new();
    for registry in super::registries().await? {
        if registry.repository_count == 0 {
            continue;
        }
        if let Ok(Some(page)) = super::registry_repositories(&registry.id, None, 500, None).await {
            references.extend(
                page.items
                    .into_iter()
                    .flat_map(|repository| repository.tags)
                    .map(|tag| tag.reference),
            );
        }
    }
    references.sort();
    references.dedup();
    Ok(references)
}

/// A status transition of an instance, or (with `instance: None`) a change of the definition.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatusEvent {
    /// The container as recorded when the event was delivered, with its instances and summary status.
    pub container: Container,
    #[serde(default)]
    pub instance: Option<ContainerInstance>,
    pub status: InstanceStatus,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerStatusEventData {
    container_status: ContainerStatusEvent,
}

/// Status changes of one container, or of every container with `None`, for as long as the current component
/// lives.
pub fn watch_container_status(
    container_id: Option<&str>,
    on_event: impl Fn(Live<ContainerStatusEvent>) + 'static,
) {
    watch(
        &format!(
            "subscription ContainerStatus($containerId: ID) {{ containerStatus(containerId: $containerId) {{ \
             container {{ {} }} instance {{ {} }} status message }} }}",
            container_fields(),
            instance_fields()
        ),
        json!({ "containerId": container_id }),
        |data: ContainerStatusEventData| data.container_status,
        on_event,
    );
}

/// One line of an instance's output.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct LogLine {
    /// `stdout` or `stderr`.
    pub stream: String,
    pub text: String,
    #[serde(default)]
    pub at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogLineData {
    container_logs: LogLine,
}

/// The last `tail` lines of an instance's output, then new lines as they come; with `search`, only the lines
/// holding that text (case ignored), picked on the server. The server ends the feed when the container stops;
/// like every feed it is then opened again, and each (re)connection replays the tail: clear what is shown on
/// `Live::Connected`, and drop the stream to stop.
pub fn container_logs(
    instance_id: &str,
    tail: i64,
    search: Option<&str>,
) -> impl Stream<Item = Live<LogLine>> + use<> {
    subscriptions::subscribe_with_status(
        "subscription ContainerLogs($instanceId: ID!, $tail: Int!, $search: String) { \
         containerLogs(instanceId: $instanceId, tail: $tail, search: $search) { stream text at } }",
        json!({ "instanceId": instance_id, "tail": tail, "search": search }),
    )
    .map(|event| Live::from_event(event, |data: LogLineData| data.container_logs))
}
