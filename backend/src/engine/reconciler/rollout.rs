//! Rolling updates: a redeploy (pull, resolve the digest, record a revision) or a roll back chooses the target
//! revision and records the rollout; then replicas are replaced a few at a time: the new Docker container
//! starts beside the old one (or after it stops, when a published host port cannot be shared), must prove
//! itself (`rolling::gate`), and only then takes over the replica and the old one goes. A replica that fails
//! ends the rollout as ROLLED_BACK and the replicas already replaced go back the same way. Everything is
//! recorded before and after each step, so a crash at any point resumes from the records: a new Docker
//! container that had not taken over is a stray the next sync removes, and the converge step goes on rolling.

use super::rolling::{self, Gate, Step};
use super::worker::CANCEL_PULL;
use super::{Shared, docker_image_name, docker_message};
use crate::docker::{DockerError, Engine};
use crate::service::ServiceError;
use crate::service::containers::{Container, Instance, Revision, Rollout};
use berth_shared::{DesiredState, InstanceStatus, RolloutState};
use chrono::Utc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The label carrying the revision a Docker container was created for.
pub const LABEL_REVISION: &str = "berth.revision";
/// How often a new replica is looked at while it proves itself.
const GATE_POLL: Duration = Duration::from_millis(200);
/// Time a new replica has beyond its minimum running time (or for its health check to say healthy).
const GATE_ALLOWANCE: Duration = Duration::from_secs(120);

impl Shared {
    /// `redeployContainer`: answers once the rollout is recorded (or at once when there is nothing to roll),
    /// then rolls.
    pub(super) async fn redeploy(
        &self,
        container_id: &str,
        pull: bool,
        by: String,
        reply: oneshot::Sender<Result<(), ServiceError>>,
    ) {
        let started = self.begin_redeploy(container_id, pull, Some(by)).await;
        let roll = matches!(started, Ok(true));
        let _ = reply.send(started.map(|_| ()));
        if roll {
            self.roll(container_id).await;
        }
    }

    /// `rollbackContainer`: the same for an earlier revision.
    pub(super) async fn rollback(
        &self,
        container_id: &str,
        revision: i32,
        reply: oneshot::Sender<Result<(), ServiceError>>,
    ) {
        let started = self.begin_rollback(container_id, revision).await;
        let roll = matches!(started, Ok(true));
        let _ = reply.send(started.map(|_| ()));
        if roll {
            self.roll(container_id).await;
        }
    }

    /// The running replicas of a container that can be rolled, and the container; refuses when it does not run
    /// or a rollout is under way.
    async fn rollable(
        &self,
        container_id: &str,
    ) -> Result<(Container, Vec<Instance>), ServiceError> {
        let c = self.containers.require(container_id).await?;
        let active: Vec<Instance> = self
            .containers
            .instances(container_id)
            .await?
            .into_iter()
            .filter(|i| i.status.is_active() && i.host_id.is_some())
            .collect();
        if c.desired_state != DesiredState::Running || active.is_empty() {
            return Err(ServiceError::Conflict(format!(
                "{} is not running: run it first (a run starts the current image)",
                c.name
            )));
        }
        if let Some(r) = &c.rollout
            && r.state == RolloutState::Rolling
        {
            return Err(ServiceError::Conflict(format!(
                "a rollout of {} from revision {} to {} is under way; wait for it to end",
                c.name, r.from_revision, r.to_revision
            )));
        }
        Ok((c, active))
    }

    /// The revision the replicas run now (recording one for replicas from before revisions were kept).
    async fn current_revision(
        &self,
        c: &Container,
        active: &[Instance],
    ) -> Result<Revision, ServiceError> {
        let number = match &c.rollout {
            Some(r) => Some(r.target()),
            None => active.iter().find_map(|i| i.revision),
        };
        if let Some(n) = number
            && let Some(rev) = self.containers.revision(&c.id, n).await?
        {
            return Ok(rev);
        }
        if let Some(rev) = self.containers.latest_revision(&c.id).await? {
            return Ok(rev);
        }
        let digest = active.iter().find_map(|i| i.image_digest.clone());
        self.containers.record_revision(c, digest, None).await
    }

    /// "Apply now" on a running, edited definition: `Ok(true)` when a rollout to the new version started,
    /// `Ok(false)` when it cannot be rolled in place (see [`rolling::apply_in_place`]) and is placed again instead.
    pub(super) async fn begin_apply(&self, container_id: &str) -> Result<bool, ServiceError> {
        let Some(c) = self.containers.get(container_id).await? else {
            return Ok(false);
        };
        let instances = self.containers.instances(container_id).await?;
        if !rolling::apply_in_place(&c, &instances) {
            return Ok(false);
        }
        self.begin_redeploy(container_id, false, None).await
    }

    async fn begin_redeploy(
        &self,
        container_id: &str,
        pull: bool,
        by: Option<String>,
    ) -> Result<bool, ServiceError> {
        let (c, active) = self.rollable(container_id).await?;
        let mut hosts: Vec<String> = active.iter().filter_map(|i| i.host_id.clone()).collect();
        hosts.sort();
        hosts.dedup();
        if pull {
            for host in &hosts {
                match self.pull(host, &c.image).await {
                    Ok(true) => {}
                    Ok(false) => {
                        return Err(ServiceError::Conflict(
                            "the redeploy was cancelled: the container is being stopped".into(),
                        ));
                    }
                    Err(e) => {
                        return Err(ServiceError::Unavailable(format!(
                            "pulling {} failed: {}",
                            c.image,
                            user_message(e)
                        )));
                    }
                }
            }
        }
        let from = self.current_revision(&c, &active).await?;
        // "Apply now" changes the definition, not the image: with the same reference, the replicas keep
        // the digest they run (the tag may name another image since, even one that was rolled back).
        let kept = (!pull && from.image == c.image)
            .then(|| from.image_digest.clone())
            .flatten();
        let digest = match kept {
            Some(d) => Some(d),
            None => {
                if !pull {
                    // Not refreshed, but fetched where it is missing (an edit may name another image).
                    for host in &hosts {
                        if let Err(reason) =
                            self.have_image(host, &docker_image_name(&c.image)).await
                        {
                            return Err(ServiceError::Unavailable(reason));
                        }
                    }
                }
                let first = hosts.first().cloned().unwrap_or_default();
                let engine = self.engine(&first).await?;
                engine
                    .image_digest(&docker_image_name(&c.image))
                    .await
                    .map_err(|e| {
                        ServiceError::Unavailable(format!(
                            "reading the digest of {} failed: {}",
                            c.image,
                            docker_message(&e)
                        ))
                    })?
            }
        };
        let current = digest.is_some()
            && from.image_digest == digest
            && from.version == c.version
            && active.iter().all(|i| i.revision == Some(from.number));
        if current {
            tracing::info!(container = %c.name, revision = from.number, "redeploy: every replica already runs this digest");
            return Ok(false);
        }
        let to = self.containers.record_revision(&c, digest, by).await?;
        tracing::info!(container = %c.name, from = from.number, to = to.number, digest = ?to.image_digest, "rolling out");
        self.containers
            .set_rollout(
                &c.id,
                Some(&Rollout {
                    state: RolloutState::Rolling,
                    reason: None,
                    from_revision: from.number,
                    to_revision: to.number,
                }),
            )
            .await?;
        Ok(true)
    }

    async fn begin_rollback(&self, container_id: &str, number: i32) -> Result<bool, ServiceError> {
        let (c, active) = self.rollable(container_id).await?;
        let Some(rev) = self.containers.revision(&c.id, number).await? else {
            return Err(ServiceError::bad_input(
                "revision",
                format!("{} has no revision {number}", c.name),
            ));
        };
        if rev.version != c.version {
            return Err(ServiceError::bad_input(
                "revision",
                format!(
                    "revision {number} was made from version {} of the definition, which is at version {} now: \
                     only revisions of the current definition can be rolled back to",
                    rev.version, c.version
                ),
            ));
        }
        // The image must be there (or come from a registry) on every host before anything stops.
        let image = rev.pinned_image();
        let mut hosts: Vec<String> = active.iter().filter_map(|i| i.host_id.clone()).collect();
        hosts.sort();
        hosts.dedup();
        for host in &hosts {
            if let Err(reason) = self.have_image(host, &image).await {
                return Err(ServiceError::bad_input(
                    "revision",
                    format!("the image of revision {number} cannot be had: {reason}"),
                ));
            }
        }
        let from = self.current_revision(&c, &active).await?;
        if active.iter().all(|i| i.revision == Some(number)) {
            return Ok(false);
        }
        tracing::info!(container = %c.name, from = from.number, to = number, "rolling back");
        self.containers
            .set_rollout(
                &c.id,
                Some(&Rollout {
                    state: RolloutState::Rolling,
                    reason: None,
                    from_revision: from.number,
                    to_revision: number,
                }),
            )
            .await?;
        Ok(true)
    }

    /// The image is on the host, or pulled now; `Err` says why it cannot be had.
    async fn have_image(&self, host_id: &str, image: &str) -> Result<(), String> {
        let engine = self.engine(host_id).await.map_err(|e| e.to_string())?;
        if engine.image_digest(image).await.is_ok() {
            return Ok(());
        }
        match self.pull(host_id, image).await {
            Ok(true) => Ok(()),
            Ok(false) => Err("the pull was cancelled: the container is being stopped".into()),
            Err(e) => Err(format!("pulling {image} failed: {}", user_message(e))),
        }
    }

    /// Goes on with the container's rollout until it is over or waits for the converge step (see
    /// [`rolling::next_step`]); safe to call at any time.
    pub(super) async fn roll(&self, container_id: &str) {
        loop {
            if stop_asked() {
                // A stop, kill or delete waits behind this job: the rollout stays recorded and goes on
                // once the container runs again.
                return;
            }
            let step = async {
                let Some(c) = self.containers.get(container_id).await? else {
                    return Ok::<_, ServiceError>(None);
                };
                if c.desired_state != DesiredState::Running {
                    return Ok(None);
                }
                let instances = self.containers.instances(container_id).await?;
                let replicas = i32::try_from(c.replicas).unwrap_or(1);
                let step =
                    rolling::next_step(c.rollout.as_ref(), &instances, replicas, c.max_parallel);
                Ok(Some((c, instances, step)))
            }
            .await;
            let (c, instances, step) = match step {
                Ok(Some(x)) => x,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(container = %container_id, error = %e, "reading a rollout failed");
                    return;
                }
            };
            let Some(rollout) = c.rollout.clone() else {
                return;
            };
            let ids = match step {
                Step::Idle | Step::Wait => return,
                Step::Done => {
                    let done = Rollout {
                        state: RolloutState::Succeeded,
                        ..rollout
                    };
                    tracing::info!(container = %c.name, revision = done.to_revision, "rollout succeeded");
                    if let Err(e) = self.containers.set_rollout(&c.id, Some(&done)).await {
                        tracing::warn!(container = %c.name, error = %e, "recording the rollout's end failed");
                    }
                    return;
                }
                Step::Replace(ids) => ids,
            };
            let target = rollout.target();
            let revision = match self.containers.revision(&c.id, target).await {
                Ok(Some(r)) => r,
                other => {
                    let reason = match other {
                        Err(e) => e.to_string(),
                        _ => format!("revision {target} is gone"),
                    };
                    self.end_rollout(&c, &rollout, RolloutState::Failed, reason)
                        .await;
                    return;
                }
            };
            let batch = instances.into_iter().filter(|i| ids.contains(&i.id));
            let outcomes =
                futures::future::join_all(batch.map(|i| self.replace(&c, i, &revision))).await;
            if stop_asked() {
                return;
            }
            if let Some(reason) = outcomes.into_iter().find_map(Result::err) {
                let next = if rollout.state == RolloutState::Rolling {
                    RolloutState::RolledBack
                } else {
                    RolloutState::Failed
                };
                let reason = if next == RolloutState::Failed {
                    format!("rolling back failed too: {reason}")
                } else {
                    reason
                };
                self.end_rollout(&c, &rollout, next, reason).await;
                if next == RolloutState::Failed {
                    return;
                }
            }
        }
    }

    async fn end_rollout(
        &self,
        c: &Container,
        rollout: &Rollout,
        state: RolloutState,
        reason: String,
    ) {
        tracing::warn!(container = %c.name, from = rollout.from_revision, to = rollout.to_revision, state = %state, reason = %reason, "rollout ended");
        let ended = Rollout {
            state,
            reason: Some(reason),
            ..rollout.clone()
        };
        if let Err(e) = self.containers.set_rollout(&c.id, Some(&ended)).await {
            tracing::warn!(container = %c.name, error = %e, "recording the rollout's end failed");
        }
    }

    /// Replaces one replica's Docker container with one of `revision`; `Err` is why the new one did not prove
    /// itself (the old one then still runs, or runs again).
    async fn replace(
        &self,
        c: &Container,
        old: Instance,
        revision: &Revision,
    ) -> Result<(), String> {
        let (Some(host_id), Some(old_id)) = (old.host_id.clone(), old.docker_id.clone()) else {
            return Err(format!("replica {} has no Docker container", old.replica));
        };
        let engine = self.engine(&host_id).await.map_err(|e| e.to_string())?;
        let image = revision.pinned_image();
        self.have_image(&host_id, &image).await?;
        let binds = self.containers.binds(c).await.map_err(|e| e.to_string())?;
        let mut spec = self.spec(c, &old, binds);
        spec.image = image.clone();
        spec.name = format!("{}-r{}", spec.name, revision.number);
        spec.labels
            .insert(LABEL_REVISION.to_owned(), revision.number.to_string());
        // A published host port cannot be held by two containers: the old one stops first.
        let exclusive = c.ports.iter().any(|p| p.host_port().is_some());
        if exclusive {
            let _ = engine
                .stop_container(&old_id, self.settings.stop_grace)
                .await;
        }
        tracing::info!(container = %c.name, replica = old.replica, revision = revision.number, "replacing a replica");
        let proved = self.start_and_prove(c, &engine, &spec).await;
        let new_id = match proved {
            Ok(id) => id,
            Err((new_id, reason)) => {
                if let Some(id) = new_id {
                    let _ = engine.remove_container(&id).await;
                }
                if exclusive {
                    let _ = engine.start_container(&old_id).await;
                }
                return Err(format!("replica {}: {reason}", old.replica));
            }
        };
        let digest = match &revision.image_digest {
            Some(d) => Some(d.clone()),
            None => engine.image_digest(&image).await.ok().flatten(),
        };
        let previous = old.status;
        let next = Instance {
            docker_id: Some(new_id),
            status: InstanceStatus::Running,
            revision: Some(revision.number),
            image_digest: digest,
            definition_version: revision.version,
            exit_code: None,
            error: None,
            attempts: 0,
            next_attempt_at: None,
            started_at: Some(Utc::now()),
            finished_at: None,
            health: None,
            health_output: None,
            unhealthy_since: None,
            ..old
        };
        let message = format!(
            "replica {} now runs revision {}",
            next.replica, revision.number
        );
        self.writer
            .save(next, Some(previous), Some(message))
            .await
            .map_err(|e| e.to_string())?;
        if !exclusive {
            let _ = engine
                .stop_container(&old_id, self.settings.stop_grace)
                .await;
        }
        match engine.remove_container(&old_id).await {
            Ok(()) | Err(DockerError::NotFound(_)) => {}
            Err(e) => {
                tracing::warn!(docker_id = %old_id, error = %e, "removing a replaced Docker container failed; the next sync removes it")
            }
        }
        Ok(())
    }

    /// Creates and starts the new Docker container and waits until it proves itself; the error carries its id
    /// when it was created.
    async fn start_and_prove(
        &self,
        c: &Container,
        engine: &Engine,
        spec: &crate::docker::ContainerSpec,
    ) -> Result<String, (Option<String>, String)> {
        let created = match engine.create_container(spec).await {
            // Left by an attempt a crash cut short.
            Err(DockerError::Conflict(_)) => match engine.remove_container(&spec.name).await {
                Ok(()) | Err(DockerError::NotFound(_)) => engine.create_container(spec).await,
                Err(e) => Err(e),
            },
            other => other,
        };
        let id = created.map_err(|e| (None, docker_message(&e)))?;
        if let Err(e) = engine.start_container(&id).await {
            return Err((Some(id), docker_message(&e)));
        }
        let min = i64::from(c.min_healthy_secs.max(0));
        let deadline =
            Instant::now() + Duration::from_secs(u64::try_from(min).unwrap_or(0)) + GATE_ALLOWANCE;
        loop {
            let state = match engine.inspect_container(&id).await {
                Ok(s) => s,
                Err(e) => return Err((Some(id), docker_message(&e))),
            };
            let look = rolling::Look {
                state: state.state,
                exit_code: state.exit_code,
                health: state.health.as_deref(),
                health_output: state.health_output.as_deref(),
                started_at: state.started_at,
            };
            match rolling::gate(&look, min, Utc::now(), Instant::now() >= deadline) {
                Gate::Pass => return Ok(id),
                Gate::Fail(reason) => return Err((Some(id), reason)),
                Gate::Wait if stop_asked() => {
                    return Err((Some(id), "the container is being stopped".to_owned()));
                }
                Gate::Wait => tokio::time::sleep(GATE_POLL).await,
            }
        }
    }
}

/// Whether a stop, kill or delete of the container arrived while this job runs.
fn stop_asked() -> bool {
    CANCEL_PULL.try_with(|c| *c.borrow()).unwrap_or(false)
}

/// A service error as a person reads it (without the field of a bad input).
fn user_message(e: ServiceError) -> String {
    match e {
        ServiceError::BadInput { message, .. } => message,
        other => other.to_string(),
    }
}
