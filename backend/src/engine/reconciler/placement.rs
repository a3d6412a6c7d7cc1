//! Placement: a host for every replica that needs one (the scheduler over the hosts' current load, or the
//! pinned or disk's host), instance records written PENDING before any engine work, then pull, create and
//! start; failures end FAILED with the engine's reason (the converge step gives them a back-off).

use super::rollout::LABEL_REVISION;
use super::worker::CANCEL_PULL;
use super::{
    LABEL_CONTAINER, LABEL_INSTANCE, LABEL_MANAGED, LABEL_OWNER, LABEL_REPLICA, Shared,
    docker_image_name, docker_message, host_problem,
};
use crate::docker::{ContainerSpec, DockerError};
use crate::engine::scheduler::{self, Candidate, Demand};
use crate::service::ServiceError;
use crate::service::containers::{Container, Instance, Revision};
use crate::service::hosts::Host;
use berth_shared::{DesiredState, HostStatus, InstanceStatus};
use chrono::Utc;
use std::collections::HashMap;
use tokio::sync::oneshot;

/// Grace period of the stop of a Docker container a definition was adopted from.
const ADOPTED_STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Work planned for one replica by a run request.
pub(super) struct Placement {
    pub(super) instance: Instance,
    /// A Docker container of an earlier run to remove first: (host, docker id).
    old: Option<(String, String)>,
}

/// The record of a replica that has none yet.
pub(super) fn new_instance(
    container: &Container,
    replica: i32,
    host_id: Option<String>,
    status: InstanceStatus,
) -> Instance {
    Instance {
        id: uuid::Uuid::new_v4().to_string(),
        container_id: container.id.clone(),
        replica,
        host_id,
        docker_id: None,
        status,
        exit_code: None,
        error: None,
        definition_version: container.version,
        attempts: 0,
        next_attempt_at: None,
        started_at: None,
        finished_at: None,
        updated_at: Utc::now(),
        health: None,
        health_output: None,
        unhealthy_since: None,
        image_digest: None,
        revision: None,
    }
}

/// Which replicas a placement is for.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Scope<'a> {
    /// Only these replica indexes (all below the count when `None`).
    pub only: Option<&'a [i32]>,
    /// Place them again even when their record says they are active (a stale record after a crash).
    pub force: bool,
    /// A user's run starts the replacement count afresh.
    pub reset_attempts: bool,
}

impl Shared {
    /// Pulls `image` onto the host; `Ok(false)` when a stop, kill or delete of the container cancelled it
    /// (see [`CANCEL_PULL`]): the instance is then left for that command to settle.
    pub(super) async fn pull(&self, host_id: &str, image: &str) -> Result<bool, ServiceError> {
        let cancelled = CANCEL_PULL.try_with(Clone::clone).ok();
        let until = async move {
            if let Some(mut cancelled) = cancelled
                && cancelled.wait_for(|c| *c).await.is_ok()
            {
                return;
            }
            std::future::pending::<()>().await;
        };
        self.fence.check().map_err(ServiceError::Unavailable)?;
        let pulled = self
            .hosts
            .pull_image_until(&crate::service::authz::system(), host_id, image, until)
            .await?;
        Ok(pulled.is_some())
    }

    /// The scheduler's view of every host for one container.
    pub(super) async fn candidates(
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

    pub(super) async fn run(
        &self,
        container_id: &str,
        host_override: Option<String>,
        reply: oneshot::Sender<Result<(), ServiceError>>,
    ) {
        // An edited definition that runs everywhere it should is rolled in place, behind the health gate.
        if host_override.is_none() {
            match self.begin_apply(container_id).await {
                Ok(true) => {
                    let _ = reply.send(Ok(()));
                    self.roll(container_id).await;
                    return;
                }
                Ok(false) => {}
                Err(e) => {
                    let _ = reply.send(Err(e));
                    return;
                }
            }
        }
        let scope = Scope {
            reset_attempts: true,
            ..Scope::default()
        };
        match self.place(container_id, host_override, scope).await {
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

    /// Chooses a host for every replica that needs one (of `scope.only`, when given) and records the
    /// instances as PENDING.
    pub(super) async fn place(
        &self,
        container_id: &str,
        host_override: Option<String>,
        scope: Scope<'_>,
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
            if scope.only.is_some_and(|o| !o.contains(&replica)) {
                continue;
            }
            let existing = instances.iter().find(|i| i.replica == replica).cloned();
            if let Some(e) = &existing {
                let current = !scope.force
                    && e.status.is_active()
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
                            attempts: if scope.reset_attempts { 0 } else { e.attempts },
                            next_attempt_at: None,
                            started_at: None,
                            finished_at: None,
                            health: None,
                            health_output: None,
                            unhealthy_since: None,
                            image_digest: None,
                            revision: None,
                            ..e
                        },
                        Some(previous),
                        old,
                    )
                }
                None => (
                    new_instance(&container, replica, Some(host_id), InstanceStatus::Pending),
                    None,
                    None,
                ),
            };
            let instance = self.writer.save(instance, previous, None).await?;
            placements.push(Placement { instance, old });
        }
        Ok((container, placements))
    }

    /// Scales to `replicas`: records the count, stops and removes replicas above it (marked STOPPING first, then
    /// stopped together: one grace period however many go) and, when the container should run, starts the
    /// missing ones. Every caller in `replies` gets the outcome; a scale-down answers once its surplus is marked
    /// (a replica that does not stop when asked takes the whole grace period), and what fails after that is
    /// logged and left to the convergence.
    pub(super) async fn scale(
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
            let mut marked = Vec::with_capacity(surplus.len());
            for i in surplus {
                marked.push(
                    if i.docker_id.is_some()
                        && i.status.is_active()
                        && i.status != InstanceStatus::Stopping
                    {
                        self.set_status(i, InstanceStatus::Stopping, None).await?
                    } else {
                        i
                    },
                );
            }
            Ok::<_, ServiceError>((after, marked))
        }
        .await;
        let (after, surplus) = match outcome {
            Ok(c) => c,
            Err(e) => {
                for r in replies {
                    let _ = r.send(Err(e.duplicate()));
                }
                return;
            }
        };
        let mut replies = replies;
        if !surplus.is_empty() {
            for r in replies.drain(..) {
                let _ = r.send(Ok(()));
            }
            let retired =
                futures::future::join_all(surplus.into_iter().map(|i| self.retire(i))).await;
            for r in retired {
                if let Err(e) = r {
                    tracing::warn!(container = %after.name, error = %e, "retiring a scaled-down replica failed");
                }
            }
        }
        if after.desired_state != DesiredState::Running {
            for r in replies {
                let _ = r.send(Ok(()));
            }
            return;
        }
        match self.place(container_id, None, Scope::default()).await {
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
                tracing::warn!(container = %after.name, error = %e, "placing replicas after a scale failed");
                for r in replies {
                    let _ = r.send(Err(e.duplicate()));
                }
            }
        }
    }

    /// Stops and removes one replica's Docker container and forgets the replica.
    pub(super) async fn retire(&self, instance: Instance) -> Result<(), ServiceError> {
        if let (Some(host_id), Some(docker_id)) = (&instance.host_id, &instance.docker_id)
            && let Some(host) = self.hosts.get(host_id).await?
            && matches!(host.status, HostStatus::Up | HostStatus::Maintenance)
            && let Ok(engine) = self.engine(host_id).await
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

    /// Pulls if needed, creates and starts one placed instance; failures end in FAILED with the reason.
    pub(super) async fn execute(
        &self,
        container: &Container,
        p: Placement,
    ) -> Result<(), ServiceError> {
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
            match self.engine(&old_host).await {
                Ok(engine) => match engine.remove_container(&old_id).await {
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
        let engine = match self.engine(&host_id).await {
            Ok(engine) => engine,
            Err(e) => {
                self.set_status(instance, InstanceStatus::Failed, Some(e.to_string()))
                    .await?;
                return Ok(());
            }
        };
        // Replicas of a definition that was rolled out run its revision's digest, never whatever the tag
        // names now; the first run of a definition version runs the tag and records the revision.
        let revision = self.revision_to_run(container).await?;
        let pinned = revision.as_ref().map(Revision::pinned_image);
        let cached = match &pinned {
            Some(image) => engine.image_digest(image).await.is_ok(),
            None => self
                .hosts
                .images(&host_id)
                .await?
                .iter()
                .any(|i| i.reference == container.image),
        };
        let wanted_image = pinned.clone().unwrap_or_else(|| container.image.clone());
        let mut instance = instance;
        if !cached {
            instance = self
                .set_status(instance, InstanceStatus::Pulling, None)
                .await?;
            let pulled = self.pull(&host_id, &wanted_image).await;
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
                    Some(format!("pulling {wanted_image} failed: {message}")),
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
        if let Some(adopted) = container.adopted_docker_id.as_deref()
            && let Err(reason) = self
                .remove_adopted(container, &host_id, &engine, adopted)
                .await
        {
            self.set_status(instance, InstanceStatus::Failed, Some(reason))
                .await?;
            return Ok(());
        }
        let mut spec = self.spec(container, &instance, binds);
        if let (Some(image), Some(r)) = (&pinned, &revision) {
            spec.image = image.clone();
            spec.labels
                .insert(LABEL_REVISION.to_owned(), r.number.to_string());
        }
        let created = match engine.create_container(&spec).await {
            // The name is taken: a Docker container of this very instance (the name carries its id) left by
            // an attempt a crash cut short. Replace it, so that the replica never runs twice.
            Err(DockerError::Conflict(_)) => {
                tracing::info!(container = %container.name, name = %spec.name, "replacing the Docker container of an interrupted attempt");
                match engine.remove_container(&spec.name).await {
                    Ok(()) | Err(DockerError::NotFound(_)) => engine.create_container(&spec).await,
                    Err(e) => Err(e),
                }
            }
            other => other,
        };
        let docker_id = match created {
            Ok(id) => id,
            Err(e) => {
                self.set_status(instance, InstanceStatus::Failed, Some(docker_message(&e)))
                    .await?;
                return Ok(());
            }
        };
        instance.docker_id = Some(docker_id.clone());
        // The digest it runs, for update detection: unknown rather than failed when the engine cannot say.
        let digest = match revision.as_ref().and_then(|r| r.image_digest.clone()) {
            Some(d) => Some(d),
            None => match engine.image_digest(&container.image).await {
                Ok(digest) => digest,
                Err(e) => {
                    tracing::debug!(image = %container.image, error = %e, "reading the image's digest failed");
                    None
                }
            },
        };
        let revision = match revision {
            Some(r) => Some(r),
            None => match self.first_revision(container, digest.clone()).await {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(container = %container.name, error = %e, "recording the revision failed");
                    None
                }
            },
        };
        instance.image_digest = digest;
        instance.revision = revision.map(|r| r.number);
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

    /// The revision new replicas of `container` run: the rollout's target, else the newest revision, as long
    /// as it was made from the current definition version (an edited definition's next run makes a new one).
    async fn revision_to_run(
        &self,
        container: &Container,
    ) -> Result<Option<Revision>, ServiceError> {
        let revision = match &container.rollout {
            Some(r) => self.containers.revision(&container.id, r.target()).await?,
            None => self.containers.latest_revision(&container.id).await?,
        };
        Ok(revision.filter(|r| r.version == container.version))
    }

    /// The revision of a run of a definition version without one: the newest when it matches (replicas
    /// placed one after another share it), else a new one.
    async fn first_revision(
        &self,
        container: &Container,
        digest: Option<String>,
    ) -> Result<Revision, ServiceError> {
        if let Some(latest) = self.containers.latest_revision(&container.id).await?
            && latest.version == container.version
            && latest.image_digest == digest
        {
            return Ok(latest);
        }
        self.containers
            .record_revision(container, digest, None)
            .await
    }

    /// Before the first replacement of an adopted container starts: stops (10 s grace) and removes the Docker
    /// container it was adopted from, on the definition's host (else the replica's), then forgets it. Safe to
    /// repeat: a container already gone counts as removed, and the column is cleared only after that. `Err` is
    /// the reason the replica cannot start yet (the original may still hold its ports).
    async fn remove_adopted(
        &self,
        container: &Container,
        replica_host: &str,
        replica_engine: &crate::docker::Engine,
        docker_id: &str,
    ) -> Result<(), String> {
        let host = container.host_id.as_deref().unwrap_or(replica_host);
        let engine = if host == replica_host {
            replica_engine.clone()
        } else {
            self.engine(host)
                .await
                .map_err(|e| format!("cannot reach the host of the adopted container: {e}"))?
        };
        let short: String = docker_id.chars().take(12).collect();
        // A graceful stop first; whatever it answers (already stopped, gone), the forced removal decides.
        let _ = engine.stop_container(docker_id, ADOPTED_STOP_GRACE).await;
        match engine.remove_container(docker_id).await {
            Ok(()) | Err(DockerError::NotFound(_)) => {}
            Err(e) => {
                return Err(format!(
                    "removing the adopted Docker container {short} failed: {}",
                    docker_message(&e)
                ));
            }
        }
        tracing::info!(container = %container.name, docker_id = %short, "removed the adopted Docker container before its replacement starts");
        self.containers
            .clear_adopted(&container.id, docker_id)
            .await
            .map_err(|e| e.to_string())
    }

    pub(super) fn spec(
        &self,
        c: &Container,
        instance: &Instance,
        binds: Vec<String>,
    ) -> ContainerSpec {
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
            health_check: c.health_check.clone(),
        }
    }
}
