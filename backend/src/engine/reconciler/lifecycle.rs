//! Requests from people and scripts: run, stop, restart, kill and delete a container. Each answers once the
//! request is recorded (desired state, instance statuses), then carries it out; whatever it leaves undone
//! (a crash, an engine that failed) the converge step finishes.

use super::decide::OUT_OF_MEMORY;
use super::{Shared, docker_message};
use crate::docker::DockerError;
use crate::service::ServiceError;
use crate::service::containers::{Instance, ReconcileCommand};
use berth_shared::{DesiredState, InstanceStatus};
use chrono::Utc;
use tokio::sync::oneshot;

impl Shared {
    pub(super) async fn command(&self, cmd: ReconcileCommand) {
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
            ReconcileCommand::Redeploy {
                container_id,
                pull,
                by,
                reply,
            } => self.redeploy(&container_id, pull, by, reply).await,
            ReconcileCommand::Rollback {
                container_id,
                revision,
                reply,
            } => self.rollback(&container_id, revision, reply).await,
        }
    }

    pub(super) async fn stop(
        &self,
        container_id: &str,
        reply: oneshot::Sender<Result<(), ServiceError>>,
    ) {
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
    pub(super) async fn halt<F, Fut>(
        &self,
        instance: Instance,
        action: F,
    ) -> Result<(), ServiceError>
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
        let engine = match self.engine(&host_id).await {
            Ok(e) => e,
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

    pub(super) async fn restart(
        &self,
        container_id: &str,
        reply: oneshot::Sender<Result<(), ServiceError>>,
    ) {
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
                let engine = self.engine(&host_id).await?;
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

    pub(super) async fn kill(&self, container_id: &str) -> Result<(), ServiceError> {
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

    pub(super) async fn delete(&self, container_id: &str) -> Result<(), ServiceError> {
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
                let engine = self.engine(host_id).await.map_err(|e| {
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
}
