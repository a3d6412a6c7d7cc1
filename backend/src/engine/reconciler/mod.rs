//! The reconciler: the only writer of instance status, and level-triggered. For every container it compares
//! what the definition asks for (state, replica count) with what is recorded and observed (the instances, kept
//! in step with the Docker containers labelled with this installation's id) and acts to close the difference,
//! after every command, every engine event, every host (re)connect, every periodic sync and at start-up, until
//! they match. So any observed state, after a crash of Berth, a lost event or an operator's `docker rm`, leads
//! to the desired one, and whatever was acknowledged is finished after a restart without anyone re-issuing it.
//!
//! Parts: `worker` (one queue per container: every request, event and sync for one container is processed in
//! order by one task; containers do not wait for each other), `decide` (the decisions, pure functions with
//! table-driven tests), `observe` (engine events and host listings into instance records), `converge` (carries
//! out the decided actions; the periodic sweep), `placement` (hosts for replicas; create and start) and
//! `lifecycle` (run, stop, restart, kill, delete, scale requests), `rolling` (the rolling update's decisions,
//! pure) and `rollout` (redeploy, roll back, and replacing replicas a few at a time behind a health gate).

mod converge;
mod decide;
mod lifecycle;
mod observe;
mod placement;
mod rolling;
mod rollout;
mod worker;

use crate::docker::{ContainerState, DockerError, EngineEvent};
use crate::service::ServiceError;
use crate::service::containers::{ContainerService, Instance, InstanceWriter, ReconcileCommand};
use crate::service::hosts::{Host, HostService};
use berth_shared::{HostStatus, ImageRef, InstanceStatus};
use chrono::{DateTime, Utc};
use decide::Reach;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use worker::Worker;

/// Labels on every Docker container Berth creates.
pub const LABEL_MANAGED: &str = "berth.managed";
pub const LABEL_OWNER: &str = "berth.owner";
pub const LABEL_CONTAINER: &str = "berth.container";
pub const LABEL_REPLICA: &str = "berth.replica";
pub const LABEL_INSTANCE: &str = "berth.instance";

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

impl From<&crate::config::Settings> for ReconcilerSettings {
    fn from(s: &crate::config::Settings) -> Self {
        ReconcilerSettings {
            sync_every: s.reconcile_every,
            stop_grace: s.stop_grace,
            host_grace: s.host_grace,
            backoff_first: Duration::from_secs(1),
            backoff_max: s.replace_backoff_max,
        }
    }
}

impl ReconcilerSettings {
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
    /// Compare desired and recorded state and act (a back-off ended, the periodic sweep found a difference).
    Converge,
    /// A host has not answered for the grace period: its replicas become UNKNOWN (and are placed elsewhere).
    HostGone {
        host_id: String,
    },
}

struct Shared {
    /// This term's permission to act: checked by every engine action and instance write.
    fence: crate::cluster::Fence,
    containers: ContainerService,
    hosts: HostService,
    writer: InstanceWriter,
    owner: String,
    settings: ReconcilerSettings,
    syncing: Mutex<HashSet<String>>,
    sweeping: std::sync::atomic::AtomicBool,
}

/// How soon after start-up the first sweep looks at every container (the host monitors connect first, and
/// each connect already reconciles the containers with replicas on that host).
const FIRST_SWEEP_AFTER: Duration = Duration::from_secs(2);

/// Starts the reconciler for one term of leadership (`fence`).
#[allow(clippy::too_many_arguments)]
pub fn spawn(
    fence: crate::cluster::Fence,
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
        writer: writer.fenced(fence.clone()),
        fence,
        containers,
        hosts,
        owner,
        settings,
        syncing: Mutex::new(HashSet::new()),
        sweeping: std::sync::atomic::AtomicBool::new(false),
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
        let first_sweep = tokio::time::sleep(FIRST_SWEEP_AFTER.min(shared.settings.sync_every));
        tokio::pin!(first_sweep);
        let mut swept = false;
        loop {
            let (container_id, job) = tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => (command_target(&cmd).to_owned(), Job::Command(cmd)),
                    None => return,
                },
                input = inputs.recv() => match input {
                    Some(Input::Event { host_id, event }) => {
                        // Health probes (and `docker exec`) run as exec sessions: their events say nothing
                        // about a replica, and a check every second would otherwise be three jobs a second.
                        if event.kind != "container"
                            || event.action.starts_with("exec_")
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
                        observe::spawn_sync(&shared, host_id, jobs_tx.clone());
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
                            observe::spawn_host_gone(&shared, host_id, jobs_tx.clone());
                        }
                        continue;
                    }
                    None => return,
                },
                job = jobs_rx.recv() => match job {
                    Some(j) => j,
                    None => return,
                },
                () = &mut first_sweep, if !swept => {
                    swept = true;
                    converge::spawn_sweep(&shared, jobs_tx.clone());
                    continue;
                }
                _ = tick.tick() => {
                    if let Ok(hosts) = shared.hosts.list().await {
                        for h in hosts {
                            if matches!(h.status, HostStatus::Up | HostStatus::Maintenance) {
                                observe::spawn_sync(&shared, h.id, jobs_tx.clone());
                            }
                        }
                    }
                    converge::spawn_sweep(&shared, jobs_tx.clone());
                    continue;
                }
            };
            let worker = workers
                .entry(container_id.clone())
                .or_insert_with(|| Worker::start(shared.clone(), container_id.clone()));
            let queued = &crate::metrics::METRICS.reconcile_queued;
            queued.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Err(mpsc::error::SendError(job)) = worker.jobs.send(job) {
                // The worker ended (it never does on purpose): start a fresh one.
                let fresh = Worker::start(shared.clone(), container_id.clone());
                if fresh.jobs.send(job).is_err() {
                    queued.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                }
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
        | ReconcileCommand::Scale { container_id, .. }
        | ReconcileCommand::Redeploy { container_id, .. }
        | ReconcileCommand::Rollback { container_id, .. } => container_id,
    }
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

impl Shared {
    /// Carries out one unit of a worker's queue (the worker converges after it).
    async fn work(&self, container_id: &str, work: worker::Work) -> Result<(), ServiceError> {
        match work {
            worker::Work::Scale {
                cid,
                target,
                replies,
            } => {
                self.scale(&cid, target, replies).await;
                Ok(())
            }
            worker::Work::Job(Job::Command(cmd)) => {
                self.command(cmd).await;
                Ok(())
            }
            worker::Work::Job(Job::Event { host_id, event }) => self.event(&host_id, event).await,
            worker::Work::Job(Job::Sync {
                host_id,
                observed,
                listed_at,
            }) => self.sync(container_id, &host_id, observed, listed_at).await,
            worker::Work::Job(Job::Converge) => Ok(()),
            worker::Work::Job(Job::HostGone { host_id }) => {
                self.host_gone(container_id, &host_id).await
            }
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

    /// A host's engine for this term's actions (refused once the term's lease has ended).
    async fn engine(&self, host_id: &str) -> Result<crate::docker::Engine, ServiceError> {
        let (_, engine) = self.hosts.engine(host_id).await?;
        Ok(engine.fenced(&self.fence))
    }

    /// How each host can be reached now, for the decisions (one read of the hosts).
    async fn reach(&self) -> Result<HashMap<String, Reach>, ServiceError> {
        Ok(self
            .hosts
            .list()
            .await?
            .into_iter()
            .map(|h| {
                let up = h.docker_support
                    && matches!(h.status, HostStatus::Up | HostStatus::Maintenance);
                (h.id, if up { Reach::Up } else { Reach::Down })
            })
            .collect())
    }
}

fn reach_of(map: &HashMap<String, Reach>, host: Option<&str>) -> Reach {
    host.and_then(|h| map.get(h).copied())
        .unwrap_or(Reach::Gone)
}
