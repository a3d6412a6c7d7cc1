//! The engine's own list of its containers, every one of them (Berth's and everyone else's), as the inventory
//! records it: name, image, command, state and status text, health, exit code, ports, labels.

use super::{DockerError, Engine, timed_for};
use bollard::models::{
    ContainerState, ContainerSummary, ContainerSummaryHealthStatusEnum, HealthStatusEnum,
};
use bollard::query_parameters::ListContainersOptionsBuilder;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// How often one container's list entry is read again while it disagrees with the container's own state, and
/// the pause between reads.
const LIST_SETTLE_TRIES: u32 = 10;
const LIST_SETTLE_PAUSE: Duration = Duration::from_millis(20);

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
    c.status = match word.as_str() {
        "running" => match &c.health {
            Some(h) if h == "starting" => "Up (health: starting)".to_owned(),
            Some(h) => format!("Up ({h})"),
            None => "Up".to_owned(),
        },
        "exited" => format!("Exited ({code})"),
        "restarting" => format!("Restarting ({code})"),
        "paused" => "Up (Paused)".to_owned(),
        "created" => "Created".to_owned(),
        "dead" => "Dead".to_owned(),
        "removing" => "Removal In Progress".to_owned(),
        other => other.to_owned(),
    };
    c.state = word;
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

    /// One container as the list shows it; `None` when it no longer exists.
    pub async fn listed_container(
        &self,
        docker_id: &str,
    ) -> Result<Option<ListedContainer>, DockerError> {
        let mut filters: HashMap<&str, Vec<String>> = HashMap::new();
        filters.insert("id", vec![docker_id.to_owned()]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        // The engine updates its list a moment after it reports a start or an exit: when the list and the
        // container itself (inspect) disagree, read the list again a few times, then take the inspected state.
        let mut tries = 0;
        loop {
            let list = super::timed(self.docker.list_containers(Some(options.clone()))).await?;
            // The id filter matches prefixes: keep the exact one.
            let Some(mut c) = list
                .into_iter()
                .map(listed)
                .find(|c| c.docker_id == docker_id)
            else {
                return Ok(None);
            };
            let state = match super::timed(self.docker.inspect_container(docker_id, None)).await {
                Ok(inspected) => inspected.state,
                Err(DockerError::NotFound(_)) => return Ok(None),
                // The list's view is still worth recording; the next event or resync corrects it.
                Err(_) => None,
            };
            let Some(state) = state else {
                return Ok(Some(c));
            };
            let agrees = state.status.is_none_or(|st| st.to_string() == c.state);
            tries += 1;
            if agrees || tries >= LIST_SETTLE_TRIES {
                settle(&mut c, &state);
                return Ok(Some(c));
            }
            tokio::time::sleep(LIST_SETTLE_PAUSE).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerStateStatusEnum, Health};

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
        }
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
