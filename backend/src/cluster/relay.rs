//! Events between servers on one PostgreSQL. Each server sends what its own code publishes to the others with
//! NOTIFY, from one task in publishing order, several events to a notification (a notification carries at most
//! 8,000 bytes); one LISTEN connection per server receives the others' events and publishes them to its
//! subscribers, and also wakes the command handling of `commands` (new commands for the leader, answers for a
//! follower). PostgreSQL delivers notifications in commit order, so a container's events keep their order.

use super::commands::Waiters;
use crate::bus::{Bus, Event};
use crate::service::cluster::ClusterService;
use crate::service::containers::{ContainerService, StatusSnapshot};
use futures::StreamExt as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

/// The channel events travel on.
pub const EVENTS: &str = "berth_events";
/// A follower stored a command for the leader (payload: its id).
pub const COMMANDS: &str = "berth_commands";
/// The leader answered a command (payload: its id).
pub const ANSWERS: &str = "berth_answers";

/// PostgreSQL's limit is 8,000 bytes; room is kept for the envelope.
const PAYLOAD_LIMIT: usize = 7_800;
/// Events taken from the queue for one round of notifications.
const BATCH: usize = 256;

/// Packs events into notification payloads `{"o": origin, "e": [...]}` of at most [`PAYLOAD_LIMIT`] bytes. An
/// inventory event too large for one is split into one event per change; a single change still too large goes
/// without its previous row (subscribers then see it as changed, which it is).
pub fn pack(origin: &str, events: &[Arc<Event>]) -> Vec<String> {
    let head = format!("{{\"o\":{},\"e\":[", serde_json::Value::from(origin));
    let mut parts: Vec<String> = Vec::new();
    for event in events {
        let Ok(text) = serde_json::to_string(event.as_ref()) else {
            continue;
        };
        if head.len() + text.len() + 2 <= PAYLOAD_LIMIT {
            parts.push(text);
            continue;
        }
        let Event::Inventory(changes) = event.as_ref() else {
            tracing::warn!(
                bytes = text.len(),
                "an event too large for a notification is not relayed"
            );
            continue;
        };
        for change in changes.iter() {
            let one = |change: crate::service::inventory::InventoryChange| {
                serde_json::to_string(&Event::Inventory(Arc::new(vec![change]))).ok()
            };
            match one(change.clone()) {
                Some(t) if head.len() + t.len() + 2 <= PAYLOAD_LIMIT => parts.push(t),
                _ => {
                    let lean = crate::service::inventory::InventoryChange {
                        before: None,
                        after: change.after.clone(),
                    };
                    match one(lean) {
                        Some(t) if head.len() + t.len() + 2 <= PAYLOAD_LIMIT => parts.push(t),
                        _ => tracing::warn!(
                            "an inventory row too large for a notification is not relayed"
                        ),
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut current = head.clone();
    let mut count = 0;
    for part in parts {
        if count > 0 && current.len() + part.len() + 2 > PAYLOAD_LIMIT {
            current.push_str("]}");
            out.push(std::mem::replace(&mut current, head.clone()));
            count = 0;
        }
        if count > 0 {
            current.push(',');
        }
        current.push_str(&part);
        count += 1;
    }
    if count > 0 {
        current.push_str("]}");
        out.push(current);
    }
    out
}

#[derive(serde::Deserialize)]
struct Envelope {
    o: String,
    e: Vec<serde_json::Value>,
}

/// The events of a payload another server sent (`None` when this server sent it).
pub fn unpack(me: &str, payload: &str) -> Option<Vec<Event>> {
    let envelope: Envelope = serde_json::from_str(payload).ok()?;
    if envelope.o == me {
        return None;
    }
    Some(
        envelope
            .e
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
    )
}

/// Sends this server's events to the others, in order.
pub fn spawn_sender(
    cluster: ClusterService,
    me: String,
    mut events: mpsc::UnboundedReceiver<Arc<Event>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            batch.clear();
            if events.recv_many(&mut batch, BATCH).await == 0 {
                return;
            }
            for payload in pack(&me, &batch) {
                if let Err(e) = cluster.notify(EVENTS, &payload).await {
                    tracing::warn!(error = %e, "an event could not be sent to the other servers");
                }
            }
        }
    })
}

/// How many relayed status events have their container read at once (in order all the same).
const SNAPSHOT_READS: usize = 8;

/// A relayed status change with the container and its instances as they are now, read once for every
/// subscriber of this server (who would otherwise each read them).
async fn with_snapshot(containers: &ContainerService, event: Event) -> Event {
    let Event::ContainerStatus {
        container_id,
        instance_id,
        status,
        previous,
        at,
        message,
        snapshot: None,
    } = event
    else {
        return event;
    };
    let snapshot = match containers.get(&container_id).await {
        Ok(Some(container)) => match containers.instances(&container_id).await {
            Ok(instances) => Some(Arc::new(StatusSnapshot {
                container,
                instances,
            })),
            Err(_) => None,
        },
        _ => None,
    };
    Event::ContainerStatus {
        container_id,
        instance_id,
        status,
        previous,
        at,
        message,
        snapshot,
    }
}

/// The one LISTEN connection: others' events onto `bus`, command arrivals to `commands`, answers to `waiters`.
/// When the connection is lost (and taken again) every waiter and the command handling look at the database
/// themselves, as they would have missed a notification.
pub fn spawn_listener(
    cluster: ClusterService,
    me: String,
    bus: Bus,
    containers: ContainerService,
    commands: Arc<Notify>,
    waiters: Waiters,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let mut listener = match cluster.listen(&[EVENTS, COMMANDS, ANSWERS]).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for the other servers' notifications");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            waiters.wake_all();
            commands.notify_one();
            loop {
                match listener.next().await {
                    Ok(Some((channel, payload))) => match channel.as_str() {
                        EVENTS => {
                            let events = unpack(&me, &payload).unwrap_or_default();
                            let mut ready = futures::stream::iter(events)
                                .map(|e| with_snapshot(&containers, e))
                                .buffered(SNAPSHOT_READS);
                            while let Some(event) = ready.next().await {
                                crate::metrics::METRICS
                                    .relayed_events
                                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                bus.publish_relayed(event);
                            }
                        }
                        COMMANDS => commands.notify_one(),
                        ANSWERS => waiters.wake(&payload),
                        _ => {}
                    },
                    Ok(None) => {
                        tracing::warn!("the notification connection was lost; listening again");
                        waiters.wake_all();
                        commands.notify_one();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "listening for notifications failed");
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(i: usize) -> Arc<Event> {
        Arc::new(Event::ContainerStatus {
            container_id: format!("c{i}"),
            instance_id: Some(format!("i{i}")),
            status: berth_shared::InstanceStatus::Running,
            previous: Some(berth_shared::InstanceStatus::Creating),
            at: chrono::Utc::now(),
            message: Some("x".repeat(100)),
            snapshot: None,
        })
    }

    #[test]
    fn events_pack_into_notifications_in_order_and_unpack_on_the_other_servers_only() {
        let events: Vec<_> = (0..200).map(status).collect();
        let payloads = pack("server-a", &events);
        assert!(payloads.len() > 1, "200 events need several notifications");
        assert!(payloads.iter().all(|p| p.len() <= PAYLOAD_LIMIT));
        let mut seen = Vec::new();
        for p in &payloads {
            assert!(
                unpack("server-a", p).is_none(),
                "its own events come back to the sender"
            );
            for e in unpack("server-b", p).unwrap_or_default() {
                let Event::ContainerStatus { container_id, .. } = e else {
                    panic!("another kind of event")
                };
                seen.push(container_id);
            }
        }
        let expected: Vec<_> = (0..200).map(|i| format!("c{i}")).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn a_large_inventory_event_is_split_by_change() {
        use crate::service::inventory::{DockerContainer, InventoryChange};
        let row = |i: usize| DockerContainer {
            id: format!("h1:{i}"),
            host_id: "h1".into(),
            host_name: "h1".into(),
            docker_id: format!("{i:064}"),
            name: format!("web-{i}"),
            image: "nginx:1".into(),
            image_id: "sha256:abc".into(),
            command: "nginx -g daemon off;".into(),
            state: "running".into(),
            status: "Up 2 minutes".into(),
            health: None,
            exit_code: None,
            created_at: chrono::Utc::now(),
            started_at: None,
            ports: Vec::new(),
            labels: (0..10)
                .map(|l| (format!("label.{l}"), "v".repeat(40)))
                .collect(),
            compose_project: None,
            compose_service: None,
            container_id: None,
            instance_id: None,
            search: "web nginx".into(),
            current: true,
            last_seen_at: chrono::Utc::now(),
        };
        let changes: Vec<_> = (0..40)
            .map(|i| InventoryChange {
                before: Some(Arc::new(row(i))),
                after: Some(Arc::new(row(i))),
            })
            .collect();
        let payloads = pack("a", &[Arc::new(Event::Inventory(Arc::new(changes)))]);
        assert!(payloads.len() > 1);
        let mut ids = Vec::new();
        for p in &payloads {
            assert!(p.len() <= PAYLOAD_LIMIT);
            for e in unpack("b", p).unwrap_or_default() {
                let Event::Inventory(changes) = e else {
                    panic!("another kind of event")
                };
                for c in changes.iter() {
                    assert!(c.before.is_some());
                    ids.push(c.after.as_ref().map(|r| r.id.clone()).unwrap_or_default());
                }
            }
        }
        assert_eq!(ids.len(), 40);
        assert_eq!(ids[0], "h1:0");
        assert_eq!(ids[39], "h1:39");
    }
}
