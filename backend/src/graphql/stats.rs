//! Container stats: `StatsSample` and `HostStats`, the live `containerStats` / `dockerContainerStats` subscriptions
//! (one engine stream per container, shared by all its watchers), `ContainerInstance.statsHistory`, `Host.stats`,
//! `Host.statsHistory` (the host's totals over time), `statsTrends` and `dockerContainerStatsTrends` (many
//! containers' last hour in one read).

use super::error::{ApiError, ApiResult};
use super::scalars::Bytes;
use super::{authorized_services, require_user, services};
use crate::service::stats as svc;
use async_graphql::{Context, ID, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};

/// One reading of a container's usage. Network and block I/O are counters since the container started (a
/// chart shows their rate between two samples).
#[derive(SimpleObject, Clone, Debug)]
pub struct StatsSample {
    pub at: DateTime<Utc>,
    /// CPU in use, 100 = one full core (Docker's arithmetic); null when not known yet (the first background
    /// sample of a container).
    pub cpu_percent: Option<f64>,
    /// Memory in use as `docker stats` shows it (without the inactive page cache).
    pub memory_bytes: Bytes,
    /// The container's memory limit (the host's memory when it has none).
    pub memory_limit_bytes: Option<Bytes>,
    pub net_rx_bytes: Bytes,
    pub net_tx_bytes: Bytes,
    pub block_read_bytes: Bytes,
    pub block_write_bytes: Bytes,
}

impl From<svc::StatsSample> for StatsSample {
    fn from(s: svc::StatsSample) -> Self {
        Self {
            at: s.at,
            cpu_percent: s.cpu_percent.map(|c| (c * 100.0).round() / 100.0),
            memory_bytes: Bytes(s.memory_bytes),
            memory_limit_bytes: s.memory_limit_bytes.map(Bytes),
            net_rx_bytes: Bytes(s.net_rx_bytes),
            net_tx_bytes: Bytes(s.net_tx_bytes),
            block_read_bytes: Bytes(s.block_read_bytes),
            block_write_bytes: Bytes(s.block_write_bytes),
        }
    }
}

/// A host's latest totals: the sum of its running instances' latest background samples.
#[derive(SimpleObject, Clone, Debug)]
pub struct HostStats {
    /// The newest sample summed.
    pub at: DateTime<Utc>,
    /// Sum of the instances' CPU % (100 = one core; a host has `cpus` × 100).
    pub cpu_percent: f64,
    pub memory_bytes: Bytes,
    /// The host's memory, from the engine.
    pub memory_limit_bytes: Option<Bytes>,
    /// CPUs of the host, from the engine.
    pub cpus: Option<i32>,
    pub net_rx_bytes: Bytes,
    pub net_tx_bytes: Bytes,
    pub block_read_bytes: Bytes,
    pub block_write_bytes: Bytes,
    /// Running instances summed.
    pub containers: i32,
}

impl From<svc::HostTotals> for HostStats {
    fn from(t: svc::HostTotals) -> Self {
        Self {
            at: t.at,
            cpu_percent: (t.cpu_percent * 100.0).round() / 100.0,
            memory_bytes: Bytes(t.memory_bytes),
            memory_limit_bytes: t.memory_total_bytes.map(Bytes),
            cpus: t.cpus.map(|c| i32::try_from(c).unwrap_or(i32::MAX)),
            net_rx_bytes: Bytes(t.net_rx_bytes),
            net_tx_bytes: Bytes(t.net_tx_bytes),
            block_read_bytes: Bytes(t.block_read_bytes),
            block_write_bytes: Bytes(t.block_write_bytes),
            containers: i32::try_from(t.containers).unwrap_or(i32::MAX),
        }
    }
}

/// `ContainerInstance.statsHistory`.
pub(crate) async fn history(
    ctx: &Context<'_>,
    instance_id: &str,
    since: Option<DateTime<Utc>>,
) -> ApiResult<Vec<StatsSample>> {
    require_user(ctx)?;
    let samples = services(ctx)?.stats.history(instance_id, since).await?;
    Ok(samples.into_iter().map(Into::into).collect())
}

/// `Host.stats`.
pub(crate) async fn host(ctx: &Context<'_>, host_id: &str) -> ApiResult<Option<HostStats>> {
    require_user(ctx)?;
    Ok(services(ctx)?
        .stats
        .host_totals(host_id)
        .await?
        .map(Into::into))
}

/// A host's totals in one time bucket of its history: each running instance's samples averaged within the
/// bucket, then summed over the instances.
#[derive(SimpleObject, Clone, Debug)]
pub struct HostStatsPoint {
    /// Start of the bucket.
    pub at: DateTime<Utc>,
    /// Sum of the instances' CPU % (100 = one core); null when none was known.
    pub cpu_percent: Option<f64>,
    pub memory_bytes: Bytes,
    /// Counters summed (a chart shows their rate between two points).
    pub net_rx_bytes: Bytes,
    pub net_tx_bytes: Bytes,
    pub block_read_bytes: Bytes,
    pub block_write_bytes: Bytes,
    /// Instances with a sample in the bucket.
    pub containers: i32,
}

impl From<svc::HostPoint> for HostStatsPoint {
    fn from(p: svc::HostPoint) -> Self {
        Self {
            at: p.at,
            cpu_percent: p.cpu_percent.map(|c| (c * 100.0).round() / 100.0),
            memory_bytes: Bytes(p.memory_bytes),
            net_rx_bytes: Bytes(p.net_rx_bytes),
            net_tx_bytes: Bytes(p.net_tx_bytes),
            block_read_bytes: Bytes(p.block_read_bytes),
            block_write_bytes: Bytes(p.block_write_bytes),
            containers: i32::try_from(p.containers).unwrap_or(i32::MAX),
        }
    }
}

/// A point of an instance's trend (a few-minute average).
#[derive(SimpleObject, Clone, Debug)]
pub struct TrendPoint {
    /// Start of the bucket.
    pub at: DateTime<Utc>,
    pub cpu_percent: Option<f64>,
    pub memory_bytes: Bytes,
}

/// The last hour of one instance, for a small trend line.
#[derive(SimpleObject, Clone, Debug)]
pub struct StatsTrend {
    pub instance_id: ID,
    /// Oldest first, at most 30; empty when the instance has no samples in the last hour.
    pub points: Vec<TrendPoint>,
}

/// `Host.statsHistory`.
pub(crate) async fn host_history(
    ctx: &Context<'_>,
    host_id: &str,
    since: Option<DateTime<Utc>>,
) -> ApiResult<Vec<HostStatsPoint>> {
    require_user(ctx)?;
    let points = services(ctx)?.stats.host_history(host_id, since).await?;
    Ok(points.into_iter().map(Into::into).collect())
}

#[derive(Default)]
pub struct StatsQuery;

#[Object]
impl StatsQuery {
    /// The last hour of each instance named (at most 500), at most 30 averaged points each, in one read: the
    /// containers list's trend lines. In the order given; an unknown id or one without samples has no points.
    async fn stats_trends(
        &self,
        ctx: &Context<'_>,
        instance_ids: Vec<ID>,
    ) -> ApiResult<Vec<StatsTrend>> {
        require_user(ctx)?;
        let ids: Vec<String> = instance_ids.into_iter().map(|id| id.0).collect();
        let trends = services(ctx)?.stats.trends(&ids).await?;
        Ok(trends
            .into_iter()
            .map(|(id, points)| StatsTrend {
                instance_id: ID(id),
                points: trend_points(points),
            })
            .collect())
    }

    /// Like `statsTrends` for containers of the inventory (`DockerContainer.id`, at most 500): the All view's
    /// trend lines. One of Berth's replicas shows its instance's samples.
    async fn docker_container_stats_trends(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> ApiResult<Vec<DockerContainerStatsTrend>> {
        require_user(ctx)?;
        let ids: Vec<String> = ids.into_iter().map(|id| id.0).collect();
        let trends = services(ctx)?.stats.docker_container_trends(&ids).await?;
        Ok(trends
            .into_iter()
            .map(|(id, points)| DockerContainerStatsTrend {
                id: ID(id),
                points: trend_points(points),
            })
            .collect())
    }
}

/// The last hour of one container of the inventory, for a small trend line.
#[derive(SimpleObject, Clone, Debug)]
pub struct DockerContainerStatsTrend {
    /// The inventory id.
    pub id: ID,
    /// Oldest first, at most 30; empty when the container has no samples in the last hour.
    pub points: Vec<TrendPoint>,
}

fn trend_points(points: Vec<svc::TrendSample>) -> Vec<TrendPoint> {
    points
        .into_iter()
        .map(|p| TrendPoint {
            at: p.at,
            cpu_percent: p.cpu_percent.map(|c| (c * 100.0).round() / 100.0),
            memory_bytes: Bytes(p.memory_bytes),
        })
        .collect()
}

#[derive(Default)]
pub struct StatsSubscription;

#[Subscription]
impl StatsSubscription {
    /// Live stats of one of Berth's instances, about one sample a second, while subscribed. All watchers of a
    /// container share one engine stream. Ends when the container stops (subscribe again once it runs).
    async fn container_stats(
        &self,
        ctx: &Context<'_>,
        instance_id: ID,
    ) -> Result<impl Stream<Item = StatsSample> + use<>, ApiError> {
        let services = authorized_services(ctx)?;
        let actor = require_user(ctx)?;
        let stream = services.stats.watch_instance(actor, &instance_id).await?;
        Ok(stream.map(StatsSample::from))
    }

    /// Live stats of a container of the inventory (`DockerContainer.id`), like `containerStats`.
    async fn docker_container_stats(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl Stream<Item = StatsSample> + use<>, ApiError> {
        let services = authorized_services(ctx)?;
        let actor = require_user(ctx)?;
        let stream = services.stats.watch_docker_container(actor, &id).await?;
        Ok(stream.map(StatsSample::from))
    }
}
