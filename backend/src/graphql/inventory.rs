//! The fleet inventory in the API: every Docker container on every host, paged with keyset cursors, its changes
//! as a filtered delta subscription, actions on containers Berth did not create, and their logs.

use super::containers::{Container, ContainerInstance, LogLine};
use super::error::{ApiError, ApiResult};
use super::hosts::Host;
use super::paging::{KeysetCursor, PageInfo, SortDirection, page_size};
use super::{authorized_services, require_user, services};
use crate::bus::Event;
use crate::service::inventory::{
    self as svc, DockerAction, InventoryFilter, InventorySort, validate_filter,
};
use async_graphql::{
    ComplexObject, Context, Enum, ID, InputObject, Object, SimpleObject, Subscription,
};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use std::sync::Arc;

#[derive(SimpleObject, Clone, Debug)]
pub struct Label {
    pub key: String,
    pub value: String,
}

/// A port of a container, published on the host or only exposed.
#[derive(SimpleObject, Clone, Debug)]
pub struct DockerPort {
    pub private_port: i32,
    pub public_port: Option<i32>,
    pub ip: Option<String>,
    /// tcp, udp or sctp
    pub protocol: String,
}

/// A Docker container on a host, Berth's or anybody else's.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct DockerContainer {
    /// The inventory id (`<host id>:<docker id>`).
    pub id: ID,
    pub host_id: ID,
    pub host_name: String,
    pub docker_id: String,
    /// Without the leading `/`.
    pub name: String,
    /// The image as written when the container was created.
    pub image: String,
    pub image_id: String,
    pub command: String,
    /// Docker's state word: created, running, paused, restarting, removing, exited, dead.
    pub state: String,
    /// Docker's text, e.g. "Up 3 minutes (healthy)".
    pub status: String,
    /// healthy, unhealthy or starting; null without a health check.
    pub health: Option<String>,
    pub exit_code: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ports: Vec<DockerPort>,
    pub labels: Vec<Label>,
    /// The compose project (label com.docker.compose.project).
    pub compose_project: Option<String>,
    /// The compose service (label com.docker.compose.service).
    pub compose_service: Option<String>,
    /// Created by this Berth: `container` and `instance` say for which definition and replica.
    pub managed: bool,
    /// False while its host does not answer: the row is the last known state.
    pub current: bool,
    pub last_seen_at: DateTime<Utc>,
    #[graphql(skip)]
    pub container_id: Option<String>,
    #[graphql(skip)]
    pub instance_id: Option<String>,
    /// The registry digest it runs and the registry's current one for its image: filled from the page's one
    /// lookup, or read once on demand and shared by the fields that need them.
    #[graphql(skip)]
    pub digests: Digests,
}

/// (the digest a container runs, the registry's current digest of its image), read at most once.
pub type Digests = Arc<tokio::sync::OnceCell<(Option<String>, Option<String>)>>;

impl DockerContainer {
    async fn digests_of(&self, ctx: &Context<'_>) -> ApiResult<(Option<String>, Option<String>)> {
        let got = self
            .digests
            .get_or_try_init(|| async {
                let s = services(ctx)?;
                let Some(c) = s.inventory.get(&self.id).await? else {
                    return Ok::<_, ApiError>((None, None));
                };
                let running = s.inventory.image_digests(&[&c]).await?.remove(&c.id);
                let latest = s
                    .registries
                    .latest_digests(std::slice::from_ref(&c.image))
                    .await?
                    .remove(&c.image);
                Ok((running, latest))
            })
            .await?;
        Ok(got.clone())
    }
}

impl From<&svc::DockerContainer> for DockerContainer {
    fn from(c: &svc::DockerContainer) -> Self {
        DockerContainer {
            id: ID(c.id.clone()),
            host_id: ID(c.host_id.clone()),
            host_name: c.host_name.clone(),
            docker_id: c.docker_id.clone(),
            name: c.name.clone(),
            image: c.image.clone(),
            image_id: c.image_id.clone(),
            command: c.command.clone(),
            state: c.state.clone(),
            status: c.status.clone(),
            health: c.health.clone(),
            exit_code: c.exit_code.and_then(|e| i32::try_from(e).ok()),
            created_at: c.created_at,
            started_at: c.started_at,
            ports: c
                .ports
                .iter()
                .map(|p| DockerPort {
                    private_port: i32::from(p.private_port),
                    public_port: p.public_port.map(i32::from),
                    ip: p.ip.clone(),
                    protocol: p.protocol.clone(),
                })
                .collect(),
            labels: c
                .labels
                .iter()
                .map(|(k, v)| Label {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
            compose_project: c.compose_project.clone(),
            compose_service: c.compose_service.clone(),
            managed: c.managed(),
            current: c.current,
            last_seen_at: c.last_seen_at,
            container_id: c.container_id.clone(),
            instance_id: c.instance_id.clone(),
            digests: Digests::default(),
        }
    }
}

#[ComplexObject]
impl DockerContainer {
    async fn host(&self, ctx: &Context<'_>) -> ApiResult<Host> {
        let host = services(ctx)?
            .hosts
            .get(&self.host_id)
            .await?
            .ok_or_else(|| {
                ApiError::from(crate::service::ServiceError::NotFound(format!(
                    "host {} no longer exists",
                    self.host_name
                )))
            })?;
        Ok(host.into())
    }

    /// Berth's definition this container belongs to.
    async fn container(&self, ctx: &Context<'_>) -> ApiResult<Option<Container>> {
        let Some(id) = &self.container_id else {
            return Ok(None);
        };
        Ok(services(ctx)?.containers.get(id).await?.map(Into::into))
    }

    /// Background samples of this container from `since` on (default: the last 24 h), oldest first, as
    /// `ContainerInstance.statsHistory` (one of Berth's replicas shows its instance's samples). Every running
    /// container of a host that answers is sampled.
    async fn stats_history(
        &self,
        ctx: &Context<'_>,
        since: Option<DateTime<Utc>>,
    ) -> ApiResult<Vec<super::stats::StatsSample>> {
        let key = crate::service::stats::sample_key(&self.id, self.instance_id.as_deref());
        super::stats::history(ctx, key, since).await
    }

    /// The registry digest (`sha256:…`) of the image it runs, from its host's record of the image; null when
    /// the image was built on the host and never pushed or pulled, or the host's images were not read yet.
    async fn image_digest(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        Ok(self.digests_of(ctx).await?.0)
    }

    /// The registry's current digest of its image's tag: from Berth's index when the registry is configured,
    /// else from the background check of other registries (`BERTH_UPDATE_CHECK_SECS`); null when unknown or
    /// the image is pinned by digest.
    async fn latest_digest(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        Ok(self.digests_of(ctx).await?.1)
    }

    /// Whether the registry has another image under its tag than the one it runs (`imageDigest` against
    /// `latestDigest`); false while either is unknown.
    async fn update_available(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(
            matches!(self.digests_of(ctx).await?, (Some(running), Some(latest)) if running != latest),
        )
    }

    /// The replica of Berth's definition this container is.
    async fn instance(&self, ctx: &Context<'_>) -> ApiResult<Option<ContainerInstance>> {
        let Some(id) = &self.instance_id else {
            return Ok(None);
        };
        Ok(services(ctx)?
            .containers
            .instance(id)
            .await?
            .map(Into::into))
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct DockerContainerEdge {
    pub cursor: String,
    pub node: DockerContainer,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct DockerContainerConnection {
    pub edges: Vec<DockerContainerEdge>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct DockerContainerFilter {
    /// Part of the name, the image, or a label's key or value (case-insensitive, at most 200 characters).
    pub search: Option<String>,
    pub host_id: Option<ID>,
    /// One of Docker's state words.
    pub state: Option<String>,
    /// healthy, unhealthy, starting, or none (no health check).
    pub health: Option<String>,
    /// true: only Berth's own; false: only the others.
    pub managed: Option<bool>,
    pub compose_project: Option<String>,
}

impl From<DockerContainerFilter> for InventoryFilter {
    fn from(f: DockerContainerFilter) -> Self {
        InventoryFilter {
            search: f.search,
            host_id: f.host_id.map(|h| h.0),
            state: f.state,
            health: f.health,
            managed: f.managed,
            compose_project: f.compose_project,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum DockerContainerSortKey {
    #[default]
    Name,
    Host,
    Image,
    State,
    Created,
}

#[derive(InputObject, Clone, Copy, Debug, Default)]
pub struct DockerContainerSort {
    #[graphql(default)]
    pub by: DockerContainerSortKey,
    #[graphql(default)]
    pub direction: SortDirection,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Changed,
    Removed,
}

/// One change of the inventory as seen through a subscription's filter: a container that starts matching it is
/// ADDED, one that stops matching it (or is gone) is REMOVED.
#[derive(SimpleObject, Clone, Debug)]
pub struct DockerContainerChange {
    pub kind: ChangeKind,
    pub id: ID,
    pub docker_id: String,
    /// For REMOVED: the last known state.
    pub container: DockerContainer,
}

/// A page of the inventory; shared by `dockerContainers` and `Host.dockerContainers`.
pub async fn connection(
    ctx: &Context<'_>,
    filter: InventoryFilter,
    sort: Option<DockerContainerSort>,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<DockerContainerConnection> {
    require_user(ctx)?;
    let sort = sort.unwrap_or_default();
    let (by, key) = match sort.by {
        DockerContainerSortKey::Name => (InventorySort::Name, "NAME"),
        DockerContainerSortKey::Host => (InventorySort::Host, "HOST"),
        DockerContainerSortKey::Image => (InventorySort::Image, "IMAGE"),
        DockerContainerSortKey::State => (InventorySort::State, "STATE"),
        DockerContainerSortKey::Created => (InventorySort::Created, "CREATED"),
    };
    let values = by.columns().len() - 1;
    let from = after
        .as_deref()
        .map(|a| KeysetCursor::decode_for(a, key, sort.direction, values))
        .transpose()?
        .map(|c| {
            let mut k = c.values;
            k.push(c.id);
            k
        });
    let page = services(ctx)?
        .inventory
        .page(filter, by, sort.direction.is_desc(), page_size(first), from)
        .await?;
    // The digests of the page's containers in two lookups, when the page asks for them.
    let node = ctx.look_ahead().field("edges").field("node");
    let digests = if node.field("imageDigest").exists()
        || node.field("latestDigest").exists()
        || node.field("updateAvailable").exists()
    {
        let s = services(ctx)?;
        let rows: Vec<&svc::DockerContainer> = page.rows.iter().map(|(_, c)| c).collect();
        let running = s.inventory.image_digests(&rows).await?;
        let mut images: Vec<String> = rows.iter().map(|c| c.image.clone()).collect();
        images.sort_unstable();
        images.dedup();
        Some((running, s.registries.latest_digests(&images).await?))
    } else {
        None
    };
    let edges: Vec<DockerContainerEdge> = page
        .rows
        .iter()
        .map(|(place, c)| {
            let (id, values) = place
                .split_last()
                .map_or((String::new(), vec![]), |(id, v)| (id.clone(), v.to_vec()));
            let mut node = DockerContainer::from(c);
            if let Some((running, latest)) = &digests {
                node.digests = Arc::new(tokio::sync::OnceCell::new_with(Some((
                    running.get(&c.id).cloned(),
                    latest.get(&c.image).cloned(),
                ))));
            }
            DockerContainerEdge {
                cursor: KeysetCursor::new(key, sort.direction, values, id).encode(),
                node,
            }
        })
        .collect();
    Ok(DockerContainerConnection {
        page_info: PageInfo {
            has_next_page: page.has_next_page,
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        },
        edges,
        total_count: i32::try_from(page.total).unwrap_or(i32::MAX),
    })
}

#[derive(Default)]
pub struct InventoryQuery;

#[Object]
impl InventoryQuery {
    /// Every Docker container on every host with Docker support, filtered and sorted on the server.
    /// `first` is clamped to 1..=500 (default 50); cursors belong to the sort they were made under.
    async fn docker_containers(
        &self,
        ctx: &Context<'_>,
        filter: Option<DockerContainerFilter>,
        sort: Option<DockerContainerSort>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<DockerContainerConnection> {
        connection(ctx, filter.unwrap_or_default().into(), sort, first, after).await
    }

    async fn docker_container(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<Option<DockerContainer>> {
        require_user(ctx)?;
        Ok(services(ctx)?
            .inventory
            .get(&id)
            .await?
            .as_ref()
            .map(Into::into))
    }
}

#[derive(Default)]
pub struct InventoryMutation;

async fn act(ctx: &Context<'_>, id: &str, action: DockerAction) -> ApiResult<DockerContainer> {
    let actor = require_user(ctx)?;
    let c = services(ctx)?.inventory.act(actor, id, action).await?;
    c.as_ref().map(Into::into).ok_or_else(|| {
        ApiError::from(crate::service::ServiceError::NotFound(
            "the container vanished while being acted on".into(),
        ))
    })
}

#[Object]
impl InventoryMutation {
    /// Starts a container Berth did not create (CONFLICT for Berth's own: use `runContainer`).
    async fn start_docker_container(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<DockerContainer> {
        act(ctx, &id, DockerAction::Start).await
    }

    /// Stops a container Berth did not create (10 s grace, then killed).
    async fn stop_docker_container(&self, ctx: &Context<'_>, id: ID) -> ApiResult<DockerContainer> {
        act(ctx, &id, DockerAction::Stop).await
    }

    async fn restart_docker_container(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<DockerContainer> {
        act(ctx, &id, DockerAction::Restart).await
    }

    async fn kill_docker_container(&self, ctx: &Context<'_>, id: ID) -> ApiResult<DockerContainer> {
        act(ctx, &id, DockerAction::Kill).await
    }

    /// Removes a stopped container Berth did not create (CONFLICT while it runs). ADMIN.
    async fn remove_docker_container(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let actor = require_user(ctx)?;
        services(ctx)?
            .inventory
            .act(actor, &id, DockerAction::Remove)
            .await?;
        Ok(true)
    }
}

#[derive(Default)]
pub struct InventorySubscription;

#[Subscription]
impl InventorySubscription {
    /// Changes of the inventory through `filter` (the same as `dockerContainers` takes): apply them to a page
    /// instead of reloading it.
    async fn docker_container_changes(
        &self,
        ctx: &Context<'_>,
        filter: Option<DockerContainerFilter>,
    ) -> Result<impl Stream<Item = DockerContainerChange> + use<>, ApiError> {
        let services = authorized_services(ctx)?;
        let filter = Arc::new(validate_filter(filter.unwrap_or_default().into())?);
        let stream = services
            .bus
            .stream()
            .filter_map(move |event| {
                let filter = filter.clone();
                async move {
                    let Event::Inventory(changes) = &*event else {
                        return None;
                    };
                    let seen: Vec<DockerContainerChange> = changes
                        .iter()
                        .filter_map(|c| c.seen_through(&filter))
                        .map(|(kind, row)| DockerContainerChange {
                            kind: match kind {
                                svc::ChangeKind::Added => ChangeKind::Added,
                                svc::ChangeKind::Changed => ChangeKind::Changed,
                                svc::ChangeKind::Removed => ChangeKind::Removed,
                            },
                            id: ID(row.id.clone()),
                            docker_id: row.docker_id.clone(),
                            container: row.as_ref().into(),
                        })
                        .collect();
                    (!seen.is_empty()).then_some(seen)
                }
            })
            .flat_map(futures::stream::iter);
        Ok(stream)
    }

    /// The last `tail` lines (default 100, at most 5000) of a container's output, then new lines as they come;
    /// narrowed on the server by `search`, `caseSensitive` and `since` like `containerLogs`.
    async fn docker_container_logs(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = 100)] tail: i32,
        search: Option<String>,
        #[graphql(default = false)] case_sensitive: bool,
        since: Option<DateTime<Utc>>,
    ) -> Result<impl Stream<Item = LogLine> + use<>, ApiError> {
        super::logs::follow(
            ctx,
            crate::service::logs::LogTarget::DockerContainer(id.0),
            tail,
            search,
            case_sensitive,
            since,
        )
        .await
    }
}
