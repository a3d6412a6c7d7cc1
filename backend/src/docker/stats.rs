//! A container's resource usage as the engine reports it (`/containers/{id}/stats`): one one-shot read (fast, no
//! previous CPU sample) or a live stream (about one reading a second), reduced to the figures Berth keeps, with
//! the Docker CLI's arithmetic for CPU % and memory.

use super::{DockerError, Engine, classify, timed};
use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::StatsOptionsBuilder;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};

/// The CPU counters of one reading, for a percentage between two readings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuCounters {
    /// The container's CPU time, nanoseconds.
    pub total_usage: u64,
    /// The host's CPU time (all CPUs), nanoseconds; `None` when the engine did not say.
    pub system_usage: Option<u64>,
    /// CPUs online (from `online_cpus`, else the length of `percpu_usage`).
    pub online_cpus: u32,
}

/// One reading of a container's usage. Network and block I/O are counters since the container started.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatsReading {
    pub cpu: CpuCounters,
    /// The previous reading's counters, when the engine sent them (a live stream does; a one-shot read not).
    pub precpu: Option<CpuCounters>,
    /// Memory in use as `docker stats` shows it: usage without the inactive page cache.
    pub memory_bytes: u64,
    /// The container's memory limit (the host's memory when it has none); `None` when not reported.
    pub memory_limit_bytes: Option<u64>,
    pub net_rx_bytes: u64,
    pub net_tx_bytes: u64,
    pub block_read_bytes: u64,
    pub block_write_bytes: u64,
    /// When the engine took the reading (its `read` time), when it says.
    pub read_at: Option<DateTime<Utc>>,
}

impl StatsReading {
    /// CPU % of this reading against `previous` (its own `precpu` when none is given).
    pub fn cpu_percent_since(&self, previous: Option<&CpuCounters>) -> Option<f64> {
        cpu_percent(previous.or(self.precpu.as_ref())?, &self.cpu)
    }
}

/// CPU % between two readings, as the Docker CLI computes it: the container's CPU time delta over the host's,
/// times the CPUs online, times 100 (so 100 % is one full core). `None` when it cannot be known (no host time,
/// counters that went backwards after a restart of the container).
pub fn cpu_percent(previous: &CpuCounters, current: &CpuCounters) -> Option<f64> {
    let system = current
        .system_usage?
        .checked_sub(previous.system_usage?)
        .filter(|d| *d > 0)?;
    let cpu = current.total_usage.checked_sub(previous.total_usage)?;
    let cpus = f64::from(current.online_cpus.max(1));
    Some(cpu as f64 / system as f64 * cpus * 100.0)
}

/// Reduces the engine's answer to a [`StatsReading`]. An engine that reports nothing (a stopped container)
/// gives zeros.
pub fn reading_of(stats: &ContainerStatsResponse) -> StatsReading {
    let counters = |c: &bollard::models::ContainerCpuStats| {
        let usage = c.cpu_usage.as_ref();
        let percpu = usage
            .and_then(|u| u.percpu_usage.as_ref())
            .map_or(0, |p| u32::try_from(p.len()).unwrap_or(u32::MAX));
        CpuCounters {
            total_usage: usage.and_then(|u| u.total_usage).unwrap_or_default(),
            system_usage: c.system_cpu_usage,
            online_cpus: c.online_cpus.filter(|n| *n > 0).unwrap_or(percpu),
        }
    };
    let cpu = stats.cpu_stats.as_ref().map(counters).unwrap_or_default();
    // A one-shot read sends `precpu_stats` with zeros: no previous reading.
    let precpu = stats
        .precpu_stats
        .as_ref()
        .map(counters)
        .filter(|c| c.system_usage.is_some_and(|s| s > 0));
    let memory = stats.memory_stats.as_ref();
    let usage = memory.and_then(|m| m.usage).unwrap_or_default();
    // The Docker CLI's rule: cgroup v1 reports `total_inactive_file`, v2 `inactive_file`; either is taken off
    // the usage when smaller.
    let inactive = memory.and_then(|m| m.stats.as_ref()).and_then(|s| {
        s.get("total_inactive_file")
            .filter(|v| **v < usage)
            .or_else(|| s.get("inactive_file").filter(|v| **v < usage))
            .copied()
    });
    let (mut rx, mut tx) = (0u64, 0u64);
    for net in stats.networks.iter().flat_map(|n| n.values()) {
        rx = rx.saturating_add(net.rx_bytes.unwrap_or_default());
        tx = tx.saturating_add(net.tx_bytes.unwrap_or_default());
    }
    let (mut read, mut write) = (0u64, 0u64);
    let entries = stats
        .blkio_stats
        .as_ref()
        .and_then(|b| b.io_service_bytes_recursive.as_ref());
    for entry in entries.into_iter().flatten() {
        let value = entry.value.unwrap_or_default();
        match entry.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => read = read.saturating_add(value),
            Some("write") => write = write.saturating_add(value),
            _ => {}
        }
    }
    StatsReading {
        cpu,
        precpu,
        memory_bytes: usage - inactive.unwrap_or_default(),
        memory_limit_bytes: memory.and_then(|m| m.limit).filter(|l| *l > 0),
        net_rx_bytes: rx,
        net_tx_bytes: tx,
        block_read_bytes: read,
        block_write_bytes: write,
        read_at: stats
            .read
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .filter(|t| t.timestamp() > 0),
    }
}

impl Engine {
    /// One reading of a container's usage (`stream=false, one_shot=true`: answered at once, without the
    /// previous CPU sample, so CPU % needs two reads).
    pub async fn stats_once(&self, id: &str) -> Result<StatsReading, DockerError> {
        let options = StatsOptionsBuilder::new()
            .stream(false)
            .one_shot(true)
            .build();
        let mut stream = Box::pin(self.docker.stats(id, Some(options)));
        match timed(async { stream.next().await.transpose() }).await? {
            Some(stats) => Ok(reading_of(&stats)),
            None => Err(DockerError::Unexpected(anyhow::anyhow!(
                "the engine sent no stats for container {id}"
            ))),
        }
    }

    /// The engine's live stats of a container, about one reading a second, until the container stops or the
    /// stream is dropped. One such stream costs the engine real CPU: open one per container at most.
    pub fn stats_stream(
        &self,
        id: &str,
    ) -> impl Stream<Item = Result<StatsReading, DockerError>> + use<> {
        let options = StatsOptionsBuilder::new()
            .stream(true)
            .one_shot(false)
            .build();
        // The timeout bounds the wait for the answer's headers (the engine takes a first reading before them),
        // not the stream, which lives as long as it is watched.
        let docker = self
            .docker
            .clone()
            .with_timeout(std::time::Duration::from_secs(30));
        docker
            .stats(id, Some(options))
            .map(|item| item.map(|s| reading_of(&s)).map_err(classify))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> ContainerStatsResponse {
        serde_json::from_str(json).unwrap()
    }

    /// A cgroup v2 engine's answer in a live stream (precpu present), two networks, lower-case block I/O ops.
    const V2: &str = r#"{
        "read": "2026-12-03T10:00:01.000000000Z",
        "preread": "2026-12-03T10:00:00.000000000Z",
        "id": "abc", "name": "/web",
        "cpu_stats": {"cpu_usage": {"total_usage": 1500000000, "usage_in_kernelmode": 1, "usage_in_usermode": 1},
                      "system_cpu_usage": 20000000000, "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": 1000000000}, "system_cpu_usage": 18000000000, "online_cpus": 2},
        "memory_stats": {"usage": 30000000, "limit": 67108864,
                         "stats": {"inactive_file": 5000000, "active_file": 100, "anon": 20000000}},
        "networks": {"eth0": {"rx_bytes": 1000, "tx_bytes": 200}, "eth1": {"rx_bytes": 24, "tx_bytes": 6}},
        "blkio_stats": {"io_service_bytes_recursive": [
            {"major": 8, "minor": 0, "op": "read", "value": 4096},
            {"major": 8, "minor": 0, "op": "write", "value": 8192},
            {"major": 8, "minor": 16, "op": "read", "value": 100}
        ]}
    }"#;

    /// A cgroup v1 engine's one-shot answer: no precpu (zeros), `total_inactive_file`, capitalised ops,
    /// per-CPU usage instead of `online_cpus`.
    const V1: &str = r#"{
        "read": "2026-12-03T10:00:01.000000000Z",
        "preread": "0001-01-01T00:00:00Z",
        "cpu_stats": {"cpu_usage": {"total_usage": 4000000000, "percpu_usage": [1, 2, 3, 4]},
                      "system_cpu_usage": 100000000000},
        "precpu_stats": {"cpu_usage": {"total_usage": 0}},
        "memory_stats": {"usage": 50000000, "limit": 9223372036854771712,
                         "stats": {"total_inactive_file": 10000000, "inactive_file": 2}},
        "networks": {"eth0": {"rx_bytes": 7, "tx_bytes": 8}},
        "blkio_stats": {"io_service_bytes_recursive": [
            {"major": 8, "minor": 0, "op": "Read", "value": 10},
            {"major": 8, "minor": 0, "op": "Write", "value": 20},
            {"major": 8, "minor": 0, "op": "Sync", "value": 30},
            {"major": 8, "minor": 0, "op": "Total", "value": 30}
        ]}
    }"#;

    #[test]
    fn cgroup_v2_stream_reading() {
        let r = reading_of(&parse(V2));
        assert_eq!(r.memory_bytes, 25_000_000, "usage minus inactive_file");
        assert_eq!(r.memory_limit_bytes, Some(67_108_864));
        assert_eq!((r.net_rx_bytes, r.net_tx_bytes), (1024, 206));
        assert_eq!((r.block_read_bytes, r.block_write_bytes), (4196, 8192));
        // 0.5 s of CPU over 2 s of host time on 2 CPUs: 50 %.
        let cpu = r.cpu_percent_since(None).unwrap();
        assert!((cpu - 50.0).abs() < 1e-9, "{cpu}");
    }

    #[test]
    fn cgroup_v1_one_shot_reading() {
        let r = reading_of(&parse(V1));
        assert_eq!(r.precpu, None, "a one-shot read has no previous sample");
        assert_eq!(r.cpu_percent_since(None), None);
        assert_eq!(r.cpu.online_cpus, 4, "CPUs from percpu_usage");
        assert_eq!(
            r.memory_bytes, 40_000_000,
            "usage minus total_inactive_file"
        );
        assert_eq!((r.block_read_bytes, r.block_write_bytes), (10, 20));
        assert_eq!((r.net_rx_bytes, r.net_tx_bytes), (7, 8));
        // Two one-shot reads 10 s of host time apart (4 CPUs), 2 s of container CPU: 80 %.
        let earlier = CpuCounters {
            total_usage: 2_000_000_000,
            system_usage: Some(90_000_000_000),
            online_cpus: 4,
        };
        let cpu = r.cpu_percent_since(Some(&earlier)).unwrap();
        assert!((cpu - 80.0).abs() < 1e-9, "{cpu}");
    }

    #[test]
    fn cpu_percent_needs_time_to_pass_forwards() {
        let a = CpuCounters {
            total_usage: 10,
            system_usage: Some(100),
            online_cpus: 1,
        };
        assert_eq!(cpu_percent(&a, &a), None, "no host time passed");
        let restarted = CpuCounters {
            total_usage: 5,
            system_usage: Some(200),
            online_cpus: 1,
        };
        assert_eq!(cpu_percent(&a, &restarted), None, "the counter went back");
        let no_system = CpuCounters {
            system_usage: None,
            ..a
        };
        assert_eq!(cpu_percent(&no_system, &a), None);
    }

    #[test]
    fn a_stopped_container_reads_zero() {
        let r = reading_of(&parse(
            r#"{"read": "0001-01-01T00:00:00Z", "memory_stats": {}}"#,
        ));
        assert_eq!(r.memory_bytes, 0);
        assert_eq!(r.memory_limit_bytes, None);
        assert_eq!(r.cpu_percent_since(None), None);
    }
}
