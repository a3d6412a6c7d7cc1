//! The new/edit container dialog (`form#container-dialog`): name, image (with suggestions from the registries),
//! command and entrypoint, port, environment and mount rows, the health check (`container_health`), CPU and
//! memory limits, restart policy, host and replicas. Every field is checked as you type with the parsers the
//! server uses; server errors that name a field (`extensions.field`, e.g. `ports.0.hostPort`,
//! `mounts.1.containerPath`, `healthCheck.intervalSecs`) appear beside it, others at the top.
//! An edit sends the version it started from: when someone saved in between, the server answers CONFLICT and the
//! dialog offers to reload.

use std::collections::{BTreeMap, HashSet};

use berth_shared::{
    ImageRef, PortSpec, UpdatePolicy, UpdateWindow, format_bytes, parse_bytes, parse_cpus,
    suggest_container_name, validate_container_name, validate_env_name, validate_replicas,
};
use leptos::{ev::SubmitEvent, html, prelude::*, task::spawn_local};
use wasm_bindgen::JsCast;

use super::{
    args::{join_args, split_args},
    container_health::{HEALTH_FIELDS, HealthCheckSection, HealthValues},
    container_mounts::{
        MountInputs, MountRow, bound_host, disk_options, host_conflict, mount_hint, mount_problems,
        replicas_conflict,
    },
    dialog::FormDialog,
    field::{FieldFoot, HostOptions, SelectField, TextField, enum_options},
    format::sentence,
    icons::{Icon, IconKind},
};
use crate::api::{
    self, ApiError, Container, Disk, ErrorCode, Host, RestartPolicy, ServerCode,
    containers::{ContainerInput, EnvVar, MountInput, PortMapping, ResourcesInput},
};

/// The input fields the server may name in `extensions.field` (rows are `env.N.…`, `ports.N.…` and
/// `mounts.N.…`).
const NAME: &str = "name";
const IMAGE: &str = "image";
const COMMAND: &str = "command";
const ENTRYPOINT: &str = "entrypoint";
const CPUS: &str = "resources.cpus";
const MEMORY: &str = "resources.memory";
const RESTART: &str = "restartPolicy";
const HOST: &str = "hostId";
const REPLICAS: &str = "replicas";
const UPDATES: &str = "updatePolicy";
const WINDOW: &str = "updateWindow";
const FIELDS: [&str; 11] = [
    NAME, IMAGE, COMMAND, ENTRYPOINT, CPUS, MEMORY, RESTART, HOST, REPLICAS, UPDATES, WINDOW,
];
/// Docker refuses memory limits under 6 MiB; the server says so too.
const MIN_MEMORY: u64 = 6 * 1024 * 1024;
/// The `<datalist>` of image suggestions.
const IMAGE_OPTIONS: &str = "container-image-options";
const ARGS_HINT: &str = "Split on spaces; quote an argument that has spaces: sh -c 'echo hi'.";

fn check_name(text: &str) -> Result<String, String> {
    let name = text.trim();
    validate_container_name(name)
        .map(|()| name.to_owned())
        .map_err(|error| sentence(&error.to_string()))
}

fn check_image(text: &str) -> Result<ImageRef, String> {
    ImageRef::parse(text.trim()).map_err(|error| sentence(&error.to_string()))
}

/// A command or entrypoint: `None` when empty (the image's own is used).
fn check_args(text: &str) -> Result<Option<Vec<String>>, String> {
    let args = split_args(text)?;
    Ok((!args.is_empty()).then_some(args))
}

fn check_cpus(text: &str) -> Result<Option<f64>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    parse_cpus(text)
        .map(Some)
        .map_err(|error| sentence(&error.to_string()))
}

fn check_memory(text: &str) -> Result<Option<u64>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    match parse_bytes(text) {
        Ok(bytes) if bytes < MIN_MEMORY => {
            Err("Docker needs at least 6 MiB (6m) of memory.".to_owned())
        }
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) => Err(sentence(&error.to_string())),
    }
}

/// The daily window of automatic rollouts: empty (any time) or `HH:MM-HH:MM` in UTC, normalised.
fn check_window(text: &str) -> Result<Option<String>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    UpdateWindow::parse(text)
        .map(|w| Some(w.to_string()))
        .map_err(|error| sentence(&error))
}

/// The number of replicas: a whole number from 1 to 100.
fn check_replicas(text: &str) -> Result<i64, String> {
    let number = text
        .trim()
        .parse::<i64>()
        .map_err(|_| "A whole number from 1 to 100.".to_owned())?;
    validate_replicas(number).map_err(|error| sentence(&error.to_string()))
}

/// "64m" for 64 MiB: the largest unit that divides the limit, as the memory field takes it.
fn memory_text(bytes: i64) -> String {
    let bytes = api::bytes_u64(bytes);
    for (shift, unit) in [(40, "t"), (30, "g"), (20, "m"), (10, "k")] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

/// A stored mapping as the port field shows it (`8080:80`, `127.0.0.1:53:53/udp`).
fn port_text(port: &PortMapping) -> String {
    let spec = PortSpec::new(
        port.host_ip.as_deref(),
        port.host_port.and_then(|p| u32::try_from(p).ok()),
        u32::try_from(port.container_port).unwrap_or(0),
        port.protocol,
    );
    match spec {
        Ok(spec) => {
            let text = spec.to_string();
            text.strip_suffix("/tcp").map(str::to_owned).unwrap_or(text)
        }
        Err(_) => port.container_port.to_string(),
    }
}

/// What a port row means, for its hint.
fn describe_port(spec: &PortSpec) -> String {
    let inside = format!(
        "container port {}/{}",
        spec.container_port(),
        spec.protocol()
    );
    let on = spec
        .host_ip()
        .map(|ip| format!(" on {ip}"))
        .unwrap_or_default();
    match spec.host_port() {
        Some(port) => format!("Host port {port}{on} → {inside}."),
        None => format!("Docker picks a host port{on} → {inside}."),
    }
}

/// The row keys each index of the last submission's lists meant.
#[derive(Clone, Default)]
struct Sent {
    env: Vec<u64>,
    ports: Vec<u64>,
    mounts: Vec<u64>,
}

/// Where a server error lands: one of [`FIELDS`], or a row (`env:KEY`, `ports:KEY`, `mounts:KEY`) found by its
/// index in what was sent.
fn error_slot(field: &str, sent: &Sent) -> Option<String> {
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
struct EnvRow {
    key: u64,
    name: RwSignal<String>,
    value: RwSignal<String>,
}

impl EnvRow {
    fn blank(&self) -> bool {
        self.name.with(|n| n.trim().is_empty()) && self.value.with(String::is_empty)
    }
}

/// One port row.
#[derive(Clone, Copy)]
struct PortRow {
    key: u64,
    text: RwSignal<String>,
}

/// Problems of the filled env rows, by row key: bad names and names given twice.
fn env_problems(rows: &[EnvRow]) -> BTreeMap<u64, String> {
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
fn port_problems(rows: &[PortRow]) -> BTreeMap<u64, String> {
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
struct Values {
    name: RwSignal<String>,
    image: RwSignal<String>,
    command: RwSignal<String>,
    entrypoint: RwSignal<String>,
    cpus: RwSignal<String>,
    memory: RwSignal<String>,
    restart: RwSignal<RestartPolicy>,
    updates: RwSignal<UpdatePolicy>,
    window: RwSignal<String>,
    host_id: RwSignal<String>,
    replicas: RwSignal<String>,
    env: RwSignal<Vec<EnvRow>>,
    ports: RwSignal<Vec<PortRow>>,
    mounts: RwSignal<Vec<MountRow>>,
    health: HealthValues,
    next_key: StoredValue<u64>,
    /// Rows are created in event handlers: they belong to the dialog, not to whatever runs the handler.
    owner: StoredValue<Option<Owner>>,
}

impl Values {
    fn new() -> Self {
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

    fn env_row(&self, name: &str, value: &str) -> EnvRow {
        let key = self.key();
        self.in_owner(|| EnvRow {
            key,
            name: RwSignal::new(name.to_owned()),
            value: RwSignal::new(value.to_owned()),
        })
    }

    fn port_row(&self, text: &str) -> PortRow {
        let key = self.key();
        self.in_owner(|| PortRow {
            key,
            text: RwSignal::new(text.to_owned()),
        })
    }

    fn mount_row(&self, disk_id: &str, path: &str, read_only: bool) -> MountRow {
        let key = self.key();
        self.in_owner(|| MountRow {
            key,
            disk_id: RwSignal::new(disk_id.to_owned()),
            path: RwSignal::new(path.to_owned()),
            read_only: RwSignal::new(read_only),
        })
    }

    /// Shows a stored definition.
    fn fill(&self, container: &Container) {
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

/// The add (`container: None`) or edit dialog. Calls `on_saved` with the container as the server saved it.
#[component]
pub fn ContainerDialog(
    /// The container to edit; `None` defines a new one.
    container: Option<Container>,
    /// For a new definition: the image to start from (its name is suggested from it).
    #[prop(default = None)]
    image: Option<String>,
    /// The hosts to offer (besides "Any host").
    #[prop(into)]
    hosts: Signal<Vec<Host>>,
    on_saved: Callback<Container>,
    on_close: Callback<()>,
) -> impl IntoView {
    let container_id = container.as_ref().map(|c| c.id.clone());
    let is_edit = container.is_some();
    let was_active = container.as_ref().is_some_and(Container::is_active);
    // Kept as they are on edit (the dialog has no field for them).
    let cpu_shares = container.as_ref().and_then(|c| c.resources.cpu_shares);
    let max_parallel = container.as_ref().map(|c| c.max_parallel);
    let min_healthy_secs = container.as_ref().map(|c| c.min_healthy_secs);
    let version = RwSignal::new(container.as_ref().map_or(0, |c| c.version));
    let title = match &container {
        Some(container) => format!("Edit container “{}”", container.name),
        None => "New container".to_owned(),
    };

    let values = Values::new();
    if let Some(container) = &container {
        values.fill(container);
    } else if let Some(image) = image {
        values.name.set(suggest_container_name(&image));
        values.image.set(image);
    }
    let suggestions = RwSignal::new(Vec::<String>::new());
    spawn_local(async move {
        if let Ok(references) = api::containers::image_suggestions().await {
            suggestions.try_set(references);
        }
    });
    let disks = RwSignal::new(Vec::<Disk>::new());
    spawn_local(async move {
        if let Ok(list) = api::disks::disks().await {
            disks.try_set(list);
        }
    });
    let stored_mounts = container
        .as_ref()
        .map(|c| c.mounts.clone())
        .unwrap_or_default();
    let options = Memo::new(move |_| disks.with(|list| disk_options(list, &stored_mounts)));

    // "Required" messages wait until the user touched the field or tried to save.
    let touched = RwSignal::new(HashSet::<&'static str>::new());
    let submitted = RwSignal::new(false);
    // Server errors by slot (see `error_slot`), and the rows each index of the last submission meant.
    let server_errors = RwSignal::new(BTreeMap::<String, String>::new());
    let sent = StoredValue::new(Sent::default());
    let form_error = RwSignal::new(None::<String>);
    let stale = RwSignal::new(false);
    let reloading = RwSignal::new(false);
    let saving = RwSignal::new(false);

    let name_ref = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = name_ref.get() {
            let _ = input.focus();
        }
    });

    let client_error = move |field: &'static str| -> Option<String> {
        match field {
            NAME => check_name(&values.name.get()).err(),
            IMAGE => check_image(&values.image.get()).err(),
            COMMAND => check_args(&values.command.get()).err(),
            ENTRYPOINT => check_args(&values.entrypoint.get()).err(),
            CPUS => check_cpus(&values.cpus.get()).err(),
            MEMORY => check_memory(&values.memory.get()).err(),
            WINDOW if values.updates.get() == UpdatePolicy::Auto => {
                check_window(&values.window.get()).err()
            }
            REPLICAS => match check_replicas(&values.replicas.get()) {
                Ok(replicas) => values
                    .mounts
                    .with(|rows| disks.with(|list| replicas_conflict(rows, list, replicas))),
                Err(error) => Some(error),
            },
            HOST => {
                let host_id = values.host_id.get();
                values
                    .mounts
                    .with(|rows| disks.with(|list| host_conflict(rows, list, &host_id)))
            }
            _ if HEALTH_FIELDS.contains(&field) => values.health.error(field),
            _ => None,
        }
    };
    let env_errors = Memo::new(move |_| values.env.with(|rows| env_problems(rows)));
    let port_errors = Memo::new(move |_| values.ports.with(|rows| port_problems(rows)));
    let mount_errors = Memo::new(move |_| values.mounts.with(|rows| mount_problems(rows)));
    // The server's word first, then ours: at once for a filled field, after a touch or a save for an empty one.
    let field_error = move |field: &'static str| -> Option<String> {
        if let Some(message) = server_errors.with(|errors| errors.get(field).cloned()) {
            return Some(message);
        }
        let empty = match field {
            NAME => values.name.with(|v| v.trim().is_empty()),
            IMAGE => values.image.with(|v| v.trim().is_empty()),
            _ => false,
        };
        let shown = submitted.get() || touched.with(|t| t.contains(field));
        client_error(field).filter(|_| !empty || shown)
    };
    // A row's error slot (`ports:KEY`) and what it shows: the server's word first, then ours.
    let row_slot = move |list: &str, key: u64, client: Memo<BTreeMap<u64, String>>| {
        let slot = format!("{list}:{key}");
        let error = Signal::derive({
            let slot = slot.clone();
            move || {
                server_errors
                    .with(|errors| errors.get(&slot).cloned())
                    .or_else(|| client.with(|problems| problems.get(&key).cloned()))
            }
        });
        (slot, error)
    };
    let invalid = move || {
        FIELDS.iter().any(|field| client_error(field).is_some())
            || HEALTH_FIELDS
                .iter()
                .any(|field| client_error(field).is_some())
            || env_errors.with(|e| !e.is_empty())
            || port_errors.with(|e| !e.is_empty())
            || mount_errors.with(|e| !e.is_empty())
    };
    let edited = move |slot: String| {
        server_errors.update(|errors| {
            errors.remove(&slot);
        });
        form_error.set(None);
    };
    let edited_field = move |field: &'static str| {
        touched.update(|t| {
            t.insert(field);
        });
        edited(field.to_owned());
    };

    let add_env = move |()| {
        let row = values.env_row("", "");
        values.env.update(|rows| rows.push(row));
        focus_last(".env-name");
    };
    let add_port = move |()| {
        let row = values.port_row("");
        values.ports.update(|rows| rows.push(row));
        focus_last(".port-input");
    };
    let add_mount = move |()| {
        let row = values.mount_row("", "", false);
        values.mounts.update(|rows| rows.push(row));
        focus_last(".mount-disk");
    };
    // A mount's change can settle what the server said about the replicas or the host too.
    let edited_mount = move |slot: String| {
        server_errors.update(|errors| {
            errors.remove(REPLICAS);
            errors.remove(HOST);
        });
        edited(slot);
    };

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if saving.get_untracked() {
            return;
        }
        submitted.set(true);
        form_error.set(None);
        server_errors.set(BTreeMap::new());
        if invalid() {
            return;
        }
        let auto = values.updates.get_untracked() == UpdatePolicy::Auto;
        let (
            Ok(name),
            Ok(_),
            Ok(command),
            Ok(entrypoint),
            Ok(cpus),
            Ok(_),
            Ok(replicas),
            Ok(update_window),
        ) = (
            check_name(&values.name.get_untracked()),
            check_image(&values.image.get_untracked()),
            check_args(&values.command.get_untracked()),
            check_args(&values.entrypoint.get_untracked()),
            check_cpus(&values.cpus.get_untracked()),
            check_memory(&values.memory.get_untracked()),
            check_replicas(&values.replicas.get_untracked()),
            // Kept while hidden (another policy) when it is valid; checked only where it shows.
            check_window(&values.window.get_untracked())
                .or_else(|e| if auto { Err(e) } else { Ok(None) }),
        )
        else {
            return;
        };
        let Some((health_check, replace_unhealthy_after_secs)) = values.health.input() else {
            return;
        };
        let mut env_sent = Vec::new();
        let mut env = Vec::new();
        for row in values.env.get_untracked() {
            if !row.blank() {
                env_sent.push(row.key);
                env.push(EnvVar {
                    name: row.name.get_untracked().trim().to_owned(),
                    value: row.value.get_untracked(),
                });
            }
        }
        let mut ports_sent = Vec::new();
        let mut ports = Vec::new();
        for row in values.ports.get_untracked() {
            if let Ok(spec) = PortSpec::parse(&row.text.get_untracked()) {
                ports_sent.push(row.key);
                ports.push(PortMapping {
                    container_port: i64::from(spec.container_port()),
                    host_port: spec.host_port().map(i64::from),
                    host_ip: spec.host_ip().map(str::to_owned),
                    protocol: spec.protocol(),
                });
            }
        }
        let mut mounts_sent = Vec::new();
        let mut mounts = Vec::new();
        for row in values.mounts.get_untracked() {
            if !row.blank() {
                mounts_sent.push(row.key);
                mounts.push(MountInput {
                    disk_id: row.disk_id.get_untracked(),
                    container_path: row.clean_path(),
                    read_only: row.read_only.get_untracked(),
                });
            }
        }
        sent.set_value(Sent {
            env: env_sent,
            ports: ports_sent,
            mounts: mounts_sent,
        });
        let memory = values.memory.get_untracked().trim().to_owned();
        let host_id = values.host_id.get_untracked();
        let input = ContainerInput {
            // As typed; the server stores it normalised.
            image: values.image.get_untracked().trim().to_owned(),
            name,
            command,
            entrypoint,
            env,
            ports,
            resources: ResourcesInput {
                cpus,
                memory: (!memory.is_empty()).then_some(memory),
                cpu_shares,
            },
            restart_policy: values.restart.get_untracked(),
            host_id: (!host_id.is_empty()).then_some(host_id),
            replicas,
            mounts,
            health_check,
            replace_unhealthy_after_secs,
            max_parallel,
            min_healthy_secs,
            update_policy: Some(values.updates.get_untracked()),
            update_window,
        };
        saving.set(true);
        let container_id = container_id.clone();
        let version_now = version.get_untracked();
        spawn_local(async move {
            let result = match &container_id {
                Some(id) => api::containers::update_container(id, version_now, &input).await,
                None => api::containers::create_container(&input).await,
            };
            // The dialog may be gone (closed by a parent) when the answer arrives.
            if saving.try_set(false).is_some() {
                return;
            }
            match result {
                Ok(saved) => on_saved.run(saved),
                Err(error) => show_error(error, is_edit, sent, server_errors, form_error, stale),
            }
        });
    };

    let reload_id = container.as_ref().map(|c| c.id.clone());
    let reload_latest = Callback::new(move |()| {
        let Some(id) = reload_id.clone() else {
            return;
        };
        if reloading.get_untracked() {
            return;
        }
        reloading.set(true);
        spawn_local(async move {
            let result = api::containers::container(&id).await;
            if reloading.try_set(false).is_some() {
                return;
            }
            match result {
                Ok(Some(latest)) => {
                    values.fill(&latest);
                    version.set(latest.version);
                    stale.set(false);
                    server_errors.set(BTreeMap::new());
                    form_error.set(None);
                }
                Ok(None) => {
                    stale.set(false);
                    form_error.set(Some(
                        "This container was deleted in the meantime; there is nothing to save."
                            .to_owned(),
                    ));
                }
                Err(error) => form_error.set(Some(format!(
                    "The latest version could not be loaded: {}",
                    error.message
                ))),
            }
        });
    });

    let image_hint = move || {
        match check_image(&values.image.get()) {
        Ok(image) => format!("Pulls {image}."),
        Err(_) => "A reference such as registry.example.com/team/app:1.0; the registries' images are suggested."
            .to_owned(),
    }
    };
    let memory_hint = move || match check_memory(&values.memory.get()) {
        Ok(Some(bytes)) => format!("Limit: {}.", format_bytes(bytes)),
        _ => "512m, 1.5g or bytes; empty = no limit.".to_owned(),
    };
    let cpus_hint = move || match check_cpus(&values.cpus.get()) {
        Ok(Some(cpus)) => format!("At most {cpus} CPU{}.", if cpus > 1.0 { "s" } else { "" }),
        _ => "0.5, 2…; empty = no limit.".to_owned(),
    };
    let replicas_hint = move || {
        let pinned = !values.host_id.with(String::is_empty);
        match check_replicas(&values.replicas.get()) {
            Ok(1) => "One instance; up to 100.".to_owned(),
            Ok(n) if pinned => format!("{n} instances, all on the pinned host."),
            Ok(n) => format!("{n} instances, spread over the hosts."),
            Err(_) => "1 to 100 instances.".to_owned(),
        }
    };
    let args_hint = move |text: RwSignal<String>, empty: &'static str| {
        move || match check_args(&text.get()) {
            Ok(Some(args)) => format!(
                "{} argument{}: {}",
                args.len(),
                if args.len() == 1 { "" } else { "s" },
                args.iter()
                    .map(|a| format!("‹{a}›"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            _ => format!("{ARGS_HINT} {empty}"),
        }
    };

    let note = move || {
        if saving.get() {
            "Saving…"
        } else if was_active {
            "Running instances keep the old definition until you apply it."
        } else if is_edit {
            "Saving keeps it stopped; run it from the list."
        } else {
            "Saving defines it; run it from the list."
        }
        .to_owned()
    };
    let banner = move || {
        view! {
            <Show when=move || stale.get()>
                <div id="container-conflict" class="form-error form-conflict" role="alert">
                    <Icon kind=IconKind::AlertCircle />
                    <span>
                        "Someone saved this container after you opened it, so your changes were not saved. "
                        "Reload to start again from the latest version (what you typed is replaced)."
                    </span>
                    <button
                        id="container-reload"
                        type="button"
                        class="btn btn-secondary btn-sm"
                        disabled=move || reloading.get()
                        on:click=move |_| reload_latest.run(())
                    >
                        {move || if reloading.get() { "Reloading…" } else { "Reload" }}
                    </button>
                </div>
            </Show>
        }
    };

    view! {
        <FormDialog
            id="container"
            title=title
            class="modal-wide"
            saving=saving
            form_error=form_error
            note=Signal::derive(note)
            save_label=Signal::derive(move || {
                if is_edit { "Save changes" } else { "Create container" }.to_owned()
            })
            busy_label="Saving…"
            save_disabled=Signal::derive(move || stale.get() || invalid())
            on_submit=Callback::new(on_submit)
            on_close=on_close
            banner=banner
        >
            <div class="field-pair">
                <TextField
                    id="container-name"
                    label="Name"
                    field=NAME
                    placeholder="web"
                    value=values.name
                    node_ref=name_ref
                    error=Signal::derive(move || field_error(NAME))
                    hint=Signal::derive(|| "Letters, digits, _ . -; unique.".to_owned())
                    on_edit=Callback::new(move |()| edited_field(NAME))
                />
                <TextField
                    id="container-image"
                    label="Image"
                    field=IMAGE
                    placeholder="registry.example.com/team/app:1.0"
                    mono=true
                    list=IMAGE_OPTIONS
                    value=values.image
                    error=Signal::derive(move || field_error(IMAGE))
                    hint=Signal::derive(image_hint)
                    on_edit=Callback::new(move |()| edited_field(IMAGE))
                />
            </div>
            <datalist id=IMAGE_OPTIONS>
                <For each=move || suggestions.get() key=|reference| reference.clone() let:reference>
                    <option value=reference></option>
                </For>
            </datalist>
            <TextField
                id="container-command"
                label="Command"
                field=COMMAND
                placeholder="httpd -f -p 80"
                mono=true
                value=values.command
                error=Signal::derive(move || field_error(COMMAND))
                hint=Signal::derive(args_hint(values.command, "Empty: the image's command."))
                on_edit=Callback::new(move |()| edited_field(COMMAND))
            />
            <TextField
                id="container-entrypoint"
                label="Entrypoint"
                field=ENTRYPOINT
                placeholder="optional"
                mono=true
                value=values.entrypoint
                error=Signal::derive(move || field_error(ENTRYPOINT))
                hint=Signal::derive(args_hint(values.entrypoint, "Empty: the image's entrypoint."))
                on_edit=Callback::new(move |()| edited_field(ENTRYPOINT))
            />
            <RowsSection
                id="container-ports"
                title="Published ports"
                add_id="container-add-port"
                add_label="Add port"
                empty=Signal::derive(move || values.ports.with(Vec::is_empty))
                empty_text="None. A mapping is host port:container port, e.g. 8080:80 or 127.0.0.1:5353:53/udp."
                on_add=Callback::new(add_port)
            >
                <For each=move || values.ports.get() key=|row| row.key let:row>
                    {
                        let (slot, error) = row_slot("ports", row.key, port_errors);
                        let hint = Signal::derive(move || match PortSpec::parse(&row.text.get()) {
                            Ok(spec) => describe_port(&spec),
                            Err(_) => "host port:container port[/udp], e.g. 8080:80.".to_owned(),
                        });
                        view! {
                            <EditRow
                                class="port-row"
                                key=row.key
                                error=error
                                hint=hint
                                remove_class="port-remove"
                                remove_label="Remove this port"
                                on_remove=Callback::new(move |()| {
                                    values.ports.update(|rows| rows.retain(|r| r.key != row.key));
                                })
                            >
                                <RowInput
                                    class="port-input"
                                    described_by=help_id("port-row", row.key)
                                    placeholder="8080:80"
                                    label="Port mapping"
                                    value=row.text
                                    error=error
                                    on_edit=Callback::new(move |()| edited(slot.clone()))
                                />
                            </EditRow>
                        }
                    }
                </For>
            </RowsSection>
            <RowsSection
                id="container-env"
                title="Environment"
                add_id="container-add-env"
                add_label="Add variable"
                empty=Signal::derive(move || values.env.with(Vec::is_empty))
                empty_text="No variables besides the image's."
                on_add=Callback::new(add_env)
            >
                <For each=move || values.env.get() key=|row| row.key let:row>
                    {
                        let (slot, error) = row_slot("env", row.key, env_errors);
                        let on_edit = Callback::new(move |()| edited(slot.clone()));
                        view! {
                            <EditRow
                                class="env-row"
                                key=row.key
                                error=error
                                hint=Signal::derive(String::new)
                                remove_class="env-remove"
                                remove_label="Remove this variable"
                                on_remove=Callback::new(move |()| {
                                    values.env.update(|rows| rows.retain(|r| r.key != row.key));
                                })
                            >
                                <RowInput
                                    class="env-name"
                                    described_by=help_id("env-row", row.key)
                                    placeholder="NAME"
                                    label="Variable name"
                                    value=row.name
                                    error=error
                                    on_edit=on_edit
                                />
                                <span class="env-equals" aria-hidden="true">
                                    "="
                                </span>
                                <RowInput
                                    class="env-value"
                                    placeholder="value"
                                    label="Variable value"
                                    value=row.value
                                    error=Signal::derive(|| None)
                                    on_edit=on_edit
                                />
                            </EditRow>
                        }
                    }
                </For>
            </RowsSection>
            <RowsSection
                id="container-mounts"
                title="Mounts"
                add_id="container-add-mount"
                add_label="Add mount"
                empty=Signal::derive(move || values.mounts.with(Vec::is_empty))
                empty_text="None. A mount puts a disk from the Storage tab (a Docker volume or a host directory) at a path inside the container, so its data outlives the container."
                on_add=Callback::new(add_mount)
            >
                <For each=move || values.mounts.get() key=|row| row.key let:row>
                    {
                        let (slot, error) = row_slot("mounts", row.key, mount_errors);
                        let on_edit = Callback::new(move |()| edited_mount(slot.clone()));
                        view! {
                            <EditRow
                                class="mount-row"
                                key=row.key
                                error=error
                                hint=Signal::derive(move || disks.with(|list| mount_hint(row, list)))
                                remove_class="mount-remove"
                                remove_label="Remove this mount"
                                on_remove=Callback::new(move |()| {
                                    values.mounts.update(|rows| rows.retain(|r| r.key != row.key));
                                    edited_mount(String::new());
                                })
                            >
                                <MountInputs
                                    row=row
                                    options=options
                                    described_by=help_id("mount-row", row.key)
                                    error=error
                                    on_edit=on_edit
                                >
                                    <RowInput
                                        class="mount-path"
                                        placeholder="/data"
                                        label="Path inside the container"
                                        value=row.path
                                        error=Signal::derive(move || {
                                            error.get().filter(|_| !row.disk_id.with(String::is_empty))
                                        })
                                        on_edit=on_edit
                                    />
                                </MountInputs>
                            </EditRow>
                        }
                    }
                </For>
            </RowsSection>
            <HealthCheckSection
                values=values.health
                field_error=Callback::new(move |field: &'static str| field_error(field))
                on_edit=Callback::new(move |field: &'static str| edited_field(field))
            />
            <div class="field-pair field-trio">
                <TextField
                    id="container-cpus"
                    label="CPUs"
                    field=CPUS
                    placeholder="no limit"
                    value=values.cpus
                    error=Signal::derive(move || field_error(CPUS))
                    hint=Signal::derive(cpus_hint)
                    on_edit=Callback::new(move |()| edited_field(CPUS))
                />
                <TextField
                    id="container-memory"
                    label="Memory"
                    field=MEMORY
                    placeholder="no limit"
                    mono=true
                    value=values.memory
                    error=Signal::derive(move || field_error(MEMORY))
                    hint=Signal::derive(memory_hint)
                    on_edit=Callback::new(move |()| edited_field(MEMORY))
                />
                <SelectField
                    id="container-restart"
                    label="Restart policy"
                    field=RESTART
                    error=Signal::derive(move || field_error(RESTART))
                    hint=Signal::derive(|| "What Docker does when the process ends.".to_owned())
                    on_change=Callback::new(move |value: String| {
                        if let Ok(policy) = value.parse() {
                            values.restart.set(policy);
                        }
                        edited_field(RESTART);
                    })
                >
                    {enum_options(
                        RestartPolicy::ALL,
                        RestartPolicy::as_str,
                        RestartPolicy::label,
                        values.restart.into(),
                    )}
                </SelectField>
            </div>
            <div class="field-pair">
                <SelectField
                    id="container-host"
                    label="Host"
                    field=HOST
                    error=Signal::derive(move || field_error(HOST))
                    hint=Signal::derive(move || {
                        let bound = values.mounts.with(|rows| disks.with(|list| bound_host(rows, list)));
                        match (values.host_id.with(String::is_empty), bound) {
                            (true, Some((host, disk))) => format!("It runs on {host}, where disk {disk} lives."),
                            (true, None) => {
                                "Berth picks an UP host that fits, preferring one with the image.".to_owned()
                            }
                            (false, _) => "Pinned: it runs only there.".to_owned(),
                        }
                    })
                    on_change=Callback::new(move |value: String| {
                        values.host_id.set(value);
                        edited_field(HOST);
                    })
                >
                    <option value="" selected=move || values.host_id.with(String::is_empty)>
                        "Any host"
                    </option>
                    <HostOptions hosts=hosts selected=values.host_id />
                </SelectField>
                <TextField
                    id="container-replicas"
                    label="Replicas"
                    field=REPLICAS
                    input_type="number"
                    placeholder="1"
                    value=values.replicas
                    error=Signal::derive(move || field_error(REPLICAS))
                    hint=Signal::derive(replicas_hint)
                    on_edit=Callback::new(move |()| edited_field(REPLICAS))
                />
            </div>
            <div class="field-pair">
                <SelectField
                    id="container-updates"
                    label="New images"
                    field=UPDATES
                    error=Signal::derive(move || field_error(UPDATES))
                    hint=Signal::derive(move || match values.updates.get() {
                        UpdatePolicy::Off => "Berth does not say when the registry has a newer image of the tag.".to_owned(),
                        UpdatePolicy::Notify => "An Update tag (and an alert, when a rule asks) when the registry has a newer image.".to_owned(),
                        UpdatePolicy::Auto => "A newer image in the registry is rolled out by itself, replica by replica.".to_owned(),
                    })
                    on_change=Callback::new(move |value: String| {
                        if let Ok(policy) = value.parse() {
                            values.updates.set(policy);
                        }
                        edited_field(UPDATES);
                    })
                >
                    {enum_options(
                        UpdatePolicy::ALL,
                        UpdatePolicy::as_str,
                        UpdatePolicy::label,
                        values.updates.into(),
                    )}
                </SelectField>
                <Show when=move || values.updates.get() == UpdatePolicy::Auto>
                    <TextField
                        id="container-update-window"
                        label="Roll out only between (UTC)"
                        field=WINDOW
                        placeholder="any time, or 02:00-05:00"
                        value=values.window
                        error=Signal::derive(move || field_error(WINDOW))
                        hint=Signal::derive(move || {
                            match check_window(&values.window.get()) {
                                Ok(Some(w)) => format!(
                                    "A newer image found outside {w} UTC waits until then."
                                ),
                                _ => "Empty: a newer image rolls out as soon as it is seen.".to_owned(),
                            }
                        })
                        on_edit=Callback::new(move |()| edited_field(WINDOW))
                    />
                </Show>
            </div>
        </FormDialog>
    }
}

/// Puts a failed save's error where it belongs: a name taken (CONFLICT) under the name, a stale edit (CONFLICT)
/// in the banner with Reload, a bad field beside it, anything else at the top.
fn show_error(
    error: ApiError,
    is_edit: bool,
    sent: StoredValue<Sent>,
    server_errors: RwSignal<BTreeMap<String, String>>,
    form_error: RwSignal<Option<String>>,
    stale: RwSignal<bool>,
) {
    let slot = match (&error.code, &error.field) {
        (ErrorCode::Server(ServerCode::Conflict), _)
            if error.message.contains("exists already") =>
        {
            Some(NAME.to_owned())
        }
        (ErrorCode::Server(ServerCode::Conflict), _) if is_edit => {
            stale.set(true);
            return;
        }
        (ErrorCode::Server(ServerCode::BadUserInput), Some(field)) => {
            sent.with_value(|sent| error_slot(field, sent))
        }
        _ => None,
    };
    match slot {
        Some(slot) => server_errors.update(|errors| {
            errors.insert(slot, sentence(&error.message));
        }),
        None => form_error.set(Some(sentence(&error.message))),
    }
}

/// Focuses the last element matching `selector` once the new row is on the page.
fn focus_last(selector: &'static str) {
    request_animation_frame(move || {
        let last = document()
            .query_selector_all(selector)
            .ok()
            .and_then(|list| list.item(list.length().checked_sub(1)?))
            .and_then(|node| node.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(element) = last {
            let _ = element.focus();
        }
    });
}

/// A section of rows (ports, environment): a title, an Add button, a note while there is no row, and the rows.
#[component]
fn RowsSection(
    id: &'static str,
    title: &'static str,
    add_id: &'static str,
    add_label: &'static str,
    #[prop(into)] empty: Signal<bool>,
    empty_text: &'static str,
    on_add: Callback<()>,
    children: Children,
) -> impl IntoView {
    let title_id = format!("{id}-title");
    let labelled_by = title_id.clone();
    view! {
        <section class="form-section" aria-labelledby=labelled_by>
            <div class="form-section-head">
                <h3 id=title_id class="form-section-title">
                    {title}
                </h3>
                <button id=add_id type="button" class="btn btn-ghost btn-sm" on:click=move |_| on_add.run(())>
                    <Icon kind=IconKind::Plus />
                    <span>{add_label}</span>
                </button>
            </div>
            <Show when=move || empty.get()>
                <p class="form-section-empty muted">{empty_text}</p>
            </Show>
            {children()}
        </section>
    }
}

/// The id of a row's hint or error line.
fn help_id(row_class: &str, key: u64) -> String {
    format!("{row_class}-{key}-help")
}

/// One row of a section: its inputs (children), a remove button, and its hint or error underneath.
#[component]
fn EditRow(
    class: &'static str,
    key: u64,
    error: Signal<Option<String>>,
    hint: Signal<String>,
    remove_class: &'static str,
    remove_label: &'static str,
    on_remove: Callback<()>,
    children: Children,
) -> impl IntoView {
    view! {
        <div class=format!("form-row-item {class}") data-row=key>
            <div class="row-inputs">
                {children()}
                <button
                    type="button"
                    class=format!("icon-button danger {remove_class}")
                    title=remove_label
                    aria-label=remove_label
                    on:click=move |_| on_remove.run(())
                >
                    <Icon kind=IconKind::Close />
                </button>
            </div>
            <FieldFoot id=help_id(class, key) error=error hint=hint />
        </div>
    }
}

/// One monospaced input of a row; `error` marks it invalid.
#[component]
fn RowInput(
    class: &'static str,
    /// The id of the row's hint or error line (see [`help_id`]).
    #[prop(optional, into)]
    described_by: Option<String>,
    placeholder: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
    on_edit: Callback<()>,
) -> impl IntoView {
    view! {
        <input
            class=format!("input input-mono {class}")
            type="text"
            autocomplete="off"
            spellcheck="false"
            placeholder=placeholder
            aria-label=label
            aria-describedby=described_by
            prop:value=move || value.get()
            class:invalid=move || error.get().is_some()
            aria-invalid=move || error.get().is_some().to_string()
            on:input=move |event| {
                value.set(event_target_value(&event));
                on_edit.run(());
            }
        />
    }
}
