//! The reconciler: the only writer of instance status. It carries out run/stop/restart/kill/delete requests,
//! follows the hosts' container events, and periodically (and whenever a host connects) compares the Docker
//! containers labelled with this installation's id against the instance rows: it adopts what runs, marks what is
//! missing and removes strays, so a replica never runs twice.
//!
//! Work is serialised per container: every request, event and sync for one container goes through that
//! container's queue, processed in order by one task. Containers do not wait for each other.

use crate::docker::{ContainerSpec, ContainerState, DockerError, EngineEvent, RunState};
use crate::engine::scheduler::{self, Candidate, Demand};
use crate::service::ServiceError;
use crate::service::containers::{
    Container, ContainerService, Instance, InstanceWriter, ReconcileCommand,
};
use crate::service::hosts::{Host, HostService};
use berth_shared::{DesiredState, HostStatus, ImageRef, InstanceStatus};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Labels on every Docker container Berth creates.
pub const LABEL_MANAGED: &str = "berth.managed";
pub const LABEL_OWNER: &str = "berth.owner";
pub const LABEL_CONTAINER: &str = "berth.container";
pub const LABEL_REPLICA: &str = "berth.replica";
pub const LABEL_INSTANCE: &str = "berth.instance";

const OUT_OF_MEMORY: &str = "out of memory";

/// Reconciler timing: `BERTH_RECONCILE_SECS` (periodic sync, default 30 s), `BERTH_STOP_TIMEOUT_SECS` (graceful
/// stop, default 10 s), `BERTH_HOST_GRACE_SECS` (how long a host may not answer before its replicas are
/// replaced elsewhere, default 30 s), `BERTH_REPLACE_BACKOFF_MAX_SECS` (cap of the back-off between
/// replacements of a replica that keeps exiting, default 60 s; it starts at 1 s and doubles).
#[derive(Clone, Copy, Debug)]
pub struct ReconcilerSettings {
    pub sync_every: Duration,
    pub stop_grace: Duration,
    pub host_grace: Duration,
    pub backoff_first: Duration,
    pub backoff_max: Duration,
}

impl ReconcilerSettings {
    pub fn from_env() -> Self {
        let secs = |name: &str, default: f64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| *v >= 0.0 && v.is_finite())
                .unwrap_or(default)
        };
        ReconcilerSettings {
            sync_every: Duration::from_secs_f64(secs("BERTH_RECONCILE_SECS", 30.0).max(0.5)),
            stop_grace: Duration::from_secs_f64(secs("BERTH_STOP_TIMEOUT_SECS", 10.0)),
            host_grace: Duration::from_secs_f64(secs("BERTH_HOST_GRACE_SECS", 30.0)),
            backoff_first: Duration::from_secs(1),
            backoff_max: Duration::from_secs_f64(
                secs("BERTH_REPLACE_BACKOFF_MAX_SECS", 60.0).max(1.0),
            ),
        }
    }

    /// The wait before replacement number `attempt` (1, 2, …): 1 s, 2 s, 4 s, … up to the cap.
    pub fn backoff(&self, attempt: i32) -> Duration {
        let exp = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        (self.backoff_first * 2u32.pow(exp)).min(self.backoff_max)
    }
}

/// What the host monitors tell the reconciler.
#[derive(Debug)]
enum Input {
    Event {
        host_id: String,
        event: EngineEvent,
    },
    HostConnected(String),
    HostLost(String),
    /// A lost host's grace period is over.
    HostGone(String),
}

/// The monitors' way in.
#[derive(Clone)]
pub struct ReconcilerHandle(mpsc::UnboundedSender<Input>);

impl ReconcilerHandle {
    pub fn event(&self, host_id: &str, event: EngineEvent) {
        let _ = self.0.send(Input::Event {
            host_id: host_id.to_owned(),
            event,
        });
    }

    pub fn host_connected(&self, host_id: &str) {
        let _ = self.0.send(Input::HostConnected(host_id.to_owned()));
    }

    /// The host stopped answering (after the grace period its replicas are replaced elsewhere).
    pub fn host_lost(&self, host_id: &str) {
        let _ = self.0.send(Input::HostLost(host_id.to_owned()));
    }
}

/// A channel pair: give the handle to the monitors, the receiver to [`spawn`].
pub fn channel() -> (ReconcilerHandle, ReconcilerInputs) {
    let (tx, rx) = mpsc::unbounded_channel();
    (ReconcilerHandle(tx.clone()), ReconcilerInputs { rx, tx })
}

/// The reconciler's end of [`channel`] (it also sends itself timer inputs).
pub struct ReconcilerInputs {
    rx: mpsc::UnboundedReceiver<Input>,
    tx: mpsc::UnboundedSender<Input>,
}

/// One unit of work for one container.
enum Job {
    Command(ReconcileCommand),
    Event {
        host_id: String,
        event: EngineEvent,
    },
    Sync {
        host_id: String,
        observed: Vec<ContainerState>,
        listed_at: DateTime<Utc>,
    },
    /// The back-off of an exited replica is over: start it again.
    Replace {
        instance_id: String,
    },
    /// A host has not answered for the grace period: replace its replicas elsewhere.
    HostGone {
        host_id: String,
    },
}

struct Shared {
    containers: ContainerService,
    hosts: HostService,
    writer: InstanceWriter,
    owner: String,
    settings: ReconcilerSettings,
    syncing: Mutex<HashSet<String>>,
    /// The way back into the queues, for timers (replacement back-off).
    jobs: mpsc::UnboundedSender<(String, Job)>,
}

/// Starts the reconciler.
pub fn spawn(
    containers: ContainerService,
    hosts: HostService,
    writer: InstanceWriter,
    owner: String,
    settings: ReconcilerSettings,
    mut commands: mpsc::UnboundedReceiver<ReconcileCommand>,
    inputs: ReconcilerInputs,
) -> JoinHandle<()> {
    let (jobs_tx, mut jobs_rx) = mpsc::unbounded_channel::<(String, Job)>();
    let shared = Arc::new(Shared {
        containers,
        hosts,
        writer,
        owner,
        settings,
        syncing: Mutex::new(HashSet::new()),
        jobs: jobs_tx.clone(),
    });
    let ReconcilerInputs {
        rx: mut inputs,
        tx: inputs_tx,
    } = inputs;
    tokio::spawn(async move {
        let mut lost: HashSet<String> = HashSet::new();
        let mut workers: HashMap<String, Worker> = HashMap::new();
        let mut tick = tokio::time::interval(shared.settings.sync_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            let (container_id, job) = tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => (command_target(&cmd).to_owned(), Job::Command(cmd)),
                    None => return,
                },
                input = inputs.recv() => match input {
                    Some(Input::Event { host_id, event }) => {
                        if event.kind != "container"
                            || event.attributes.get(LABEL_OWNER) != Some(&shared.owner)
                        {
                            continue;
                        }
                        let Some(cid) = event.attributes.get(LABEL_CONTAINER).cloned() else {
                            continue;
                        };
                        (cid, Job::Event { host_id, event })
                    }
                    Some(Input::HostConnected(host_id)) => {
                        lost.remove(&host_id);
                        spawn_sync(&shared, host_id, jobs_tx.clone());
                        continue;
                    }
                    Some(Input::HostLost(host_id)) => {
                        if lost.insert(host_id.clone()) {
                            let tx = inputs_tx.clone();
                            let grace = shared.settings.host_grace;
                            tokio::spawn(async move {
                                tokio::time::sleep(grace).await;
                                let _ = tx.send(Input::HostGone(host_id));
                            });
                        }
                        continue;
                    }
                    Some(Input::HostGone(host_id)) => {
                        if lost.remove(&host_id) {
                            spawn_host_gone(&shared, host_id, jobs_tx.clone());
                        }
                        continue;
                    }
                    None => return,
                },
                job = jobs_rx.recv() => match job {
                    Some(j) => j,
                    None => return,
                },
                _ = tick.tick() => {
                    if let Ok(hosts) = shared.hosts.list().await {
                        for h in hosts {
                            if matches!(h.status, HostStatus::Up | HostStatus::Maintenance) {
                                spawn_sync(&shared, h.id, jobs_tx.clone());
                            }
                        }
                    }
                    continue;
                }
            };
            let worker = workers
                .entry(container_id.clone())
                .or_insert_with(|| Worker::start(shared.clone(), container_id.clone()));
            if let Err(mpsc::error::SendError(job)) = worker.jobs.send(job) {
                // The worker ended (it never does on purpose): start a fresh one.
                let fresh = Worker::start(shared.clone(), container_id.clone());
                let _ = fresh.jobs.send(job);
                workers.insert(container_id, fresh);
            }
        }
    })
}

fn command_target(cmd: &ReconcileCommand) -> &str {
    match cmd {
        ReconcileCommand::Run { container_id, .. }
        | ReconcileCommand::Stop { container_id, .. }
        | ReconcileCommand::Restart { container_id, .. }
        | ReconcileCommand::Kill { container_id, .. }
        | ReconcileCommand::Delete { container_id, .. }
        | ReconcileCommand::Scale { container_id, .. } => container_id,
    }
}

tokio::task_local! {
    /// Set to `true` while a job runs when a stop, kill or delete of its container arrives: an image pull the
    /// job waits for gives up (see [`Shared::pull`]).
    static CANCEL_PULL: tokio::sync::watch::Receiver<bool>;
}

/// One unit of a worker's queue, with scale requests already coalesced.
enum Work {
    Scale {
        cid: String,
        target: i32,
        replies: Vec<oneshot::Sender<Result<(), ServiceError>>>,
    },
    Job(Job),
}

struct Worker {
    jobs: mpsc::UnboundedSender<Job>,
    task: JoinHandle<()>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Worker {
    fn start(shared: Arc<Shared>, container_id: String) -> Worker {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let task = tokio::spawn(async move {
            let mut pending: std::collections::VecDeque<Job> = std::collections::VecDeque::new();
            let mut open = true;
            loop {
                let job = match pending.pop_front() {
                    Some(j) => j,
                    None if open => match rx.recv().await {
                        Some(j) => j,
                        None => return,
                    },
                    None => return,
                };
                let job = match job {
                    Job::Command(ReconcileCommand::Scale {
                        container_id: cid,
                        replicas,
                        reply,
                    }) => {
                        // Scale requests queued behind this one: only the last count matters; every caller
                        // is answered once it is carried out.
                        let mut replies = vec![reply];
                        let mut target = replicas;
                        while let Ok(next) = rx.try_recv() {
                            pending.push_back(next);
                        }
                        while let Some(Job::Command(ReconcileCommand::Scale { .. })) =
                            pending.front()
                        {
                            if let Some(Job::Command(ReconcileCommand::Scale {
                                replicas,
                                reply,
                                ..
                            })) = pending.pop_front()
                            {
                                target = replicas;
                                replies.push(reply);
                            }
                        }
                        Work::Scale {
                            cid,
                            target,
                            replies,
                        }
                    }
                    other => Work::Job(other),
                };
                // While the job runs, what arrives is queued; a stop, kill or delete also cancels an image
                // pull the job is waiting for (`CANCEL_PULL`), so that it does not wait for the whole pull.
                let (cancel, cancelled) = tokio::sync::watch::channel(false);
                let work = CANCEL_PULL.scope(cancelled, shared.work(&container_id, job));
                tokio::pin!(work);
                let result = loop {
                    tokio::select! {
                        result = &mut work => break result,
                        next = rx.recv(), if open => match next {
                            Some(next) => {
                                if matches!(
                                    next,
                                    Job::Command(
                                        ReconcileCommand::Stop { .. }
                                            | ReconcileCommand::Kill { .. }
                                            | ReconcileCommand::Delete { .. }
                                    )
                                ) {
                                    let _ = cancel.send(true);
                                }
                                pending.push_back(next);
                            }
                            None => open = false,
                        },
                    }
                };
                if let Err(e) = result {
                    tracing::error!(container = %container_id, error = %e, "reconciling failed");
                }
            }
        });
        Worker { jobs: tx, task }
    }
}

/// Queues a host-loss job for every container with an active instance on the host.
fn spawn_host_gone(
    shared: &Arc<Shared>,
    host_id: String,
    jobs: mpsc::UnboundedSender<(String, Job)>,
) {
    let shared = shared.clone();
    tokio::spawn(async move {
        match shared.hosts.get(&host_id).await {
            Ok(Some(h)) if h.status == HostStatus::Up => return,
            Ok(None) => return,
            _ => {}
        }
        let instances = match shared.containers.all_instances().await {
            Ok(list) => list,
            Err(e) => {
                tracing::error!(host = %host_id, error = %e, "listing instances of a lost host failed");
                return;
            }
        };
        let mut seen = HashSet::new();
        for i in instances {
            if i.host_id.as_deref() == Some(host_id.as_str())
                && i.status.is_active()
                && seen.insert(i.container_id.clone())
            {
                let _ = jobs.send((
                    i.container_id,
                    Job::HostGone {
                        host_id: host_id.clone(),
                    },
                ));
            }
        }
    });
}

/// Lists this installation's containers on a host and queues a sync for every container concerned.
fn spawn_sync(shared: &Arc<Shared>, host_id: String, jobs: mpsc::UnboundedSender<(String, Job)>) {
    {
        let mut syncing = shared
            .syncing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !syncing.insert(host_id.clone()) {
            return;
        }
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        if let Err(e) = list_and_queue(&shared, &host_id, &jobs).await {
            tracing::warn!(host = %host_id, error = %e, "reconciling a host failed");
        }
        shared
            .syncing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&host_id);
    });
}

async fn list_and_queue(
    shared: &Shared,
    host_id: &str,
    jobs: &mpsc::UnboundedSender<(String, Job)>,
) -> Result<(), ServiceError> {
    let (_, engine) = shared.hosts.engine(host_id).await?;
    let listed_at = Utc::now();
    let observed = engine
        .containers_labelled(LABEL_OWNER, &shared.owner)
        .await
        .map_err(|e| ServiceError::Unavailable(e.to_string()))?;
    let mut by_container: HashMap<String, Vec<ContainerState>> = HashMap::new();
    for c in observed {
        if let Some(cid) = c.labels.get(LABEL_CONTAINER).cloned() {
            by_container.entry(cid).or_default().push(c);
        }
    }
    let mut known: HashSet<String> = HashSet::new();
    for (c, instances) in shared
        .containers
        .list_with_instances(&Default::default())
        .await?
    {
        if instances
            .iter()
            .any(|i| i.host_id.as_deref() == Some(host_id))
        {
            by_container.entry(c.id.clone()).or_default();
        }
        known.insert(c.id);
    }
    for (cid, observed) in by_container {
        if !known.contains(&cid) {
            // Left behind by a deleted definition: nobody can manage it any more.
            for stray in observed {
                tracing::warn!(host = %host_id, docker_id = %stray.id, "removing a Docker container of a deleted Berth container");
                let _ = engine.remove_container(&stray.id).await;
            }
            continue;
        }
        let _ = jobs.send((
            cid,
            Job::Sync {
                host_id: host_id.to_owned(),
                observed,
                listed_at,
            },
        ));
    }
    Ok(())
}

fn host_problem(h: &Host) -> Option<String> {
    if !h.docker_support {
        return Some("Docker support is switched off".into());
    }
    if h.maintenance || h.status == HostStatus::Maintenance {
        return Some("in maintenance: Berth starts nothing there".into());
    }
    if h.status != HostStatus::Up {
        return Some(match &h.last_error {
            Some(e) => format!("not up ({}): {e}", h.status.label().to_lowercase()),
            None => format!("not up ({})", h.status.label().to_lowercase()),
        });
    }
    None
}

fn event_time(event: &EngineEvent) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(event.time_nanos)
}

/// The engine's name of an image: Docker Hub images by their short form.
fn docker_image_name(reference: &str) -> String {
    match ImageRef::parse(reference) {
        Ok(r) if r.is_docker_hub() => r.familiar(),
        Ok(r) => r.to_string(),
        Err(_) => reference.to_owned(),
    }
}

fn docker_message(e: &DockerError) -> String {
    match e {
        DockerError::Api { message, .. }
        | DockerError::NotFound(message)
        | DockerError::Conflict(message) => message.clone(),
        other => other.to_string(),
    }
}

/// Work planned for one replica by a run request.
struct Placement {
    instance: Instance,
    /// A Docker container of an earlier run to remove first: (host, docker id).
    old: Option<(String, String)>,
}

impl Shared {
    /// Carries out one unit of a worker's queue.
    async fn work(&self, container_id: &str, work: Work) -> Result<(), ServiceError> {
        match work {
            Work::Scale {
                cid,
                target,
                replies,
            } => {
                self.scale(&cid, target, replies).await;
                Ok(())
            }
            Work::Job(Job::Command(cmd)) => {
                self.command(cmd).await;
                Ok(())
            }
            Work::Job(Job::Event { host_id, event }) => self.event(&host_id, event).await,
            Work::Job(Job::Sync {
                host_id,
                observed,
                listed_at,
            }) => self.sync(container_id, &host_id, observed, listed_at).await,
            Work::Job(Job::Replace { instance_id }) => self.replace(&instance_id).await,
            Work::Job(Job::HostGone { host_id }) => self.host_gone(container_id, &host_id).await,
        }
    }

    /// Pulls `image` onto the host; `Ok(false)` when a stop, kill or delete of the container cancelled it
    /// (see [`CANCEL_PULL`]): the instance is then left for that command to settle.
    async fn pull(&self, host_id: &str, image: &str) -> Result<bool, ServiceError> {
        let cancelled = CANCEL_PULL.try_with(Clone::clone).ok();
        let until = async move {
            if let Some(mut cancelled) = cancelled
                && cancelled.wait_for(|c| *c).await.is_ok()
            {
                return;
            }
            std::future::pending::<()>().await;
        };
        let pulled = self
            .hosts
            .pull_image_until(&crate::service::authz::system(), host_id, image, until)
            .await?;
        Ok(pulled.is_some())
    }
    async fn command(&self, cmd: ReconcileCommand) {
        match cmd {
            ReconcileCommand::Run {
                container_id,
                host_id,
                reply,
            } => self.run(&container_id, host_id, reply).await,
            ReconcileCommand::Stop {
                container_id,
                reply,
            } => self.stop(&container_id, reply).await,
            ReconcileCommand::Restart {
                container_id,
                reply,
            } => self.restart(&container_id, reply).await,
            ReconcileCommand::Kill {
                container_id,
                reply,
            } => {
                let r = self.kill(&container_id).await;
                let _ = reply.send(r);
            }
            ReconcileCommand::Delete {
                container_id,
                reply,
            } => {
                let r = self.delete(&container_id).await;
                let _ = reply.send(r);
            }
            ReconcileCommand::Scale {
                container_id,
                replicas,
                reply,
            } => self.scale(&container_id, replicas, vec![reply]).await,
        }
    }

    async fn save(
        &self,
        instance: Instance,
        previous: InstanceStatus,
        message: Option<String>,
    ) -> Result<Instance, ServiceError> {
        self.writer.save(instance, Some(previous), message).await
    }

    /// Moves an instance to `status`, keeping the other fields.
    async fn set_status(
        &self,
        mut instance: Instance,
        status: InstanceStatus,
        error: Option<String>,
    ) -> Result<Instance, ServiceError> {
        let previous = instance.status;
        instance.status = status;
        instance.error = error;
        self.save(instance, previous, None).await
    }

    /// The scheduler's view of every host for one container.
    async fn candidates(
        &self,
        container: &Container,
        hosts: &[Host],
    ) -> Result<Vec<Candidate>, ServiceError> {
        // One read of every definition with its instances (two queries).
        let mut definitions: HashMap<String, Container> = HashMap::new();
        let mut instances = Vec::new();
        for (c, mine) in self
            .containers
            .list_with_instances(&Default::default())
            .await?
        {
            instances.extend(mine);
            definitions.insert(c.id.clone(), c);
        }
        let mut out = Vec::with_capacity(hosts.len());
        for h in hosts {
            let mut c = Candidate {
                id: h.id.clone(),
                name: h.name.clone(),
                unavailable: host_problem(h),
                memory_total: h.capabilities.as_ref().map_or(0, |c| c.memory_bytes),
                ..Default::default()
            };
            for i in instances
                .iter()
                .filter(|i| i.host_id.as_deref() == Some(h.id.as_str()) && i.status.is_active())
            {
                c.running += 1;
                if i.container_id == container.id {
                    c.same_container += 1;
                }
                if let Some(d) = definitions.get(&i.container_id) {
                    c.memory_reserved += d.memory_bytes.unwrap_or(0);
                    for p in &d.ports {
                        if let Some(hp) = p.host_port() {
                            c.ports_in_use.insert((hp, p.protocol()));
                        }
                    }
                }
            }
            if c.unavailable.is_none() {
                c.has_image = self
                    .hosts
                    .images(&h.id)
                    .await?
                    .iter()
                    .any(|img| img.reference == container.image);
            }
            out.push(c);
        }
        Ok(out)
    }

    async fn run(
        &self,
        container_id: &str,
        host_override: Option<String>,
        reply: oneshot::Sender<Result<(), ServiceError>>,
    ) {
        match self.place(container_id, host_override, None, true).await {
            Ok((container, placements)) => {
                let _ = reply.send(Ok(()));
                for p in placements {
                    if let Err(e) = self.execute(&container, p).await {
                        tracing::error!(container = %container.name, error = %e, "starting an instance failed");
                    }
                }
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    /// Chooses a host for every replica that needs one (of `only`, when given) and records the instances as
    /// PENDING. A user's run starts the replacement count afresh (`reset_attempts`).
    async fn place(
        &self,
        container_id: &str,
        host_override: Option<String>,
        only: Option<&[i32]>,
        reset_attempts: bool,
    ) -> Result<(Container, Vec<Placement>), ServiceError> {
        let container = self.containers.require(container_id).await?;
        let instances = self.containers.instances(container_id).await?;
        let hosts = self.hosts.list().await?;
        let disk_host = self.containers.disk_host(&container).await?;
        if let (Some(o), Some(d)) = (&host_override, &disk_host)
            && o != d
        {
            return Err(ServiceError::bad_input(
                "hostId",
                "this container's disk lives on another host; it can only run there",
            ));
        }
        let wanted = host_override
            .clone()
            .or_else(|| container.host_id.clone())
            .or(disk_host);
        if let Some(h) = &wanted {
            let host = hosts
                .iter()
                .find(|x| &x.id == h)
                .ok_or_else(|| ServiceError::bad_input("hostId", format!("no host with id {h}")))?;
            if let Some(problem) = host_problem(host) {
                return Err(ServiceError::Unavailable(format!(
                    "cannot run {} on host {}: {problem}",
                    container.name, host.name
                )));
            }
        }
        let mut candidates = if wanted.is_none() {
            self.candidates(&container, &hosts).await?
        } else {
            Vec::new()
        };
        let demand = Demand {
            memory: container.memory_bytes.unwrap_or(0),
            host_ports: container
                .ports
                .iter()
                .filter_map(|p| p.host_port().map(|hp| (hp, p.protocol())))
                .collect(),
        };
        let mut plan: Vec<(i32, String, Option<Instance>)> = Vec::new();
        let replicas = i32::try_from(container.replicas).unwrap_or(1);
        for replica in 0..replicas {
            if only.is_some_and(|o| !o.contains(&replica)) {
                continue;
            }
            let existing = instances.iter().find(|i| i.replica == replica).cloned();
            if let Some(e) = &existing {
                let current = e.status.is_active()
                    && e.definition_version == container.version
                    && host_override
                        .as_ref()
                        .is_none_or(|h| e.host_id.as_ref() == Some(h));
                if current {
                    continue;
                }
            }
            let host_id = match &wanted {
                Some(h) => h.clone(),
                None => {
                    // The replica being replaced no longer counts against its host.
                    if let Some(e) = existing.as_ref().filter(|e| e.status.is_active())
                        && let Some(c) = candidates
                            .iter_mut()
                            .find(|c| Some(&c.id) == e.host_id.as_ref())
                    {
                        c.running = c.running.saturating_sub(1);
                        c.same_container = c.same_container.saturating_sub(1);
                        c.memory_reserved -= demand.memory;
                        for p in &demand.host_ports {
                            c.ports_in_use.remove(p);
                        }
                    }
                    let i = scheduler::choose(&demand, &candidates).map_err(|e| {
                        ServiceError::Unavailable(format!("cannot run {}: {e}", container.name))
                    })?;
                    let c = &mut candidates[i];
                    c.running += 1;
                    c.same_container += 1;
                    c.memory_reserved += demand.memory;
                    c.ports_in_use.extend(demand.host_ports.iter().copied());
                    c.id.clone()
                }
            };
            plan.push((replica, host_id, existing));
        }
        self.containers
            .set_desired_state(container_id, DesiredState::Running)
            .await?;
        let mut placements = Vec::with_capacity(plan.len());
        for (replica, host_id, existing) in plan {
            let (instance, previous, old) = match existing {
                Some(e) => {
                    let old = match (&e.host_id, &e.docker_id) {
                        (Some(h), Some(d)) => Some((h.clone(), d.clone())),
                        _ => None,
                    };
                    let previous = e.status;
                    (
                        Instance {
                            host_id: Some(host_id),
                            docker_id: None,
                            status: InstanceStatus::Pending,
                            exit_code: None,
                            error: None,
                            definition_version: container.version,
                            attempts: if reset_attempts { 0 } else { e.attempts },
                            next_attempt_at: None,
                            started_at: None,
                            finished_at: None,
                            ..e
                        },
                        Some(previous),
                        old,
                    )
                }
                None => (
                    Instance {
                        id: uuid::Uuid::new_v4().to_string(),
                        container_id: container_id.to_owned(),
                        replica,
                        host_id: Some(host_id),
                        docker_id: None,
                        status: InstanceStatus::Pending,
                        exit_code: None,
                        error: None,
                        definition_version: container.version,
                        attempts: 0,
                        next_attempt_at: None,
                        started_at: None,
                        finished_at: None,
                        updated_at: Utc::now(),
                    },
                    None,
                    None,
                ),
            };
            let instance = self.writer.save(instance, previous, None).await?;
            placements.push(Placement { instance, old });
        }
        Ok((container, placements))
    }

    /// Scales to `replicas`: records the count, stops and removes replicas above it (highest index first) and,
    /// when the container should run, starts the missing ones. Every caller in `replies` gets the outcome.
    async fn scale(
        &self,
        container_id: &str,
        replicas: i32,
        replies: Vec<oneshot::Sender<Result<(), ServiceError>>>,
    ) {
        let outcome = async {
            let before = self.containers.require(container_id).await?;
            if i64::from(replicas) != before.replicas {
                self.containers.set_replicas(container_id, replicas).await?;
            }
            let after = self.containers.require(container_id).await?;
            let mut instances = self.containers.instances(container_id).await?;
            instances.sort_by_key(|i| std::cmp::Reverse(i.replica));
            let mut surplus = Vec::new();
            for i in instances {
                if i.replica >= replicas {
                    surplus.push(i);
                } else if i.definition_version == before.version && after.version != before.version
                {
                    // Still current: only the count changed.
                    let previous = i.status;
                    let mut i = i;
                    i.definition_version = after.version;
                    self.writer.save(i, Some(previous), None).await?;
                }
            }
            for i in surplus {
                self.retire(i).await?;
            }
            Ok::<_, ServiceError>(after)
        }
        .await;
        let after = match outcome {
            Ok(c) => c,
            Err(e) => {
                for r in replies {
                    let _ = r.send(Err(e.duplicate()));
                }
                return;
            }
        };
        if after.desired_state != DesiredState::Running {
            for r in replies {
                let _ = r.send(Ok(()));
            }
            return;
        }
        match self.place(container_id, None, None, false).await {
            Ok((container, placements)) => {
                for r in replies {
                    let _ = r.send(Ok(()));
                }
                for p in placements {
                    if let Err(e) = self.execute(&container, p).await {
                        tracing::error!(container = %container.name, error = %e, "starting a replica failed");
                    }
                }
            }
            Err(e) => {
                for r in replies {
                    let _ = r.send(Err(e.duplicate()));
                }
            }
        }
    }

    /// Stops and removes one replica's Docker container and forgets the replica.
    async fn retire(&self, instance: Instance) -> Result<(), ServiceError> {
        if let (Some(host_id), Some(docker_id)) = (&instance.host_id, &instance.docker_id)
            && let Some(host) = self.hosts.get(host_id).await?
            && matches!(host.status, HostStatus::Up | HostStatus::Maintenance)
            && let Ok((_, engine)) = self.hosts.engine(host_id).await
        {
            if instance.status.is_active() {
                let _ = engine
                    .stop_container(docker_id, self.settings.stop_grace)
                    .await;
            }
            match engine.remove_container(docker_id).await {
                Ok(()) | Err(DockerError::NotFound(_)) => {}
                Err(e) => {
                    tracing::warn!(docker_id = %docker_id, error = %e, "removing a scaled-down replica failed")
                }
            }
        }
        // A container left on a host that does not answer is removed by the sync when the host is back.
        self.writer.delete(&instance.id).await
    }

    /// Decides what happens after a replica stopped by itself while it should run: Docker restarts it in place
    /// (restart policy), or Berth replaces it after a back-off that doubles with each replacement in a row.
    async fn after_exit(
        &self,
        container: &Container,
        instance: Instance,
    ) -> Result<(), ServiceError> {
        if container.desired_state != DesiredState::Running {
            return Ok(());
        }
        let docker_restarts = match container.restart_policy {
            berth_shared::RestartPolicy::Always | berth_shared::RestartPolicy::UnlessStopped => {
                true
            }
            berth_shared::RestartPolicy::OnFailure => instance.exit_code.is_some_and(|c| c != 0),
            berth_shared::RestartPolicy::No => false,
        };
        if docker_restarts {
            return Ok(());
        }
        let ran_long = instance
            .started_at
            .zip(instance.finished_at)
            .is_some_and(|(s, f)| (f - s).num_seconds() >= 60);
        let attempt = if ran_long { 1 } else { instance.attempts + 1 };
        let delay = self.settings.backoff(attempt);
        let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        let reason = match (&instance.error, instance.exit_code) {
            (Some(e), _) if e == OUT_OF_MEMORY => OUT_OF_MEMORY.to_owned(),
            (_, Some(code)) => format!("exited with code {code}"),
            _ => "stopped".to_owned(),
        };
        let mut i = instance;
        i.attempts = attempt;
        i.next_attempt_at = Some(at);
        let message = format!(
            "{reason}; replacing it at {} (attempt {attempt}, in {:.0?})",
            at.format("%H:%M:%S"),
            delay
        );
        let i = self
            .set_status(i, InstanceStatus::Failed, Some(message))
            .await?;
        let jobs = self.jobs.clone();
        let cid = container.id.clone();
        let instance_id = i.id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = jobs.send((cid, Job::Replace { instance_id }));
        });
        Ok(())
    }

    /// The back-off is over: start the replica again if it is still waiting for it.
    async fn replace(&self, instance_id: &str) -> Result<(), ServiceError> {
        let Some(i) = self.containers.instance(instance_id).await? else {
            return Ok(());
        };
        let Some(container) = self.containers.get(&i.container_id).await? else {
            return Ok(());
        };
        let due = i.status == InstanceStatus::Failed
            && i.next_attempt_at
                .is_some_and(|t| t <= Utc::now() + chrono::Duration::milliseconds(50))
            && container.desired_state == DesiredState::Running;
        if !due {
            return Ok(());
        }
        match self
            .place(&container.id, None, Some(&[i.replica]), false)
            .await
        {
            Ok((container, placements)) => {
                self.containers.announce_reschedule(
                    &container.id,
                    format!(
                        "{}: replica {} replaced after it exited (attempt {})",
                        container.name, i.replica, i.attempts
                    ),
                );
                for p in placements {
                    self.execute(&container, p).await?;
                }
            }
            Err(e) => {
                // Nowhere to go now: try again after the next back-off.
                let mut i = i;
                i.error = Some(e.to_string());
                self.after_exit(&container, i).await?;
            }
        }
        Ok(())
    }

    /// A host has not answered for the grace period: its replicas become UNKNOWN and start elsewhere.
    async fn host_gone(&self, container_id: &str, host_id: &str) -> Result<(), ServiceError> {
        if let Some(h) = self.hosts.get(host_id).await?
            && h.status == HostStatus::Up
        {
            return Ok(());
        }
        let Some(container) = self.containers.get(container_id).await? else {
            return Ok(());
        };
        let host_name = self
            .hosts
            .get(host_id)
            .await?
            .map_or_else(|| host_id.to_owned(), |h| h.name);
        let mut lost = Vec::new();
        for i in self.containers.instances(container_id).await? {
            if i.host_id.as_deref() == Some(host_id) && i.status.is_active() {
                lost.push(i.replica);
                let message = format!(
                    "host {host_name} has not answered for {:.0?}",
                    self.settings.host_grace
                );
                self.set_status(i, InstanceStatus::Unknown, Some(message))
                    .await?;
            }
        }
        if lost.is_empty() || container.desired_state != DesiredState::Running {
            return Ok(());
        }
        match self.place(container_id, None, Some(&lost), false).await {
            Ok((container, placements)) => {
                tracing::info!(container = %container.name, host = %host_name, replicas = ?lost, "replacing replicas of a lost host");
                self.containers.announce_reschedule(
                    &container.id,
                    format!(
                        "{}: replicas {lost:?} of lost host {host_name} placed elsewhere",
                        container.name
                    ),
                );
                for p in placements {
                    self.execute(&container, p).await?;
                }
            }
            Err(e) => {
                tracing::warn!(container = %container.name, error = %e, "no host can take the replicas of a lost host")
            }
        }
        Ok(())
    }

    /// Pulls if needed, creates and starts one placed instance; failures end in FAILED with the reason.
    async fn execute(&self, container: &Container, p: Placement) -> Result<(), ServiceError> {
        let Placement { instance, old } = p;
        let host_id = instance.host_id.clone().unwrap_or_default();
        // A previous Docker container on a host that does not answer is left to the sync when it is back.
        let old_host_up =
            match &old {
                Some((h, _)) => self.hosts.get(h).await?.is_some_and(|h| {
                    h.status == HostStatus::Up || h.status == HostStatus::Maintenance
                }),
                None => false,
            };
        if let Some((old_host, old_id)) = old.filter(|_| old_host_up) {
            match self.hosts.engine(&old_host).await {
                Ok((_, engine)) => match engine.remove_container(&old_id).await {
                    Ok(()) | Err(DockerError::NotFound(_)) => {}
                    Err(e) => {
                        tracing::warn!(docker_id = %old_id, error = %e, "removing the previous Docker container failed")
                    }
                },
                Err(e) => {
                    tracing::warn!(host = %old_host, error = %e, "cannot reach the host of the previous Docker container")
                }
            }
        }
        let engine = match self.hosts.engine(&host_id).await {
            Ok((_, engine)) => engine,
            Err(e) => {
                self.set_status(instance, InstanceStatus::Failed, Some(e.to_string()))
                    .await?;
                return Ok(());
            }
        };
        let cached = self
            .hosts
            .images(&host_id)
            .await?
            .iter()
            .any(|i| i.reference == container.image);
        let mut instance = instance;
        if !cached {
            instance = self
                .set_status(instance, InstanceStatus::Pulling, None)
                .await?;
            let pulled = self.pull(&host_id, &container.image).await;
            if let Ok(false) = pulled {
                tracing::info!(container = %container.name, image = %container.image, "pull cancelled: the container is being stopped");
                return Ok(());
            }
            if let Err(e) = pulled {
                let message = match e {
                    ServiceError::BadInput { message, .. } => message,
                    other => other.to_string(),
                };
                self.set_status(
                    instance,
                    InstanceStatus::Failed,
                    Some(format!("pulling {} failed: {message}", container.image)),
                )
                .await?;
                return Ok(());
            }
        }
        instance = self
            .set_status(instance, InstanceStatus::Creating, None)
            .await?;
        let binds = match self.containers.binds(container).await {
            Ok(b) => b,
            Err(e) => {
                self.set_status(instance, InstanceStatus::Failed, Some(e.to_string()))
                    .await?;
                return Ok(());
            }
        };
        let spec = self.spec(container, &instance, binds);
        let docker_id = match engine.create_container(&spec).await {
            Ok(id) => id,
            Err(e) => {
                self.set_status(instance, InstanceStatus::Failed, Some(docker_message(&e)))
                    .await?;
                return Ok(());
            }
        };
        instance.docker_id = Some(docker_id.clone());
        let previous = instance.status;
        instance = self.save(instance, previous, None).await?;
        match engine.start_container(&docker_id).await {
            Ok(()) => {
                instance.started_at = Some(Utc::now());
                self.set_status(instance, InstanceStatus::Running, None)
                    .await?;
            }
            Err(e) => {
                instance.finished_at = Some(Utc::now());
                self.set_status(instance, InstanceStatus::Failed, Some(docker_message(&e)))
                    .await?;
            }
        }
        Ok(())
    }

    fn spec(&self, c: &Container, instance: &Instance, binds: Vec<String>) -> ContainerSpec {
        let short: String = instance.id.chars().filter(|c| *c != '-').take(8).collect();
        let labels = HashMap::from([
            (LABEL_MANAGED.to_owned(), "true".to_owned()),
            (LABEL_OWNER.to_owned(), self.owner.clone()),
            (LABEL_CONTAINER.to_owned(), c.id.clone()),
            (LABEL_REPLICA.to_owned(), instance.replica.to_string()),
            (LABEL_INSTANCE.to_owned(), instance.id.clone()),
        ]);
        ContainerSpec {
            name: format!("{}-{}-{short}", c.name, instance.replica),
            image: docker_image_name(&c.image),
            command: c.command.clone(),
            entrypoint: c.entrypoint.clone(),
            env: c.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            labels,
            ports: c.ports.clone(),
            memory_bytes: c.memory_bytes,
            cpus: c.cpus,
            cpu_shares: c.cpu_shares,
            restart_policy: c.restart_policy.docker_name().to_owned(),
            binds,
        }
    }

    async fn stop(&self, container_id: &str, reply: oneshot::Sender<Result<(), ServiceError>>) {
        let marked = async {
            self.containers.require(container_id).await?;
            self.containers
                .set_desired_state(container_id, DesiredState::Stopped)
                .await?;
            let mut to_stop = Vec::new();
            for i in self.containers.instances(container_id).await? {
                match i.status {
                    s if s.is_active() && i.docker_id.is_some() => {
                        to_stop.push(self.set_status(i, InstanceStatus::Stopping, None).await?);
                    }
                    s if s.is_active() => {
                        self.set_status(i, InstanceStatus::Stopped, None).await?;
                    }
                    InstanceStatus::Exited | InstanceStatus::Failed => {
                        let error = i.error.clone();
                        self.set_status(i, InstanceStatus::Stopped, error).await?;
                    }
                    _ => {}
                }
            }
            Ok::<_, ServiceError>(to_stop)
        }
        .await;
        let to_stop = match marked {
            Ok(list) => {
                let _ = reply.send(Ok(()));
                list
            }
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        for i in to_stop {
            let grace = self.settings.stop_grace;
            if let Err(e) = self
                .halt(i, |engine, id| async move {
                    engine.stop_container(&id, grace).await
                })
                .await
            {
                tracing::error!(error = %e, "stopping an instance failed");
            }
        }
    }

    /// Stops (or kills) one instance's Docker container and records STOPPED with its exit code.
    async fn halt<F, Fut>(&self, instance: Instance, action: F) -> Result<(), ServiceError>
    where
        F: FnOnce(crate::docker::Engine, String) -> Fut,
        Fut: std::future::Future<Output = Result<(), DockerError>>,
    {
        let (Some(host_id), Some(docker_id)) =
            (instance.host_id.clone(), instance.docker_id.clone())
        else {
            self.set_status(instance, InstanceStatus::Stopped, None)
                .await?;
            return Ok(());
        };
        let engine = match self.hosts.engine(&host_id).await {
            Ok((_, e)) => e,
            Err(e) => {
                self.set_status(
                    instance,
                    InstanceStatus::Unknown,
                    Some(format!("could not stop it: {e}")),
                )
                .await?;
                return Ok(());
            }
        };
        let mut instance = instance;
        match action(engine.clone(), docker_id.clone()).await {
            Ok(()) | Err(DockerError::NotFound(_)) => {
                if let Ok(state) = engine.inspect_container(&docker_id).await {
                    instance.exit_code = state.exit_code.and_then(|c| i32::try_from(c).ok());
                    instance.finished_at = state.finished_at.or(Some(Utc::now()));
                } else {
                    instance.finished_at = Some(Utc::now());
                }
                let error = instance.error.clone().filter(|e| e == OUT_OF_MEMORY);
                self.set_status(instance, InstanceStatus::Stopped, error)
                    .await?;
            }
            // 304: already stopped.
            Err(DockerError::Api { status: 304, .. }) => {
                self.set_status(instance, InstanceStatus::Stopped, None)
                    .await?;
            }
            Err(e) => {
                self.set_status(
                    instance,
                    InstanceStatus::Unknown,
                    Some(format!("could not stop it: {}", docker_message(&e))),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn restart(&self, container_id: &str, reply: oneshot::Sender<Result<(), ServiceError>>) {
        let instances = async {
            self.containers.require(container_id).await?;
            Ok::<_, ServiceError>(
                self.containers
                    .instances(container_id)
                    .await?
                    .into_iter()
                    .filter(|i| i.docker_id.is_some() && i.host_id.is_some())
                    .collect::<Vec<_>>(),
            )
        }
        .await;
        let instances = match instances {
            Ok(list) if list.is_empty() => {
                // Nothing to restart: a restart is a run.
                return self.run(container_id, None, reply).await;
            }
            Ok(list) => list,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        if let Err(e) = self
            .containers
            .set_desired_state(container_id, DesiredState::Running)
            .await
        {
            let _ = reply.send(Err(e));
            return;
        }
        let _ = reply.send(Ok(()));
        for i in instances {
            let (Some(host_id), Some(docker_id)) = (i.host_id.clone(), i.docker_id.clone()) else {
                continue;
            };
            let outcome = async {
                let (_, engine) = self.hosts.engine(&host_id).await?;
                let i = self
                    .set_status(i.clone(), InstanceStatus::Stopping, None)
                    .await?;
                match engine
                    .restart_container(&docker_id, self.settings.stop_grace)
                    .await
                {
                    Ok(()) => {
                        let mut i = i;
                        i.started_at = Some(Utc::now());
                        i.exit_code = None;
                        i.finished_at = None;
                        self.set_status(i, InstanceStatus::Running, None).await?;
                    }
                    Err(e) => {
                        self.set_status(i, InstanceStatus::Failed, Some(docker_message(&e)))
                            .await?;
                    }
                }
                Ok::<(), ServiceError>(())
            }
            .await;
            if let Err(e) = outcome {
                tracing::error!(error = %e, "restarting an instance failed");
            }
        }
    }

    async fn kill(&self, container_id: &str) -> Result<(), ServiceError> {
        self.containers.require(container_id).await?;
        self.containers
            .set_desired_state(container_id, DesiredState::Stopped)
            .await?;
        for i in self.containers.instances(container_id).await? {
            if i.status.is_active() {
                self.halt(
                    i,
                    |engine, id| async move { engine.kill_container(&id).await },
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn delete(&self, container_id: &str) -> Result<(), ServiceError> {
        let container = self.containers.require(container_id).await?;
        let instances = self.containers.instances(container_id).await?;
        if let Some(active) = instances.iter().find(|i| i.status.is_active()) {
            let host = match &active.host_id {
                Some(h) => self
                    .hosts
                    .get(h)
                    .await?
                    .map_or_else(|| h.clone(), |h| h.name),
                None => "no host yet".into(),
            };
            return Err(ServiceError::Conflict(format!(
                "container {} is {} on {host}; stop it before deleting it",
                container.name,
                active.status.label().to_lowercase()
            )));
        }
        for i in &instances {
            if let (Some(host_id), Some(docker_id)) = (&i.host_id, &i.docker_id) {
                let Some(host) = self.hosts.get(host_id).await? else {
                    continue;
                };
                let (_, engine) = self.hosts.engine(host_id).await.map_err(|e| {
                    ServiceError::Unavailable(format!(
                        "cannot remove the Docker container of {} on {}: {e}; try again when the host answers",
                        container.name, host.name
                    ))
                })?;
                match engine.remove_container(docker_id).await {
                    Ok(()) | Err(DockerError::NotFound(_)) => {}
                    Err(e) => {
                        return Err(ServiceError::Unavailable(format!(
                            "cannot remove the Docker container of {} on {}: {}",
                            container.name,
                            host.name,
                            docker_message(&e)
                        )));
                    }
                }
            }
        }
        for i in &instances {
            self.writer.delete(&i.id).await?;
        }
        self.containers.delete_definition(container_id).await
    }

    /// Applies one engine event to the instance it concerns.
    async fn event(&self, host_id: &str, event: EngineEvent) -> Result<(), ServiceError> {
        let Some(instance_id) = event.attributes.get(LABEL_INSTANCE) else {
            return Ok(());
        };
        let Some(mut instance) = self.containers.instance(instance_id).await? else {
            return Ok(());
        };
        if instance.docker_id.as_deref() != Some(event.id.as_str())
            || instance.host_id.as_deref() != Some(host_id)
        {
            return Ok(());
        }
        let Some(container) = self.containers.get(&instance.container_id).await? else {
            return Ok(());
        };
        let at = event_time(&event);
        let previous = instance.status;
        match event.action.as_str() {
            "start" if previous != InstanceStatus::Running => {
                instance.started_at = Some(at);
                instance.exit_code = None;
                instance.finished_at = None;
                self.set_status(instance, InstanceStatus::Running, None)
                    .await?;
            }
            "die" => {
                instance.exit_code = event
                    .attributes
                    .get("exitCode")
                    .and_then(|c| c.parse().ok());
                instance.finished_at = Some(at);
                let oom = instance.error.as_deref() == Some(OUT_OF_MEMORY);
                if oom {
                    let saved = self.save(instance, previous, None).await?;
                    self.after_exit(&container, saved).await?;
                } else if container.desired_state == DesiredState::Stopped
                    || matches!(previous, InstanceStatus::Stopping | InstanceStatus::Stopped)
                {
                    self.set_status(instance, InstanceStatus::Stopped, None)
                        .await?;
                } else {
                    let code = instance.exit_code;
                    let exited = self
                        .set_status(
                            instance,
                            InstanceStatus::Exited,
                            code.map(|c| format!("exited with code {c}")),
                        )
                        .await?;
                    self.after_exit(&container, exited).await?;
                }
            }
            "oom" => {
                self.set_status(
                    instance,
                    InstanceStatus::Failed,
                    Some(OUT_OF_MEMORY.to_owned()),
                )
                .await?;
            }
            "destroy" => {
                instance.docker_id = None;
                self.set_status(
                    instance,
                    InstanceStatus::Unknown,
                    Some("the Docker container was removed outside Berth".into()),
                )
                .await?;
            }
            action if action.starts_with("health_status") => {
                let health = action
                    .split_once(':')
                    .map_or("", |(_, h)| h.trim())
                    .to_owned();
                self.writer
                    .save(instance, Some(previous), Some(format!("health: {health}")))
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Makes one container's instances on one host agree with the Docker containers listed there.
    async fn sync(
        &self,
        container_id: &str,
        host_id: &str,
        observed: Vec<ContainerState>,
        listed_at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let Some(container) = self.containers.get(container_id).await? else {
            return Ok(());
        };
        let instances = self.containers.instances(container_id).await?;
        let engine = || async { self.hosts.engine(host_id).await.map(|(_, e)| e) };
        let mut claimed: HashSet<String> = HashSet::new();
        for instance in instances
            .iter()
            .filter(|i| i.host_id.as_deref() == Some(host_id))
        {
            let mine: Vec<&ContainerState> = observed
                .iter()
                .filter(|o| o.labels.get(LABEL_INSTANCE) == Some(&instance.id))
                .collect();
            let primary = mine
                .iter()
                .find(|o| Some(&o.id) == instance.docker_id.as_ref())
                .or_else(|| mine.iter().find(|o| o.state == RunState::Running))
                .or_else(|| mine.first())
                .copied();
            if let Some(p) = primary {
                claimed.insert(p.id.clone());
            }
            if instance.updated_at > listed_at {
                // Changed since the list was taken: the next sync looks again.
                claimed.extend(mine.iter().map(|o| o.id.clone()));
                continue;
            }
            self.sync_instance(&container, instance.clone(), primary)
                .await?;
        }
        // Docker containers no instance claims: duplicates of a replica, or of an instance that is gone.
        for stray in observed.iter().filter(|o| !claimed.contains(&o.id)) {
            let owner_row = stray
                .labels
                .get(LABEL_INSTANCE)
                .and_then(|id| instances.iter().find(|i| &i.id == id));
            if let Some(row) = owner_row
                && row.updated_at > listed_at
            {
                continue;
            }
            tracing::warn!(container = %container.name, docker_id = %stray.id, "removing a stray Docker container");
            if let Ok(engine) = engine().await {
                let _ = engine.remove_container(&stray.id).await;
            }
        }
        Ok(())
    }

    async fn sync_instance(
        &self,
        container: &Container,
        mut instance: Instance,
        observed: Option<&ContainerState>,
    ) -> Result<(), ServiceError> {
        let previous = instance.status;
        let stopped_wanted = container.desired_state == DesiredState::Stopped;
        let Some(o) = observed else {
            if instance.docker_id.is_some() || previous.is_active() {
                instance.docker_id = None;
                if stopped_wanted {
                    self.set_status(instance, InstanceStatus::Stopped, None)
                        .await?;
                } else if previous != InstanceStatus::Unknown {
                    self.set_status(
                        instance,
                        InstanceStatus::Unknown,
                        Some("its Docker container is missing on the host".into()),
                    )
                    .await?;
                }
            }
            return Ok(());
        };
        let adopted = instance.docker_id.as_ref() != Some(&o.id);
        instance.docker_id = Some(o.id.clone());
        match o.state {
            RunState::Running if previous != InstanceStatus::Running => {
                instance.exit_code = None;
                instance.started_at = instance.started_at.or(Some(Utc::now()));
                self.set_status(instance, InstanceStatus::Running, None)
                    .await?;
            }
            RunState::Exited | RunState::Dead
                if previous.is_active() || previous == InstanceStatus::Unknown =>
            {
                instance.exit_code = o.exit_code.and_then(|c| i32::try_from(c).ok());
                instance.finished_at = instance.finished_at.or(Some(Utc::now()));
                if stopped_wanted || previous == InstanceStatus::Stopping {
                    self.set_status(instance, InstanceStatus::Stopped, None)
                        .await?;
                } else {
                    let code = instance.exit_code;
                    let exited = self
                        .set_status(
                            instance,
                            InstanceStatus::Exited,
                            code.map(|c| format!("exited with code {c}")),
                        )
                        .await?;
                    self.after_exit(container, exited).await?;
                }
            }
            _ if adopted => {
                self.save(instance, previous, None).await?;
            }
            _ => {}
        }
        Ok(())
    }
}
