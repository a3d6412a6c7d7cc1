//! Docker hosts: listing, adding and editing, maintenance, refresh, the image cache, and live host status and
//! pull progress.

use super::error::{ApiError, ApiResult};
use super::scalars::Bytes;
use super::{authorized_services, require_user, services};
use crate::bus::{Event, PullPhase as BusPullPhase};
use crate::service::hosts::{self as svc, HostSettings};
use async_graphql::{
    ComplexObject, Context, Enum, ID, InputObject, Object, SimpleObject, Subscription,
};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "berth_shared::HostStatus")]
pub enum HostStatus {
    Up,
    NonResponsive,
    Down,
    Maintenance,
    Installing,
    Unknown,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct HostCapabilities {
    pub docker_version: String,
    pub api_version: String,
    pub operating_system: String,
    pub kernel_version: String,
    pub architecture: String,
    pub cpus: i32,
    pub memory_bytes: Bytes,
    pub storage_driver: String,
    pub checked_at: DateTime<Utc>,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct Host {
    pub id: ID,
    pub name: String,
    pub endpoint: String,
    pub docker_support: bool,
    /// Set by a user: still monitored, never scheduled on.
    pub maintenance: bool,
    /// Whether the host is reached over TLS (certificates stored; the key is never returned).
    pub tls: bool,
    pub status: HostStatus,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub capabilities: Option<HostCapabilities>,
}

impl From<svc::Host> for Host {
    fn from(h: svc::Host) -> Self {
        let capabilities = h.capabilities.map(|c| HostCapabilities {
            docker_version: c.docker_version,
            api_version: c.api_version,
            operating_system: c.operating_system,
            kernel_version: c.kernel_version,
            architecture: c.architecture,
            cpus: i32::try_from(c.cpus).unwrap_or(i32::MAX),
            memory_bytes: Bytes(c.memory_bytes),
            storage_driver: c.storage_driver,
            checked_at: h.checked_at.unwrap_or_else(Utc::now),
        });
        Host {
            id: ID(h.id),
            name: h.name,
            endpoint: h.endpoint,
            docker_support: h.docker_support,
            maintenance: h.maintenance,
            tls: h.tls,
            status: h.status.into(),
            last_seen_at: h.last_seen_at,
            last_error: h.last_error,
            capabilities,
        }
    }
}

#[ComplexObject]
impl Host {
    /// The Docker containers on this host (as `dockerContainers` with this host's id).
    async fn docker_containers(
        &self,
        ctx: &Context<'_>,
        filter: Option<super::inventory::DockerContainerFilter>,
        sort: Option<super::inventory::DockerContainerSort>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<super::inventory::DockerContainerConnection> {
        let mut filter: crate::service::inventory::InventoryFilter =
            filter.unwrap_or_default().into();
        filter.host_id = Some(self.id.0.clone());
        super::inventory::connection(ctx, filter, sort, first, after).await
    }

    /// The engine's record of the host's local image cache.
    async fn images(&self, ctx: &Context<'_>) -> ApiResult<Vec<HostImage>> {
        let images = services(ctx)?.hosts.images(&self.id).await?;
        Ok(images.into_iter().map(Into::into).collect())
    }

    /// Number of references in the image cache.
    async fn image_count(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        let images = services(ctx)?.hosts.images(&self.id).await?;
        Ok(i32::try_from(images.len()).unwrap_or(i32::MAX))
    }

    /// The host's latest totals over its running instances (their latest background samples), with the
    /// host's memory; null before the first sample.
    async fn stats(&self, ctx: &Context<'_>) -> ApiResult<Option<super::stats::HostStats>> {
        super::stats::host(ctx, &self.id).await
    }

    /// The host's totals over time from `since` (default: 24 h ago; at most 48 h back), oldest first: its
    /// instances' background samples summed per time bucket (each instance averaged within it), at most 360
    /// points; 5-minute averages before the last hour.
    async fn stats_history(
        &self,
        ctx: &Context<'_>,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> ApiResult<Vec<super::stats::HostStatsPoint>> {
        super::stats::host_history(ctx, &self.id, since).await
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct HostImage {
    pub reference: String,
    pub image_id: String,
    pub digest: Option<String>,
    pub size_bytes: Bytes,
    pub pulled_at: Option<DateTime<Utc>>,
}

impl From<svc::HostImage> for HostImage {
    fn from(i: svc::HostImage) -> Self {
        HostImage {
            reference: i.reference,
            image_id: i.image_id,
            digest: i.digest,
            size_bytes: Bytes(i.size_bytes),
            pulled_at: i.pulled_at,
        }
    }
}

#[derive(InputObject, Clone, Debug)]
pub struct HostInput {
    pub name: String,
    pub endpoint: String,
    #[graphql(default = true)]
    pub docker_support: bool,
    /// TLS: CA, client certificate and key, PEM text. Omitted on update = keep; "" = clear.
    pub tls_ca_pem: Option<String>,
    pub tls_cert_pem: Option<String>,
    pub tls_key_pem: Option<String>,
}

impl From<HostInput> for HostSettings {
    fn from(i: HostInput) -> Self {
        HostSettings {
            name: i.name,
            endpoint: i.endpoint,
            docker_support: i.docker_support,
            tls_ca_pem: i.tls_ca_pem,
            tls_cert_pem: i.tls_cert_pem,
            tls_key_pem: i.tls_key_pem,
        }
    }
}

#[derive(Default)]
pub struct HostQuery;

#[Object]
impl HostQuery {
    /// Every host, by name. Answers from Berth's record, never waiting for an engine.
    async fn hosts(&self, ctx: &Context<'_>) -> ApiResult<Vec<Host>> {
        require_user(ctx)?;
        Ok(services(ctx)?
            .hosts
            .list()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn host(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Host>> {
        require_user(ctx)?;
        Ok(services(ctx)?.hosts.get(&id).await?.map(Into::into))
    }
}

#[derive(Default)]
pub struct HostMutation;

#[Object]
impl HostMutation {
    /// Saves a host and checks it at once; an engine that does not answer leaves it NON_RESPONSIVE with the reason.
    async fn add_host(&self, ctx: &Context<'_>, input: HostInput) -> ApiResult<Host> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?.hosts.add(actor, input.into()).await?.into())
    }

    async fn update_host(&self, ctx: &Context<'_>, id: ID, input: HostInput) -> ApiResult<Host> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .hosts
            .update(actor, &id, input.into())
            .await?
            .into())
    }

    async fn remove_host(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let actor = require_user(ctx)?;
        services(ctx)?.hosts.remove(actor, &id).await?;
        Ok(true)
    }

    /// Re-checks capabilities and the image cache.
    async fn refresh_host(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Host> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?.hosts.refresh(actor, &id).await?.into())
    }

    async fn set_host_maintenance(
        &self,
        ctx: &Context<'_>,
        id: ID,
        maintenance: bool,
    ) -> ApiResult<Host> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .hosts
            .set_maintenance(actor, &id, maintenance)
            .await?
            .into())
    }

    /// Pulls an image onto the host (progress on `imagePull`) and returns its cache entry when done.
    async fn pull_image(
        &self,
        ctx: &Context<'_>,
        host_id: ID,
        reference: String,
    ) -> ApiResult<HostImage> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .hosts
            .pull_image(actor, &host_id, &reference)
            .await?
            .into())
    }

    async fn remove_host_image(
        &self,
        ctx: &Context<'_>,
        host_id: ID,
        reference: String,
    ) -> ApiResult<bool> {
        let actor = require_user(ctx)?;
        services(ctx)?
            .hosts
            .remove_image(actor, &host_id, &reference)
            .await?;
        Ok(true)
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum PullPhase {
    Started,
    Progress,
    Finished,
    Failed,
}

impl From<BusPullPhase> for PullPhase {
    fn from(p: BusPullPhase) -> Self {
        match p {
            BusPullPhase::Started => PullPhase::Started,
            BusPullPhase::Progress => PullPhase::Progress,
            BusPullPhase::Finished => PullPhase::Finished,
            BusPullPhase::Failed => PullPhase::Failed,
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct HostStatusEvent {
    pub host: Host,
    pub status: HostStatus,
    pub previous_status: Option<HostStatus>,
    pub at: DateTime<Utc>,
    pub message: Option<String>,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct ImagePullEvent {
    pub host: Host,
    pub reference: String,
    pub phase: PullPhase,
    pub current_bytes: Option<Bytes>,
    pub total_bytes: Option<Bytes>,
    pub at: DateTime<Utc>,
    pub message: Option<String>,
}

#[derive(Default)]
pub struct HostSubscription;

#[Subscription]
impl HostSubscription {
    /// Every host status transition (of one host, or of all with no argument).
    async fn host_status(
        &self,
        ctx: &Context<'_>,
        host_id: Option<ID>,
    ) -> Result<impl Stream<Item = HostStatusEvent> + use<>, ApiError> {
        let services = authorized_services(ctx)?;
        let stream = services.bus.stream().filter_map(move |event| {
            let services = services.clone();
            let wanted = host_id.clone();
            async move {
                let Event::HostStatus {
                    host_id,
                    status,
                    previous,
                    at,
                    message,
                } = &*event
                else {
                    return None;
                };
                if wanted.as_ref().is_some_and(|w| w.as_str() != host_id) {
                    return None;
                }
                let host = services.hosts.get(host_id).await.ok().flatten()?;
                Some(HostStatusEvent {
                    host: host.into(),
                    status: (*status).into(),
                    previous_status: previous.map(Into::into),
                    at: *at,
                    message: message.clone(),
                })
            }
        });
        Ok(stream)
    }

    /// Progress of image pulls (on one host, or on all).
    async fn image_pull(
        &self,
        ctx: &Context<'_>,
        host_id: Option<ID>,
    ) -> Result<impl Stream<Item = ImagePullEvent> + use<>, ApiError> {
        let services = authorized_services(ctx)?;
        let stream = services.bus.stream().filter_map(move |event| {
            let services = services.clone();
            let wanted = host_id.clone();
            async move {
                let Event::ImagePull {
                    host_id,
                    reference,
                    phase,
                    current_bytes,
                    total_bytes,
                    at,
                    message,
                } = &*event
                else {
                    return None;
                };
                if wanted.as_ref().is_some_and(|w| w.as_str() != host_id) {
                    return None;
                }
                let host = services.hosts.get(host_id).await.ok().flatten()?;
                Some(ImagePullEvent {
                    host: host.into(),
                    reference: reference.clone(),
                    phase: (*phase).into(),
                    current_bytes: current_bytes.map(Bytes),
                    total_bytes: total_bytes.map(Bytes),
                    at: *at,
                    message: message.clone(),
                })
            }
        });
        Ok(stream)
    }
}
