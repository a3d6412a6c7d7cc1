//! Host monitors: one task per host with Docker support. Each holds one engine `/events` stream (container and
//! image events), pings every few seconds, and records status transitions (UP ↔ NON_RESPONSIVE, MAINTENANCE),
//! capabilities and the image cache through `HostService`, and keeps the host's part of the fleet inventory:
//! listed at connect and every `BERTH_INVENTORY_RESYNC_SECS` (60 s), each container re-read after its events,
//! marked not current when the host stops answering. A host that hangs only ever delays its own task.

use crate::docker::{Engine, EngineEvent};
use crate::engine::reconciler::ReconcilerHandle;
use crate::service::hosts::{HostService, MonitorCommand};
use crate::service::inventory::InventoryService;
use berth_shared::{HostEndpoint, HostStatus};
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Monitor timing (env `BERTH_HOST_PING_SECS`, default 3 s; `BERTH_INVENTORY_RESYNC_SECS`, default 60 s).
#[derive(Clone, Copy, Debug)]
pub struct MonitorSettings {
    pub ping_every: Duration,
    pub retry_max: Duration,
    pub resync_every: Duration,
}

/// Container event actions that change nothing the inventory shows. `kill` only sends a signal: a stop it causes
/// arrives as `die` (re-reading at `kill` would hold up that `die` by one engine round trip).
const QUIET_ACTIONS: [&str; 10] = [
    "kill",
    "exec_create",
    "exec_start",
    "exec_die",
    "exec_detach",
    "attach",
    "resize",
    "top",
    "archive-path",
    "extract-to-dir",
];

/// Containers re-read at once after a batch of events (each re-read is one inspect; the writes take turns).
const RE_READS_IN_FLIGHT: usize = 8;

/// What every monitor works with.
#[derive(Clone)]
struct Deps {
    hosts: HostService,
    inventory: InventoryService,
    reconciler: ReconcilerHandle,
}

impl From<&crate::config::Settings> for MonitorSettings {
    fn from(s: &crate::config::Settings) -> Self {
        MonitorSettings {
            ping_every: s.host_ping,
            retry_max: Duration::from_secs(10),
            resync_every: s.inventory_resync,
        }
    }
}

enum HostCommand {
    Refresh(oneshot::Sender<()>),
}

struct Running {
    task: JoinHandle<()>,
    commands: mpsc::UnboundedSender<HostCommand>,
}

/// A monitor never outlives its supervisor: aborting the supervisor (server shutdown) drops the map of
/// running monitors, and with it every monitor task.
impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs the supervisor: starts a monitor for every stored host, then follows the service's commands.
pub fn spawn(
    hosts: HostService,
    inventory: InventoryService,
    settings: MonitorSettings,
    reconciler: ReconcilerHandle,
    mut commands: mpsc::UnboundedReceiver<MonitorCommand>,
) -> JoinHandle<()> {
    let deps = Deps {
        hosts: hosts.clone(),
        inventory,
        reconciler,
    };
    tokio::spawn(async move {
        let mut running: HashMap<String, Running> = HashMap::new();
        match hosts.list().await {
            Ok(list) => {
                for host in list {
                    start(&mut running, &deps, settings, host.id, None);
                }
            }
            Err(e) => tracing::error!(error = %e, "listing hosts for monitoring failed"),
        }
        while let Some(cmd) = commands.recv().await {
            match cmd {
                MonitorCommand::Start(id, ready) => start(&mut running, &deps, settings, id, ready),
                MonitorCommand::Stop(id) => {
                    running.remove(&id);
                }
                MonitorCommand::Refresh(id, done) => match running.get(&id) {
                    Some(r) => {
                        let _ = r.commands.send(HostCommand::Refresh(done));
                    }
                    None => start(&mut running, &deps, settings, id, Some(done)),
                },
            }
        }
    })
}

fn start(
    running: &mut HashMap<String, Running>,
    deps: &Deps,
    settings: MonitorSettings,
    id: String,
    ready: Option<oneshot::Sender<()>>,
) {
    // Replacing an entry drops (and so aborts) the old monitor.
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(monitor(deps.clone(), settings, id.clone(), rx, ready));
    running.insert(id, Running { task, commands: tx });
}

/// Where a host's event stream stopped: the newest event time seen and the events seen at that very time.
/// `since` is inclusive, so a resumed stream repeats them; they are skipped.
#[derive(Debug, Default)]
struct EventCursor {
    time_nanos: Option<i64>,
    at_time: Vec<(String, String, String)>,
}

impl EventCursor {
    fn since(&self) -> Option<i64> {
        self.time_nanos
    }

    /// Records the event; `false` when it was seen already.
    fn is_new(&mut self, event: &EngineEvent) -> bool {
        let key = (event.kind.clone(), event.action.clone(), event.id.clone());
        match self.time_nanos {
            Some(t) if event.time_nanos < t => false,
            Some(t) if event.time_nanos == t => {
                if self.at_time.contains(&key) {
                    false
                } else {
                    self.at_time.push(key);
                    true
                }
            }
            _ => {
                self.time_nanos = Some(event.time_nanos);
                self.at_time = vec![key];
                true
            }
        }
    }
}

/// Why a connected session with an engine ended.
enum Ended {
    Lost(String),
    Removed,
}

async fn monitor(
    deps: Deps,
    settings: MonitorSettings,
    id: String,
    mut commands: mpsc::UnboundedReceiver<HostCommand>,
    mut ready: Option<oneshot::Sender<()>>,
) {
    let Deps {
        hosts, reconciler, ..
    } = &deps;
    let mut backoff = Duration::from_millis(500);
    let mut cursor = EventCursor::default();
    loop {
        let conn = match hosts.connection(&id).await {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(host = %id, error = %e, "reading host settings failed");
                tokio::time::sleep(settings.retry_max).await;
                continue;
            }
        };
        let (row, tls) = conn;
        if !row.docker_support {
            let _ = hosts
                .record_status(
                    &id,
                    HostStatus::Down,
                    None,
                    Some("Docker support switched off"),
                )
                .await;
            if let Some(r) = ready.take() {
                let _ = r.send(());
            }
            // Not monitored: wait for a command (a settings change restarts this task).
            while let Some(HostCommand::Refresh(done)) = commands.recv().await {
                let _ = done.send(());
            }
            return;
        }
        let attempt = async {
            let endpoint = HostEndpoint::parse(&row.endpoint).map_err(|e| e.to_string())?;
            let engine = Engine::connect(&endpoint, tls.as_ref())
                .await
                .map_err(|e| e.to_string())?;
            check(hosts, &id, &engine).await?;
            Ok::<Engine, String>(engine)
        };
        match attempt.await {
            Ok(engine) => {
                backoff = Duration::from_millis(500);
                let status = if row.maintenance {
                    HostStatus::Maintenance
                } else {
                    HostStatus::Up
                };
                let _ = hosts
                    .record_status(&id, status, None, Some("engine answers"))
                    .await;
                if let Some(r) = ready.take() {
                    let _ = r.send(());
                }
                hosts.set_live_engine(&id, Some(engine.clone()));
                reconciler.host_connected(&id);
                let ended = watch(&deps, settings, &id, &engine, &mut commands, &mut cursor).await;
                hosts.set_live_engine(&id, None);
                match ended {
                    Ended::Removed => return,
                    Ended::Lost(reason) => {
                        tracing::warn!(host = %row.name, %reason, "host stopped answering");
                        reconciler.host_lost(&id);
                        mark_stale(&deps, &id).await;
                        let _ = hosts
                            .record_status(&id, HostStatus::NonResponsive, Some(reason), None)
                            .await;
                    }
                }
            }
            Err(reason) => {
                reconciler.host_lost(&id);
                mark_stale(&deps, &id).await;
                let _ = hosts
                    .record_status(&id, HostStatus::NonResponsive, Some(reason), None)
                    .await;
                if let Some(r) = ready.take() {
                    let _ = r.send(());
                }
                // Wait before retrying, but answer refreshes meanwhile (with a fresh attempt).
                let sleep = tokio::time::sleep(backoff);
                tokio::pin!(sleep);
                tokio::select! {
                    _ = &mut sleep => {}
                    cmd = commands.recv() => match cmd {
                        Some(HostCommand::Refresh(done)) => ready = Some(done),
                        None => return,
                    },
                }
                backoff = (backoff * 2).min(settings.retry_max);
            }
        }
    }
}

async fn mark_stale(deps: &Deps, id: &str) {
    if let Err(e) = deps.inventory.mark_stale(id).await {
        tracing::error!(host = %id, error = %e, "marking the inventory not current failed");
    }
}

/// The engine's whole container list into the inventory; `fresher` names the containers recorded from a newer
/// observation since the listing was taken (see `InventoryService::record_listing`).
async fn resync(
    deps: &Deps,
    id: &str,
    engine: &Engine,
    fresher: impl Fn(&str) -> bool,
) -> Result<(), Ended> {
    let listing = engine
        .list_every_container()
        .await
        .map_err(|e| Ended::Lost(e.to_string()))?;
    if let Err(e) = deps
        .inventory
        .record_listing(id, engine, listing, fresher)
        .await
    {
        tracing::error!(host = %id, error = %e, "recording the container inventory failed");
    }
    Ok(())
}

/// Capabilities and the image cache, read fresh from the engine.
async fn check(hosts: &HostService, id: &str, engine: &Engine) -> Result<(), String> {
    let caps = engine.capabilities().await.map_err(|e| e.to_string())?;
    hosts
        .record_capabilities(id, &caps)
        .await
        .map_err(|e| e.to_string())?;
    let cache = hosts.lock_image_cache(id).await;
    let images = engine.images().await.map_err(|e| e.to_string())?;
    hosts
        .record_images(&cache, images)
        .await
        .map_err(|e| e.to_string())
}

/// The containers touched by events while a periodic resync runs: its listing must not overwrite them.
#[derive(Clone, Default)]
struct Touched(Arc<std::sync::Mutex<Option<HashSet<String>>>>);

impl Touched {
    fn set(&self) -> std::sync::MutexGuard<'_, Option<HashSet<String>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// From now on, remember every container touched.
    fn begin(&self) {
        *self.set() = Some(HashSet::new());
    }

    fn end(&self) {
        *self.set() = None;
    }

    fn touch(&self, docker_id: &str) {
        if let Some(set) = self.set().as_mut() {
            set.insert(docker_id.to_owned());
        }
    }

    fn contains(&self, docker_id: &str) -> bool {
        self.set().as_ref().is_some_and(|s| s.contains(docker_id))
    }
}

/// A task of the monitor's, aborted when the monitor lets go of it (a monitor that ends takes its helpers along).
struct Owned<T>(JoinHandle<T>);

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for Owned<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

/// The re-reads that follow events: at most `RE_READS_IN_FLIGHT` at once, at most one per container (events for a
/// container being re-read queue one more re-read after it), an exit for a container being re-read recorded
/// once that re-read is written, so a change is never published out of order. Each runs as its own task: one
/// holding the host's lock always makes progress while the event loop waits for that lock.
#[derive(Default)]
struct ReReads {
    in_flight: FuturesUnordered<BoxFuture<'static, String>>,
    busy: HashSet<String>,
    queue: VecDeque<String>,
    exits: HashMap<String, i64>,
}

impl ReReads {
    fn want(&mut self, docker_id: &str) {
        if !self.queue.iter().any(|d| d == docker_id) {
            self.queue.push_back(docker_id.to_owned());
        }
    }

    /// Starts queued re-reads while there is room, skipping containers already being re-read.
    fn dispatch(&mut self, deps: &Deps, id: &str, engine: &Engine) {
        let mut i = 0;
        while i < self.queue.len() && self.in_flight.len() < RE_READS_IN_FLIGHT {
            if self.busy.contains(&self.queue[i]) {
                i += 1;
                continue;
            }
            let Some(docker_id) = self.queue.remove(i) else {
                break;
            };
            self.busy.insert(docker_id.clone());
            let (deps, id, engine, which) = (
                deps.clone(),
                id.to_owned(),
                engine.clone(),
                docker_id.clone(),
            );
            let task = Owned(tokio::spawn(async move {
                if let Err(e) = deps.inventory.record_one(&id, &engine, &which).await {
                    tracing::warn!(host = %id, container = %which, error = %e, "re-reading a container failed");
                }
            }));
            self.in_flight.push(Box::pin(async move {
                let _ = task.await;
                docker_id
            }));
        }
    }

    /// Waits for the next re-read to finish (forever when none runs).
    async fn next(&mut self) -> String {
        match self.in_flight.next().await {
            Some(done) => done,
            None => std::future::pending().await,
        }
    }
}

/// Waits for an optional future (forever when there is none).
async fn maybe<F: Future + Unpin>(fut: &mut Option<F>) -> F::Output {
    match fut {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

async fn record_exit(deps: &Deps, id: &str, docker_id: &str, code: i64) {
    if let Err(e) = deps.inventory.record_exit(id, docker_id, code).await {
        tracing::warn!(host = %id, container = %docker_id, error = %e, "recording an exit failed");
    }
}

/// Follows the engine's events and pings it until it stops answering. Events never wait for a periodic resync
/// or for the re-reads of other containers.
async fn watch(
    deps: &Deps,
    settings: MonitorSettings,
    id: &str,
    engine: &Engine,
    commands: &mut mpsc::UnboundedReceiver<HostCommand>,
    cursor: &mut EventCursor,
) -> Ended {
    // Resume where the last stream of this engine stopped. `check` has just re-read the whole image list, so
    // anything older than the daemon's replay buffer (256 events) is covered by that re-list. A first stream
    // starts from before the inventory listing below, so nothing between the two is missed.
    let since = cursor
        .since()
        .or_else(|| chrono::Utc::now().timestamp_nanos_opt());
    let mut events = Box::pin(engine.events(since));
    if let Err(ended) = resync(deps, id, engine, |_| false).await {
        return ended;
    }
    let mut ping = tokio::time::interval(settings.ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    let mut resync_timer = tokio::time::interval(settings.resync_every);
    resync_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    resync_timer.tick().await;
    let touched = Touched::default();
    let mut periodic: Option<Owned<Result<(), Ended>>> = None;
    let mut re_reads = ReReads::default();
    loop {
        tokio::select! {
            item = events.next() => {
                // Take every event already waiting, then start the re-reads they call for.
                let mut item = item;
                loop {
                    match item {
                        Some(Ok(event)) => {
                            if let Err(ended) =
                                handle(deps, id, engine, cursor, event, &touched, &mut re_reads).await
                            {
                                return ended;
                            }
                        }
                        Some(Err(e)) => return Ended::Lost(format!("event stream failed: {e}")),
                        None => return Ended::Lost("event stream ended".into()),
                    }
                    match events.next().now_or_never() {
                        Some(next) => item = next,
                        None => break,
                    }
                }
                re_reads.dispatch(deps, id, engine);
            },
            docker_id = re_reads.next() => {
                re_reads.busy.remove(&docker_id);
                if let Some(code) = re_reads.exits.remove(&docker_id) {
                    record_exit(deps, id, &docker_id, code).await;
                }
                re_reads.dispatch(deps, id, engine);
            }
            listed = maybe(&mut periodic) => {
                periodic = None;
                touched.end();
                if let Ok(Err(ended)) = listed {
                    return ended;
                }
            }
            _ = ping.tick() => {
                if let Err(e) = engine.ping().await {
                    return Ended::Lost(e.to_string());
                }
            }
            _ = resync_timer.tick() => {
                if periodic.is_none() {
                    touched.begin();
                    let fresher = touched.clone();
                    let (deps, id, engine) = (deps.clone(), id.to_owned(), engine.clone());
                    periodic = Some(Owned(tokio::spawn(async move {
                        resync(&deps, &id, &engine, move |d| fresher.contains(d)).await
                    })));
                }
            }
            cmd = commands.recv() => match cmd {
                Some(HostCommand::Refresh(done)) => {
                    // A refresh answers with everything read after it was asked: a resync already running
                    // finishes first.
                    if let Some(running) = periodic.take() {
                        let listed = running.await;
                        touched.end();
                        if let Ok(Err(ended)) = listed {
                            let _ = done.send(());
                            return ended;
                        }
                    }
                    let result = check(&deps.hosts, id, engine).await;
                    let listed = resync(deps, id, engine, |_| false).await;
                    let _ = done.send(());
                    if let Err(e) = result {
                        return Ended::Lost(e);
                    }
                    if let Err(ended) = listed {
                        return ended;
                    }
                }
                None => return Ended::Removed,
            },
        }
    }
}

/// One engine event: container events go to the reconciler and queue a re-read of the container (a `die` is
/// recorded at once, a destroyed container leaves the inventory at once); image events re-read the image list.
async fn handle<'a>(
    deps: &'a Deps,
    id: &'a str,
    engine: &'a Engine,
    cursor: &mut EventCursor,
    event: EngineEvent,
    touched: &Touched,
    re_reads: &mut ReReads,
) -> Result<(), Ended> {
    if !cursor.is_new(&event) {
        return Ok(());
    }
    if let Some(now) = chrono::Utc::now().timestamp_nanos_opt() {
        let lag = u64::try_from(now.saturating_sub(event.time_nanos)).unwrap_or(0);
        crate::metrics::METRICS
            .docker_event_lag
            .observe(std::time::Duration::from_nanos(lag));
    }
    if event.kind == "container" {
        let docker_id = event.id.clone();
        let action = event.action.clone();
        let quiet = QUIET_ACTIONS.contains(&action.as_str());
        if !quiet {
            touched.touch(&docker_id);
        }
        if action == "oom" {
            deps.inventory.note_oom(id, &docker_id);
        }
        if let Some(code) = event.died_with() {
            if re_reads.busy.contains(&docker_id) {
                re_reads.exits.insert(docker_id.clone(), code);
            } else {
                record_exit(deps, id, &docker_id, code).await;
            }
        }
        deps.reconciler.event(id, event);
        if action == "destroy" {
            re_reads.queue.retain(|d| *d != docker_id);
            re_reads.exits.remove(&docker_id);
            if let Err(e) = deps.inventory.forget(id, &docker_id).await {
                tracing::warn!(host = %id, error = %e, "forgetting a container failed");
            }
            // A re-read that read the container before it went may write it back: read once more after it.
            if re_reads.busy.contains(&docker_id) {
                re_reads.want(&docker_id);
            }
        } else if !quiet {
            re_reads.want(&docker_id);
        }
        return Ok(());
    }
    if event.kind == "image" {
        // pull, tag, untag, delete, import, load: re-read the (small) image list.
        let cache = deps.hosts.lock_image_cache(id).await;
        match engine.images().await {
            Ok(images) => {
                if let Err(e) = deps.hosts.record_images(&cache, images).await {
                    tracing::error!(host = %id, error = ?e, "recording images failed");
                }
            }
            Err(e) => return Err(Ended::Lost(e.to_string())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(time_nanos: i64, action: &str, id: &str) -> EngineEvent {
        EngineEvent {
            kind: "image".into(),
            action: action.into(),
            id: id.into(),
            attributes: Default::default(),
            time_nanos,
        }
    }

    #[test]
    fn a_resumed_stream_skips_what_was_seen() {
        let mut cursor = EventCursor::default();
        assert_eq!(cursor.since(), None);
        assert!(cursor.is_new(&event(10, "pull", "a")));
        assert!(cursor.is_new(&event(20, "pull", "b")));
        assert!(
            cursor.is_new(&event(20, "tag", "b")),
            "same time, other event"
        );
        assert_eq!(cursor.since(), Some(20));
        // `since` is inclusive: the replay repeats the events at 20 and may repeat older ones.
        assert!(!cursor.is_new(&event(20, "pull", "b")));
        assert!(!cursor.is_new(&event(20, "tag", "b")));
        assert!(!cursor.is_new(&event(10, "pull", "a")));
        assert!(cursor.is_new(&event(20, "delete", "c")));
        assert!(cursor.is_new(&event(30, "pull", "a")));
        assert_eq!(cursor.since(), Some(30));
    }
}
