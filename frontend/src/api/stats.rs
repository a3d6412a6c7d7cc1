//! Container stats: an instance's sampled history and its live samples.

use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Live, subscriptions::subscribe_with_status};

/// The fields asked for of a `StatsSample`.
const FIELDS: &str = "at cpuPercent memoryBytes memoryLimitBytes netRxBytes netTxBytes blockReadBytes blockWriteBytes";

/// One reading of a container's usage (network and block I/O are counters since it started).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsSample {
    pub at: String,
    #[serde(default)]
    pub cpu_percent: Option<f64>,
    pub memory_bytes: i64,
    #[serde(default)]
    pub memory_limit_bytes: Option<i64>,
    pub net_rx_bytes: i64,
    pub net_tx_bytes: i64,
    pub block_read_bytes: i64,
    pub block_write_bytes: i64,
}

/// The instance's background samples since `since` (RFC 3339), oldest first.
pub async fn stats_history(
    container_id: &str,
    instance_id: &str,
    since: &str,
) -> Result<Vec<StatsSample>, ApiError> {
    #[derive(Deserialize)]
    struct Instance {
        id: String,
        #[serde(rename = "statsHistory")]
        stats_history: Vec<StatsSample>,
    }
    #[derive(Deserialize)]
    struct Container {
        instances: Vec<Instance>,
    }
    #[derive(Deserialize)]
    struct Data {
        container: Option<Container>,
    }
    let data: Data = super::execute(
        &format!(
            "query StatsHistory($id: ID!, $since: DateTime) {{ container(id: $id) {{ instances {{ id \
             statsHistory(since: $since) {{ {FIELDS} }} }} }} }}"
        ),
        json!({ "id": container_id, "since": since }),
    )
    .await?;
    Ok(data
        .container
        .and_then(|c| c.instances.into_iter().find(|i| i.id == instance_id))
        .map(|i| i.stats_history)
        .unwrap_or_default())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatsData {
    container_stats: StatsSample,
}

/// The instance's live samples (about one a second) while the stream is kept; opened again when the server ends
/// it (the container stopped), like every feed.
pub fn container_stats(instance_id: &str) -> impl Stream<Item = Live<StatsSample>> + use<> {
    subscribe_with_status(
        &format!(
            "subscription ContainerStats($id: ID!) {{ containerStats(instanceId: $id) {{ {FIELDS} }} }}"
        ),
        json!({ "id": instance_id }),
    )
    .map(|event| Live::from_event(event, |data: StatsData| data.container_stats))
}

/// The host's totals since `since` (RFC 3339), oldest first, as samples (each a bucket of its instances' samples
/// summed; the host's memory as their limit).
pub async fn host_stats_history(host_id: &str, since: &str) -> Result<Vec<StatsSample>, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Point {
        at: String,
        #[serde(default)]
        cpu_percent: Option<f64>,
        memory_bytes: i64,
        net_rx_bytes: i64,
        net_tx_bytes: i64,
        block_read_bytes: i64,
        block_write_bytes: i64,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Latest {
        #[serde(default)]
        memory_limit_bytes: Option<i64>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct HostData {
        stats: Option<Latest>,
        stats_history: Vec<Point>,
    }
    #[derive(Deserialize)]
    struct Data {
        host: Option<HostData>,
    }
    let data: Data = super::execute(
        "query HostStatsHistory($id: ID!, $since: DateTime) { host(id: $id) { stats { memoryLimitBytes } \
         statsHistory(since: $since) { at cpuPercent memoryBytes netRxBytes netTxBytes blockReadBytes \
         blockWriteBytes } } }",
        json!({ "id": host_id, "since": since }),
    )
    .await?;
    let Some(host) = data.host else {
        return Ok(Vec::new());
    };
    let memory_total_bytes = host.stats.as_ref().and_then(|s| s.memory_limit_bytes);
    Ok(host
        .stats_history
        .into_iter()
        .map(|p| StatsSample {
            at: p.at,
            cpu_percent: p.cpu_percent,
            memory_bytes: p.memory_bytes,
            memory_limit_bytes: memory_total_bytes,
            net_rx_bytes: p.net_rx_bytes,
            net_tx_bytes: p.net_tx_bytes,
            block_read_bytes: p.block_read_bytes,
            block_write_bytes: p.block_write_bytes,
        })
        .collect())
}

/// A point of an instance's trend line.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrendPoint {
    pub at: String,
    #[serde(default)]
    pub cpu_percent: Option<f64>,
    pub memory_bytes: i64,
}

/// The last hour of each instance (at most 500 ids, at most 30 points each), in one query: (instance id, points).
pub async fn stats_trends(
    instance_ids: &[String],
) -> Result<Vec<(String, Vec<TrendPoint>)>, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Trend {
        instance_id: String,
        points: Vec<TrendPoint>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Data {
        stats_trends: Vec<Trend>,
    }
    let data: Data = super::execute(
        "query StatsTrends($ids: [ID!]!) { statsTrends(instanceIds: $ids) { instanceId points { at cpuPercent \
         memoryBytes } } }",
        json!({ "ids": instance_ids }),
    )
    .await?;
    Ok(data
        .stats_trends
        .into_iter()
        .map(|t| (t.instance_id, t.points))
        .collect())
}

/// Like [`stats_trends`] for containers of the inventory (inventory ids; one of Berth's replicas shows its
/// instance's samples): (inventory id, points).
pub async fn docker_container_stats_trends(
    ids: &[String],
) -> Result<Vec<(String, Vec<TrendPoint>)>, ApiError> {
    #[derive(Deserialize)]
    struct Trend {
        id: String,
        points: Vec<TrendPoint>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Data {
        docker_container_stats_trends: Vec<Trend>,
    }
    let data: Data = super::execute(
        "query DockerContainerStatsTrends($ids: [ID!]!) { dockerContainerStatsTrends(ids: $ids) { id points { at \
         cpuPercent memoryBytes } } }",
        json!({ "ids": ids }),
    )
    .await?;
    Ok(data
        .docker_container_stats_trends
        .into_iter()
        .map(|t| (t.id, t.points))
        .collect())
}
