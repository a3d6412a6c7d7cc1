//! Observation: engine events and host listings become instance records (through the pure decisions in
//! `decide`), Docker containers nobody claims are removed, and a host that stays silent past its grace period
//! has its replicas marked UNKNOWN (the converge step then places them elsewhere).

use super::decide;
use super::{Job, LABEL_CONTAINER, LABEL_INSTANCE, LABEL_OWNER, Shared, event_time};
use crate::docker::{ContainerState, EngineEvent, RunState};
use crate::service::ServiceError;
use berth_shared::{Health, HostStatus, InstanceStatus};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Queues a host-loss job for every container with an active instance on the host.
pub(super) fn spawn_host_gone(
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
pub(super) fn spawn_sync(
    shared: &Arc<Shared>,
    host_id: String,
    jobs: mpsc::UnboundedSender<(String, Job)>,
) {
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
    let engine = shared.engine(host_id).await?;
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
    // The definitions with an instance recorded here get a sync even when nothing of them is observed; the
    // labelled containers of ids that name no definition are strays. Two indexed reads, never every definition.
    for cid in shared.containers.ids_on_host(host_id).await? {
        by_container.entry(cid).or_default();
    }
    let ids: Vec<String> = by_container.keys().cloned().collect();
    let known = shared.containers.existing_ids(&ids).await?;
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

impl Shared {
    /// A host has not answered for the grace period: its active replicas become UNKNOWN (converge then
    /// places them elsewhere; when the host is back the sync removes their old copies).
    pub(super) async fn host_gone(
        &self,
        container_id: &str,
        host_id: &str,
    ) -> Result<(), ServiceError> {
        let Some(host) = self.hosts.get(host_id).await? else {
            return Ok(());
        };
        if host.status == HostStatus::Up {
            return Ok(());
        }
        if self.containers.get(container_id).await?.is_none() {
            return Ok(());
        }
        for i in self.containers.instances(container_id).await? {
            if i.host_id.as_deref() == Some(host_id) && i.status.is_active() {
                let message = format!(
                    "host {} has not answered for {:.0?}",
                    host.name, self.settings.host_grace
                );
                self.set_status(i, InstanceStatus::Unknown, Some(message))
                    .await?;
            }
        }
        Ok(())
    }

    /// Applies one engine event to the instance it concerns.
    pub(super) async fn event(
        &self,
        host_id: &str,
        event: EngineEvent,
    ) -> Result<(), ServiceError> {
        let Some(instance_id) = event.attributes.get(LABEL_INSTANCE) else {
            return Ok(());
        };
        let Some(instance) = self.containers.instance(instance_id).await? else {
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
        let exit_code = event
            .attributes
            .get("exitCode")
            .and_then(|c| c.parse().ok());
        let previous = instance.status;
        let mut outcome = decide::on_event(
            container.desired_state,
            &instance,
            &event.action,
            exit_code,
            event_time(&event),
        );
        if event.action == "start" || event.action.starts_with("health_status") {
            // The event says only the new health; the engine also knows the last probe's output (and, after a
            // start, whether there is a check at all).
            let base = outcome.as_ref().map_or(&instance, |(i, _)| i);
            if let Some((health, output)) = self.probe(host_id, &event.id).await
                && let Some(next) = decide::with_health(base, health, output.as_deref(), Utc::now())
            {
                let message = outcome
                    .and_then(|(_, m)| m)
                    .or_else(|| Some(format!("health: {}", health.as_str().to_lowercase())));
                outcome = Some((next, message));
            }
        }
        if let Some((next, message)) = outcome {
            self.writer.save(next, Some(previous), message).await?;
        }
        Ok(())
    }

    /// The health of a running Docker container and its last probe's output, as the engine reports it now
    /// (NONE when it runs no check); `None` when it cannot be read.
    async fn probe(&self, host_id: &str, docker_id: &str) -> Option<(Health, Option<String>)> {
        let engine = self.engine(host_id).await.ok()?;
        let state = engine.inspect_container(docker_id).await.ok()?;
        let health = match state.health.as_deref() {
            None => Health::None,
            Some(word) => Health::from_docker(word)?,
        };
        Some((health, state.health_output))
    }

    /// Makes one container's instances on one host agree with the Docker containers listed there, and removes
    /// the Docker containers no instance claims (duplicates of a replica, or of an instance that is gone).
    pub(super) async fn sync(
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
        let mut claimed: HashSet<String> = HashSet::new();
        for instance in instances
            .iter()
            .filter(|i| i.host_id.as_deref() == Some(host_id))
        {
            let mine: Vec<&ContainerState> = observed
                .iter()
                .filter(|o| o.labels.get(LABEL_INSTANCE) == Some(&instance.id))
                .collect();
            if instance.updated_at > listed_at {
                // Changed since the list was taken (an earlier job of this container acted): the listing says
                // nothing reliable about its state, and only the Docker container it records is its own.
                claimed.extend(instance.docker_id.iter().cloned());
                continue;
            }
            let primary = mine
                .iter()
                .find(|o| Some(&o.id) == instance.docker_id.as_ref())
                .or_else(|| mine.iter().find(|o| o.state == RunState::Running))
                .or_else(|| mine.first())
                .copied();
            if let Some(p) = primary {
                claimed.insert(p.id.clone());
            }
            let observed = decide::observe(container.desired_state, instance, primary, Utc::now());
            // The listing also says how its health check stands (a lost `health_status` event is caught here).
            let base = observed.as_ref().unwrap_or(instance);
            let listed_health = primary.filter(|p| p.state == RunState::Running).map(|p| {
                p.health
                    .as_deref()
                    .map_or(Some(Health::None), Health::from_docker)
            });
            let healthier = match listed_health {
                Some(Some(h)) => decide::with_health(base, h, None, Utc::now()),
                _ => None,
            };
            let message = healthier
                .as_ref()
                .filter(|h| h.health != base.health)
                .and_then(|h| h.health)
                .map(|h| format!("health: {}", h.as_str().to_lowercase()));
            if let Some(next) = healthier.or(observed) {
                self.save(next, instance.status, message).await?;
            }
        }
        // A container's jobs run one at a time, so nothing is creating a Docker container for this container
        // right now: whatever its records do not claim is a leftover (an old copy of a replica that moved, a
        // replica above the count, an attempt a crash cut short) and goes now, not at the next sync.
        for stray in observed.iter().filter(|o| !claimed.contains(&o.id)) {
            tracing::warn!(container = %container.name, docker_id = %stray.id, "removing a stray Docker container");
            if let Ok(engine) = self.engine(host_id).await {
                let _ = engine.remove_container(&stray.id).await;
            }
        }
        Ok(())
    }
}
