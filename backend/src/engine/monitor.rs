//! Host monitors: one task per host with Docker support. Each holds one engine `/events` stream (container and
//! image events), pings every few seconds, and records status transitions (UP ↔ NON_RESPONSIVE, MAINTENANCE),
//! capabilities and the image cache through `HostService`. A host that hangs only ever delays its own task.

use crate::docker::{Engine, EngineEvent};
use crate::engine::reconciler::ReconcilerHandle;
use crate::service::hosts::{HostService, MonitorCommand};
use berth_shared::{HostEndpoint, HostStatus};
use futures::StreamExt;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Monitor timing (env `BERTH_HOST_PING_SECS`, default 3 s).
#[derive(Clone, Copy, Debug)]
pub struct MonitorSettings {
    pub ping_every: Duration,
    pub retry_max: Duration,
}

impl MonitorSettings {
    pub fn from_env() -> Self {
        let ping = std::env::var("BERTH_HOST_PING_SECS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| *v > 0.0)
            .unwrap_or(3.0);
        MonitorSettings {
            ping_every: Duration::from_secs_f64(ping),
            retry_max: Duration::from_secs(10),
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
    settings: MonitorSettings,
    reconciler: ReconcilerHandle,
    mut commands: mpsc::UnboundedReceiver<MonitorCommand>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut running: HashMap<String, Running> = HashMap::new();
        match hosts.list().await {
            Ok(list) => {
                for host in list {
                    start(&mut running, &hosts, &reconciler, settings, host.id, None);
                }
            }
            Err(e) => tracing::error!(error = %e, "listing hosts for monitoring failed"),
        }
        while let Some(cmd) = commands.recv().await {
            match cmd {
                MonitorCommand::Start(id, ready) => {
                    start(&mut running, &hosts, &reconciler, settings, id, ready)
                }
                MonitorCommand::Stop(id) => {
                    running.remove(&id);
                }
                MonitorCommand::Refresh(id, done) => match running.get(&id) {
                    Some(r) => {
                        let _ = r.commands.send(HostCommand::Refresh(done));
                    }
                    None => start(&mut running, &hosts, &reconciler, settings, id, Some(done)),
                },
            }
        }
    })
}

fn start(
    running: &mut HashMap<String, Running>,
    hosts: &HostService,
    reconciler: &ReconcilerHandle,
    settings: MonitorSettings,
    id: String,
    ready: Option<oneshot::Sender<()>>,
) {
    // Replacing an entry drops (and so aborts) the old monitor.
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(monitor(
        hosts.clone(),
        reconciler.clone(),
        settings,
        id.clone(),
        rx,
        ready,
    ));
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
    hosts: HostService,
    reconciler: ReconcilerHandle,
    settings: MonitorSettings,
    id: String,
    mut commands: mpsc::UnboundedReceiver<HostCommand>,
    mut ready: Option<oneshot::Sender<()>>,
) {
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
            check(&hosts, &id, &engine).await?;
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
                let ended = watch(
                    &hosts,
                    &reconciler,
                    settings,
                    &id,
                    &engine,
                    &mut commands,
                    &mut cursor,
                )
                .await;
                hosts.set_live_engine(&id, None);
                match ended {
                    Ended::Removed => return,
                    Ended::Lost(reason) => {
                        tracing::warn!(host = %row.name, %reason, "host stopped answering");
                        reconciler.host_lost(&id);
                        let _ = hosts
                            .record_status(&id, HostStatus::NonResponsive, Some(reason), None)
                            .await;
                    }
                }
            }
            Err(reason) => {
                reconciler.host_lost(&id);
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

/// Follows the engine's events and pings it until it stops answering.
async fn watch(
    hosts: &HostService,
    reconciler: &ReconcilerHandle,
    settings: MonitorSettings,
    id: &str,
    engine: &Engine,
    commands: &mut mpsc::UnboundedReceiver<HostCommand>,
    cursor: &mut EventCursor,
) -> Ended {
    // Resume where the last stream of this engine stopped. `check` has just re-read the whole image list, so
    // anything older than the daemon's replay buffer (256 events) is covered by that re-list.
    let mut events = Box::pin(engine.events(cursor.since()));
    let mut ping = tokio::time::interval(settings.ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    loop {
        tokio::select! {
            item = events.next() => match item {
                Some(Ok(event)) => {
                    if !cursor.is_new(&event) {
                        continue;
                    }
                    if event.kind == "container" {
                        reconciler.event(id, event);
                        continue;
                    }
                    if event.kind == "image" {
                        // pull, tag, untag, delete, import, load: re-read the (small) image list.
                        let cache = hosts.lock_image_cache(id).await;
                        match engine.images().await {
                            Ok(images) => {
                                if let Err(e) = hosts.record_images(&cache, images).await {
                                    tracing::error!(host = %id, error = ?e, "recording images failed");
                                }
                            }
                            Err(e) => return Ended::Lost(e.to_string()),
                        }
                    }
                }
                Some(Err(e)) => return Ended::Lost(format!("event stream failed: {e}")),
                None => return Ended::Lost("event stream ended".into()),
            },
            _ = ping.tick() => {
                if let Err(e) = engine.ping().await {
                    return Ended::Lost(e.to_string());
                }
            }
            cmd = commands.recv() => match cmd {
                Some(HostCommand::Refresh(done)) => {
                    let result = check(hosts, id, engine).await;
                    let _ = done.send(());
                    if let Err(e) = result {
                        return Ended::Lost(e);
                    }
                }
                None => return Ended::Removed,
            },
        }
    }
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
