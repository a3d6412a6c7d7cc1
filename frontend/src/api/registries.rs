//! Registries: the list and one registry, its repositories and tags in pages, adding, editing, removing,
//! refreshing, the push hook secret, and the live feed of refresh progress. Re-exported by `api`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiError, ConnectionData, Live, Page, execute, execute_field, watch};

pub use berth_shared::{RegistryKind, RegistryStatus};

/// An image registry as Berth records it (the password itself is never returned).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registry {
    pub id: String,
    pub name: String,
    pub url: String,
    pub kind: RegistryKind,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    pub has_password: bool,
    pub insecure: bool,
    pub refresh_interval_seconds: i64,
    pub status: RegistryStatus,
    #[serde(default)]
    pub last_refreshed_at: Option<String>,
    #[serde(default)]
    pub last_error: Option<String>,
    pub repository_count: i64,
    pub tag_count: i64,
    /// A push-hook secret is set: the registry tells Berth of every push.
    #[serde(default)]
    pub has_hook: bool,
}

/// A registry's settings, for `addRegistry` and `updateRegistry`. `password: None` is omitted (on update the
/// stored one is kept); `Some("")` clears it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryInput {
    pub name: String,
    pub url: String,
    pub kind: RegistryKind,
    pub namespace: Option<String>,
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    pub insecure: bool,
    pub refresh_interval_seconds: i64,
}

/// One tag of a repository, as of the registry's last good refresh.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageTag {
    pub name: String,
    /// Full pullable reference, e.g. `127.0.0.1:5000/tools/busybox:1.35`.
    pub reference: String,
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub size_bytes: Option<i64>,
    #[serde(default)]
    pub architectures: Vec<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// One repository of a registry with its tags.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
pub struct Repository {
    pub name: String,
    #[serde(default)]
    pub tags: Vec<ImageTag>,
}

const REGISTRY_FIELDS: &str = "id name url kind namespace username hasPassword insecure refreshIntervalSeconds \
     status lastRefreshedAt lastError repositoryCount tagCount hasHook";
const TAG_FIELDS: &str = "name reference digest sizeBytes architectures createdAt";

#[derive(Deserialize)]
struct RegistriesData {
    registries: Vec<Registry>,
}

/// Every registry, by name.
pub async fn registries() -> Result<Vec<Registry>, ApiError> {
    let data: RegistriesData = execute(
        &format!("query Registries {{ registries {{ {REGISTRY_FIELDS} }} }}"),
        json!({}),
    )
    .await?;
    Ok(data.registries)
}

#[derive(Deserialize)]
struct RegistryData {
    registry: Option<Registry>,
}

/// One registry (without its repositories); `None` when there is no such registry.
pub async fn registry(id: &str) -> Result<Option<Registry>, ApiError> {
    let data: RegistryData = execute(
        &format!("query Registry($id: ID!) {{ registry(id: $id) {{ {REGISTRY_FIELDS} }} }}"),
        json!({ "id": id }),
    )
    .await?;
    Ok(data.registry)
}

#[derive(Deserialize)]
struct RegistryRepositoriesInner {
    repositories: ConnectionData<Repository>,
}

#[derive(Deserialize)]
struct RegistryRepositoriesData {
    registry: Option<RegistryRepositoriesInner>,
}

/// One page of a registry's repositories (names containing `filter`, after the cursor `after`); `None` when
/// there is no such registry.
pub async fn registry_repositories(
    id: &str,
    filter: Option<&str>,
    first: i64,
    after: Option<&str>,
) -> Result<Option<Page<Repository>>, ApiError> {
    let data: RegistryRepositoriesData = execute(
        &format!(
            "query RegistryRepositories($id: ID!, $filter: String, $first: Int, $after: String) {{ \
             registry(id: $id) {{ repositories(filter: $filter, first: $first, after: $after) {{ \
             edges {{ cursor node {{ name tags {{ {TAG_FIELDS} }} }} }} \
             pageInfo {{ hasNextPage endCursor }} totalCount }} }} }}"
        ),
        json!({ "id": id, "filter": filter, "first": first, "after": after }),
    )
    .await?;
    Ok(data.registry.map(|registry| registry.repositories.into()))
}

/// Saves a new registry; the server starts its first refresh and answers at once.
pub async fn add_registry(input: &RegistryInput) -> Result<Registry, ApiError> {
    execute_field::<Registry>(
        &format!(
            "mutation AddRegistry($input: RegistryInput!) {{ \
             addRegistry(input: $input) {{ {REGISTRY_FIELDS} }} }}"
        ),
        json!({ "input": input }),
        "addRegistry",
    )
    .await
}

/// Saves a registry's new settings; the server starts a refresh.
pub async fn update_registry(id: &str, input: &RegistryInput) -> Result<Registry, ApiError> {
    execute_field::<Registry>(
        &format!(
            "mutation UpdateRegistry($id: ID!, $input: RegistryInput!) {{ \
             updateRegistry(id: $id, input: $input) {{ {REGISTRY_FIELDS} }} }}"
        ),
        json!({ "id": id, "input": input }),
        "updateRegistry",
    )
    .await
}

/// Forgets a registry and its listing (the registry itself is left alone).
pub async fn remove_registry(id: &str) -> Result<(), ApiError> {
    let _: bool = execute_field(
        "mutation RemoveRegistry($id: ID!) { removeRegistry(id: $id) }",
        json!({ "id": id }),
        "removeRegistry",
    )
    .await?;
    Ok(())
}

/// Starts a refresh now (progress arrives on [`watch_registry_refresh`]).
pub async fn refresh_registry(id: &str) -> Result<Registry, ApiError> {
    execute_field::<Registry>(
        &format!(
            "mutation RefreshRegistry($id: ID!) {{ refreshRegistry(id: $id) {{ {REGISTRY_FIELDS} }} }}"
        ),
        json!({ "id": id }),
        "refreshRegistry",
    )
    .await
}

/// A new push-hook secret for a registry (shown once; an earlier one stops working).
pub async fn create_registry_hook_secret(id: &str) -> Result<String, ApiError> {
    execute_field::<String>(
        "mutation CreateRegistryHookSecret($id: ID!) { createRegistryHookSecret(registryId: $id) }",
        json!({ "id": id }),
        "createRegistryHookSecret",
    )
    .await
}

/// Turns a registry's push hook off.
pub async fn remove_registry_hook_secret(id: &str) -> Result<Registry, ApiError> {
    execute_field::<Registry>(
        &format!(
            "mutation RemoveRegistryHookSecret($id: ID!) {{ removeRegistryHookSecret(registryId: $id) {{ {REGISTRY_FIELDS} }} }}"
        ),
        json!({ "id": id }),
        "removeRegistryHookSecret",
    )
    .await
}

/// Where a registry refresh stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefreshPhase {
    Started,
    Progress,
    Finished,
    Failed,
}

/// Progress of one registry refresh.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryRefreshEvent {
    /// The registry as recorded when the event was delivered.
    pub registry: Registry,
    pub phase: RefreshPhase,
    pub repositories_done: i64,
    #[serde(default)]
    pub repositories_total: Option<i64>,
    pub at: String,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegistryRefreshEventData {
    registry_refresh: RegistryRefreshEvent,
}

/// Refresh progress of one registry, or of every registry with `None`, for as long as the current component
/// lives.
pub fn watch_registry_refresh(
    registry_id: Option<&str>,
    on_event: impl Fn(Live<RegistryRefreshEvent>) + 'static,
) {
    watch(
        &format!(
            "subscription RegistryRefresh($registryId: ID) {{ registryRefresh(registryId: $registryId) {{ \
             registry {{ {REGISTRY_FIELDS} }} phase repositoriesDone repositoriesTotal at message }} }}"
        ),
        json!({ "registryId": registry_id }),
        |data: RegistryRefreshEventData| data.registry_refresh,
        on_event,
    );
}
