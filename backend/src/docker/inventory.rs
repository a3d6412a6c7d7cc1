//! The engine's own list of its containers, every one of them (Berth's and everyone else's), as the inventory
//! records it: name, image, command, state and status text, health, exit code, ports, labels.

use super::{DockerError, Engine, timed_for};
use bollard::models::{ContainerSummary, ContainerSummaryHealthStatusEnum};
use bollard::query_parameters::ListContainersOptionsBuilder;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
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
        let list = super::timed(self.docker.list_containers(Some(options))).await?;
        // The id filter matches prefixes: keep the exact one.
        Ok(list
            .into_iter()
            .map(listed)
            .find(|c| c.docker_id == docker_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
