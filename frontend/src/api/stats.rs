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
