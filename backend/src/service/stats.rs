//! Container stats: live readings shared by every watcher of a container (one engine stream per container, opened
//! by the first watcher and closed when the last one leaves), the sampled history of Berth's instances and of every
//! other running container of the inventory (raw samples for a recent window, 5-minute averages for two days, pruned
//! as it goes) and a host's latest totals.

use crate::db::inventory as inv_q;
use crate::db::stats as q;
use crate::docker::{CpuCounters, StatsReading};
use crate::service::ServiceError;
use crate::service::auth::User;
use crate::service::containers::ContainerService;
use crate::service::hosts::HostService;
use crate::service::inventory::InventoryService;
use chrono::{DateTime, Utc};
use futures::stream::{BoxStream, Stream, StreamExt, TryStreamExt};
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::broadcast;

/// Seconds one average covers.
pub const AVERAGE_SECS: i32 = 300;
/// Raw samples are kept this long, averages this long.
pub const RAW_KEEP: Duration = Duration::from_secs(3600);
pub const AVERAGE_KEEP: Duration = Duration::from_secs(48 * 3600);
/// Most points `statsHistory` returns, and most raw samples among them.
pub const MAX_HISTORY_POINTS: u64 = 1000;
pub const MAX_HISTORY_RAW: u64 = 720;
/// Rows deleted per resolution and tick, and buckets averaged per tick: bounded work whatever the backlog.
const PRUNE_BATCH: u64 = 5000;
const BUCKETS_PER_TICK: usize = 12;

/// Most points of a host's history.
pub const MAX_HOST_POINTS: i64 = 360;
/// Trends: the last hour, at most 30 points per instance, at most 500 instances a query.
pub const TREND_WINDOW: Duration = Duration::from_secs(3600);
pub const TREND_POINTS: usize = 30;
pub const MAX_TREND_INSTANCES: usize = 500;

/// The key a container's samples are stored under: its instance id when it is one of Berth's replicas (so the
/// history follows the instance, whichever view asks), its inventory id (`<host id>:<docker id>`) otherwise.
pub fn sample_key<'a>(inventory_id: &'a str, instance_id: Option<&'a str>) -> &'a str {
    instance_id.unwrap_or(inventory_id)
}

/// Refuses more than [`MAX_TREND_INSTANCES`] distinct ids, naming the argument `field`.
fn at_most_trends(ids: &[String], field: &str) -> Result<(), ServiceError> {
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    if distinct.len() > MAX_TREND_INSTANCES {
        return Err(ServiceError::bad_input(
            field,
            format!(
                "at most {MAX_TREND_INSTANCES} containers at a time ({} given)",
                distinct.len()
            ),
        ));
    }
    Ok(())
}

/// A host's totals in one time bucket: its instances' samples (each averaged within the bucket) summed.
#[derive(Clone, Debug, PartialEq)]
pub struct HostPoint {
    /// Start of the bucket.
    pub at: DateTime<Utc>,
    /// Sum of the instances' CPU % (100 = one core); `None` when none was known.
    pub cpu_percent: Option<f64>,
    pub memory_bytes: i64,
    pub net_rx_bytes: i64,
    pub net_tx_bytes: i64,
    pub block_read_bytes: i64,
    pub block_write_bytes: i64,
    /// Instances with a sample in the bucket.
    pub containers: usize,
}

/// A point of an instance's trend: its samples in one bucket averaged.
#[derive(Clone, Debug, PartialEq)]
pub struct TrendSample {
    /// Start of the bucket.
    pub at: DateTime<Utc>,
    pub cpu_percent: Option<f64>,
    pub memory_bytes: i64,
}

/// One reading of a container's usage. Network and block I/O are counters since the container started.
#[derive(Clone, Debug, PartialEq)]
pub struct StatsSample {
    pub at: DateTime<Utc>,
    /// 100 = one full core; `None` when unknown (the first one-shot sample of a container).
    pub cpu_percent: Option<f64>,
    pub memory_bytes: i64,
    pub memory_limit_bytes: Option<i64>,
    pub net_rx_bytes: i64,
    pub net_tx_bytes: i64,
    pub block_read_bytes: i64,
    pub block_write_bytes: i64,
}

/// `a / b` rounded up, for a positive `b` (a ≥ 0).
fn div_up(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl StatsSample {
    /// The sample of `reading` taken at `at`, its CPU % against `previous` (or the reading's own previous
    /// counters).
    pub fn of_reading(
        at: DateTime<Utc>,
        reading: &StatsReading,
        previous: Option<&CpuCounters>,
    ) -> Self {
        Self {
            at,
            cpu_percent: reading.cpu_percent_since(previous),
            memory_bytes: clamp(reading.memory_bytes),
            memory_limit_bytes: reading.memory_limit_bytes.map(clamp),
            net_rx_bytes: clamp(reading.net_rx_bytes),
            net_tx_bytes: clamp(reading.net_tx_bytes),
            block_read_bytes: clamp(reading.block_read_bytes),
            block_write_bytes: clamp(reading.block_write_bytes),
        }
    }
}

impl From<q::StatsRow> for StatsSample {
    fn from(r: q::StatsRow) -> Self {
        Self {
            at: DateTime::from_timestamp_millis(r.at_ms).unwrap_or_default(),
            cpu_percent: r.cpu_percent,
            memory_bytes: r.memory_bytes,
            memory_limit_bytes: r.memory_limit_bytes,
            net_rx_bytes: r.net_rx_bytes,
            net_tx_bytes: r.net_tx_bytes,
            block_read_bytes: r.block_read_bytes,
            block_write_bytes: r.block_write_bytes,
        }
    }
}

/// A host's latest totals: the sum of its running instances' latest samples.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTotals {
    /// The newest sample summed.
    pub at: DateTime<Utc>,
    /// Sum of the instances' CPU % (100 = one core), over those whose CPU % is known.
    pub cpu_percent: f64,
    pub memory_bytes: i64,
    /// The host's memory as its engine reports it.
    pub memory_total_bytes: Option<i64>,
    pub cpus: Option<i64>,
    pub net_rx_bytes: i64,
    pub net_tx_bytes: i64,
    pub block_read_bytes: i64,
    pub block_write_bytes: i64,
    /// Running instances summed.
    pub containers: usize,
}

/// How the background sampling runs (`BERTH_STATS_INTERVAL_SECS`, default 30 s; `BERTH_STATS_CONCURRENCY`,
/// one-shot reads in flight per host, default 4).
#[derive(Clone, Debug)]
pub struct StatsSettings {
    pub interval: Duration,
    pub per_host: usize,
}

impl From<&crate::config::Settings> for StatsSettings {
    fn from(s: &crate::config::Settings) -> Self {
        Self {
            interval: s.stats_interval,
            per_host: s.stats_concurrency,
        }
    }
}

/// Which container a live stream reads: a host and the engine's id of the container.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LiveKey {
    pub host_id: String,
    pub docker_id: String,
}

/// Readings of one container's engine stream, or why it ended.
pub type Source = BoxStream<'static, Result<StatsReading, String>>;
type Opener = Arc<dyn Fn(&LiveKey) -> Source + Send + Sync>;

/// Live stats shared by all watchers: at most one engine stream per container, on a broadcast channel.
pub struct Hub {
    open: Opener,
    state: Mutex<HubState>,
}

#[derive(Default)]
struct HubState {
    generation: u64,
    entries: HashMap<LiveKey, Entry>,
}

struct Entry {
    generation: u64,
    tx: broadcast::Sender<StatsSample>,
    watchers: usize,
    task: tokio::task::JoinHandle<()>,
}

/// Leaves the hub when dropped (with the subscription that holds it).
struct Leave {
    hub: Weak<Hub>,
    key: LiveKey,
    generation: u64,
}

impl Drop for Leave {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.leave(&self.key, self.generation);
        }
    }
}

impl Hub {
    pub fn new(open: impl Fn(&LiveKey) -> Source + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            open: Arc::new(open),
            state: Mutex::new(HubState::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Engine streams open now.
    pub fn open_streams(&self) -> usize {
        self.lock().entries.len()
    }

    /// The container's live samples (about one a second) until the caller drops the stream or the engine's stream
    /// ends (the container stopped or went away).
    pub fn watch(self: &Arc<Self>, key: LiveKey) -> impl Stream<Item = StatsSample> + Send + use<> {
        let mut state = self.lock();
        let (rx, generation) = if let Some(entry) = state.entries.get_mut(&key) {
            entry.watchers += 1;
            (entry.tx.subscribe(), entry.generation)
        } else {
            state.generation += 1;
            let generation = state.generation;
            let (tx, rx) = broadcast::channel(16);
            let source = (self.open)(&key);
            let task = tokio::spawn(pump(
                Arc::downgrade(self),
                key.clone(),
                generation,
                tx.clone(),
                source,
            ));
            state.entries.insert(
                key.clone(),
                Entry {
                    generation,
                    tx,
                    watchers: 1,
                    task,
                },
            );
            tracing::info!(
                host = %key.host_id,
                docker_id = %key.docker_id,
                open = state.entries.len(),
                "stats stream opened"
            );
            (rx, generation)
        };
        drop(state);
        let leave = Leave {
            hub: Arc::downgrade(self),
            key,
            generation,
        };
        futures::stream::unfold((rx, leave), |(mut rx, leave)| async move {
            loop {
                match rx.recv().await {
                    Ok(sample) => return Some((sample, (rx, leave))),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
    }

    fn leave(&self, key: &LiveKey, generation: u64) {
        let mut state = self.lock();
        let Some(entry) = state.entries.get_mut(key) else {
            return;
        };
        if entry.generation != generation {
            return;
        }
        entry.watchers = entry.watchers.saturating_sub(1);
        if entry.watchers == 0
            && let Some(entry) = state.entries.remove(key)
        {
            entry.task.abort();
            tracing::info!(
                host = %key.host_id,
                docker_id = %key.docker_id,
                open = state.entries.len(),
                "stats stream closed"
            );
        }
    }

    /// The engine's stream ended by itself: forget it, so the watchers' streams end and the next watcher opens a
    /// new one.
    fn ended(&self, key: &LiveKey, generation: u64) {
        let mut state = self.lock();
        if state
            .entries
            .get(key)
            .is_some_and(|e| e.generation == generation)
        {
            state.entries.remove(key);
            tracing::info!(
                host = %key.host_id,
                docker_id = %key.docker_id,
                open = state.entries.len(),
                "stats stream closed"
            );
        }
    }
}

async fn pump(
    hub: Weak<Hub>,
    key: LiveKey,
    generation: u64,
    tx: broadcast::Sender<StatsSample>,
    mut source: Source,
) {
    let mut previous: Option<CpuCounters> = None;
    while let Some(item) = source.next().await {
        match item {
            Ok(reading) => {
                // The engine's time of the reading when it gives one (the live latency is measured from it).
                // Not a clock far off this one's (a remote engine's): then the time it arrived.
                let now = Utc::now();
                let at = reading
                    .read_at
                    .filter(|t| (now - *t).num_seconds().abs() < 10)
                    .unwrap_or(now);
                let sample = StatsSample::of_reading(at, &reading, previous.as_ref());
                previous = Some(reading.cpu);
                let _ = tx.send(sample);
            }
            Err(e) => {
                tracing::debug!(host = %key.host_id, docker_id = %key.docker_id, error = %e, "stats stream ended");
                break;
            }
        }
    }
    if let Some(hub) = hub.upgrade() {
        hub.ended(&key, generation);
    }
}

/// Stats of Berth's instances and of inventory containers.
#[derive(Clone)]
pub struct StatsService {
    db: DatabaseConnection,
    hosts: HostService,
    containers: ContainerService,
    inventory: InventoryService,
    hub: Arc<Hub>,
    settings: StatsSettings,
}

impl StatsService {
    pub fn new(
        db: DatabaseConnection,
        hosts: HostService,
        containers: ContainerService,
        inventory: InventoryService,
        settings: StatsSettings,
    ) -> Self {
        let engines = hosts.clone();
        let hub = Hub::new(move |key: &LiveKey| -> Source {
            let hosts = engines.clone();
            let (host_id, docker_id) = (key.host_id.clone(), key.docker_id.clone());
            futures::stream::once(async move {
                let (_, engine) = hosts.engine(&host_id).await.map_err(|e| e.to_string())?;
                Ok::<_, String>(engine.stats_stream(&docker_id).map_err(|e| e.to_string()))
            })
            .try_flatten()
            .boxed()
        });
        Self {
            db,
            hosts,
            containers,
            inventory,
            hub,
            settings,
        }
    }

    pub fn settings(&self) -> &StatsSettings {
        &self.settings
    }

    /// Engine streams open now (one per watched container).
    pub fn open_streams(&self) -> usize {
        self.hub.open_streams()
    }

    /// Live samples of one of Berth's instances. Any user may watch.
    pub async fn watch_instance(
        &self,
        _actor: &User,
        instance_id: &str,
    ) -> Result<impl Stream<Item = StatsSample> + Send + use<>, ServiceError> {
        let instance = self
            .containers
            .instance(instance_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no instance with id {instance_id}")))?;
        let (Some(host_id), Some(docker_id)) = (instance.host_id, instance.docker_id) else {
            return Err(ServiceError::Conflict(
                "this instance has no Docker container yet; run the container first".into(),
            ));
        };
        Ok(self.hub.watch(LiveKey { host_id, docker_id }))
    }

    /// Live samples of a container of the inventory (Berth's or not).
    pub async fn watch_docker_container(
        &self,
        _actor: &User,
        id: &str,
    ) -> Result<impl Stream<Item = StatsSample> + Send + use<>, ServiceError> {
        let c = self.inventory.require(id).await?;
        Ok(self.hub.watch(LiveKey {
            host_id: c.host_id,
            docker_id: c.docker_id,
        }))
    }

    /// An instance's history from `since` (default: 24 h ago) on, oldest first, at most
    /// [`MAX_HISTORY_POINTS`]: 5-minute averages, then the raw samples of the last hour.
    pub async fn history(
        &self,
        instance_id: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<StatsSample>, ServiceError> {
        let since = since.unwrap_or_else(|| Utc::now() - chrono::Duration::hours(24));
        let rows = q::history(
            &self.db,
            instance_id,
            since.timestamp_millis(),
            AVERAGE_SECS,
            MAX_HISTORY_RAW,
            MAX_HISTORY_POINTS,
        )
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// A host's latest totals over its running instances (samples of the last three intervals); `None` before
    /// any.
    pub async fn host_totals(&self, host_id: &str) -> Result<Option<HostTotals>, ServiceError> {
        let window =
            chrono::Duration::from_std(self.settings.interval * 3 + Duration::from_secs(5))
                .unwrap_or_else(|_| chrono::Duration::minutes(2));
        let since = (Utc::now() - window).timestamp_millis();
        let rows = q::recent_of_host(&self.db, host_id, since).await?;
        let mut running: std::collections::HashSet<String> =
            q::running_instances(&self.db, Some(host_id))
                .await?
                .into_iter()
                .map(|(id, _, _)| id)
                .collect();
        running.extend(
            inv_q::running_unmanaged(&self.db, &[host_id.to_string()])
                .await?
                .into_iter()
                .map(|(id, _, _)| id),
        );
        let mut seen = std::collections::HashSet::new();
        // Newest first: the first row of each running instance is its latest.
        let latest: Vec<q::StatsRow> = rows
            .into_iter()
            .filter(|r| running.contains(&r.instance_id) && seen.insert(r.instance_id.clone()))
            .collect();
        let Some(at_ms) = latest.iter().map(|r| r.at_ms).max() else {
            return Ok(None);
        };
        let capabilities = self.hosts.get(host_id).await?.and_then(|h| h.capabilities);
        let sum = |f: fn(&q::StatsRow) -> i64| latest.iter().map(f).fold(0i64, i64::saturating_add);
        Ok(Some(HostTotals {
            at: DateTime::from_timestamp_millis(at_ms).unwrap_or_default(),
            cpu_percent: latest.iter().filter_map(|r| r.cpu_percent).sum(),
            memory_bytes: sum(|r| r.memory_bytes),
            memory_total_bytes: capabilities
                .as_ref()
                .map(|c| c.memory_bytes)
                .filter(|m| *m > 0),
            cpus: capabilities.as_ref().map(|c| c.cpus).filter(|c| *c > 0),
            net_rx_bytes: sum(|r| r.net_rx_bytes),
            net_tx_bytes: sum(|r| r.net_tx_bytes),
            block_read_bytes: sum(|r| r.block_read_bytes),
            block_write_bytes: sum(|r| r.block_write_bytes),
            containers: latest.len(),
        }))
    }

    /// A host's totals over time from `since` (default: 24 h ago, at most [`AVERAGE_KEEP`] back), oldest first:
    /// its instances' samples summed per time bucket in SQL (each instance averaged within the bucket first),
    /// from the 5-minute averages before the last hour and the raw samples in it. At most
    /// [`MAX_HOST_POINTS`] buckets, each at least two sampling intervals wide (so every instance sampled in it
    /// counts once); the bucket still filling is left out until it is one interval old.
    pub async fn host_history(
        &self,
        host_id: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<HostPoint>, ServiceError> {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let now = Utc::now().timestamp_millis();
        let since = since
            .map_or(now - 24 * 3_600_000, |s| s.timestamp_millis())
            .max(now - ms(AVERAGE_KEEP));
        if since >= now {
            return Ok(Vec::new());
        }
        let span = now - since;
        let bucket = div_up(
            (ms(self.settings.interval) * 2)
                .max(div_up(span, MAX_HOST_POINTS))
                .max(1000),
            1000,
        ) * 1000;
        let average_ms = i64::from(AVERAGE_SECS) * 1000;
        // Raw samples cover the last hour: from the first 5-minute boundary in it on; averages before.
        let raw_from = now - ms(RAW_KEEP);
        let cut = (raw_from + average_ms - 1).div_euclid(average_ms) * average_ms;
        let cut = cut.max(since);
        // The bucket still filling counts once every instance had an interval to be sampled in it.
        let filling = now - now.rem_euclid(bucket);
        let end = if now - filling >= ms(self.settings.interval) {
            now + 1
        } else {
            filling
        };
        let mut rows = if since < cut {
            q::host_buckets(
                &self.db,
                host_id,
                AVERAGE_SECS,
                since,
                cut,
                bucket.max(average_ms),
            )
            .await?
        } else {
            Vec::new()
        };
        let raw = q::host_buckets(&self.db, host_id, q::RAW, cut, end, bucket).await?;
        if let (Some(last), Some(first)) = (rows.last(), raw.first())
            && last.at_ms >= first.at_ms
        {
            rows.pop();
        }
        rows.extend(raw);
        let excess = rows.len().saturating_sub(MAX_HOST_POINTS as usize);
        rows.drain(..excess);
        Ok(rows
            .into_iter()
            .map(|b| HostPoint {
                at: DateTime::from_timestamp_millis(b.at_ms).unwrap_or_default(),
                cpu_percent: b.cpu_percent,
                memory_bytes: b.memory_bytes,
                net_rx_bytes: b.net_rx_bytes,
                net_tx_bytes: b.net_tx_bytes,
                block_read_bytes: b.block_read_bytes,
                block_write_bytes: b.block_write_bytes,
                containers: usize::try_from(b.containers).unwrap_or_default(),
            })
            .collect())
    }

    /// The last hour of each of `instance_ids` (at most [`MAX_TREND_INSTANCES`], duplicates ignored) as at most
    /// [`TREND_POINTS`] averages, read in one query; an instance without samples gets no points.
    pub async fn trends(
        &self,
        instance_ids: &[String],
    ) -> Result<Vec<(String, Vec<TrendSample>)>, ServiceError> {
        at_most_trends(instance_ids, "instanceIds")?;
        self.trends_of(instance_ids).await
    }

    /// Like [`Self::trends`] for containers of the inventory (`<host id>:<docker id>`): a replica of Berth's reads
    /// its instance's samples. In the order given; an unknown id gets no points.
    pub async fn docker_container_trends(
        &self,
        ids: &[String],
    ) -> Result<Vec<(String, Vec<TrendSample>)>, ServiceError> {
        at_most_trends(ids, "ids")?;
        let instances: HashMap<String, String> = inv_q::instance_ids(&self.db, ids)
            .await?
            .into_iter()
            .collect();
        let keys: Vec<String> = ids
            .iter()
            .map(|id| sample_key(id, instances.get(id).map(String::as_str)).to_string())
            .collect();
        let trends = self.trends_of(&keys).await?;
        Ok(ids
            .iter()
            .zip(trends)
            .map(|(id, (_, points))| (id.clone(), points))
            .collect())
    }

    /// The trends of sample keys, in the order given (the caller bounded their number).
    async fn trends_of(
        &self,
        keys: &[String],
    ) -> Result<Vec<(String, Vec<TrendSample>)>, ServiceError> {
        let mut ids: Vec<String> = keys.to_vec();
        ids.sort();
        ids.dedup();
        let window = i64::try_from(TREND_WINDOW.as_millis()).unwrap_or(i64::MAX);
        let now = Utc::now().timestamp_millis();
        // Buckets as wide as the samples there are need (a container started minutes ago still gets a line),
        // at least two sampling intervals: one read of the oldest sample, one of the averages.
        let Some(oldest) = q::oldest_sample(&self.db, &ids, now - window).await? else {
            return Ok(keys.iter().map(|id| (id.clone(), Vec::new())).collect());
        };
        let interval = i64::try_from(self.settings.interval.as_millis()).unwrap_or(1000);
        let bucket = div_up(now - oldest, TREND_POINTS as i64 - 2)
            .max(interval * 2)
            .max(1000);
        let since = oldest - oldest.rem_euclid(bucket);
        let points = q::trends(&self.db, &ids, since, bucket).await?;
        let mut by_id: HashMap<String, Vec<TrendSample>> = HashMap::new();
        for p in points {
            by_id.entry(p.instance_id).or_default().push(TrendSample {
                at: DateTime::from_timestamp_millis(p.at_ms).unwrap_or_default(),
                cpu_percent: p.cpu_percent,
                memory_bytes: p.memory_bytes,
            });
        }
        Ok(keys
            .iter()
            .map(|id| {
                let mut points = by_id.get(id).cloned().unwrap_or_default();
                let excess = points.len().saturating_sub(TREND_POINTS);
                points.drain(..excess);
                (id.clone(), points)
            })
            .collect())
    }

    /// What to sample on `hosts` (those that answer), by host: (sample key, Docker id). Berth's running
    /// instances under their instance id, and every other running container of the inventory there under its
    /// inventory id (see [`sample_key`]).
    pub async fn sampling_targets(
        &self,
        hosts: &[String],
    ) -> Result<HashMap<String, Vec<(String, String)>>, ServiceError> {
        let wanted: std::collections::HashSet<&str> = hosts.iter().map(String::as_str).collect();
        let mut by_host: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for (instance, host, docker) in q::running_instances(&self.db, None).await? {
            if wanted.contains(host.as_str()) {
                by_host.entry(host).or_default().push((instance, docker));
            }
        }
        for (id, host, docker) in inv_q::running_unmanaged(&self.db, hosts).await? {
            by_host.entry(host).or_default().push((id, docker));
        }
        Ok(by_host)
    }

    /// Stores one tick's samples: (instance id, host id, sample).
    pub async fn record(
        &self,
        samples: Vec<(String, String, StatsSample)>,
    ) -> Result<(), ServiceError> {
        let rows = samples
            .into_iter()
            .map(|(instance_id, host_id, s)| q::NewSample {
                instance_id,
                host_id,
                at_ms: s.at.timestamp_millis(),
                cpu_percent: s.cpu_percent,
                memory_bytes: s.memory_bytes,
                memory_limit_bytes: s.memory_limit_bytes,
                net_rx_bytes: s.net_rx_bytes,
                net_tx_bytes: s.net_tx_bytes,
                block_read_bytes: s.block_read_bytes,
                block_write_bytes: s.block_write_bytes,
            })
            .collect();
        q::insert_samples(&self.db, rows).await?;
        Ok(())
    }

    /// Averages the finished 5-minute buckets not averaged yet (at most [`BUCKETS_PER_TICK`]) and prunes rows
    /// past their keep ([`PRUNE_BATCH`] of each resolution at most). Bounded work per call, whatever the backlog.
    pub async fn maintain(&self, now: DateTime<Utc>) -> Result<(), ServiceError> {
        let bucket_ms = i64::from(AVERAGE_SECS) * 1000;
        let now_ms = now.timestamp_millis();
        let (newest_average, oldest_raw) = q::downsample_start(&self.db, AVERAGE_SECS).await?;
        let next = match (newest_average, oldest_raw) {
            (Some(avg), _) => Some(avg + bucket_ms),
            (None, Some(raw)) => Some(raw - raw.rem_euclid(bucket_ms)),
            (None, None) => None,
        };
        if let Some(mut start) = next {
            // A bucket long past with no raw samples left: start at the oldest raw sample's bucket.
            if let Some(raw) = oldest_raw {
                start = start.max(raw - raw.rem_euclid(bucket_ms));
            }
            let mut done = 0;
            while start + bucket_ms <= now_ms && done < BUCKETS_PER_TICK {
                q::downsample_bucket(&self.db, start, AVERAGE_SECS).await?;
                start += bucket_ms;
                done += 1;
            }
        }
        let keep_ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        q::prune(&self.db, q::RAW, now_ms - keep_ms(RAW_KEEP), PRUNE_BATCH).await?;
        q::prune(
            &self.db,
            AVERAGE_SECS,
            now_ms - keep_ms(AVERAGE_KEEP),
            PRUNE_BATCH,
        )
        .await?;
        Ok(())
    }

    /// The hosts' service (for the sampler's engine connections).
    pub fn hosts(&self) -> &HostService {
        &self.hosts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn reading(memory: u64) -> StatsReading {
        StatsReading {
            memory_bytes: memory,
            ..Default::default()
        }
    }

    /// A source that sends a reading every 10 ms for ever.
    fn ticking() -> Source {
        futures::stream::unfold(0u64, |n| async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Some((Ok(reading(n)), n + 1))
        })
        .boxed()
    }

    #[tokio::test]
    async fn watchers_of_one_container_share_one_engine_stream() {
        let opened = Arc::new(AtomicUsize::new(0));
        let counter = opened.clone();
        let hub = Hub::new(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            ticking()
        });
        let key = LiveKey {
            host_id: "h".into(),
            docker_id: "c".into(),
        };
        let mut a = Box::pin(hub.watch(key.clone()));
        let mut b = Box::pin(hub.watch(key.clone()));
        assert!(a.next().await.is_some());
        assert!(b.next().await.is_some());
        assert_eq!(
            opened.load(Ordering::SeqCst),
            1,
            "one engine stream for two watchers"
        );
        assert_eq!(hub.open_streams(), 1);
        // Another container has its own stream.
        let other = LiveKey {
            host_id: "h".into(),
            docker_id: "d".into(),
        };
        let mut c = Box::pin(hub.watch(other));
        assert!(c.next().await.is_some());
        assert_eq!(hub.open_streams(), 2);
        drop(c);
        assert_eq!(hub.open_streams(), 1);
        drop(a);
        assert_eq!(hub.open_streams(), 1, "b still watches");
        assert!(b.next().await.is_some());
        drop(b);
        assert_eq!(hub.open_streams(), 0, "the last watcher closed it");
        let mut again = Box::pin(hub.watch(key));
        assert!(again.next().await.is_some());
        assert_eq!(opened.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_engine_stream_that_ends_ends_its_watchers() {
        let hub = Hub::new(|_| {
            futures::stream::iter(vec![Ok(reading(7)), Err("container stopped".to_string())])
                .boxed()
        });
        let key = LiveKey {
            host_id: "h".into(),
            docker_id: "c".into(),
        };
        let mut w = Box::pin(hub.watch(key.clone()));
        let first = w.next().await;
        assert_eq!(first.map(|s| s.memory_bytes), Some(7));
        assert!(
            w.next().await.is_none(),
            "the watch ends with the engine's stream"
        );
        assert_eq!(hub.open_streams(), 0);
        drop(w);
        assert_eq!(hub.open_streams(), 0);
    }
}
