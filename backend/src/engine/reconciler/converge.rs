//! Convergence: carries out what `decide::plan` finds between a container's desired and recorded state
//! (retire, halt, start, back off, place again), after every job of the container's worker and for every
//! container the periodic sweep finds unsettled (also at start-up, which finishes whatever a crash cut short).

use super::decide::{self, Action, Desired};
use super::placement::{Scope, new_instance};
use super::rolling;
use super::{Job, Shared, docker_message, reach_of};
use crate::docker::{DockerError, RunState};
use crate::service::ServiceError;
use crate::service::containers::{Container, ContainerPageRequest, ContainerSortKey, Instance};
use berth_shared::InstanceStatus;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

/// Rounds of plan-and-act in one converge (a failed start becomes FAILED, then gets its back-off, …); what is
/// still open after them waits for the next job, back-off end or sweep.
const MAX_PASSES: usize = 3;
/// When actions remain after the last pass, the next look is this soon (seconds).
const LOOK_AGAIN_SECS: i64 = 5;
/// Definitions one sweep reads at a time.
const SWEEP_PAGE: usize = 250;

fn desired_of(c: &Container) -> Desired {
    Desired {
        state: c.desired_state,
        replicas: i32::try_from(c.replicas).unwrap_or(1),
        policy: c.restart_policy,
        replace_unhealthy_after: c.replace_unhealthy_after_secs,
    }
}

impl Shared {
    /// Acts until one container's recorded state matches what it asks for (or nothing more can be done now);
    /// returns when to look again (the earliest end of a back-off).
    pub(super) async fn converge(
        &self,
        container_id: &str,
    ) -> Result<Option<DateTime<Utc>>, ServiceError> {
        let mut pass = 0;
        loop {
            let Some(container) = self.containers.get(container_id).await? else {
                return Ok(None);
            };
            let instances = self.containers.instances(container_id).await?;
            let reach = self.reach().await?;
            let plan = decide::plan(
                &desired_of(&container),
                &instances,
                &|h| reach_of(&reach, h),
                Utc::now(),
            );
            if plan.actions.is_empty() {
                // Settled: a rollout under way (or one a crash cut short) goes on.
                let replicas = i32::try_from(container.replicas).unwrap_or(1);
                if matches!(
                    rolling::next_step(container.rollout.as_ref(), &instances, replicas, 1),
                    rolling::Step::Replace(_) | rolling::Step::Done
                ) {
                    self.roll(container_id).await;
                }
                return Ok(plan.wake_at);
            }
            if pass == MAX_PASSES {
                // Still something to do (a chain of failures): look again soon, not only at the next sweep.
                let soon = Utc::now() + chrono::Duration::seconds(LOOK_AGAIN_SECS);
                return Ok(Some(plan.wake_at.map_or(soon, |w| w.min(soon))));
            }
            pass += 1;
            for action in plan.actions {
                if let Err(e) = self.act(&container, &instances, action).await {
                    tracing::warn!(container = %container.name, error = %e, "a converge step failed");
                }
            }
        }
    }

    async fn act(
        &self,
        container: &Container,
        instances: &[Instance],
        action: Action,
    ) -> Result<(), ServiceError> {
        let find = |id: &str| instances.iter().find(|i| i.id == id).cloned();
        match action {
            Action::Retire { instance_id } => {
                if let Some(i) = find(&instance_id) {
                    tracing::info!(container = %container.name, replica = i.replica, "retiring a replica above the count");
                    self.retire(i).await?;
                }
            }
            Action::Halt { instance_id } => {
                if let Some(i) = find(&instance_id) {
                    tracing::info!(container = %container.name, replica = i.replica, "stopping a replica of a stopped container");
                    let grace = self.settings.stop_grace;
                    self.halt(i, |engine, id| async move {
                        engine.stop_container(&id, grace).await
                    })
                    .await?;
                }
            }
            Action::MarkStopped { instance_id } => {
                if let Some(mut i) = find(&instance_id) {
                    let error = match i.status {
                        InstanceStatus::Exited | InstanceStatus::Failed => i.error.clone(),
                        _ => None,
                    };
                    i.next_attempt_at = None;
                    self.set_status(i, InstanceStatus::Stopped, error).await?;
                }
            }
            Action::Start { instance_id } => {
                if let Some(i) = find(&instance_id) {
                    self.start_existing(container, i).await?;
                }
            }
            Action::Backoff { instance_id } => {
                if let Some(i) = find(&instance_id) {
                    let next = decide::backoff(
                        &i,
                        container.restart_policy,
                        |a| self.settings.backoff(a),
                        Utc::now(),
                    );
                    self.save(next, i.status, None).await?;
                }
            }
            Action::ReplaceUnhealthy { instance_id } => {
                if let Some(i) = find(&instance_id) {
                    self.replace_unhealthy(container, i).await?;
                }
            }
            Action::Place { replicas } => self.place_again(container, instances, &replicas).await?,
        }
        Ok(())
    }

    /// Removes the Docker container of a replica that stayed unhealthy too long and records it FAILED with the
    /// usual back-off, after which it is placed again (Docker itself never restarts an unhealthy container).
    async fn replace_unhealthy(
        &self,
        container: &Container,
        instance: Instance,
    ) -> Result<(), ServiceError> {
        let (Some(host_id), Some(docker_id)) = (&instance.host_id, &instance.docker_id) else {
            return Ok(());
        };
        let Ok(engine) = self.engine(host_id).await else {
            return Ok(());
        };
        let after = container.replace_unhealthy_after_secs.unwrap_or(0);
        tracing::info!(container = %container.name, replica = instance.replica, docker_id = %docker_id, "replacing a replica that stayed unhealthy");
        match engine.remove_container(docker_id).await {
            Ok(()) | Err(DockerError::NotFound(_)) => {}
            Err(e) => {
                tracing::warn!(container = %container.name, error = %e, "removing an unhealthy replica failed");
                return Ok(());
            }
        }
        let failed = decide::unhealthy_replaced(&instance, after, Utc::now());
        let next = decide::backoff(
            &failed,
            container.restart_policy,
            |a| self.settings.backoff(a),
            Utc::now(),
        );
        self.save(next, instance.status, None).await?;
        self.containers.announce_reschedule(
            &container.id,
            format!(
                "replica {} of {} stayed unhealthy for more than {after} s: replaced",
                instance.replica, container.name
            ),
        );
        Ok(())
    }

    /// Starts the Docker container an instance already has (created but not started, or stopped while it
    /// should run); a container that is gone makes the instance UNKNOWN, so that it is placed again.
    async fn start_existing(
        &self,
        container: &Container,
        mut instance: Instance,
    ) -> Result<(), ServiceError> {
        let (Some(host_id), Some(docker_id)) =
            (instance.host_id.clone(), instance.docker_id.clone())
        else {
            return Ok(());
        };
        let Ok(engine) = self.engine(&host_id).await else {
            // The host does not answer right now: the next look decides again.
            return Ok(());
        };
        let state = match engine.inspect_container(&docker_id).await {
            Ok(s) => s,
            Err(DockerError::NotFound(_)) => {
                instance.docker_id = None;
                self.set_status(
                    instance,
                    InstanceStatus::Unknown,
                    Some("its Docker container is missing on the host".into()),
                )
                .await?;
                return Ok(());
            }
            Err(e) => {
                self.set_status(instance, InstanceStatus::Failed, Some(docker_message(&e)))
                    .await?;
                return Ok(());
            }
        };
        match state.state {
            RunState::Running => {
                instance.started_at = state.started_at.or(Some(Utc::now()));
            }
            RunState::Restarting => {
                // Docker is restarting it (restart policy): look again after the next back-off.
                let next = decide::backoff(
                    &instance,
                    container.restart_policy,
                    |a| self.settings.backoff(a),
                    Utc::now(),
                );
                self.save(next, instance.status, None).await?;
                return Ok(());
            }
            _ => {
                tracing::info!(container = %container.name, replica = instance.replica, docker_id = %docker_id, "starting a replica's existing Docker container");
                match engine.start_container(&docker_id).await {
                    Ok(()) | Err(DockerError::Api { status: 304, .. }) => {
                        instance.started_at = Some(Utc::now());
                    }
                    Err(e) => {
                        instance.finished_at = Some(Utc::now());
                        self.set_status(instance, InstanceStatus::Failed, Some(docker_message(&e)))
                            .await?;
                        return Ok(());
                    }
                }
            }
        }
        instance.exit_code = None;
        instance.finished_at = None;
        instance.next_attempt_at = None;
        self.set_status(instance, InstanceStatus::Running, None)
            .await?;
        Ok(())
    }

    /// Places these replicas (again): missing, stale, lost or due after their back-off. When no host can take
    /// them, each waits for its next back-off as FAILED with the reason.
    async fn place_again(
        &self,
        container: &Container,
        instances: &[Instance],
        replicas: &[i32],
    ) -> Result<(), ServiceError> {
        let scope = Scope {
            only: Some(replicas),
            force: true,
            reset_attempts: false,
        };
        match self.place(&container.id, None, scope).await {
            Ok((container, placements)) => {
                if !placements.is_empty() {
                    self.containers
                        .announce_placed(&container.id, &container.name);
                }
                for p in &placements {
                    let before = instances.iter().find(|i| i.replica == p.instance.replica);
                    let why = match before {
                        None => "placed (it had no replica record)".to_owned(),
                        Some(b)
                            if matches!(
                                b.status,
                                InstanceStatus::Failed | InstanceStatus::Exited
                            ) =>
                        {
                            format!("replaced after it exited (attempt {})", b.attempts)
                        }
                        Some(b) => match &b.error {
                            Some(e) => {
                                format!("placed again ({}: {e})", b.status.label().to_lowercase())
                            }
                            None => format!(
                                "placed again (it was {} when Berth last looked)",
                                b.status.label().to_lowercase()
                            ),
                        },
                    };
                    self.containers.announce_reschedule(
                        &container.id,
                        format!("{}: replica {} {why}", container.name, p.instance.replica),
                    );
                }
                for p in placements {
                    self.execute(&container, p).await?;
                }
            }
            Err(e) => {
                tracing::warn!(container = %container.name, replicas = ?replicas, error = %e, "no host can take these replicas now");
                self.containers
                    .announce_unplaceable(&container.id, &container.name, e.to_string());
                for &replica in replicas {
                    let row = instances
                        .iter()
                        .find(|i| i.replica == replica)
                        .cloned()
                        .unwrap_or_else(|| {
                            new_instance(container, replica, None, InstanceStatus::Failed)
                        });
                    let previous = instances
                        .iter()
                        .find(|i| i.replica == replica)
                        .map(|i| i.status);
                    let mut failed = row;
                    failed.status = InstanceStatus::Failed;
                    failed.error = Some(e.to_string());
                    failed.exit_code = None;
                    let next = decide::backoff(
                        &failed,
                        container.restart_policy,
                        |a| self.settings.backoff(a),
                        Utc::now(),
                    );
                    self.writer.save(next, previous, None).await?;
                }
            }
        }
        Ok(())
    }
}

/// Queues a converge for every container whose recorded state differs from what it asks for (or that waits
/// for a back-off): the definitions with their instances read in pages of [`SWEEP_PAGE`] by name (keyset, over
/// the name index), one read of the hosts. Memory stays one page whatever the fleet, and the task yields between
/// pages so requests and events are never held up behind a whole sweep. A definition renamed meanwhile may be
/// seen twice or not at all in this sweep: the next one (or its own events) catches it. At most one sweep runs.
pub(super) fn spawn_sweep(shared: &Arc<Shared>, jobs: mpsc::UnboundedSender<(String, Job)>) {
    if shared.sweeping.swap(true, Ordering::AcqRel) {
        return;
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        let outcome = async {
            let reach = shared.reach().await?;
            let mut queued = 0usize;
            let mut after = None;
            loop {
                let page = shared
                    .containers
                    .page(&ContainerPageRequest {
                        filter: Default::default(),
                        sort: ContainerSortKey::Name,
                        desc: false,
                        first: SWEEP_PAGE,
                        after: after.take(),
                        count: false,
                    })
                    .await?;
                let now = Utc::now();
                for (c, instances, mark) in page.items {
                    let plan =
                        decide::plan(&desired_of(&c), &instances, &|h| reach_of(&reach, h), now);
                    let rolling = matches!(
                        rolling::next_step(
                            c.rollout.as_ref(),
                            &instances,
                            i32::try_from(c.replicas).unwrap_or(1),
                            1
                        ),
                        rolling::Step::Replace(_) | rolling::Step::Done
                    );
                    if !plan.actions.is_empty() || plan.wake_at.is_some() || rolling {
                        queued += 1;
                        let _ = jobs.send((c.id, Job::Converge));
                    }
                    after = Some(mark);
                }
                if !page.has_next || after.is_none() {
                    break;
                }
                tokio::task::yield_now().await;
            }
            Ok::<_, ServiceError>(queued)
        }
        .await;
        match outcome {
            Ok(0) => {}
            Ok(n) => tracing::info!(containers = n, "sweep: converging containers"),
            Err(e) => tracing::warn!(error = %e, "sweep failed; the next one tries again"),
        }
        shared.sweeping.store(false, Ordering::Release);
    });
}
