//! The engine's own list of its containers, every one of them (Berth's and everyone else's), as the inventory
//! records it: name, image, command, state and status text, health, exit code, ports, labels.

use super::{DockerError, Engine, timed_for};
use bollard::models::{
    ContainerInspectResponse, ContainerState, ContainerStateStatusEnum, ContainerSummary,
    ContainerSummaryHealthStatusEnum, HealthStatusEnum, PortSummary,
};
use bollard::query_parameters::ListContainersOptionsBuilder;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

/// Listing every container of a big host may take a while.
const LIST_TIMEOUT: Duration = Duration::from_secs(60);

/// One published (or exposed) port of a container.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PublishedPort {
    pub private_port: u16,
    pub public_port: Option<u16>,
    pub ip: Option<String>,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
}

/// What the engine's container list says about one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedContainer {
    pub docker_id: String,
    /// Without the leading `/`.
    pub name: String,
    /// The image as written when the container was created.
    pub image: String,
    pub image_id: String,
    pub command: String,
    /// Docker's state word: created, running, paused, restarting, removing, exited, dead.
    pub state: String,
    /// Docker's text, e.g. `Up 3 minutes (healthy)`.
    pub status: String,
    /// healthy, unhealthy or starting; `None` without a health check.
    pub health: Option<String>,
    pub exit_code: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub ports: Vec<PublishedPort>,
    pub labels: BTreeMap<String, String>,
    /// Read from an inspect, which says when the container last started (`started_at`, `None` when it never
    /// did); a listing does not say.
    pub inspected: bool,
    pub started_at: Option<DateTime<Utc>>,
}

/// Health from the summary's `Health` (API 1.52+) or, on older engines, from the status text.
pub(super) fn health_of(c: &ContainerSummary, status: &str) -> Option<String> {
    let from_field = c
        .health
        .as_ref()
        .and_then(|h| h.status)
        .and_then(|s| match s {
            ContainerSummaryHealthStatusEnum::HEALTHY => Some("healthy"),
            ContainerSummaryHealthStatusEnum::UNHEALTHY => Some("unhealthy"),
            ContainerSummaryHealthStatusEnum::STARTING => Some("starting"),
            _ => None,
        });
    from_field
        .or_else(|| {
            if status.contains("(healthy)") {
                Some("healthy")
            } else if status.contains("(unhealthy)") {
                Some("unhealthy")
            } else if status.contains("(health: starting)") {
                Some("starting")
            } else {
                None
            }
        })
        .map(str::to_owned)
}

/// Docker's status text without its time phrase, which only ages: `Up 3 minutes (healthy)` → `Up (healthy)`,
/// `Exited (3) 5 seconds ago` → `Exited (3)`. The inventory puts the running time back when it is read.
pub fn timeless_status(status: &str) -> String {
    let status = status.trim();
    if let Some(rest) = status.strip_prefix("Up ") {
        let suffix: Vec<&str> = rest
            .split(" (")
            .skip(1)
            .map(|s| s.trim_end_matches(')'))
            .collect();
        let mut out = String::from("Up");
        for s in suffix {
            out.push_str(&format!(" ({s})"));
        }
        return out;
    }
    if let Some(head) = status.strip_suffix(" ago") {
        // `Exited (3) 5 seconds ago`: keep up to the closing parenthesis.
        if let Some(end) = head.rfind(')') {
            return head[..=end].to_owned();
        }
        return head
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
    }
    status.to_owned()
}

/// `Exited (3) 5 seconds ago` → 3.
fn exit_code(status: &str) -> Option<i64> {
    let rest = status.strip_prefix("Exited (")?;
    rest.split_once(')')?.0.parse().ok()
}

fn listed(c: ContainerSummary) -> ListedContainer {
    let status = c.status.clone().unwrap_or_default();
    let health = health_of(&c, &status);
    let mut ports: Vec<PublishedPort> = c
        .ports
        .unwrap_or_default()
        .into_iter()
        .map(|p| PublishedPort {
            private_port: p.private_port,
            public_port: p.public_port,
            ip: p.ip.filter(|ip| !ip.is_empty()),
            protocol: p
                .typ
                .map(|t| t.to_string())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "tcp".into()),
        })
        .collect();
    // The engine lists a port once per address family; keep one entry per (port, public port, protocol).
    ports.sort_by(|a, b| {
        (a.private_port, a.public_port, &a.protocol, &a.ip).cmp(&(
            b.private_port,
            b.public_port,
            &b.protocol,
            &b.ip,
        ))
    });
    ports.dedup_by(|a, b| {
        a.private_port == b.private_port
            && a.public_port == b.public_port
            && a.protocol == b.protocol
    });
    ListedContainer {
        docker_id: c.id.unwrap_or_default(),
        name: c
            .names
            .unwrap_or_default()
            .into_iter()
            .next()
            .map(|n| n.trim_start_matches('/').to_owned())
            .unwrap_or_default(),
        image: c.image.unwrap_or_default(),
        image_id: c.image_id.unwrap_or_default(),
        command: c.command.unwrap_or_default(),
        state: c
            .state
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".into()),
        exit_code: exit_code(&status),
        status: timeless_status(&status),
        health,
        created_at: c
            .created
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .unwrap_or_default(),
        ports,
        labels: c.labels.unwrap_or_default().into_iter().collect(),
        inspected: false,
        started_at: None,
    }
}

/// Brings `c` (from the list) in line with the container's own state from an inspect. The engine updates the
/// list's view a moment after it reports an exit or a start, so a list read right after a `die` event can still
/// say running; the inspect reads the container itself.
fn settle(c: &mut ListedContainer, s: &ContainerState) {
    let Some(word) = s.status.map(|st| st.to_string()).filter(|w| !w.is_empty()) else {
        return;
    };
    if word == c.state {
        return;
    }
    let code = s.exit_code.unwrap_or(0);
    let health = s
        .health
        .as_ref()
        .and_then(|h| h.status)
        .filter(|h| !matches!(h, HealthStatusEnum::EMPTY | HealthStatusEnum::NONE))
        .map(|h| h.to_string());
    c.health = if word == "running" { health } else { None };
    c.exit_code = matches!(word.as_str(), "exited" | "dead" | "restarting").then_some(code);
    c.status = status_words(&word, code, c.health.as_deref());
    c.state = word;
}

/// The list's status text (as [`timeless_status`] leaves it) for a state word, its exit code and its health.
pub fn status_words(state: &str, exit_code: i64, health: Option<&str>) -> String {
    match state {
        "running" => match health {
            Some("starting") => "Up (health: starting)".to_owned(),
            Some(h) => format!("Up ({h})"),
            None => "Up".to_owned(),
        },
        "exited" => format!("Exited ({exit_code})"),
        "restarting" => format!("Restarting ({exit_code})"),
        "paused" => "Up (Paused)".to_owned(),
        "created" => "Created".to_owned(),
        "dead" => "Dead".to_owned(),
        "removing" => "Removal In Progress".to_owned(),
        other => other.to_owned(),
    }
}

impl super::EngineEvent {
    /// The exit code a container's `die` event carries; `None` for any other event. The inventory shows the exit
    /// at once from it: an inspect right after `die` waits until the engine has cleaned up after the container
    /// (30–50 ms on an idle engine without networking, longer with it). Only `die`: after `start` the inspect
    /// answers in a few milliseconds and brings what the event cannot say (the ports bound at start, the start
    /// time, health), so a running container is never shown without them.
    pub fn died_with(&self) -> Option<i64> {
        (self.kind == "container" && self.action == "die").then(|| {
            self.attributes
                .get("exitCode")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0)
        })
    }
}

impl Engine {
    /// Every container of the engine, running or not.
    pub async fn list_every_container(&self) -> Result<Vec<ListedContainer>, DockerError> {
        let options = ListContainersOptionsBuilder::new().all(true).build();
        let list = timed_for(
            LIST_TIMEOUT,
            self.docker
                .clone()
                .with_timeout(LIST_TIMEOUT)
                .list_containers(Some(options)),
        )
        .await?;
        Ok(list.into_iter().map(listed).collect())
    }

    /// One container as the list would show it, read from the container itself (one inspect); `None` when it
    /// no longer exists. The engine updates its list a moment after it reports a start or an exit, so a list
    /// read right after the event can still show the old state; the inspect never lags.
    pub async fn listed_container(
        &self,
        docker_id: &str,
    ) -> Result<Option<ListedContainer>, DockerError> {
        match super::timed(self.docker.inspect_container(docker_id, None)).await {
            Ok(inspected) => Ok(Some(from_inspect(inspected))),
            Err(DockerError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The list's `Command`: the path, then each argument, quoted with `'…'` when it holds a space (the engine's
/// own rule).
fn list_command(path: &str, args: &[String]) -> String {
    let mut out = path.to_owned();
    for arg in args {
        out.push(' ');
        if arg.contains(' ') {
            out.push('\'');
            out.push_str(arg);
            out.push('\'');
        } else {
            out.push_str(arg);
        }
    }
    out
}

/// The list entry the engine would give for an inspected container: the same words for state and status (as
/// [`timeless_status`] leaves them), health, exit code, ports (one per binding, unbound exposed ports without a
/// public port) and labels, so that an event's re-read and the next re-list agree.
fn from_inspect(i: ContainerInspectResponse) -> ListedContainer {
    let config = i.config.unwrap_or_default();
    let mut ports: Vec<PortSummary> = Vec::new();
    for (key, bindings) in i.network_settings.and_then(|n| n.ports).unwrap_or_default() {
        let (port, protocol) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let Ok(private_port) = port.parse::<u16>() else {
            continue;
        };
        let typ = protocol.parse().ok();
        let bindings = bindings.unwrap_or_default();
        if bindings.is_empty() {
            ports.push(PortSummary {
                private_port,
                typ,
                ..Default::default()
            });
        }
        for b in bindings {
            ports.push(PortSummary {
                private_port,
                public_port: b.host_port.and_then(|p| p.parse().ok()),
                ip: b.host_ip,
                typ,
            });
        }
    }
    let created = i
        .created
        .as_deref()
        .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
        .map(|c| c.timestamp());
    let summary = ContainerSummary {
        id: i.id,
        names: i.name.map(|n| vec![n]),
        image: config.image,
        image_id: i.image,
        command: Some(list_command(
            i.path.as_deref().unwrap_or_default(),
            &i.args.unwrap_or_default(),
        )),
        created,
        ports: Some(ports),
        labels: config.labels,
        ..Default::default()
    };
    let mut c = listed(summary);
    // An empty state word makes `settle` write the state from the inspect whatever it is.
    c.state = String::new();
    c.inspected = true;
    if let Some(state) = &i.state {
        settle(&mut c, state);
        if state.status != Some(ContainerStateStatusEnum::CREATED) {
            c.started_at = super::containers::docker_time(state.started_at.as_deref());
        }
    }
    if c.state.is_empty() {
        c.state = "unknown".into();
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::Health;

    fn running() -> ListedContainer {
        ListedContainer {
            docker_id: "abc".into(),
            name: "web".into(),
            image: "busybox".into(),
            image_id: "sha256:1".into(),
            command: "sleep 1".into(),
            state: "running".into(),
            status: "Up".into(),
            health: Some("healthy".into()),
            exit_code: None,
            created_at: DateTime::default(),
            ports: Vec::new(),
            labels: BTreeMap::new(),
            inspected: false,
            started_at: None,
        }
    }

    #[test]
    fn a_die_event_says_its_exit_code() {
        let event = |action: &str, attributes: &[(&str, &str)]| super::super::EngineEvent {
            kind: "container".into(),
            action: action.into(),
            id: "abc".into(),
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            time_nanos: 1_700_000_000_123_456_789,
        };
        let died = event("die", &[("exitCode", "137"), ("name", "web")]);
        assert_eq!(died.died_with(), Some(137));
        assert_eq!(event("die", &[]).died_with(), Some(0));
        assert_eq!(status_words("exited", 137, None), "Exited (137)");
        assert_eq!(
            status_words("running", 0, Some("starting")),
            "Up (health: starting)"
        );
        for other in [
            "start",
            "kill",
            "stop",
            "create",
            "rename",
            "health_status: healthy",
        ] {
            assert_eq!(event(other, &[]).died_with(), None, "{other}");
        }
        let mut image = event("die", &[]);
        image.kind = "image".into();
        assert_eq!(image.died_with(), None);
    }

    #[test]
    fn the_inspected_state_wins_over_a_stale_list() {
        let mut c = running();
        settle(
            &mut c,
            &ContainerState {
                status: Some(ContainerStateStatusEnum::EXITED),
                exit_code: Some(137),
                ..Default::default()
            },
        );
        assert_eq!(
            (
                c.state.as_str(),
                c.status.as_str(),
                c.exit_code,
                c.health.clone()
            ),
            ("exited", "Exited (137)", Some(137), None)
        );
        let mut back = c.clone();
        settle(
            &mut back,
            &ContainerState {
                status: Some(ContainerStateStatusEnum::RUNNING),
                exit_code: Some(0),
                health: Some(Health {
                    status: Some(HealthStatusEnum::STARTING),
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        assert_eq!(
            (back.state.as_str(), back.status.as_str(), back.exit_code),
            ("running", "Up (health: starting)", None)
        );
        // The same state: the list's richer text stays.
        let mut same = running();
        settle(
            &mut same,
            &ContainerState {
                status: Some(ContainerStateStatusEnum::RUNNING),
                ..Default::default()
            },
        );
        assert_eq!(same, running());
    }

    /// The same container as the engine's list and its inspect show it (abridged from Docker 26 answers).
    #[test]
    fn an_inspect_reads_like_the_list() {
        let list: ContainerSummary = serde_json::from_value(serde_json::json!({
            "Id": "4ed15e70293d", "Names": ["/web-1"], "Image": "busybox:1.36",
            "ImageID": "sha256:aa", "Command": "sh -c 'sleep 1000'", "Created": 1764770000,
            "State": "running", "Status": "Up 3 minutes (healthy)",
            "Ports": [
                {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                {"PrivatePort": 53, "Type": "udp"}
            ],
            "Labels": {"com.docker.compose.project": "shop"}
        }))
        .unwrap();
        let inspect: ContainerInspectResponse = serde_json::from_value(serde_json::json!({
            "Id": "4ed15e70293d", "Name": "/web-1", "Image": "sha256:aa",
            "Created": "2025-12-03T13:53:20.123456789Z", "Path": "sh", "Args": ["-c", "sleep 1000"],
            "State": {"Status": "running", "Running": true, "ExitCode": 0,
                      "StartedAt": "2025-12-03T13:53:21.5Z",
                      "Health": {"Status": "healthy", "FailingStreak": 0, "Log": []}},
            "Config": {"Image": "busybox:1.36", "Labels": {"com.docker.compose.project": "shop"}},
            "NetworkSettings": {"Ports": {
                "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
                "53/udp": null
            }}
        }))
        .unwrap();
        // What only an inspect says: when it started.
        let started = DateTime::parse_from_rfc3339("2025-12-03T13:53:21.5Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            from_inspect(inspect),
            ListedContainer {
                inspected: true,
                started_at: Some(started),
                ..listed(list)
            }
        );

        let list: ContainerSummary = serde_json::from_value(serde_json::json!({
            "Id": "18342bcd2f5e", "Names": ["/job"], "Image": "busybox", "ImageID": "sha256:bb",
            "Command": "false", "Created": 1764770000, "State": "exited",
            "Status": "Exited (137) 2 seconds ago", "Ports": [], "Labels": {}
        }))
        .unwrap();
        let inspect: ContainerInspectResponse = serde_json::from_value(serde_json::json!({
            "Id": "18342bcd2f5e", "Name": "/job", "Image": "sha256:bb",
            "Created": "2025-12-03T13:53:20Z", "Path": "false", "Args": [],
            "State": {"Status": "exited", "Running": false, "ExitCode": 137,
                      "StartedAt": "0001-01-01T00:00:00Z"},
            "Config": {"Image": "busybox", "Labels": {}}, "NetworkSettings": {"Ports": {}}
        }))
        .unwrap();
        // Never started (the engine's zero time): no start time, and none to look up either.
        assert_eq!(
            from_inspect(inspect),
            ListedContainer {
                inspected: true,
                ..listed(list)
            }
        );
    }

    #[test]
    fn health_from_the_status_text_of_older_engines() {
        let c = ContainerSummary::default();
        assert_eq!(
            health_of(&c, "Up 3 minutes (healthy)").as_deref(),
            Some("healthy")
        );
        assert_eq!(
            health_of(&c, "Up 1 second (health: starting)").as_deref(),
            Some("starting")
        );
        assert_eq!(
            health_of(&c, "Up 2 hours (unhealthy)").as_deref(),
            Some("unhealthy")
        );
        assert_eq!(health_of(&c, "Up 2 hours"), None);
        assert_eq!(exit_code("Exited (137) 2 seconds ago"), Some(137));
    }

    #[test]
    fn status_text_loses_its_time_phrase() {
        assert_eq!(timeless_status("Up 3 minutes (healthy)"), "Up (healthy)");
        assert_eq!(timeless_status("Up About an hour (Paused)"), "Up (Paused)");
        assert_eq!(timeless_status("Up 2 seconds"), "Up");
        assert_eq!(timeless_status("Exited (3) 5 seconds ago"), "Exited (3)");
        assert_eq!(
            timeless_status("Restarting (1) Less than a second ago"),
            "Restarting (1)"
        );
        assert_eq!(timeless_status("Created"), "Created");
        assert_eq!(
            timeless_status("Removal In Progress"),
            "Removal In Progress"
        );
    }
}
