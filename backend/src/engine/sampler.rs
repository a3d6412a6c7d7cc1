//! Background stats sampling: every `BERTH_STATS_INTERVAL_SECS` (30 s) one one-shot read of every running
//! container on the hosts that answer (Berth's instances and the inventory's other containers), hosts in parallel and a few reads in flight per host (`BERTH_STATS_CONCURRENCY`), each
//! bounded by the call timeout; the tick's samples are stored in one write, then finished buckets averaged and
//! old rows pruned (bounded work). Its own task: it never holds up events, the reconciler or another host.

use crate::docker::CpuCounters;
use crate::service::stats::{StatsSample, StatsService};
use berth_shared::HostStatus;
use chrono::Utc;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// The previous one-shot reading's CPU counters of each Docker container (CPU % needs two).
type Previous = Arc<Mutex<HashMap<String, CpuCounters>>>;

/// Starts the sampler task.
pub fn spawn(stats: StatsService) -> JoinHandle<()> {
    tokio::spawn(async move {
        let settings = stats.settings().clone();
        let previous: Previous = Arc::default();
        let mut tick = tokio::time::interval(settings.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // A tick that overruns its interval is cut short rather than piling up.
            let limit = settings.interval.max(std::time::Duration::from_secs(5));
            if tokio::time::timeout(limit, sample_once(&stats, &previous))
                .await
                .is_err()
            {
                tracing::warn!(?limit, "a stats tick did not finish in time");
            }
            if let Err(e) = stats.maintain(Utc::now()).await {
                tracing::warn!(error = %e, "stats downsampling or pruning failed");
            }
        }
    })
}

/// One tick: every running container (Berth's instances and the inventory's others) on every host that answers,
/// read and stored.
async fn sample_once(stats: &StatsService, previous: &Previous) {
    let up: Vec<String> = match stats.hosts().list().await {
        Ok(hosts) => hosts
            .into_iter()
            .filter(|h| {
                h.docker_support && matches!(h.status, HostStatus::Up | HostStatus::Maintenance)
            })
            .map(|h| h.id)
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "the stats sampler cannot list hosts");
            return;
        }
    };
    let targets = match stats.sampling_targets(&up).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "the stats sampler cannot list running containers");
            return;
        }
    };
    if targets.is_empty() {
        previous.lock().await.clear();
        return;
    }
    let per_host = stats.settings().per_host;
    let hosts = targets
        .into_iter()
        .map(|(host, instances)| sample_host(stats, previous, host, instances, per_host));
    let samples: Vec<_> = futures::future::join_all(hosts)
        .await
        .into_iter()
        .flatten()
        .collect();
    {
        let mut previous = previous.lock().await;
        let live: std::collections::HashSet<&str> = samples
            .iter()
            .map(|(_, docker, _, _)| docker.as_str())
            .collect();
        previous.retain(|docker, _| live.contains(docker.as_str()));
    }
    let rows = samples
        .into_iter()
        .map(|(instance, _, host, sample)| (instance, host, sample))
        .collect();
    if let Err(e) = stats.record(rows).await {
        tracing::warn!(error = %e, "storing stats samples failed");
    }
}

/// One host's containers, `per_host` reads at a time: (sample key, Docker id, host id, sample).
async fn sample_host(
    stats: &StatsService,
    previous: &Previous,
    host: String,
    instances: Vec<(String, String)>,
    per_host: usize,
) -> Vec<(String, String, String, StatsSample)> {
    let engine = match stats.hosts().engine(&host).await {
        Ok((_, engine)) => engine,
        Err(e) => {
            tracing::debug!(%host, error = %e, "no stats from a host that does not answer");
            return Vec::new();
        }
    };
    futures::stream::iter(instances)
        .map(|(instance, docker)| {
            let engine = engine.clone();
            let host = host.clone();
            async move {
                match engine.stats_once(&docker).await {
                    // A container that stopped since the listing reads all zeros: nothing to keep.
                    Ok(reading) if reading.cpu.total_usage == 0 && reading.memory_bytes == 0 => {
                        None
                    }
                    Ok(reading) => {
                        let before = previous.lock().await.insert(docker.clone(), reading.cpu);
                        let sample = StatsSample::of_reading(Utc::now(), &reading, before.as_ref());
                        Some((instance, docker, host, sample))
                    }
                    Err(e) => {
                        tracing::debug!(%host, %docker, error = %e, "a stats read failed");
                        None
                    }
                }
            }
        })
        .buffer_unordered(per_host)
        .filter_map(|s| async move { s })
        .collect()
        .await
}
