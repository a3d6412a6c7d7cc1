//! Registries: listing, adding and editing (the password is write-only), refreshing, browsing their
//! repositories as a Relay connection, and live refresh progress.

use super::error::{ApiError, ApiResult};
use super::paging::{DEFAULT_PAGE, MAX_PAGE, PageInfo, count, cursor, parse_cursor};
use super::scalars::Bytes;
use super::{authorized_services, require_user, services};
use crate::bus::{Event, RefreshPhase as BusRefreshPhase};
use crate::service::registries::{self as svc, RegistrySettings};
use async_graphql::{
    ComplexObject, Context, Enum, ID, InputObject, Object, SimpleObject, Subscription,
};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};

/// Page size of `repositories` when `first` is not given, and the largest one.

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "berth_shared::RegistryKind")]
pub enum RegistryKind {
    V2,
    DockerHub,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "berth_shared::RegistryStatus")]
pub enum RegistryStatus {
    NeverRefreshed,
    Refreshing,
    Ok,
    Error,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct Registry {
    pub id: ID,
    pub name: String,
    /// e.g. https://registry.example.com or http://127.0.0.1:5000
    pub url: String,
    pub kind: RegistryKind,
    /// DOCKER_HUB: the user or organisation whose repositories are listed.
    pub namespace: Option<String>,
    pub username: Option<String>,
    /// The password itself is never returned.
    pub has_password: bool,
    /// Plain http or unverified TLS allowed.
    pub insecure: bool,
    /// 0 = only on demand.
    pub refresh_interval_seconds: i32,
    pub status: RegistryStatus,
    pub last_refreshed_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Whether a push-hook secret is set (`createRegistryHookSecret`): the registry then tells Berth of every push
    /// at `POST /hooks/registry/{id}`. The secret itself is never returned.
    pub has_hook: bool,
}

impl From<svc::Registry> for Registry {
    fn from(r: svc::Registry) -> Self {
        Registry {
            id: ID(r.id),
            name: r.name,
            url: r.url,
            kind: r.kind.into(),
            namespace: r.namespace,
            username: r.username,
            has_password: r.has_password,
            insecure: r.insecure,
            refresh_interval_seconds: r.refresh_interval_seconds,
            status: r.status.into(),
            last_refreshed_at: r.last_refreshed_at,
            last_error: r.last_error,
            has_hook: r.has_hook,
        }
    }
}

#[ComplexObject]
impl Registry {
    async fn repository_count(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        Ok(count(
            services(ctx)?.registries.repository_count(&self.id).await?,
        ))
    }

    async fn tag_count(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        Ok(count(services(ctx)?.registries.tag_count(&self.id).await?))
    }

    /// The repositories of the last good refresh, by name; `filter` keeps names containing it. `first` is
    /// clamped to 1..=500 (default 50).
    async fn repositories(
        &self,
        ctx: &Context<'_>,
        filter: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<RepositoryConnection> {
        let first = usize::try_from(first.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)).unwrap_or(1);
        let offset = match after.as_deref() {
            Some(a) => parse_cursor(a)?.saturating_add(1),
            None => 0,
        };
        let page = services(ctx)?
            .registries
            .repositories(&self.id, filter.as_deref(), offset, first)
            .await?;
        let edges: Vec<RepositoryEdge> = page
            .repositories
            .into_iter()
            .enumerate()
            .map(|(i, r)| RepositoryEdge {
                cursor: cursor(page.offset + i),
                node: r.into(),
            })
            .collect();
        Ok(RepositoryConnection {
            page_info: PageInfo {
                has_next_page: page.has_next,
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total_count: count(page.total),
        })
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Repository {
    /// e.g. tools/busybox
    pub name: String,
    pub tags: Vec<ImageTag>,
}

impl From<svc::Repository> for Repository {
    fn from(r: svc::Repository) -> Self {
        Repository {
            name: r.name,
            tags: r.tags.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct ImageTag {
    /// e.g. 1.35
    pub name: String,
    /// Full pullable reference, e.g. 127.0.0.1:5000/tools/busybox:1.35
    pub reference: String,
    pub digest: Option<String>,
    pub size_bytes: Option<Bytes>,
    pub architectures: Vec<String>,
    pub created_at: Option<DateTime<Utc>>,
}

impl From<svc::ImageTag> for ImageTag {
    fn from(t: svc::ImageTag) -> Self {
        ImageTag {
            name: t.name,
            reference: t.reference,
            digest: t.digest,
            size_bytes: t.size_bytes.map(Bytes),
            architectures: t.architectures,
            created_at: t.created_at,
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct RepositoryConnection {
    pub edges: Vec<RepositoryEdge>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct RepositoryEdge {
    pub cursor: String,
    pub node: Repository,
}

#[derive(InputObject, Clone, Debug)]
pub struct RegistryInput {
    pub name: String,
    pub url: String,
    #[graphql(default_with = "Some(RegistryKind::V2)")]
    pub kind: Option<RegistryKind>,
    pub namespace: Option<String>,
    pub username: Option<String>,
    /// Omitted on update = keep the stored one; "" = clear it.
    pub password: Option<String>,
    #[graphql(default_with = "Some(false)")]
    pub insecure: Option<bool>,
    #[graphql(default_with = "Some(3600)")]
    pub refresh_interval_seconds: Option<i32>,
}

impl From<RegistryInput> for RegistrySettings {
    fn from(i: RegistryInput) -> Self {
        RegistrySettings {
            name: i.name,
            url: i.url,
            kind: i.kind.unwrap_or(RegistryKind::V2).into(),
            namespace: i.namespace,
            username: i.username,
            password: i.password,
            insecure: i.insecure.unwrap_or(false),
            refresh_interval_seconds: i.refresh_interval_seconds.unwrap_or(3600),
        }
    }
}

#[derive(Default)]
pub struct RegistryQuery;

#[Object]
impl RegistryQuery {
    /// Every registry, by name.
    async fn registries(&self, ctx: &Context<'_>) -> ApiResult<Vec<Registry>> {
        require_user(ctx)?;
        Ok(services(ctx)?
            .registries
            .list()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn registry(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Registry>> {
        require_user(ctx)?;
        Ok(services(ctx)?.registries.get(&id).await?.map(Into::into))
    }
}

#[derive(Default)]
pub struct RegistryMutation;

#[Object]
impl RegistryMutation {
    /// Saves a registry and starts its first refresh (answers at once, REFRESHING).
    async fn add_registry(&self, ctx: &Context<'_>, input: RegistryInput) -> ApiResult<Registry> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .registries
            .add(actor, input.into())
            .await?
            .into())
    }

    /// Saves new settings and starts a refresh.
    async fn update_registry(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: RegistryInput,
    ) -> ApiResult<Registry> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .registries
            .update(actor, &id, input.into())
            .await?
            .into())
    }

    async fn remove_registry(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let actor = require_user(ctx)?;
        services(ctx)?.registries.remove(actor, &id).await?;
        Ok(true)
    }

    /// Starts a refresh now; progress on `registryRefresh`.
    async fn refresh_registry(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Registry> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?.registries.refresh(actor, &id).await?.into())
    }

    /// A new secret for the registry's push hook, returned only now (an earlier one stops working). Give it to
    /// the registry's `notifications.endpoints` as `Authorization: Bearer <secret>` with the URL
    /// `<Berth>/hooks/registry/<registryId>`: each push is then re-read from that repository at once.
    async fn create_registry_hook_secret(
        &self,
        ctx: &Context<'_>,
        registry_id: ID,
    ) -> ApiResult<String> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .registries
            .create_hook_secret(actor, &registry_id)
            .await?)
    }

    /// Removes the push hook's secret: pushes are seen at the next refresh only.
    async fn remove_registry_hook_secret(
        &self,
        ctx: &Context<'_>,
        registry_id: ID,
    ) -> ApiResult<Registry> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .registries
            .remove_hook_secret(actor, &registry_id)
            .await?
            .into())
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum RefreshPhase {
    Started,
    Progress,
    Finished,
    Failed,
}

impl From<BusRefreshPhase> for RefreshPhase {
    fn from(p: BusRefreshPhase) -> Self {
        match p {
            BusRefreshPhase::Started => RefreshPhase::Started,
            BusRefreshPhase::Progress => RefreshPhase::Progress,
            BusRefreshPhase::Finished => RefreshPhase::Finished,
            BusRefreshPhase::Failed => RefreshPhase::Failed,
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct RegistryRefreshEvent {
    pub registry: Registry,
    pub phase: RefreshPhase,
    pub repositories_done: i32,
    pub repositories_total: Option<i32>,
    pub at: DateTime<Utc>,
    pub message: Option<String>,
}

#[derive(Default)]
pub struct RegistrySubscription;

#[Subscription]
impl RegistrySubscription {
    /// Refresh progress (of one registry, or of all with no argument).
    async fn registry_refresh(
        &self,
        ctx: &Context<'_>,
        registry_id: Option<ID>,
    ) -> Result<impl Stream<Item = RegistryRefreshEvent> + use<>, ApiError> {
        let services = authorized_services(ctx)?;
        let stream = services.bus.stream().filter_map(move |event| {
            let services = services.clone();
            let wanted = registry_id.clone();
            async move {
                let Event::RegistryRefresh {
                    registry_id,
                    phase,
                    repositories_done,
                    repositories_total,
                    at,
                    message,
                } = &*event
                else {
                    return None;
                };
                if wanted.as_ref().is_some_and(|w| w.as_str() != registry_id) {
                    return None;
                }
                let registry = services.registries.get(registry_id).await.ok().flatten()?;
                Some(RegistryRefreshEvent {
                    registry: registry.into(),
                    phase: (*phase).into(),
                    repositories_done: i32::try_from(*repositories_done).unwrap_or(i32::MAX),
                    repositories_total: repositories_total
                        .map(|t| i32::try_from(t).unwrap_or(i32::MAX)),
                    at: *at,
                    message: message.clone(),
                })
            }
        });
        Ok(stream)
    }
}
