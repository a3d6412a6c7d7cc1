//! The fleet inventory in the API: every Docker container on every host (Berth's and everyone else's), filtered,
//! sorted and paged by the server with keyset cursors; its live deltas (`dockerContainerChanges`), the actions on
//! one Docker container, its log feed, and adoption (the preview and the mutation that makes a definition of it).

use std::cmp::Ordering;

use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    ApiError, ConnectionData, Live, Page, SortDirection, containers::time_key, execute,
    execute_field, subscriptions, watch,
};
use crate::api::{Container, containers::LogLine};

/// One published (or only exposed) port of a Docker container.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerPort {
    pub private_port: i64,
    #[serde(default)]
    pub public_port: Option<i64>,
    #[serde(default)]
    pub ip: Option<String>,
    /// `tcp` or `udp`.
    pub protocol: String,
}

/// The definition a Berth-made Docker container belongs to: enough to name it and link to it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
pub struct DefinitionRef {
    pub id: String,
    pub name: String,
}

/// One Docker container of the inventory, as last seen on its host.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerContainer {
    /// Inventory id (opaque).
    pub id: String,
    pub host_id: String,
    pub host_name: String,
    pub docker_id: String,
    /// Without the leading `/`.
    pub name: String,
    /// As written when it was created.
    pub image: String,
    #[serde(default)]
    pub image_id: String,
    #[serde(default)]
    pub command: String,
    /// Docker's word: created, running, paused, restarting, removing, exited, dead.
    pub state: String,
    /// Docker's text: "Up 3 minutes (healthy)".
    #[serde(default)]
    pub status: String,
    /// healthy, unhealthy, starting; `None` without a health check.
    #[serde(default)]
    pub health: Option<String>,
    #[serde(default)]
    pub exit_code: Option<i64>,
    pub created_at: String,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub ports: Vec<DockerPort>,
    #[serde(default)]
    pub compose_project: Option<String>,
    #[serde(default)]
    pub compose_service: Option<String>,
    /// Created by this Berth (then `container` names its definition).
    pub managed: bool,
    #[serde(default)]
    pub container: Option<DefinitionRef>,
    /// False while its host does not answer: the row is the last known state.
    pub current: bool,
    pub last_seen_at: String,
    /// Whether the registry has another image under its tag than the one it runs; `None` when not asked (live
    /// deltas do not carry it).
    #[serde(default)]
    pub update_available: Option<bool>,
    #[serde(default)]
    pub latest_digest: Option<String>,
    #[serde(default)]
    pub image_digest: Option<String>,
}

const DOCKER_CONTAINER_FIELDS: &str = "id hostId hostName dockerId name image imageId command state status health \
     exitCode createdAt startedAt ports { privatePort publicPort ip protocol } composeProject composeService \
     managed container { id name } current lastSeenAt";

/// What pages and single reads add to [`DOCKER_CONTAINER_FIELDS`] (live deltas leave it out: two lookups each).
const DOCKER_CONTAINER_UPDATE_FIELDS: &str = "imageDigest latestDigest updateAvailable";

/// Docker's container states, in the order the state filter offers them.
pub const STATES: &[&str] = &[
    "running",
    "restarting",
    "paused",
    "created",
    "exited",
    "dead",
    "removing",
];

/// The health values the filter takes (`none`: no health check).
pub const HEALTHS: &[&str] = &["healthy", "unhealthy", "starting", "none"];

/// What the inventory is narrowed to (`DockerContainerFilter`); `None` fields are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerContainerFilter {
    /// Part of the name, image, or a label's key or value (case-insensitive, at most 200 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// healthy, unhealthy, starting or none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compose_project: Option<String>,
}

impl DockerContainerFilter {
    /// Whether anything besides the host narrows the list (the host is a page's scope, not a user's filter).
    pub fn narrows(&self) -> bool {
        self.search.is_some()
            || self.state.is_some()
            || self.health.is_some()
            || self.managed.is_some()
            || self.compose_project.is_some()
    }
}

/// The columns the server sorts the inventory by (`DockerContainerSortKey`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DockerContainerSortKey {
    #[default]
    Name,
    Host,
    Image,
    State,
    Created,
}

impl DockerContainerSortKey {
    pub const ALL: &[Self] = &[
        Self::Name,
        Self::Host,
        Self::Image,
        Self::State,
        Self::Created,
    ];

    /// The word in the page's address (`sort=host`).
    pub fn as_query(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Host => "host",
            Self::Image => "image",
            Self::State => "state",
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

/// A sort order of the inventory (`DockerContainerSort`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct DockerContainerSort {
    pub by: DockerContainerSortKey,
    pub direction: SortDirection,
}

impl DockerContainerSort {
    /// The server's order, for placing a row that arrives live: the key's columns then the id (text compared
    /// byte by byte, as the database does), all turned around when descending.
    pub fn compare(&self, a: &DockerContainer, b: &DockerContainer) -> Ordering {
        let ordering = match self.by {
            DockerContainerSortKey::Name => a.name.cmp(&b.name),
            DockerContainerSortKey::Host => a
                .host_name
                .cmp(&b.host_name)
                .then_with(|| a.name.cmp(&b.name)),
            DockerContainerSortKey::Image => a.image.cmp(&b.image),
            DockerContainerSortKey::State => {
                a.state.cmp(&b.state).then_with(|| a.name.cmp(&b.name))
            }
            DockerContainerSortKey::Created => time_key(&a.created_at)
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerContainersData {
    docker_containers: ConnectionData<DockerContainer>,
}

/// One page of the inventory matching `filter`, in `sort` order, after the cursor `after`.
pub async fn docker_containers(
    filter: &DockerContainerFilter,
    sort: DockerContainerSort,
    first: i64,
    after: Option<&str>,
) -> Result<Page<DockerContainer>, ApiError> {
    let data: DockerContainersData = execute(
        &format!(
            "query DockerContainers($filter: DockerContainerFilter, $sort: DockerContainerSort, $first: Int, \
             $after: String) {{ dockerContainers(filter: $filter, sort: $sort, first: $first, after: $after) {{ \
             edges {{ node {{ {DOCKER_CONTAINER_FIELDS} {DOCKER_CONTAINER_UPDATE_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} totalCount }} }}"
        ),
        json!({ "filter": filter, "sort": sort, "first": first, "after": after }),
    )
    .await?;
    Ok(data.docker_containers.into())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HostDockerContainers {
    docker_containers: ConnectionData<DockerContainer>,
}

#[derive(Deserialize)]
struct HostDockerContainersData {
    host: Option<HostDockerContainers>,
}

/// One page of one host's Docker containers (`Host.dockerContainers`; the filter's host is ignored); `None` when
/// there is no such host.
pub async fn host_docker_containers(
    host_id: &str,
    filter: &DockerContainerFilter,
    sort: DockerContainerSort,
    first: i64,
    after: Option<&str>,
) -> Result<Option<Page<DockerContainer>>, ApiError> {
    let data: HostDockerContainersData = execute(
        &format!(
            "query HostDockerContainers($id: ID!, $filter: DockerContainerFilter, $sort: DockerContainerSort, \
             $first: Int, $after: String) {{ host(id: $id) {{ dockerContainers(filter: $filter, sort: $sort, \
             first: $first, after: $after) {{ edges {{ node {{ {DOCKER_CONTAINER_FIELDS} {DOCKER_CONTAINER_UPDATE_FIELDS} }} }} \
             pageInfo {{ hasNextPage endCursor }} totalCount }} }} }}"
        ),
        json!({ "id": host_id, "filter": filter, "sort": sort, "first": first, "after": after }),
    )
    .await?;
    Ok(data.host.map(|host| host.docker_containers.into()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InventoryCountData {
    docker_containers: CountData,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CountData {
    total_count: i64,
}

/// How many Docker containers match `filter`.
pub async fn docker_container_count(filter: &DockerContainerFilter) -> Result<i64, ApiError> {
    let data: InventoryCountData = execute(
        "query DockerContainerCount($filter: DockerContainerFilter) { \
         dockerContainers(filter: $filter, first: 1) { totalCount } }",
        json!({ "filter": filter }),
    )
    .await?;
    Ok(data.docker_containers.total_count)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerContainerData {
    docker_container: Option<DockerContainer>,
}

/// One Docker container of the inventory; `None` when it is gone.
#[cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "the tables read pages and follow deltas; kept for a detail view and scripts' parity"
    )
)]
pub async fn docker_container(id: &str) -> Result<Option<DockerContainer>, ApiError> {
    let data: DockerContainerData = execute(
        &format!(
            "query DockerContainer($id: ID!) {{ dockerContainer(id: $id) {{ {DOCKER_CONTAINER_FIELDS} {DOCKER_CONTAINER_UPDATE_FIELDS} }} }}"
        ),
        json!({ "id": id }),
    )
    .await?;
    Ok(data.docker_container)
}

/// The actions on one Docker container that answer with the container as it is now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DockerAction {
    Start,
    Stop,
    Restart,
    Kill,
}

impl DockerAction {
    fn field(self) -> &'static str {
        match self {
            Self::Start => "startDockerContainer",
            Self::Stop => "stopDockerContainer",
            Self::Restart => "restartDockerContainer",
            Self::Kill => "killDockerContainer",
        }
    }

    /// The verb, for buttons ("Start").
    pub fn label(self) -> &'static str {
        match self {
            Self::Start => "Start",
            Self::Stop => "Stop",
            Self::Restart => "Restart",
            Self::Kill => "Kill",
        }
    }

    /// The verb in a sentence ("start").
    pub fn verb(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
            Self::Kill => "kill",
        }
    }
}

/// Starts, stops, restarts or kills a Docker container Berth does not manage (a managed one is CONFLICT: use
/// its definition's actions). NOT_FOUND when it vanished, UNAVAILABLE when its host does not answer.
pub async fn docker_container_action(
    id: &str,
    action: DockerAction,
) -> Result<DockerContainer, ApiError> {
    let field = action.field();
    execute_field(
        &format!(
            "mutation {field}($id: ID!) {{ {field}(id: $id) {{ {DOCKER_CONTAINER_FIELDS} }} }}"
        ),
        json!({ "id": id }),
        field,
    )
    .await
}

/// Removes a Docker container from its host (ADMIN).
pub async fn remove_docker_container(id: &str) -> Result<(), ApiError> {
    let _: bool = execute_field(
        "mutation RemoveDockerContainer($id: ID!) { removeDockerContainer(id: $id) }",
        json!({ "id": id }),
        "removeDockerContainer",
    )
    .await?;
    Ok(())
}

/// What adopting a Docker container would do.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerContainerAdoption {
    /// The definition adoption would create, in the shape of `ContainerInput` (its host pinned).
    pub input: Value,
    /// Settings a definition cannot express, one sentence each: they are dropped.
    #[serde(default)]
    pub unsupported: Vec<String>,
    #[serde(default)]
    pub compose_project: Option<String>,
    #[serde(default)]
    pub compose_service: Option<String>,
    /// What happens to the running container, one paragraph.
    pub effect: String,
}

/// The adoption preview of a Docker container.
pub async fn docker_container_adoption(id: &str) -> Result<DockerContainerAdoption, ApiError> {
    execute_field(
        "query DockerContainerAdoption($id: ID!) { dockerContainerAdoption(id: $id) { \
         input unsupported composeProject composeService effect } }",
        json!({ "id": id }),
        "dockerContainerAdoption",
    )
    .await
}

/// Makes a definition of a Docker container (named `name`, else as the preview says). With settings that a
/// definition cannot express, `confirm_unsupported` must be true (else BAD_USER_INPUT on `confirmUnsupported`).
pub async fn adopt_docker_container(
    id: &str,
    name: Option<&str>,
    confirm_unsupported: bool,
) -> Result<Container, ApiError> {
    execute_field(
        &format!(
            "mutation AdoptDockerContainer($id: ID!, $name: String, $confirmUnsupported: Boolean!) {{ \
             adoptDockerContainer(id: $id, name: $name, confirmUnsupported: $confirmUnsupported) {{ {} }} }}",
            super::containers::container_fields()
        ),
        json!({ "id": id, "name": name, "confirmUnsupported": confirm_unsupported }),
        "adoptDockerContainer",
    )
    .await
}

/// What happened to a row, relative to the subscription's filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeKind {
    /// A row now matches (new, or changed into the filter).
    Added,
    Changed,
    /// A row no longer matches (gone, or changed out of the filter).
    Removed,
}

/// One delta of the inventory.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerContainerChange {
    pub kind: ChangeKind,
    pub id: String,
    pub docker_id: String,
    /// The row as it is now; for REMOVED the last known row.
    pub container: DockerContainer,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerContainerChangeData {
    docker_container_changes: DockerContainerChange,
}

/// The deltas of the inventory rows matching `filter`, for as long as the current component lives.
pub fn watch_docker_container_changes(
    filter: &DockerContainerFilter,
    on_event: impl Fn(Live<DockerContainerChange>) + 'static,
) {
    watch(
        &format!(
            "subscription DockerContainerChanges($filter: DockerContainerFilter) {{ \
             dockerContainerChanges(filter: $filter) {{ kind id dockerId container {{ {DOCKER_CONTAINER_FIELDS} }} }} }}"
        ),
        json!({ "filter": filter }),
        |data: DockerContainerChangeData| data.docker_container_changes,
        on_event,
    );
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerLogLineData {
    docker_container_logs: LogLine,
}

/// The last `tail` lines of a Docker container's output, then new lines as they come, only those holding
/// `search` when given (each reconnection replays the tail: clear on `Live::Connected`). Drop the stream to stop.
pub fn docker_container_logs(
    id: &str,
    tail: i64,
    search: Option<&str>,
) -> impl Stream<Item = Live<LogLine>> + use<> {
    subscriptions::subscribe_with_status(
        "subscription DockerContainerLogs($id: ID!, $tail: Int, $search: String) { \
         dockerContainerLogs(id: $id, tail: $tail, search: $search) { stream text at } }",
        json!({ "id": id, "tail": tail, "search": search }),
    )
    .map(|event| Live::from_event(event, |data: DockerLogLineData| data.docker_container_logs))
}
