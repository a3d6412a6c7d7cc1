//! The fleet inventory: every Docker container on every host with Docker support, kept from the monitors'
//! listings and events, published as deltas on the bus, listed in keyset pages, and acted on (start, stop,
//! restart, kill, remove, logs) with the same roles and errors as Berth's own containers.

use crate::bus::{Bus, Event};
use crate::db::hosts as host_q;
use crate::db::inventory::{self as q, InventoryRow};
use crate::docker::{DockerError, Engine, ListedContainer, RunState, status_words};
use crate::engine::reconciler::{LABEL_CONTAINER, LABEL_INSTANCE, LABEL_OWNER};
use crate::service::ServiceError;
use crate::service::auth::User;
use crate::service::authz::{self, Action};
use crate::service::hosts::{HostService, engine_error};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use sea_orm::DatabaseConnection;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

pub use crate::db::inventory::{InventoryFilter, InventorySort};
pub use crate::model::inventory::{DockerContainer, InventoryChange};

/// Longest text a filter takes.
pub const MAX_FILTER_TEXT: usize = 200;
/// Docker's state words.
pub const STATES: [&str; 8] = [
    "created",
    "running",
    "paused",
    "restarting",
    "removing",
    "exited",
    "dead",
    "stopping",
];
pub const HEALTHS: [&str; 4] = ["healthy", "unhealthy", "starting", "none"];
const COMPOSE_PROJECT: &str = "com.docker.compose.project";
const COMPOSE_SERVICE: &str = "com.docker.compose.service";
/// Grace period of a stop or restart before the engine kills.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Inspects in flight at once while a host's listing is recorded.
const INSPECTS_IN_FLIGHT: usize = 8;

/// What a change is for one subscriber's filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Changed,
    Removed,
}

impl InventoryChange {
    /// The change as seen through `filter`: a row that starts matching is added, one that stops is removed.
    pub fn seen_through(
        &self,
        filter: &InventoryFilter,
    ) -> Option<(ChangeKind, Arc<DockerContainer>)> {
        let was = self.before.as_ref().filter(|r| matches(filter, r));
        let is = self.after.as_ref().filter(|r| matches(filter, r));
        match (was, is) {
            (None, Some(now)) => Some((ChangeKind::Added, now.clone())),
            (Some(_), Some(now)) => Some((ChangeKind::Changed, now.clone())),
            (Some(then), None) => Some((ChangeKind::Removed, then.clone())),
            (None, None) => None,
        }
    }
}

/// The SQL filter's rule, for rows that arrive as events.
pub fn matches(f: &InventoryFilter, c: &DockerContainer) -> bool {
    f.search
        .as_ref()
        .is_none_or(|s| c.search.contains(&s.to_lowercase()))
        && f.host_id.as_ref().is_none_or(|h| *h == c.host_id)
        && f.state.as_ref().is_none_or(|s| *s == c.state)
        && f.health.as_deref().is_none_or(|h| match h {
            "none" => c.health.is_none(),
            h => c.health.as_deref() == Some(h),
        })
        && f.managed.is_none_or(|m| m == c.managed())
        && f.compose_project
            .as_ref()
            .is_none_or(|p| Some(p) == c.compose_project.as_ref())
}

/// Checks a filter's text fields (length, known words) and drops empty ones.
pub fn validate_filter(mut f: InventoryFilter) -> Result<InventoryFilter, ServiceError> {
    fn clean(field: &str, v: Option<String>) -> Result<Option<String>, ServiceError> {
        let Some(v) = v else { return Ok(None) };
        let v = v.trim().to_owned();
        if v.chars().count() > MAX_FILTER_TEXT {
            return Err(ServiceError::bad_input(
                field,
                format!("at most {MAX_FILTER_TEXT} characters"),
            ));
        }
        Ok((!v.is_empty()).then_some(v))
    }
    f.search = clean("filter.search", f.search)?.map(|s| s.to_lowercase());
    f.host_id = clean("filter.hostId", f.host_id)?;
    f.compose_project = clean("filter.composeProject", f.compose_project)?;
    f.state = clean("filter.state", f.state)?.map(|s| s.to_lowercase());
    if let Some(s) = &f.state
        && !STATES.contains(&s.as_str())
    {
        return Err(ServiceError::bad_input(
            "filter.state",
            format!("unknown state {s:?}; expected one of {}", STATES.join(", ")),
        ));
    }
    f.health = clean("filter.health", f.health)?.map(|s| s.to_lowercase());
    if let Some(h) = &f.health
        && !HEALTHS.contains(&h.as_str())
    {
        return Err(ServiceError::bad_input(
            "filter.health",
            format!(
                "unknown health {h:?}; expected one of {}",
                HEALTHS.join(", ")
            ),
        ));
    }
    Ok(f)
}

/// A page of the inventory.
pub struct InventoryPage {
    /// Each row with its sort values (the last is its id).
    pub rows: Vec<(Vec<String>, DockerContainer)>,
    pub has_next_page: bool,
    pub total: u64,
}

/// Docker's way of saying how long: `3 seconds`, `About a minute`, `2 hours`, `3 days`, `2 weeks`.
fn human_duration(d: chrono::Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (m, h, day) = (60, 3600, 86_400);
    match secs {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < m => format!("{s} seconds"),
        s if s < 2 * m => "About a minute".into(),
        s if s < h => format!("{} minutes", s / m),
        s if s < 2 * h => "About an hour".into(),
        s if s < 48 * h => format!("{} hours", s / h),
        s if s < 14 * day => format!("{} days", s / day),
        s if s < 60 * day => format!("{} weeks", s / (7 * day)),
        s if s < 730 * day => format!("{} months", s / (30 * day)),
        s => format!("{} years", s / (365 * day)),
    }
}

/// The stored status text (without its time phrase) with the running time put back, as Docker words it.
fn status_now(status: &str, started_at: Option<DateTime<Utc>>) -> String {
    match (status.strip_prefix("Up"), started_at) {
        (Some(rest), Some(t)) => format!("Up {}{rest}", human_duration(Utc::now() - t)),
        _ => status.to_owned(),
    }
}

fn to_container(row: InventoryRow) -> DockerContainer {
    let labels: BTreeMap<String, String> = serde_json::from_str(&row.labels).unwrap_or_default();
    DockerContainer {
        ports: serde_json::from_str(&row.ports).unwrap_or_default(),
        labels: labels.into_iter().collect(),
        id: row.id,
        host_id: row.host_id,
        host_name: row.host_name,
        docker_id: row.docker_id,
        name: row.name,
        image: row.image,
        image_id: row.image_id,
        command: row.command,
        status: status_now(&row.status, row.started_at),
        state: row.state,
        health: row.health,
        exit_code: row.exit_code,
        created_at: row.created_at,
        started_at: row.started_at,
        compose_project: row.compose_project,
        compose_service: row.compose_service,
        container_id: row.container_id,
        instance_id: row.instance_id,
        search: row.search,
        current: row.current,
        last_seen_at: row.last_seen_at,
    }
}

fn inventory_id(host_id: &str, docker_id: &str) -> String {
    format!("{host_id}:{docker_id}")
}

/// The row a listing entry makes on a host; Berth's own containers are recognised by this installation's owner
/// label.
fn to_row(
    host_id: &str,
    host_name: &str,
    installation: &str,
    c: ListedContainer,
    started_at: Option<DateTime<Utc>>,
    seen_at: DateTime<Utc>,
) -> InventoryRow {
    let ours = c.labels.get(LABEL_OWNER).map(String::as_str) == Some(installation);
    let mut search = format!("{}\n{}", c.name, c.image).to_lowercase();
    for (k, v) in &c.labels {
        search.push('\n');
        search.push_str(&k.to_lowercase());
        search.push('=');
        search.push_str(&v.to_lowercase());
    }
    InventoryRow {
        id: inventory_id(host_id, &c.docker_id),
        host_id: host_id.to_owned(),
        host_name: host_name.to_owned(),
        compose_project: c.labels.get(COMPOSE_PROJECT).cloned(),
        compose_service: c.labels.get(COMPOSE_SERVICE).cloned(),
        container_id: ours
            .then(|| c.labels.get(LABEL_CONTAINER).cloned())
            .flatten(),
        instance_id: ours
            .then(|| c.labels.get(LABEL_INSTANCE).cloned())
            .flatten(),
        ports: serde_json::to_string(&c.ports).unwrap_or_else(|_| "[]".into()),
        labels: serde_json::to_string(&c.labels).unwrap_or_else(|_| "{}".into()),
        docker_id: c.docker_id,
        name: c.name,
        image: c.image,
        image_id: c.image_id,
        command: c.command,
        state: c.state,
        status: c.status,
        health: c.health,
        exit_code: c.exit_code,
        created_at: c.created_at,
        started_at,
        search,
        current: true,
        last_seen_at: seen_at,
    }
}

/// Whether two rows differ in anything a person sees (not in when they were last seen).
fn differs(a: &InventoryRow, b: &InventoryRow) -> bool {
    let mut a = a.clone();
    a.last_seen_at = b.last_seen_at;
    a != *b
}

#[derive(Clone)]
pub struct InventoryService {
    db: DatabaseConnection,
    bus: Bus,
    hosts: HostService,
    installation: Arc<OnceCell<String>>,
}

/// What a user asks of a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DockerAction {
    Start,
    Stop,
    Restart,
    Kill,
    Remove,
}

impl InventoryService {
    pub fn new(db: DatabaseConnection, bus: Bus, hosts: HostService) -> Self {
        Self {
            db,
            bus,
            hosts,
            installation: Arc::new(OnceCell::new()),
        }
    }

    async fn installation(&self) -> Result<&str, ServiceError> {
        self.installation
            .get_or_try_init(|| async {
                crate::db::containers::installation_id(&self.db)
                    .await
                    .map_err(ServiceError::from)
            })
            .await
            .map(String::as_str)
    }

    fn publish(&self, changes: Vec<InventoryChange>) {
        if !changes.is_empty() {
            self.bus.publish(Event::Inventory(Arc::new(changes)));
        }
    }

    /// When a running container started: from the inspect it was read with, kept from the row while it keeps
    /// running, else read from the engine.
    async fn started_at(
        engine: &Engine,
        c: &ListedContainer,
        old: Option<&InventoryRow>,
    ) -> Option<DateTime<Utc>> {
        if c.inspected {
            return c.started_at;
        }
        if let Some(old) = old
            && old.state == c.state
            && old.started_at.is_some()
        {
            return old.started_at;
        }
        match engine.inspect_container(&c.docker_id).await {
            Ok(s) if s.state != RunState::Created => s.started_at,
            _ => None,
        }
    }

    /// Replaces a host's inventory with the engine's full listing (at connect and at every resync). Containers
    /// for which `fresher` answers true were recorded from a newer observation (an event's re-read, an exit, a
    /// destroy) after the listing was taken: their rows are left as they are, whatever the listing says.
    pub async fn record_listing(
        &self,
        host_id: &str,
        engine: &Engine,
        listing: Vec<ListedContainer>,
        fresher: impl Fn(&str) -> bool,
    ) -> Result<(), ServiceError> {
        let installation = self.installation().await?.to_owned();
        // The start times a listing lacks (new or changed containers), a few inspects at a time, in order, read
        // before the host's lock so that the events' re-reads go on meanwhile.
        let known: HashMap<String, InventoryRow> = q::of_host(&self.db, host_id)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let lookups: Vec<_> = listing
            .iter()
            .map(|c| {
                let before = known.get(&inventory_id(host_id, &c.docker_id));
                Self::started_at(engine, c, before)
            })
            .collect();
        let starts: Vec<Option<DateTime<Utc>>> = futures::stream::iter(lookups)
            .buffered(INSPECTS_IN_FLIGHT)
            .collect()
            .await;
        drop(known);
        let _lock = self.hosts.lock_image_cache(host_id).await;
        let Some(host) = host_q::by_id(&self.db, host_id).await? else {
            return Ok(());
        };
        let now = Utc::now();
        let mut old: HashMap<String, InventoryRow> = q::of_host(&self.db, host_id)
            .await?
            .into_iter()
            .filter(|r| !fresher(&r.docker_id))
            .map(|r| (r.id.clone(), r))
            .collect();
        let (mut inserts, mut updates, mut changes) = (Vec::new(), Vec::new(), Vec::new());
        for (c, started) in listing.into_iter().zip(starts) {
            if fresher(&c.docker_id) {
                continue;
            }
            let id = inventory_id(host_id, &c.docker_id);
            let before = old.remove(&id);
            let row = to_row(host_id, &host.name, &installation, c, started, now);
            match before {
                None => {
                    changes.push(InventoryChange {
                        before: None,
                        after: Some(Arc::new(to_container(row.clone()))),
                    });
                    inserts.push(row);
                }
                Some(before) => {
                    if differs(&before, &row) || !before.current {
                        changes.push(InventoryChange {
                            before: Some(Arc::new(to_container(before))),
                            after: Some(Arc::new(to_container(row.clone()))),
                        });
                        updates.push(row);
                    }
                }
            }
        }
        let deletes: Vec<String> = old.keys().cloned().collect();
        for (_, gone) in old {
            changes.push(InventoryChange {
                before: Some(Arc::new(to_container(gone))),
                after: None,
            });
        }
        q::apply_host(&self.db, host_id, inserts, updates, deletes, now).await?;
        self.publish(changes);
        Ok(())
    }

    /// Re-reads one container after an engine event (or an action) and records it; gone containers are removed.
    pub async fn record_one(
        &self,
        host_id: &str,
        engine: &Engine,
        docker_id: &str,
    ) -> Result<Option<DockerContainer>, ServiceError> {
        let listed = match engine.listed_container(docker_id).await {
            Ok(l) => l,
            Err(e) => return Err(engine_error(host_id, e)),
        };
        let installation = self.installation().await?.to_owned();
        let _lock = self.hosts.lock_image_cache(host_id).await;
        let Some(host) = host_q::by_id(&self.db, host_id).await? else {
            return Ok(None);
        };
        let id = inventory_id(host_id, docker_id);
        let before = q::by_id(&self.db, &id).await?;
        let Some(c) = listed else {
            if let Some(before) = before {
                q::delete(&self.db, &id).await?;
                self.publish(vec![InventoryChange {
                    before: Some(Arc::new(to_container(before))),
                    after: None,
                }]);
            }
            return Ok(None);
        };
        let started = Self::started_at(engine, &c, before.as_ref()).await;
        let row = to_row(host_id, &host.name, &installation, c, started, Utc::now());
        let changed = before
            .as_ref()
            .is_none_or(|b| differs(b, &row) || !b.current);
        q::put(&self.db, row.clone(), before.is_some()).await?;
        let after = to_container(row);
        if changed {
            self.publish(vec![InventoryChange {
                before: before.map(|b| Arc::new(to_container(b))),
                after: Some(Arc::new(after.clone())),
            }]);
        }
        Ok(Some(after))
    }

    /// A container's `die` event (see `EngineEvent::died_with`): the exit written to the stored row and
    /// published at once; the re-read that follows the event confirms or corrects it. Nothing happens for a
    /// container the inventory does not hold yet (its re-read adds it) or whose row says so already.
    pub async fn record_exit(
        &self,
        host_id: &str,
        docker_id: &str,
        exit_code: i64,
    ) -> Result<(), ServiceError> {
        let _lock = self.hosts.lock_image_cache(host_id).await;
        let id = inventory_id(host_id, docker_id);
        let Some(before) = q::by_id(&self.db, &id).await? else {
            return Ok(());
        };
        let mut row = before.clone();
        row.status = status_words("exited", exit_code, None);
        row.health = None;
        row.exit_code = Some(exit_code);
        row.state = "exited".to_owned();
        if !differs(&before, &row) {
            return Ok(());
        }
        q::put(&self.db, row.clone(), true).await?;
        self.publish(vec![InventoryChange {
            before: Some(Arc::new(to_container(before))),
            after: Some(Arc::new(to_container(row))),
        }]);
        Ok(())
    }

    /// An `oom` event: told to whoever watches (alerts); the exit that follows is recorded as usual.
    pub fn note_oom(&self, host_id: &str, docker_id: &str) {
        self.bus.publish(Event::ContainerOom {
            host_id: host_id.to_owned(),
            docker_id: docker_id.to_owned(),
        });
    }

    /// A Docker container by host and Docker id.
    pub async fn on_host(
        &self,
        host_id: &str,
        docker_id: &str,
    ) -> Result<Option<DockerContainer>, ServiceError> {
        self.get(&inventory_id(host_id, docker_id)).await
    }

    /// A `destroy` event: the container is gone.
    pub async fn forget(&self, host_id: &str, docker_id: &str) -> Result<(), ServiceError> {
        let _lock = self.hosts.lock_image_cache(host_id).await;
        let id = inventory_id(host_id, docker_id);
        if let Some(before) = q::by_id(&self.db, &id).await? {
            q::delete(&self.db, &id).await?;
            self.publish(vec![InventoryChange {
                before: Some(Arc::new(to_container(before))),
                after: None,
            }]);
        }
        Ok(())
    }

    /// The host stopped answering: its containers keep their last known state, marked not current and last seen
    /// when the host last answered.
    pub async fn mark_stale(&self, host_id: &str) -> Result<(), ServiceError> {
        let last_seen = host_q::by_id(&self.db, host_id)
            .await?
            .and_then(|h| h.last_seen_at)
            .unwrap_or_else(Utc::now);
        if q::mark_stale(&self.db, host_id, last_seen).await? == 0 {
            return Ok(());
        }
        let changes = q::of_host(&self.db, host_id)
            .await?
            .into_iter()
            .map(|row| {
                let after = to_container(row);
                let mut before = after.clone();
                before.current = true;
                InventoryChange {
                    before: Some(Arc::new(before)),
                    after: Some(Arc::new(after)),
                }
            })
            .collect();
        self.publish(changes);
        Ok(())
    }

    /// A page in `sort` order after the row whose sort values (ending with its id) are `after`; each row comes
    /// with its own sort values, for the next cursor.
    pub async fn page(
        &self,
        filter: InventoryFilter,
        sort: InventorySort,
        desc: bool,
        first: usize,
        after: Option<Vec<String>>,
    ) -> Result<InventoryPage, ServiceError> {
        let filter = validate_filter(filter)?;
        let limit = u64::try_from(first).unwrap_or(50) + 1;
        let (mut rows, total) = q::page(&self.db, &filter, sort, desc, after.as_deref(), limit)
            .await?
            .ok_or_else(|| ServiceError::bad_input("after", "not a cursor of this connection"))?;
        let has_next_page = rows.len() > first;
        rows.truncate(first);
        Ok(InventoryPage {
            rows: rows
                .into_iter()
                .map(|r| (sort.key_of(&r), to_container(r)))
                .collect(),
            has_next_page,
            total,
        })
    }

    /// The registry digest (`sha256:…`) of the image each of `containers` runs, from its host's image record
    /// (one query), keyed by inventory id; containers whose image has none there (built on the host, or its
    /// host's images not read yet) are left out.
    pub async fn image_digests(
        &self,
        containers: &[&DockerContainer],
    ) -> Result<HashMap<String, String>, ServiceError> {
        let mut hosts: Vec<String> = containers.iter().map(|c| c.host_id.clone()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        let mut images: Vec<String> = containers.iter().map(|c| c.image_id.clone()).collect();
        images.sort_unstable();
        images.dedup();
        let rows = host_q::images_by_id(&self.db, &hosts, &images).await?;
        let mut out = HashMap::new();
        for c in containers {
            let theirs: Vec<(&str, &str)> = rows
                .iter()
                .filter(|r| r.host_id == c.host_id && r.image_id == c.image_id)
                .filter_map(|r| Some((r.reference.as_str(), r.digest.as_deref()?)))
                .collect();
            if let Some(d) = pick_digest(&c.image, &c.image_id, &theirs) {
                out.insert(c.id.clone(), d);
            }
        }
        Ok(out)
    }

    /// The images, as written, of the containers Berth did not create (for the background check of images
    /// on registries Berth does not list).
    pub async fn unmanaged_images(&self) -> Result<Vec<String>, ServiceError> {
        Ok(q::unmanaged_images(&self.db).await?)
    }

    pub async fn get(&self, id: &str) -> Result<Option<DockerContainer>, ServiceError> {
        Ok(q::by_id(&self.db, id).await?.map(to_container))
    }

    pub async fn require(&self, id: &str) -> Result<DockerContainer, ServiceError> {
        self.get(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no Docker container with id {id}")))
    }

    /// The container and its host's engine, for acting on it.
    /// The inventory row `id` and its host's engine (NOT_FOUND naming the host when it was removed).
    pub async fn reach(&self, id: &str) -> Result<(DockerContainer, Engine), ServiceError> {
        let c = self.require(id).await?;
        let (_, engine) = self.hosts.engine(&c.host_id).await.map_err(|e| match e {
            ServiceError::NotFound(_) => {
                ServiceError::NotFound(format!("host {} no longer exists", c.host_name))
            }
            other => other,
        })?;
        Ok((c, engine))
    }

    /// Starts, stops, restarts, kills or removes a container Berth did not create. Berth's own containers are
    /// acted on through their definition (the reconciler would undo a change made here).
    pub async fn act(
        &self,
        actor: &User,
        id: &str,
        action: DockerAction,
    ) -> Result<Option<DockerContainer>, ServiceError> {
        authz::require(
            actor,
            match action {
                DockerAction::Remove => Action::RemoveDockerContainers,
                _ => Action::RunContainers,
            },
        )?;
        let (c, engine) = self.reach(id).await?;
        if let Some(definition) = &c.container_id {
            let name = crate::db::containers::by_id(&self.db, definition)
                .await?
                .map(|d| d.name)
                .unwrap_or_else(|| definition.clone());
            let verb = match action {
                DockerAction::Start => "runContainer",
                DockerAction::Stop => "stopContainer",
                DockerAction::Restart => "restartContainer",
                DockerAction::Kill => "killContainer",
                DockerAction::Remove => "stopContainer or deleteContainer",
            };
            return Err(ServiceError::Conflict(format!(
                "{} belongs to Berth's container {name}, which would undo this; use {verb} on it instead",
                c.name
            )));
        }
        if action != DockerAction::Start {
            // The exit that follows was asked for: no alert.
            self.bus.publish(Event::DockerActionAsked {
                inventory_id: c.id.clone(),
            });
        }
        let result = match action {
            DockerAction::Start => engine.start_container(&c.docker_id).await,
            DockerAction::Stop => engine.stop_container(&c.docker_id, STOP_GRACE).await,
            DockerAction::Restart => engine.restart_container(&c.docker_id, STOP_GRACE).await,
            DockerAction::Kill => engine.kill_container(&c.docker_id).await,
            DockerAction::Remove => engine.remove_container(&c.docker_id).await,
        };
        match result {
            Ok(()) => {}
            Err(DockerError::NotFound(_)) => {
                self.forget(&c.host_id, &c.docker_id).await?;
                return Err(ServiceError::NotFound(format!(
                    "{} no longer exists on host {}",
                    c.name, c.host_name
                )));
            }
            Err(DockerError::Conflict(m)) => return Err(ServiceError::Conflict(m)),
            Err(e) => return Err(engine_error(&c.host_name, e)),
        }
        self.record_one(&c.host_id, &engine, &c.docker_id).await
    }
}

/// Removes a removed host's rows and tells subscribers.
pub async fn forget_host(
    db: &DatabaseConnection,
    bus: &Bus,
    host_id: &str,
) -> Result<(), ServiceError> {
    let rows = q::of_host(db, host_id).await?;
    q::delete_host(db, host_id).await?;
    if !rows.is_empty() {
        bus.publish(Event::Inventory(Arc::new(
            rows.into_iter()
                .map(|r| InventoryChange {
                    before: Some(Arc::new(to_container(r))),
                    after: None,
                })
                .collect(),
        )));
    }
    Ok(())
}

/// Keeps the rows' host name in step with a renamed host.
pub async fn rename_host(
    db: &DatabaseConnection,
    host_id: &str,
    name: &str,
) -> Result<(), ServiceError> {
    Ok(q::rename_host(db, host_id, name).await?)
}

/// Which of an image's recorded (reference, digest) pairs is the registry digest a container created from
/// `image` runs: the reference it was created from; else a reference of the same repository (the tag moved on, or
/// the engine spells it differently); else the untagged record (listed under its id, which the image cache writes
/// as a reference, `docker.io/library/sha256:…`) when the tag moved away.
fn pick_digest(image: &str, image_id: &str, rows: &[(&str, &str)]) -> Option<String> {
    let repository = |r: &str| {
        berth_shared::ImageRef::parse(r)
            .ok()
            .map(|r| format!("{}/{}", r.domain().to_ascii_lowercase(), r.path()))
    };
    let own = repository(image)?;
    rows.iter()
        .find(|(r, _)| *r == image)
        .or_else(|| {
            rows.iter()
                .find(|(r, _)| repository(r).as_ref() == Some(&own))
        })
        .or_else(|| {
            rows.iter().find(|(r, _)| {
                *r == image_id
                    || r.strip_suffix(image_id)
                        .is_some_and(|head| head.is_empty() || head.ends_with('/'))
            })
        })
        .map(|(_, d)| (*d).to_owned())
}

#[cfg(test)]
mod tests {
    use super::pick_digest;

    #[test]
    fn the_digest_a_container_runs_is_its_own_repositorys() {
        let rows = [
            ("127.0.0.1:5000/web/app:1", "sha256:aaa"),
            ("nginx:1.27", "sha256:bbb"),
        ];
        // The reference it was created from.
        assert_eq!(
            pick_digest("nginx:1.27", "sha256:id", &rows).as_deref(),
            Some("sha256:bbb")
        );
        // Docker Hub spelled another way, or another tag of the same repository.
        assert_eq!(
            pick_digest("docker.io/library/nginx:1.27", "sha256:id", &rows).as_deref(),
            Some("sha256:bbb")
        );
        assert_eq!(
            pick_digest("127.0.0.1:5000/web/app:2", "sha256:id", &rows).as_deref(),
            Some("sha256:aaa")
        );
        // The tag moved to a newer image: this one is listed untagged under its id.
        assert_eq!(
            pick_digest("busybox:1", "sha256:id", &[("sha256:id", "sha256:ccc")]).as_deref(),
            Some("sha256:ccc")
        );
        assert_eq!(
            pick_digest(
                "busybox:1",
                "sha256:id",
                &[("docker.io/library/sha256:id", "sha256:ccc")]
            )
            .as_deref(),
            Some("sha256:ccc")
        );
        // Built here, never pushed: nothing; a name that is no reference: nothing.
        assert_eq!(pick_digest("mine:dev", "sha256:id", &rows), None);
        assert_eq!(pick_digest("Not A Ref", "sha256:id", &rows), None);
    }

    use super::*;

    fn listed(name: &str, labels: &[(&str, &str)]) -> ListedContainer {
        ListedContainer {
            docker_id: format!("{name}-id"),
            name: name.into(),
            image: "Busybox:1".into(),
            image_id: "sha256:x".into(),
            command: "sh".into(),
            state: "running".into(),
            status: "Up 1 second".into(),
            health: None,
            exit_code: None,
            created_at: Utc::now(),
            ports: vec![],
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            inspected: false,
            started_at: None,
        }
    }

    #[test]
    fn owner_label_decides_managed_and_filters_match_like_sql() {
        let now = Utc::now();
        let ours = to_container(to_row(
            "h",
            "h1",
            "me",
            listed("web", &[(LABEL_OWNER, "me"), (LABEL_CONTAINER, "c1")]),
            None,
            now,
        ));
        let other_berth = to_container(to_row(
            "h",
            "h1",
            "me",
            listed("db", &[(LABEL_OWNER, "you"), (LABEL_CONTAINER, "c2")]),
            None,
            now,
        ));
        assert!(ours.managed());
        assert!(!other_berth.managed());
        let f = |search: &str| InventoryFilter {
            search: Some(search.into()),
            ..Default::default()
        };
        assert!(matches(&f("busybox"), &ours), "image, case-insensitive");
        assert!(matches(&f("owner=you"), &other_berth), "label key=value");
        assert!(!matches(&f("owner=you"), &ours));
        let unmanaged = InventoryFilter {
            managed: Some(false),
            ..Default::default()
        };
        assert!(matches(&unmanaged, &other_berth) && !matches(&unmanaged, &ours));
        let none = InventoryFilter {
            health: Some("none".into()),
            ..Default::default()
        };
        assert!(matches(&none, &ours));
    }

    #[test]
    fn a_row_leaving_the_filter_is_removed_for_that_subscriber() {
        let now = Utc::now();
        let running = Arc::new(to_container(to_row(
            "h",
            "h1",
            "me",
            listed("web", &[]),
            None,
            now,
        )));
        let mut exited = (*running).clone();
        exited.state = "exited".into();
        let change = InventoryChange {
            before: Some(running.clone()),
            after: Some(Arc::new(exited)),
        };
        let only_running = InventoryFilter {
            state: Some("running".into()),
            ..Default::default()
        };
        assert_eq!(
            change.seen_through(&only_running).map(|(k, _)| k),
            Some(ChangeKind::Removed)
        );
        assert_eq!(
            change
                .seen_through(&InventoryFilter::default())
                .map(|(k, _)| k),
            Some(ChangeKind::Changed)
        );
    }

    #[test]
    fn absurd_filters_are_refused() {
        let long = InventoryFilter {
            search: Some("x".repeat(201)),
            ..Default::default()
        };
        assert!(validate_filter(long).is_err());
        let state = InventoryFilter {
            state: Some("Sleeping".into()),
            ..Default::default()
        };
        assert!(validate_filter(state).is_err());
    }
}
