//! What an observed change means for alerts, as pure functions (table-tested): an inventory change, a host's
//! status or a registry refresh becomes findings — a condition that now holds for a subject (open) or no longer
//! holds (clear). Which rules they reach, and whether anything is sent, is the service's business.

use crate::service::inventory::DockerContainer;
use berth_shared::{AlertCondition, HostStatus};
use serde::{Deserialize, Serialize};

/// What an alert is about: a key (one open alert per rule and key) and the names and ids a person and a receiver
/// need.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    /// Berth's definition, for its replicas.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The fleet inventory's id of the Docker container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<(String, String)>,
}

impl Subject {
    /// Short words for a person: `web-1 on h2`, `host h2`, `registry hub`.
    pub fn describe(&self) -> String {
        if self.docker_name.is_none()
            && let Some(c) = &self.container_name
        {
            return format!("container {c}");
        }
        if let Some(name) = &self.docker_name {
            match &self.host_name {
                Some(h) => format!("{name} on {h}"),
                None => name.clone(),
            }
        } else if let Some(r) = &self.registry_name {
            format!("registry {r}")
        } else if let Some(h) = &self.host_name {
            format!("host {h}")
        } else {
            self.key.clone()
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    Open {
        condition: AlertCondition,
        subject: Box<Subject>,
        message: String,
    },
    Clear {
        condition: AlertCondition,
        subject_key: String,
        message: String,
    },
    /// A container started (again): counted for restart-loop rules.
    Started { subject: Box<Subject> },
    /// A host's load in its last two readings, in tenths of a percent of its CPUs or memory: a threshold rule
    /// opens when both readings reach its threshold (`low`) and resolves when neither does (`high`).
    Load {
        condition: AlertCondition,
        subject: Box<Subject>,
        low: u32,
        high: u32,
        /// The newer reading.
        now: u32,
        /// What the percentage is of, for people: `its 4 CPUs`, `its 7.7 GiB of memory`.
        of_what: String,
    },
}

/// Tenths of a percent, for comparisons without floats (negative and non-finite readings count as 0).
pub fn tenths(percent: f64) -> u32 {
    if percent.is_finite() && percent > 0.0 {
        (percent * 10.0).round().min(f64::from(u32::MAX)) as u32
    } else {
        0
    }
}

/// `92.5%` from tenths.
pub fn percent_text(tenths: u32) -> String {
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// A host's load (`condition` is HOST_CPU_HIGH or HOST_MEMORY_HIGH) from its previous and newest readings in
/// percent of the host.
pub fn on_load(
    host_id: &str,
    host_name: &str,
    condition: AlertCondition,
    previous: f64,
    now: f64,
    of_what: String,
) -> Finding {
    let (a, b) = (tenths(previous), tenths(now));
    Finding::Load {
        condition,
        subject: Box::new(Subject {
            key: format!("host:{host_id}"),
            host_id: Some(host_id.to_owned()),
            host_name: Some(host_name.to_owned()),
            ..Subject::default()
        }),
        low: a.min(b),
        high: a.max(b),
        now: b,
        of_what,
    }
}

/// Whether a threshold rule (`threshold` in percent) opens on a load finding, and if so its message.
pub fn load_opens(threshold: i32, low: u32, now: u32, what: &str, of_what: &str) -> Option<String> {
    let limit = u32::try_from(threshold).ok()?.saturating_mul(10);
    (low >= limit).then(|| {
        format!(
            "containers on {what} use {} of {of_what}, over the {threshold}% threshold in two readings in a row",
            percent_text(now)
        )
    })
}

/// Whether an open threshold alert resolves on a load finding: neither reading reached the threshold.
pub fn load_clears(threshold: Option<i32>, high: u32) -> bool {
    threshold
        .and_then(|t| u32::try_from(t).ok())
        .is_none_or(|t| high < t.saturating_mul(10))
}

/// Recent starts per subject key (at most 100 each, none older than a day), for restart-loop rules.
#[derive(Clone, Debug, Default)]
pub struct StartLog {
    starts: std::collections::HashMap<
        String,
        std::collections::VecDeque<chrono::DateTime<chrono::Utc>>,
    >,
    recorded: usize,
}

/// One subject's recent starts, oldest first.
#[derive(Clone, Debug, Default)]
pub struct Starts(Vec<chrono::DateTime<chrono::Utc>>);

impl Starts {
    pub fn count_since(&self, since: chrono::DateTime<chrono::Utc>) -> usize {
        self.0.iter().filter(|t| **t >= since).count()
    }

    pub fn last(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.0.last().copied()
    }
}

impl StartLog {
    const KEEP: usize = 100;

    pub fn record(&mut self, key: &str, at: chrono::DateTime<chrono::Utc>) {
        let day_ago = at - chrono::Duration::days(1);
        let q = self.starts.entry(key.to_owned()).or_default();
        q.push_back(at);
        while q.len() > Self::KEEP || q.front().is_some_and(|t| *t < day_ago) {
            q.pop_front();
        }
        self.recorded += 1;
        if self.recorded.is_multiple_of(1000) {
            self.starts
                .retain(|_, q| q.back().is_some_and(|t| *t >= day_ago));
        }
    }

    pub fn clone_of(&self, key: &str) -> Starts {
        Starts(
            self.starts
                .get(key)
                .map(|q| q.iter().copied().collect())
                .unwrap_or_default(),
        )
    }
}

/// The key of a Docker container's alerts: a replica of Berth's by its instance (a replacement container keeps
/// the alert), any other container by its inventory id.
pub fn container_key(c: &DockerContainer) -> String {
    match &c.instance_id {
        Some(i) => format!("instance:{i}"),
        None => format!("container:{}", c.id),
    }
}

pub fn container_subject(c: &DockerContainer) -> Subject {
    Subject {
        key: container_key(c),
        host_id: Some(c.host_id.clone()),
        host_name: Some(c.host_name.clone()),
        container_id: c.container_id.clone(),
        container_name: None,
        instance_id: c.instance_id.clone(),
        inventory_id: Some(c.id.clone()),
        docker_id: Some(c.docker_id.clone()),
        docker_name: Some(c.name.clone()),
        image: Some(c.image.clone()),
        exit_code: c.exit_code,
        registry_id: None,
        registry_name: None,
        labels: c.labels.clone(),
    }
}

const RUNNING_STATES: [&str; 3] = ["running", "restarting", "paused"];

/// An inventory change (a container added, changed or removed on a host).
pub fn on_container(
    before: Option<&DockerContainer>,
    after: Option<&DockerContainer>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(a) = after else {
        if let Some(b) = before {
            let key = container_key(b);
            let message = format!("{} was removed", container_subject(b).describe());
            for condition in [
                AlertCondition::ContainerExited,
                AlertCondition::ContainerUnhealthy,
                AlertCondition::ContainerOom,
            ] {
                out.push(Finding::Clear {
                    condition,
                    subject_key: key.clone(),
                    message: message.clone(),
                });
            }
        }
        return out;
    };
    if !a.current {
        // The host stopped answering: what the row says is old news (HOST_DOWN covers it).
        return out;
    }
    let subject = container_subject(a);
    let was_running = before.is_some_and(|b| RUNNING_STATES.contains(&b.state.as_str()));
    let stopped = a.state == "exited" || a.state == "dead";
    if stopped && was_running && a.exit_code.is_some_and(|c| c != 0) {
        let code = a.exit_code.unwrap_or_default();
        out.push(Finding::Open {
            condition: AlertCondition::ContainerExited,
            message: format!(
                "{} exited with code {code}{}",
                subject.describe(),
                exit_meaning(code)
            ),
            subject: Box::new(subject.clone()),
        });
    } else if a.state == "running" {
        if before.is_some_and(|b| b.state != "running") {
            out.push(Finding::Started {
                subject: Box::new(subject.clone()),
            });
        }
        for condition in [
            AlertCondition::ContainerExited,
            AlertCondition::ContainerOom,
        ] {
            out.push(Finding::Clear {
                condition,
                subject_key: subject.key.clone(),
                message: format!("{} is running again", subject.describe()),
            });
        }
    }
    let unhealthy = a.state == "running" && a.health.as_deref() == Some("unhealthy");
    let was_unhealthy = before.is_some_and(|b| b.health.as_deref() == Some("unhealthy"));
    if unhealthy && !was_unhealthy {
        out.push(Finding::Open {
            condition: AlertCondition::ContainerUnhealthy,
            message: format!("{} fails its health check", subject.describe()),
            subject: Box::new(subject.clone()),
        });
    } else if !unhealthy {
        let why = if a.state == "running" {
            "passes its health check again"
        } else {
            "is no longer running"
        };
        out.push(Finding::Clear {
            condition: AlertCondition::ContainerUnhealthy,
            subject_key: subject.key.clone(),
            message: format!("{} {why}", subject.describe()),
        });
    }
    out
}

/// No host could take replicas of a definition (the reconciler tries again after a back-off).
pub fn on_unplaceable(container_id: &str, name: &str, reason: &str) -> Finding {
    Finding::Open {
        condition: AlertCondition::Unplaceable,
        message: format!("no host can take replicas of {name}: {reason}"),
        subject: Box::new(definition_subject(container_id, name)),
    }
}

/// Replicas of a definition were placed: whatever kept them off every host is over.
pub fn on_placed(container_id: &str, name: &str) -> Finding {
    Finding::Clear {
        condition: AlertCondition::Unplaceable,
        subject_key: definition_subject(container_id, name).key,
        message: format!("replicas of {name} are placed again"),
    }
}

/// Whether a definition's replicas run the registry's current image of its tag: an update available opens,
/// none (redeployed, or the tag moved back) clears.
pub fn on_update(
    container_id: &str,
    name: &str,
    image: &str,
    latest: Option<&str>,
    available: bool,
) -> Finding {
    let mut subject = definition_subject(container_id, name);
    subject.image = Some(image.to_owned());
    match latest.filter(|_| available) {
        Some(latest) => Finding::Open {
            condition: AlertCondition::UpdateAvailable,
            message: format!(
                "the registry has a newer {image} for {name} ({}); redeploy to run it",
                short_digest(latest)
            ),
            subject: Box::new(subject),
        },
        None => Finding::Clear {
            condition: AlertCondition::UpdateAvailable,
            subject_key: subject.key,
            message: format!("{name} runs the registry's current {image}"),
        },
    }
}

/// `sha256:0123456789ab` from a full digest.
fn short_digest(digest: &str) -> &str {
    digest.get(..19).unwrap_or(digest)
}

fn definition_subject(container_id: &str, name: &str) -> Subject {
    Subject {
        key: format!("definition:{container_id}"),
        container_id: Some(container_id.to_owned()),
        container_name: Some(name.to_owned()),
        ..Subject::default()
    }
}

/// The engine's `oom` event for a container (the kernel killed one of its processes for memory).
pub fn on_oom(c: &DockerContainer) -> Finding {
    let subject = container_subject(c);
    Finding::Open {
        condition: AlertCondition::ContainerOom,
        message: format!(
            "{} ran out of memory: the kernel killed a process in it (raise its memory limit or find the leak)",
            subject.describe()
        ),
        subject: Box::new(subject),
    }
}

/// What common exit codes mean.
fn exit_meaning(code: i64) -> &'static str {
    match code {
        137 => " (killed: SIGKILL, or out of memory)",
        139 => " (segmentation fault)",
        143 => " (terminated: SIGTERM)",
        126 => " (command not executable)",
        127 => " (command not found)",
        _ => "",
    }
}

/// A host's status change.
pub fn on_host(
    host_id: &str,
    host_name: &str,
    status: HostStatus,
    reason: Option<&str>,
) -> Vec<Finding> {
    let subject = Subject {
        key: format!("host:{host_id}"),
        host_id: Some(host_id.to_owned()),
        host_name: Some(host_name.to_owned()),
        ..Subject::default()
    };
    match status {
        HostStatus::NonResponsive => vec![Finding::Open {
            condition: AlertCondition::HostDown,
            message: match reason {
                Some(r) if !r.is_empty() => format!("host {host_name} does not answer: {r}"),
                _ => format!("host {host_name} does not answer"),
            },
            subject: Box::new(subject),
        }],
        HostStatus::Up => vec![Finding::Clear {
            condition: AlertCondition::HostDown,
            subject_key: subject.key,
            message: format!("host {host_name} answers again"),
        }],
        HostStatus::Maintenance | HostStatus::Down => vec![Finding::Clear {
            condition: AlertCondition::HostDown,
            subject_key: subject.key,
            message: format!(
                "host {host_name} is {}",
                if status == HostStatus::Maintenance {
                    "in maintenance"
                } else {
                    "no longer monitored (Docker support off)"
                }
            ),
        }],
        HostStatus::Installing | HostStatus::Unknown => Vec::new(),
    }
}

/// A registry refresh that ended, failed or not.
pub fn on_registry(
    registry_id: &str,
    name: &str,
    failed: bool,
    message: Option<&str>,
) -> Vec<Finding> {
    let subject = Subject {
        key: format!("registry:{registry_id}"),
        registry_id: Some(registry_id.to_owned()),
        registry_name: Some(name.to_owned()),
        ..Subject::default()
    };
    if failed {
        vec![Finding::Open {
            condition: AlertCondition::RegistryFailed,
            message: match message {
                Some(m) if !m.is_empty() => format!("refreshing registry {name} failed: {m}"),
                _ => format!("refreshing registry {name} failed"),
            },
            subject: Box::new(subject),
        }]
    } else {
        vec![Finding::Clear {
            condition: AlertCondition::RegistryFailed,
            subject_key: subject.key,
            message: format!("registry {name} refreshed"),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn row(state: &str, exit: Option<i64>, health: Option<&str>) -> DockerContainer {
        DockerContainer {
            id: "h2:abc".into(),
            host_id: "h2".into(),
            host_name: "edge-2".into(),
            docker_id: "abc".into(),
            name: "web-1".into(),
            image: "nginx".into(),
            image_id: String::new(),
            command: String::new(),
            state: state.into(),
            status: String::new(),
            health: health.map(str::to_owned),
            exit_code: exit,
            created_at: Utc::now(),
            started_at: None,
            ports: Vec::new(),
            labels: vec![("app".into(), "web".into())],
            compose_project: None,
            compose_service: None,
            container_id: None,
            instance_id: None,
            search: String::new(),
            current: true,
            last_seen_at: Utc::now(),
        }
    }

    fn opened(f: &[Finding]) -> Vec<(AlertCondition, String)> {
        f.iter()
            .filter_map(|f| match f {
                Finding::Open {
                    condition, message, ..
                } => Some((*condition, message.clone())),
                Finding::Clear { .. } | Finding::Started { .. } | Finding::Load { .. } => None,
            })
            .collect()
    }

    fn cleared(f: &[Finding]) -> Vec<AlertCondition> {
        f.iter()
            .filter_map(|f| match f {
                Finding::Clear { condition, .. } => Some(*condition),
                Finding::Open { .. } | Finding::Started { .. } | Finding::Load { .. } => None,
            })
            .collect()
    }

    #[test]
    fn container_changes() {
        use AlertCondition::*;
        let running = row("running", None, None);
        let killed = row("exited", Some(137), None);
        let clean = row("exited", Some(0), None);
        let sick = row("running", None, Some("unhealthy"));
        // (before, after, opened, cleared)
        type Case<'a> = (
            Option<&'a DockerContainer>,
            Option<&'a DockerContainer>,
            Vec<AlertCondition>,
            Vec<AlertCondition>,
        );
        let cases: Vec<Case> = vec![
            (
                Some(&running),
                Some(&killed),
                vec![ContainerExited],
                vec![ContainerUnhealthy],
            ),
            (
                Some(&running),
                Some(&clean),
                vec![],
                vec![ContainerUnhealthy],
            ),
            // Found exited at a listing: nothing happened while Berth watched.
            (None, Some(&killed), vec![], vec![ContainerUnhealthy]),
            (
                Some(&killed),
                Some(&running),
                vec![],
                vec![ContainerExited, ContainerOom, ContainerUnhealthy],
            ),
            (
                Some(&running),
                Some(&sick),
                vec![ContainerUnhealthy],
                vec![ContainerExited, ContainerOom],
            ),
            // Still unhealthy: opened once already.
            (
                Some(&sick),
                Some(&sick),
                vec![],
                vec![ContainerExited, ContainerOom],
            ),
            (
                Some(&sick),
                Some(&running),
                vec![],
                vec![ContainerExited, ContainerOom, ContainerUnhealthy],
            ),
            (
                Some(&killed),
                None,
                vec![],
                vec![ContainerExited, ContainerUnhealthy, ContainerOom],
            ),
        ];
        for (n, (before, after, open, clear)) in cases.into_iter().enumerate() {
            let f = on_container(before, after);
            let got: Vec<AlertCondition> = opened(&f).into_iter().map(|(c, _)| c).collect();
            assert_eq!(got, open, "case {n}: opened");
            assert_eq!(cleared(&f), clear, "case {n}: cleared");
        }
        let f = on_container(Some(&running), Some(&killed));
        assert_eq!(
            opened(&f)[0].1,
            "web-1 on edge-2 exited with code 137 (killed: SIGKILL, or out of memory)"
        );
        match on_oom(&killed) {
            Finding::Open {
                condition,
                message,
                subject,
            } => {
                assert_eq!(condition, ContainerOom);
                assert_eq!(subject.key, "container:h2:abc");
                assert!(
                    message.starts_with("web-1 on edge-2 ran out of memory"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        let mut stale = killed.clone();
        stale.current = false;
        assert!(
            on_container(Some(&running), Some(&stale)).is_empty(),
            "a lost host's rows raise nothing"
        );
    }

    #[test]
    fn starts_are_counted_in_their_window() {
        let t0 = Utc::now();
        let mut log = StartLog::default();
        for s in [0, 10, 20, 400] {
            log.record("k", t0 + chrono::Duration::seconds(s));
        }
        let starts = log.clone_of("k");
        assert_eq!(starts.count_since(t0 + chrono::Duration::seconds(100)), 1);
        assert_eq!(starts.count_since(t0), 4);
        assert_eq!(starts.last(), Some(t0 + chrono::Duration::seconds(400)));
        for s in 0..150 {
            log.record("k", t0 + chrono::Duration::seconds(500 + s));
        }
        assert_eq!(log.clone_of("k").count_since(t0), 100, "at most 100 kept");
        log.record("k", t0 + chrono::Duration::days(2));
        assert_eq!(
            log.clone_of("k").count_since(t0),
            1,
            "none older than a day"
        );
        assert_eq!(log.clone_of("other").last(), None);
        let exited = row("exited", Some(1), None);
        let running = row("running", None, None);
        let f = on_container(Some(&exited), Some(&running));
        assert!(
            f.iter().any(|f| matches!(f, Finding::Started { .. })),
            "{f:?}"
        );
        let f = on_container(Some(&running), Some(&running));
        assert!(
            !f.iter().any(|f| matches!(f, Finding::Started { .. })),
            "no start: {f:?}"
        );
    }

    #[test]
    fn replicas_are_keyed_by_instance() {
        let mut r = row("running", None, None);
        assert_eq!(container_key(&r), "container:h2:abc");
        r.instance_id = Some("i1".into());
        assert_eq!(container_key(&r), "instance:i1");
    }

    #[test]
    fn load_needs_two_readings_over_to_open_and_two_under_to_clear() {
        let f = on_load(
            "h2",
            "edge-2",
            AlertCondition::HostCpuHigh,
            40.0,
            95.25,
            "its 2 CPUs".into(),
        );
        let Finding::Load {
            low,
            high,
            now,
            subject,
            ..
        } = f
        else {
            panic!("not a load finding");
        };
        assert_eq!((low, high, now), (400, 953, 953));
        assert_eq!(subject.key, "host:h2");
        // One reading over: nothing opens, nothing clears.
        assert_eq!(load_opens(80, low, now, "host edge-2", "its 2 CPUs"), None);
        assert!(!load_clears(Some(80), high));
        // Both over.
        assert_eq!(
            load_opens(80, 800, 953, "host edge-2", "its 2 CPUs").as_deref(),
            Some(
                "containers on host edge-2 use 95.3% of its 2 CPUs, over the 80% threshold in two readings in a row"
            )
        );
        // Both under; a rule gone clears too.
        assert!(load_clears(Some(80), 799));
        assert!(load_clears(None, 1000));
        assert_eq!(tenths(f64::NAN), 0);
        assert_eq!(tenths(-3.0), 0);
    }

    #[test]
    fn updates_open_and_clear() {
        let open = on_update(
            "c1",
            "web",
            "reg:5000/web:1",
            Some("sha256:0123456789abcdef0123"),
            true,
        );
        let Finding::Open {
            condition,
            message,
            subject,
        } = open
        else {
            panic!("not an open finding");
        };
        assert_eq!(condition, AlertCondition::UpdateAvailable);
        assert_eq!(subject.key, "definition:c1");
        assert_eq!(subject.image.as_deref(), Some("reg:5000/web:1"));
        assert_eq!(
            message,
            "the registry has a newer reg:5000/web:1 for web (sha256:0123456789ab); redeploy to run it"
        );
        assert!(matches!(
            on_update("c1", "web", "reg:5000/web:1", Some("sha256:x"), false),
            Finding::Clear { .. }
        ));
        assert!(matches!(
            on_update("c1", "web", "reg:5000/web:1", None, true),
            Finding::Clear { .. }
        ));
    }

    #[test]
    fn unplaceable_replicas() {
        let f = on_unplaceable("c1", "web", "no host is UP");
        assert_eq!(
            opened(std::slice::from_ref(&f)),
            vec![(
                AlertCondition::Unplaceable,
                "no host can take replicas of web: no host is UP".into()
            )]
        );
        match (f, on_placed("c1", "web")) {
            (
                Finding::Open { subject, .. },
                Finding::Clear {
                    subject_key,
                    condition,
                    ..
                },
            ) => {
                assert_eq!(subject.key, subject_key);
                assert_eq!(subject.container_id.as_deref(), Some("c1"));
                assert_eq!(condition, AlertCondition::Unplaceable);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hosts_and_registries() {
        let f = on_host(
            "h1",
            "edge-1",
            HostStatus::NonResponsive,
            Some("connection refused"),
        );
        assert_eq!(
            opened(&f),
            vec![(
                AlertCondition::HostDown,
                "host edge-1 does not answer: connection refused".into()
            )]
        );
        for s in [HostStatus::Up, HostStatus::Maintenance, HostStatus::Down] {
            assert_eq!(
                cleared(&on_host("h1", "edge-1", s, None)),
                vec![AlertCondition::HostDown]
            );
        }
        assert!(on_host("h1", "edge-1", HostStatus::Unknown, None).is_empty());
        let f = on_registry("r1", "hub", true, Some("401"));
        assert_eq!(opened(&f)[0].1, "refreshing registry hub failed: 401");
        assert_eq!(
            cleared(&on_registry("r1", "hub", false, None)),
            vec![AlertCondition::RegistryFailed]
        );
    }
}
