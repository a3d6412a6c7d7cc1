//! What the dialog holds: one signal per field, rows with their own signals and keys, filled from a stored
//! definition; the rows' own problems; and where a server error about a row lands.

use std::collections::{BTreeMap, HashSet};

use berth_shared::{PortSpec, UpdatePolicy, validate_env_name};
use leptos::prelude::*;

use super::checks::{FIELDS, memory_text, port_text};
use crate::api::{Container, RestartPolicy};
use crate::components::{
    args::join_args,
    container_health::{HEALTH_FIELDS, HealthValues},
    container_mounts::MountRow,
    format::sentence,
};

/// The row keys each index of the last submission's lists meant.
#[derive(Clone, Default)]
pub(super) struct Sent {
    pub(super) env: Vec<u64>,
    pub(super) ports: Vec<u64>,
    pub(super) mounts: Vec<u64>,
}

/// Where a server error lands: one of [`FIELDS`], or a row (`env:KEY`, `ports:KEY`, `mounts:KEY`) found by its
/// index in what was sent.
pub(super) fn error_slot(field: &str, sent: &Sent) -> Option<String> {
    if FIELDS.contains(&field) || HEALTH_FIELDS.contains(&field) {
        return Some(field.to_owned());
    }
    let mut parts = field.split('.');
    let list = parts.next()?;
    let index = parts.next().and_then(|i| i.parse::<usize>().ok())?;
    let keys = match list {
        "env" => &sent.env,
        "ports" => &sent.ports,
        "mounts" => &sent.mounts,
        _ => return None,
    };
    keys.get(index).map(|key| format!("{list}:{key}"))
}

/// One environment row.
#[derive(Clone, Copy)]
pub(super) struct EnvRow {
    pub(super) key: u64,
    pub(super) name: RwSignal<String>,
    pub(super) value: RwSignal<String>,
}

impl EnvRow {
    pub(super) fn blank(&self) -> bool {
        self.name.with(|n| n.trim().is_empty()) && self.value.with(String::is_empty)
    }
}

/// One port row.
#[derive(Clone, Copy)]
pub(super) struct PortRow {
    pub(super) key: u64,
    pub(super) text: RwSignal<String>,
}

/// Problems of the filled env rows, by row key: bad names and names given twice.
pub(super) fn env_problems(rows: &[EnvRow]) -> BTreeMap<u64, String> {
    let mut seen = HashSet::new();
    let mut problems = BTreeMap::new();
    for row in rows.iter().filter(|row| !row.blank()) {
        let name = row.name.with(|n| n.trim().to_owned());
        if let Err(error) = validate_env_name(&name) {
            problems.insert(row.key, sentence(&error.to_string()));
        } else if !seen.insert(name.clone()) {
            problems.insert(row.key, format!("{name} is given twice."));
        }
    }
    problems
}

/// Problems of the filled port rows, by row key: unparsable mappings and host ports mapped twice.
pub(super) fn port_problems(rows: &[PortRow]) -> BTreeMap<u64, String> {
    let mut seen = HashSet::new();
    let mut problems = BTreeMap::new();
    for row in rows {
        let text = row.text.get();
        if text.trim().is_empty() {
            continue;
        }
        match PortSpec::parse(&text) {
            Err(error) => {
                problems.insert(row.key, sentence(&error.to_string()));
            }
            Ok(spec) => {
                if let Some(port) = spec.host_port()
                    && !seen.insert((port, spec.protocol()))
                {
                    problems.insert(
                        row.key,
                        format!("Host port {port}/{} is mapped twice.", spec.protocol()),
                    );
                }
            }
        }
    }
    problems
}

/// The form's values, one signal per field; rows have their own signals.
#[derive(Clone, Copy)]
pub(super) struct Values {
    pub(super) name: RwSignal<String>,
    pub(super) image: RwSignal<String>,
    pub(super) command: RwSignal<String>,
    pub(super) entrypoint: RwSignal<String>,
    pub(super) cpus: RwSignal<String>,
    pub(super) memory: RwSignal<String>,
    pub(super) restart: RwSignal<RestartPolicy>,
    pub(super) updates: RwSignal<UpdatePolicy>,
    pub(super) window: RwSignal<String>,
    pub(super) host_id: RwSignal<String>,
    pub(super) replicas: RwSignal<String>,
    pub(super) env: RwSignal<Vec<EnvRow>>,
    pub(super) ports: RwSignal<Vec<PortRow>>,
    pub(super) mounts: RwSignal<Vec<MountRow>>,
    pub(super) health: HealthValues,
    next_key: StoredValue<u64>,
    /// Rows are created in event handlers: they belong to the dialog, not to whatever runs the handler.
    owner: StoredValue<Option<Owner>>,
}

impl Values {
    pub(super) fn new() -> Self {
        Self {
            name: RwSignal::new(String::new()),
            image: RwSignal::new(String::new()),
            command: RwSignal::new(String::new()),
            entrypoint: RwSignal::new(String::new()),
            cpus: RwSignal::new(String::new()),
            memory: RwSignal::new(String::new()),
            restart: RwSignal::new(RestartPolicy::No),
            updates: RwSignal::new(UpdatePolicy::Notify),
            window: RwSignal::new(String::new()),
            host_id: RwSignal::new(String::new()),
            replicas: RwSignal::new("1".to_owned()),
            env: RwSignal::new(Vec::new()),
            ports: RwSignal::new(Vec::new()),
            mounts: RwSignal::new(Vec::new()),
            health: HealthValues::new(),
            next_key: StoredValue::new(0),
            owner: StoredValue::new(Owner::current()),
        }
    }

    fn key(&self) -> u64 {
        let key = self.next_key.get_value();
        self.next_key.set_value(key + 1);
        key
    }

    fn in_owner<T>(&self, make: impl FnOnce() -> T) -> T {
        match self.owner.get_value() {
            Some(owner) => owner.with(make),
            None => make(),
        }
    }

    pub(super) fn env_row(&self, name: &str, value: &str) -> EnvRow {
        let key = self.key();
        self.in_owner(|| EnvRow {
            key,
            name: RwSignal::new(name.to_owned()),
            value: RwSignal::new(value.to_owned()),
        })
    }

    pub(super) fn port_row(&self, text: &str) -> PortRow {
        let key = self.key();
        self.in_owner(|| PortRow {
            key,
            text: RwSignal::new(text.to_owned()),
        })
    }

    pub(super) fn mount_row(&self, disk_id: &str, path: &str, read_only: bool) -> MountRow {
        let key = self.key();
        self.in_owner(|| MountRow {
            key,
            disk_id: RwSignal::new(disk_id.to_owned()),
            path: RwSignal::new(path.to_owned()),
            read_only: RwSignal::new(read_only),
        })
    }

    /// Shows a stored definition.
    pub(super) fn fill(&self, container: &Container) {
        let join = |args: &Option<Vec<String>>| args.as_deref().map(join_args).unwrap_or_default();
        self.name.set(container.name.clone());
        self.image.set(container.image.clone());
        self.command.set(join(&container.command));
        self.entrypoint.set(join(&container.entrypoint));
        self.cpus.set(
            container
                .resources
                .cpus
                .map(|cpus| cpus.to_string())
                .unwrap_or_default(),
        );
        self.memory.set(
            container
                .resources
                .memory_bytes
                .map(memory_text)
                .unwrap_or_default(),
        );
        self.restart.set(container.restart_policy);
        self.updates.set(container.update_policy);
        self.window
            .set(container.update_window.clone().unwrap_or_default());
        self.host_id.set(
            container
                .host
                .as_ref()
                .map(|h| h.id.clone())
                .unwrap_or_default(),
        );
        self.replicas.set(container.replicas.to_string());
        self.health.fill(
            container.health_check.as_ref(),
            container.replace_unhealthy_after_secs,
        );
        let env = container
            .env
            .iter()
            .map(|var| self.env_row(&var.name, &var.value))
            .collect();
        self.env.set(env);
        let ports = container
            .ports
            .iter()
            .map(|port| self.port_row(&port_text(port)))
            .collect();
        self.ports.set(ports);
        let mounts = container
            .mounts
            .iter()
            .map(|mount| self.mount_row(&mount.disk.id, &mount.container_path, mount.read_only))
            .collect();
        self.mounts.set(mounts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_error_lands_on_its_field_or_on_the_row_that_was_sent_at_its_index() {
        let sent = Sent {
            env: vec![7, 9],
            ports: vec![3],
            mounts: vec![],
        };
        assert_eq!(error_slot("name", &sent).as_deref(), Some("name"));
        assert_eq!(
            error_slot(HEALTH_FIELDS[0], &sent).as_deref(),
            Some(HEALTH_FIELDS[0])
        );
        assert_eq!(error_slot("env.1.name", &sent).as_deref(), Some("env:9"));
        assert_eq!(
            error_slot("ports.0.hostPort", &sent).as_deref(),
            Some("ports:3")
        );
        assert_eq!(error_slot("ports.1.hostPort", &sent), None);
        assert_eq!(error_slot("mounts.0.containerPath", &sent), None);
        assert_eq!(error_slot("labels.0", &sent), None);
    }
}
