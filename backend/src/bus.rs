//! The in-process event bus that subscriptions read: a tokio broadcast channel behind a small type. With several
//! servers on one PostgreSQL, what is published here is also handed to `cluster::relay`, which sends it to the
//! other servers and publishes theirs here with [`Bus::publish_relayed`].

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

/// A change somebody may be subscribed to. Carries ids, not objects: subscribers read fresh state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Event {
    HostStatus {
        host_id: String,
        status: berth_shared::HostStatus,
        previous: Option<berth_shared::HostStatus>,
        at: DateTime<Utc>,
        message: Option<String>,
    },
    ImagePull {
        host_id: String,
        reference: String,
        phase: PullPhase,
        current_bytes: Option<i64>,
        total_bytes: Option<i64>,
        at: DateTime<Utc>,
        message: Option<String>,
    },
    /// A registry's stored tags changed in these repositories (a refresh, or a push announced by its hook).
    RegistryTags {
        registry_id: String,
        repositories: Vec<String>,
    },
    /// A host's image cache changed.
    HostImages { host_id: String, at: DateTime<Utc> },
    /// An instance's status changed (or a note about it, such as a health check result).
    ContainerStatus {
        container_id: String,
        instance_id: Option<String>,
        status: berth_shared::InstanceStatus,
        previous: Option<berth_shared::InstanceStatus>,
        at: DateTime<Utc>,
        message: Option<String>,
        /// The container and its instances right after the change (absent when it came from elsewhere).
        #[serde(skip)]
        snapshot: Option<std::sync::Arc<crate::model::containers::StatusSnapshot>>,
    },
    /// A container definition was created, edited, deleted or asked to run or stop.
    ContainerChanged {
        container_id: String,
        at: DateTime<Utc>,
        message: Option<String>,
    },
    /// An entry was added to the audit log.
    Audit { entry_id: String },
    /// The reconciler replaced or moved replicas on its own (audited).
    Reschedule {
        container_id: String,
        detail: String,
    },
    /// The fleet inventory changed (containers added, changed or removed on a host), with the rows themselves
    /// so subscribers filter without reading the database.
    Inventory(Arc<Vec<crate::model::inventory::InventoryChange>>),
    /// An alert opened, was acknowledged or resolved.
    Alert {
        alert_id: String,
        change: crate::model::alerts::AlertChange,
    },
    /// A user asked Berth to stop, kill, restart or remove a Docker container of the inventory (so its exit is
    /// no alert).
    DockerActionAsked { inventory_id: String },
    /// No host could take some replicas of a container (the reconciler will try again after a back-off).
    Unplaceable {
        container_id: String,
        name: String,
        reason: String,
    },
    /// The reconciler placed replicas of a container (again).
    Placed { container_id: String, name: String },
    /// The kernel killed a process of a container for memory (the engine's `oom` event).
    ContainerOom { host_id: String, docker_id: String },
    /// Progress of a registry refresh.
    RegistryRefresh {
        registry_id: String,
        phase: RefreshPhase,
        repositories_done: i64,
        repositories_total: Option<i64>,
        at: DateTime<Utc>,
        message: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefreshPhase {
    Started,
    Progress,
    Finished,
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PullPhase {
    Started,
    Progress,
    Finished,
    Failed,
}

/// Events travel as `Arc`s: a subscriber looks at the kind first and copies only what it keeps, so a thousand
/// subscribers do not each copy every event.
#[derive(Clone)]
pub struct Bus {
    tx: broadcast::Sender<Arc<Event>>,
    /// Where this server's own events also go when other servers share the database.
    relay: Arc<OnceLock<mpsc::UnboundedSender<Arc<Event>>>>,
}

impl Default for Bus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(4096);
        Self {
            tx,
            relay: Arc::new(OnceLock::new()),
        }
    }

    /// Publishes to every current subscriber (none is fine), and to the other servers when relayed.
    pub fn publish(&self, event: Event) {
        let event = Arc::new(event);
        if let Some(relay) = self.relay.get() {
            let _ = relay.send(event.clone());
        }
        let _ = self.tx.send(event);
    }

    /// Publishes an event another server published (to this server's subscribers only).
    pub fn publish_relayed(&self, event: Event) {
        let _ = self.tx.send(Arc::new(event));
    }

    /// From now on every event published here is also sent to the receiver returned (once; `None` after).
    pub fn relay(&self) -> Option<mpsc::UnboundedReceiver<Arc<Event>>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.relay.set(tx).ok().map(|()| rx)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// Every event from now on, as a stream; a subscriber that lags skips what it missed (subscribers read
    /// fresh state for each event, so nothing stays wrong).
    pub fn stream(&self) -> impl futures::Stream<Item = Arc<Event>> + Send + 'static + use<> {
        futures::stream::unfold(self.subscribe(), |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(e) => return Some((e, rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
    }
}
