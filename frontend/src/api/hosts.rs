//! Hosts: the list and one host, adding, editing, removing, refreshing, maintenance, image pulls and removals,
//! and the live feeds of host status and pull progress. Re-exported by `api`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiError, HostStatus, Live, execute, execute_field, watch};

/// What the engine reported about itself at the last check.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostCapabilities {
    pub docker_version: String,
    pub api_version: String,
    pub operating_system: String,
    pub kernel_version: String,
    pub architecture: String,
    pub cpus: i64,
    pub memory_bytes: i64,
    pub storage_driver: String,
    pub checked_at: String,
}

/// One entry of a host's local image cache.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostImage {
    pub reference: String,
    pub image_id: String,
    #[serde(default)]
    pub digest: Option<String>,
    pub size_bytes: i64,
    #[serde(default)]
    pub pulled_at: Option<String>,
}

/// A Docker host as Berth records it. `images` is only filled by [`host`] (the list leaves it empty).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Host {
    pub id: String,
    pub name: String,
    pub endpoint: String,
    pub docker_support: bool,
    pub maintenance: bool,
    /// Reached over TLS (certificates and key stored; only this flag is ever returned).
    pub tls: bool,
    pub status: HostStatus,
    #[serde(default)]
    pub last_seen_at: Option<String>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub capabilities: Option<HostCapabilities>,
    pub image_count: i64,
    #[serde(default)]
    pub images: Vec<HostImage>,
}

/// A host's settings, for `addHost` and `updateHost`. A TLS field left `None` is omitted: on update the stored
/// value is kept; `Some("")` clears it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostInput {
    pub name: String,
    pub endpoint: String,
    pub docker_support: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ca_pem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert_pem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key_pem: Option<String>,
}

const HOST_FIELDS: &str = "id name endpoint dockerSupport maintenance tls status lastSeenAt lastError imageCount \
     capabilities { dockerVersion apiVersion operatingSystem kernelVersion architecture cpus memoryBytes \
     storageDriver checkedAt }";
const IMAGE_FIELDS: &str = "reference imageId digest sizeBytes pulledAt";

#[derive(Deserialize)]
struct HostsData {
    hosts: Vec<Host>,
}

/// Every host, by name (answers from Berth's record, never waiting for an engine).
pub async fn hosts() -> Result<Vec<Host>, ApiError> {
    let data: HostsData = execute(
        &format!("query Hosts {{ hosts {{ {HOST_FIELDS} }} }}"),
        json!({}),
    )
    .await?;
    Ok(data.hosts)
}

#[derive(Deserialize)]
struct HostData {
    host: Option<Host>,
}

/// One host with its image cache; `None` when there is no such host.
pub async fn host(id: &str) -> Result<Option<Host>, ApiError> {
    let data: HostData = execute(
        &format!(
            "query Host($id: ID!) {{ host(id: $id) {{ {HOST_FIELDS} images {{ {IMAGE_FIELDS} }} }} }}"
        ),
        json!({ "id": id }),
    )
    .await?;
    Ok(data.host)
}

/// Saves a new host; the server checks its engine before answering (a few seconds at most).
pub async fn add_host(input: &HostInput) -> Result<Host, ApiError> {
    execute_field::<Host>(
        &format!(
            "mutation AddHost($input: HostInput!) {{ addHost(input: $input) {{ {HOST_FIELDS} }} }}"
        ),
        json!({ "input": input }),
        "addHost",
    )
    .await
}

/// Changes a host's settings; the server checks its engine again before answering.
pub async fn update_host(id: &str, input: &HostInput) -> Result<Host, ApiError> {
    execute_field::<Host>(
        &format!(
            "mutation UpdateHost($id: ID!, $input: HostInput!) {{ \
             updateHost(id: $id, input: $input) {{ {HOST_FIELDS} }} }}"
        ),
        json!({ "id": id, "input": input }),
        "updateHost",
    )
    .await
}

/// Forgets a host (its engine and containers are left alone).
pub async fn remove_host(id: &str) -> Result<(), ApiError> {
    let _: bool = execute_field(
        "mutation RemoveHost($id: ID!) { removeHost(id: $id) }",
        json!({ "id": id }),
        "removeHost",
    )
    .await?;
    Ok(())
}

/// Re-checks a host's engine: status, capabilities and image cache.
pub async fn refresh_host(id: &str) -> Result<Host, ApiError> {
    execute_field::<Host>(
        &format!("mutation RefreshHost($id: ID!) {{ refreshHost(id: $id) {{ {HOST_FIELDS} }} }}"),
        json!({ "id": id }),
        "refreshHost",
    )
    .await
}

/// Puts a host into maintenance (still monitored, never scheduled on) or takes it out.
pub async fn set_host_maintenance(id: &str, maintenance: bool) -> Result<Host, ApiError> {
    execute_field::<Host>(
        &format!(
            "mutation SetHostMaintenance($id: ID!, $maintenance: Boolean!) {{ \
             setHostMaintenance(id: $id, maintenance: $maintenance) {{ {HOST_FIELDS} }} }}"
        ),
        json!({ "id": id, "maintenance": maintenance }),
        "setHostMaintenance",
    )
    .await
}

/// Pulls an image onto a host; resolves when the pull is done (progress arrives on [`watch_image_pulls`]).
pub async fn pull_image(host_id: &str, reference: &str) -> Result<HostImage, ApiError> {
    execute_field::<HostImage>(
        &format!(
            "mutation PullImage($hostId: ID!, $reference: String!) {{ \
             pullImage(hostId: $hostId, reference: $reference) {{ {IMAGE_FIELDS} }} }}"
        ),
        json!({ "hostId": host_id, "reference": reference }),
        "pullImage",
    )
    .await
}

/// Removes an image from a host's local cache.
pub async fn remove_host_image(host_id: &str, reference: &str) -> Result<(), ApiError> {
    let _: bool = execute_field(
        "mutation RemoveHostImage($hostId: ID!, $reference: String!) { \
         removeHostImage(hostId: $hostId, reference: $reference) }",
        json!({ "hostId": host_id, "reference": reference }),
        "removeHostImage",
    )
    .await?;
    Ok(())
}

/// A host's status changed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostStatusEvent {
    pub status: HostStatus,
    /// The host as recorded when the event was delivered.
    pub host: Host,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HostStatusEventData {
    host_status: HostStatusEvent,
}

/// Status transitions of one host, or of every host with `None`, for as long as the current component lives.
pub fn watch_host_status(
    host_id: Option<&str>,
    on_event: impl Fn(Live<HostStatusEvent>) + 'static,
) {
    watch(
        &format!(
            "subscription HostStatus($hostId: ID) {{ hostStatus(hostId: $hostId) {{ \
             status host {{ {HOST_FIELDS} }} }} }}"
        ),
        json!({ "hostId": host_id }),
        |data: HostStatusEventData| data.host_status,
        on_event,
    );
}

/// Where an image pull stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PullPhase {
    Started,
    Progress,
    Finished,
    Failed,
}

/// Progress of one image pull.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImagePullEvent {
    /// The normalised reference (`docker.io/library/nginx:latest`).
    pub reference: String,
    pub phase: PullPhase,
    #[serde(default)]
    pub current_bytes: Option<i64>,
    #[serde(default)]
    pub total_bytes: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImagePullEventData {
    image_pull: ImagePullEvent,
}

/// Image pull progress on one host, for as long as the current component lives.
pub fn watch_image_pulls(host_id: &str, on_event: impl Fn(Live<ImagePullEvent>) + 'static) {
    watch(
        "subscription ImagePull($hostId: ID) { imagePull(hostId: $hostId) { \
         reference phase currentBytes totalBytes message } }",
        json!({ "hostId": host_id }),
        |data: ImagePullEventData| data.image_pull,
        on_event,
    );
}
