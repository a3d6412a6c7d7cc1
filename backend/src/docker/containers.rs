//! Containers on one engine: create, start, stop, restart, kill, remove, list by label, inspect and logs; and
//! removing the named volumes of disks.

use super::{DockerError, Engine, classify, timed_for};
use berth_shared::{HealthCheck, PortSpec};
use bollard::models::{
    ContainerCreateBody, ContainerStateStatusEnum, ContainerSummaryStateEnum, HealthConfig,
    HealthStatusEnum, HostConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, RestartContainerOptionsBuilder,
    StopContainerOptionsBuilder,
};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use std::collections::HashMap;
use std::time::Duration;

/// Create and start may wait on a busy engine longer than a plain call.
const LIFECYCLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything needed to create one Docker container.
#[derive(Clone, Debug, Default)]
pub struct ContainerSpec {
    pub name: String,
    /// The image as the engine names it.
    pub image: String,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `NAME=value`.
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    pub ports: Vec<PortSpec>,
    pub memory_bytes: Option<i64>,
    pub cpus: Option<f64>,
    pub cpu_shares: Option<i64>,
    /// Docker's policy name: `no`, `on-failure`, `always`, `unless-stopped`.
    pub restart_policy: String,
    /// `source:target[:ro]`: named volumes (created by the engine at first use) and host paths.
    pub binds: Vec<String>,
    /// The definition's health check; `None` = the image's own.
    pub health_check: Option<HealthCheck>,
}

/// The run state of a Docker container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Dead,
    Removing,
    Other,
}

/// What an engine says about one container.
#[derive(Clone, Debug)]
pub struct ContainerState {
    pub id: String,
    pub labels: HashMap<String, String>,
    pub state: RunState,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    pub error: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Docker's word for its health (`starting`, `healthy`, `unhealthy`); `None` when it runs no check.
    pub health: Option<String>,
    /// The output of the last probe (inspect only).
    pub health_output: Option<String>,
}

/// Which part of a container's output to read.
#[derive(Clone, Debug, Default)]
pub struct LogWindow {
    /// The last lines only (`None` = all of them).
    pub tail: Option<u32>,
    /// Lines from this time on (the engine's granularity is one second).
    pub since: Option<DateTime<Utc>>,
    /// Lines up to this time (the engine's granularity is one second).
    pub until: Option<DateTime<Utc>>,
    /// Keep the stream open for new lines.
    pub follow: bool,
}

/// Seconds since the epoch as the engine's API takes them (clamped to its `i32`; 0 means "not set" there, so
/// the epoch itself becomes 1).
fn unix_seconds(seconds: i64) -> i32 {
    i32::try_from(seconds.max(1)).unwrap_or(i32::MAX)
}

/// One line of a container's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// `stdout` or `stderr`.
    pub stream: &'static str,
    pub text: String,
    pub at: Option<DateTime<Utc>>,
}

fn restart_policy(name: &str) -> RestartPolicyNameEnum {
    match name {
        "always" => RestartPolicyNameEnum::ALWAYS,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        _ => RestartPolicyNameEnum::NO,
    }
}

/// A definition's health check as Docker takes it (durations in nanoseconds; unset ones are Docker's defaults).
fn health_config(check: &HealthCheck) -> HealthConfig {
    let nanos = |secs: Option<i64>| secs.map(|s| s.saturating_mul(1_000_000_000));
    if check.disables() {
        return HealthConfig {
            test: Some(vec!["NONE".to_owned()]),
            ..Default::default()
        };
    }
    HealthConfig {
        test: Some(check.test.clone()),
        interval: nanos(check.interval_secs),
        timeout: nanos(check.timeout_secs),
        retries: check.retries,
        start_period: nanos(check.start_period_secs),
        ..Default::default()
    }
}

/// Docker's zero time (`0001-01-01T00:00:00Z`) means "never".
pub(super) fn docker_time(text: Option<&str>) -> Option<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(text?)
        .ok()?
        .with_timezone(&Utc);
    (t.timestamp() > 0).then_some(t)
}

/// `Exited (3) 5 seconds ago` → 3.
fn exit_code_from_status(status: &str) -> Option<i64> {
    let rest = status.strip_prefix("Exited (")?;
    rest.split_once(')')?.0.parse().ok()
}

impl Engine {
    fn long(&self) -> bollard::Docker {
        self.docker.clone().with_timeout(LIFECYCLE_TIMEOUT)
    }

    /// Creates a container (not started) and returns its id.
    pub async fn create_container(&self, spec: &ContainerSpec) -> Result<String, DockerError> {
        self.may_act()?;
        let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        for port in &spec.ports {
            bindings
                .entry(port.docker_key())
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: port.host_ip().map(str::to_owned),
                    host_port: port.host_port().map(|p| p.to_string()),
                });
        }
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: spec.command.clone(),
            entrypoint: spec.entrypoint.clone(),
            env: Some(spec.env.clone()),
            labels: Some(spec.labels.clone()),
            exposed_ports: Some(spec.ports.iter().map(PortSpec::docker_key).collect()),
            healthcheck: spec.health_check.as_ref().map(health_config),
            host_config: Some(HostConfig {
                port_bindings: Some(bindings),
                binds: (!spec.binds.is_empty()).then(|| spec.binds.clone()),
                memory: spec.memory_bytes,
                nano_cpus: spec.cpus.map(|c| (c * 1e9).round() as i64),
                cpu_shares: spec.cpu_shares,
                restart_policy: Some(RestartPolicy {
                    name: Some(restart_policy(&spec.restart_policy)),
                    maximum_retry_count: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new()
            .name(&spec.name)
            .build();
        let created = timed_for(
            LIFECYCLE_TIMEOUT,
            self.long().create_container(Some(options), body),
        )
        .await?;
        Ok(created.id)
    }

    pub async fn start_container(&self, id: &str) -> Result<(), DockerError> {
        self.may_act()?;
        timed_for(LIFECYCLE_TIMEOUT, self.long().start_container(id, None)).await
    }

    /// Stops gracefully: SIGTERM, then SIGKILL after `grace`.
    pub async fn stop_container(&self, id: &str, grace: Duration) -> Result<(), DockerError> {
        self.may_act()?;
        let t = i32::try_from(grace.as_secs()).unwrap_or(i32::MAX);
        let wait = grace + LIFECYCLE_TIMEOUT;
        let options = StopContainerOptionsBuilder::new().t(t).build();
        timed_for(
            wait,
            self.docker
                .clone()
                .with_timeout(wait)
                .stop_container(id, Some(options)),
        )
        .await
    }

    pub async fn restart_container(&self, id: &str, grace: Duration) -> Result<(), DockerError> {
        self.may_act()?;
        let t = i32::try_from(grace.as_secs()).unwrap_or(i32::MAX);
        let wait = grace + LIFECYCLE_TIMEOUT;
        let options = RestartContainerOptionsBuilder::new().t(t).build();
        timed_for(
            wait,
            self.docker
                .clone()
                .with_timeout(wait)
                .restart_container(id, Some(options)),
        )
        .await
    }

    pub async fn kill_container(&self, id: &str) -> Result<(), DockerError> {
        self.may_act()?;
        let options = KillContainerOptionsBuilder::new().signal("SIGKILL").build();
        timed_for(
            LIFECYCLE_TIMEOUT,
            self.long().kill_container(id, Some(options)),
        )
        .await
    }

    /// Removes a container, running or not.
    pub async fn remove_container(&self, id: &str) -> Result<(), DockerError> {
        self.may_act()?;
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        timed_for(
            LIFECYCLE_TIMEOUT,
            self.long().remove_container(id, Some(options)),
        )
        .await
    }

    /// Removes a named volume.
    pub async fn remove_volume(&self, name: &str) -> Result<(), DockerError> {
        self.may_act()?;
        timed_for(
            LIFECYCLE_TIMEOUT,
            self.long()
                .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>),
        )
        .await
    }

    /// Every container (running or not) carrying label `key=value`.
    pub async fn containers_labelled(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<ContainerState>, DockerError> {
        let mut filters: HashMap<&str, Vec<String>> = HashMap::new();
        filters.insert("label", vec![format!("{key}={value}")]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let list = timed_for(
            LIFECYCLE_TIMEOUT,
            self.long().list_containers(Some(options)),
        )
        .await?;
        Ok(list
            .into_iter()
            .map(|c| {
                let health =
                    super::inventory::health_of(&c, c.status.as_deref().unwrap_or_default());
                let state = match c.state {
                    Some(ContainerSummaryStateEnum::CREATED) => RunState::Created,
                    Some(ContainerSummaryStateEnum::RUNNING) => RunState::Running,
                    Some(ContainerSummaryStateEnum::PAUSED) => RunState::Paused,
                    Some(ContainerSummaryStateEnum::RESTARTING) => RunState::Restarting,
                    Some(ContainerSummaryStateEnum::EXITED) => RunState::Exited,
                    Some(ContainerSummaryStateEnum::DEAD) => RunState::Dead,
                    Some(ContainerSummaryStateEnum::REMOVING) => RunState::Removing,
                    _ => RunState::Other,
                };
                ContainerState {
                    id: c.id.unwrap_or_default(),
                    labels: c.labels.unwrap_or_default(),
                    state,
                    exit_code: c.status.as_deref().and_then(exit_code_from_status),
                    oom_killed: false,
                    error: None,
                    started_at: None,
                    finished_at: None,
                    health,
                    health_output: None,
                }
            })
            .collect())
    }

    pub async fn inspect_container(&self, id: &str) -> Result<ContainerState, DockerError> {
        let c = timed_for(LIFECYCLE_TIMEOUT, self.long().inspect_container(id, None)).await?;
        let s = c.state.unwrap_or_default();
        let health = s.health.clone().and_then(|h| {
            let word = match h.status? {
                HealthStatusEnum::STARTING => "starting",
                HealthStatusEnum::HEALTHY => "healthy",
                HealthStatusEnum::UNHEALTHY => "unhealthy",
                _ => return None,
            };
            // Docker keeps the last five probes, oldest first.
            let output = h
                .log
                .and_then(|log| log.into_iter().last())
                .and_then(|last| last.output);
            Some((word.to_owned(), output))
        });
        let state = match s.status {
            Some(ContainerStateStatusEnum::CREATED) => RunState::Created,
            Some(ContainerStateStatusEnum::RUNNING) => RunState::Running,
            Some(ContainerStateStatusEnum::PAUSED) => RunState::Paused,
            Some(ContainerStateStatusEnum::RESTARTING) => RunState::Restarting,
            Some(ContainerStateStatusEnum::EXITED) => RunState::Exited,
            Some(ContainerStateStatusEnum::DEAD) => RunState::Dead,
            Some(ContainerStateStatusEnum::REMOVING) => RunState::Removing,
            _ => RunState::Other,
        };
        Ok(ContainerState {
            id: c.id.unwrap_or_default(),
            labels: c.config.and_then(|cfg| cfg.labels).unwrap_or_default(),
            state,
            exit_code: s.exit_code,
            oom_killed: s.oom_killed.unwrap_or(false),
            error: s.error.filter(|e| !e.is_empty()),
            started_at: docker_time(s.started_at.as_deref()),
            finished_at: docker_time(s.finished_at.as_deref()),
            health_output: health.as_ref().and_then(|(_, o)| o.clone()),
            health: health.map(|(w, _)| w),
        })
    }

    /// The last `tail` lines of a container's output, then (with `follow`) new lines as they come.
    pub fn logs(
        &self,
        id: &str,
        tail: u32,
        follow: bool,
    ) -> impl Stream<Item = Result<LogEntry, DockerError>> + use<> {
        self.logs_in(
            id,
            &LogWindow {
                tail: Some(tail),
                follow,
                ..LogWindow::default()
            },
        )
    }

    /// The part of a container's output that `window` names. The engine filters by whole seconds (its API
    /// takes Unix seconds): it is asked from the second `since` falls in to the second after `until`, so the
    /// caller filters the edges by each line's own timestamp.
    pub fn logs_in(
        &self,
        id: &str,
        window: &LogWindow,
    ) -> impl Stream<Item = Result<LogEntry, DockerError>> + use<> {
        let mut options = LogsOptionsBuilder::new()
            .follow(window.follow)
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .tail(
                &window
                    .tail
                    .map_or_else(|| "all".to_owned(), |t| t.to_string()),
            );
        if let Some(since) = window.since {
            options = options.since(unix_seconds(since.timestamp()));
        }
        if let Some(until) = window.until {
            options = options.until(unix_seconds(until.timestamp().saturating_add(1)));
        }
        let options = options.build();
        self.docker
            .clone()
            .with_timeout(LIFECYCLE_TIMEOUT)
            .logs(id, Some(options))
            .map(|item| {
                let output = item.map_err(classify)?;
                let stream = match &output {
                    bollard::container::LogOutput::StdErr { .. } => "stderr",
                    _ => "stdout",
                };
                let line = output.to_string();
                let line = line.strip_suffix('\n').unwrap_or(&line);
                let line = line.strip_suffix('\r').unwrap_or(line);
                let (at, text) = match line.split_once(' ') {
                    Some((stamp, rest)) => match DateTime::parse_from_rfc3339(stamp) {
                        Ok(t) => (Some(t.with_timezone(&Utc)), rest.to_owned()),
                        Err(_) => (None, line.to_owned()),
                    },
                    None => match DateTime::parse_from_rfc3339(line) {
                        Ok(t) => (Some(t.with_timezone(&Utc)), String::new()),
                        Err(_) => (None, line.to_owned()),
                    },
                };
                Ok(LogEntry { stream, text, at })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_from_list_status() {
        assert_eq!(exit_code_from_status("Exited (3) 5 seconds ago"), Some(3));
        assert_eq!(
            exit_code_from_status("Exited (137) About a minute ago"),
            Some(137)
        );
        assert_eq!(exit_code_from_status("Up 3 seconds"), None);
    }

    #[test]
    fn docker_zero_time_is_none() {
        assert_eq!(docker_time(Some("0001-01-01T00:00:00Z")), None);
        assert!(docker_time(Some("2026-11-28T10:00:00.123456789Z")).is_some());
    }
}
