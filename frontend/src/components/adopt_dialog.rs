//! The adopt dialog (`form#adopt-dialog`): what adopting a Docker container would create (image, command, env,
//! ports, limits, restart policy, mounts, host), the settings a definition cannot express (`.adopt-unsupported`,
//! to be acknowledged with `#adopt-confirm-unsupported`), a warning when it belongs to a compose project, what
//! happens to the running container (`.adopt-effect`), and the name of the new definition (`#adopt-name`, checked
//! as you type with the container form's rule). Server errors naming a field are shown beside it.

use std::str::FromStr;

use berth_shared::{RestartPolicy, format_bytes, parse_bytes, validate_container_name};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use serde_json::Value;

use super::{
    args::join_args,
    dialog::FormDialog,
    field::{CheckRow, FieldErrors, TextField},
    format::sentence,
    icons::{Icon, IconKind},
};
use crate::api::{
    ApiError, Container, bytes_u64,
    disks::{Disk, disks},
    inventory::{
        DockerContainer, DockerContainerAdoption, adopt_docker_container, docker_container_adoption,
    },
};

/// The fields the server may name in `extensions.field`.
const NAME: &str = "name";
const CONFIRM: &str = "confirmUnsupported";

fn check_name(text: &str) -> Result<String, String> {
    let name = text.trim();
    validate_container_name(name)
        .map(|()| name.to_owned())
        .map_err(|error| sentence(&error.to_string()))
}

/// A string field of the preview's definition.
fn text_of<'a>(input: &'a Value, key: &str) -> Option<&'a str> {
    input
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `["sh", "-c", "…"]` as the form writes it; `None` for null or empty.
fn args_of(input: &Value, key: &str) -> Option<String> {
    let args: Vec<String> = input
        .get(key)?
        .as_array()?
        .iter()
        .filter_map(|arg| arg.as_str().map(str::to_owned))
        .collect();
    (!args.is_empty()).then(|| join_args(&args))
}

/// `NAME=value` lines.
fn env_of(input: &Value) -> Vec<String> {
    input
        .get("env")
        .and_then(Value::as_array)
        .map(|vars| {
            vars.iter()
                .map(|var| {
                    let name = var.get("name").and_then(Value::as_str).unwrap_or_default();
                    let value = var.get("value").and_then(Value::as_str).unwrap_or_default();
                    format!("{name}={value}")
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `127.0.0.1:8080→80/tcp` lines.
fn ports_of(input: &Value) -> Vec<String> {
    input
        .get("ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .map(|port| {
                    let inside = port
                        .get("containerPort")
                        .and_then(Value::as_i64)
                        .unwrap_or(0);
                    let protocol = port
                        .get("protocol")
                        .and_then(Value::as_str)
                        .unwrap_or("TCP")
                        .to_lowercase();
                    let host_port = port.get("hostPort").and_then(Value::as_i64);
                    let host_ip = port
                        .get("hostIp")
                        .and_then(Value::as_str)
                        .filter(|ip| !ip.is_empty());
                    match (host_ip, host_port) {
                        (Some(ip), Some(host)) => format!("{ip}:{host} → {inside}/{protocol}"),
                        (None, Some(host)) => format!("{host} → {inside}/{protocol}"),
                        (Some(ip), None) => format!("{ip}:(any) → {inside}/{protocol}"),
                        (None, None) => format!("(any) → {inside}/{protocol}"),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// "0.5 CPU · 256 MiB", or `None` when unlimited. Memory may come as text ("256m") or bytes.
fn limits_of(input: &Value) -> Option<String> {
    let resources = input.get("resources")?;
    let cpus = resources
        .get("cpus")
        .and_then(Value::as_f64)
        .map(|cpus| format!("{cpus} CPU{}", if cpus > 1.0 { "s" } else { "" }));
    let memory = match resources
        .get("memory")
        .or_else(|| resources.get("memoryBytes"))
    {
        Some(Value::String(text)) => Some(
            parse_bytes(text)
                .map(format_bytes)
                .unwrap_or_else(|_| text.clone()),
        ),
        Some(Value::Number(number)) => number.as_i64().map(|bytes| format_bytes(bytes_u64(bytes))),
        _ => None,
    };
    let shares = resources
        .get("cpuShares")
        .and_then(Value::as_i64)
        .map(|shares| format!("{shares} CPU shares"));
    let parts: Vec<String> = [cpus, memory, shares].into_iter().flatten().collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

fn restart_of(input: &Value) -> String {
    match text_of(input, "restartPolicy") {
        Some(policy) => RestartPolicy::from_str(policy)
            .map(|policy| policy.label().to_owned())
            .unwrap_or_else(|_| policy.to_owned()),
        None => "No".to_owned(),
    }
}

/// `/data ← disk “db-data” (read-only)` lines.
fn mounts_of(input: &Value, disks: &[Disk]) -> Vec<String> {
    input
        .get("mounts")
        .and_then(Value::as_array)
        .map(|mounts| {
            mounts
                .iter()
                .map(|mount| {
                    let path = mount
                        .get("containerPath")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let disk_id = mount
                        .get("diskId")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let disk = disks.iter().find(|disk| disk.id == disk_id).map_or_else(
                        || format!("disk {disk_id}"),
                        |disk| format!("disk “{}”", disk.name),
                    );
                    let read_only = mount
                        .get("readOnly")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    format!(
                        "{path} ← {disk}{}",
                        if read_only { " (read-only)" } else { "" }
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a server error's field (`ports.0.hostPort`, `image`) is about the preview row `key`.
fn about(field: Option<&str>, key: &str) -> bool {
    field.is_some_and(|field| field == key || field.starts_with(&format!("{key}.")))
}

/// The dialog; `on_adopted` gets the new definition.
#[component]
pub fn AdoptDialog(
    container: DockerContainer,
    on_close: Callback<()>,
    on_adopted: Callback<Container>,
) -> impl IntoView {
    let preview = RwSignal::new(None::<Result<DockerContainerAdoption, ApiError>>);
    let known_disks = RwSignal::new(Vec::<Disk>::new());
    let name = RwSignal::new(container.name.clone());
    let name_edited = RwSignal::new(false);
    let confirmed = RwSignal::new(false);
    let errors = FieldErrors::new();
    // The field of the last server error, for marking a preview row.
    let server_field = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);

    let id = container.id.clone();
    spawn_local(async move {
        let result = docker_container_adoption(&id).await;
        if let Ok(adoption) = &result
            && let Some(suggested) = text_of(&adoption.input, "name")
            && !name_edited.get_untracked()
        {
            name.try_set(suggested.to_owned());
        }
        preview.try_set(Some(result));
    });
    spawn_local(async move {
        if let Ok(list) = disks().await {
            known_disks.try_set(list);
        }
    });

    let adoption = move || preview.with(|p| p.as_ref().and_then(|r| r.as_ref().ok()).cloned());
    let unsupported = Memo::new(move |_| {
        preview.with(|p| match p {
            Some(Ok(adoption)) => adoption.unsupported.clone(),
            _ => Vec::new(),
        })
    });
    let name_error = move || {
        let text = name.get();
        errors.shown(NAME, check_name(&text).err(), text.trim().is_empty())
    };
    let confirm_error = move || {
        let missing = !unsupported.with(Vec::is_empty) && !confirmed.get();
        errors.shown(
            CONFIRM,
            missing.then(|| "Tick this box to adopt it without these settings.".to_owned()),
            true,
        )
    };
    let ready = move || preview.with(|p| matches!(p, Some(Ok(_))));
    let invalid = move || {
        check_name(&name.get()).is_err() || (!unsupported.with(Vec::is_empty) && !confirmed.get())
    };

    let id = container.id.clone();
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if saving.get_untracked() || !ready() {
            return;
        }
        errors.submitting();
        server_field.set(None);
        if invalid() {
            return;
        }
        let Ok(chosen) = check_name(&name.get_untracked()) else {
            return;
        };
        let confirm = confirmed.get_untracked();
        saving.set(true);
        let id = id.clone();
        spawn_local(async move {
            let result = adopt_docker_container(&id, Some(&chosen), confirm).await;
            if saving.try_set(false).is_some() {
                return;
            }
            match result {
                Ok(created) => on_adopted.run(created),
                Err(error) => {
                    server_field.set(error.field.clone());
                    let field = error.field.as_deref();
                    if field == Some(NAME) || field == Some(CONFIRM) {
                        errors.put(&error, &[NAME, CONFIRM]);
                    } else if let Some(field) = field {
                        errors
                            .form
                            .set(Some(format!("{} ({field})", sentence(&error.message))));
                    } else {
                        errors.put(&error, &[]);
                    }
                }
            }
        });
    };

    let host_name = container.host_name.clone();
    let image_fallback = container.image.clone();
    let settings = move || {
        adoption().map(|adoption| {
            view! {
                <AdoptSettings
                    input=adoption.input
                    host_name=host_name.clone()
                    image_fallback=image_fallback.clone()
                    known_disks=known_disks
                    server_field=server_field
                />
            }
        })
    };
    let compose_warning = move || {
        adoption().and_then(|adoption| {
            adoption.compose_project.map(|project| {
                view! { <ComposeWarning project=project service=adoption.compose_service /> }
            })
        })
    };
    let unsupported_box = move || {
        let list = unsupported.get();
        (!list.is_empty()).then(|| {
            view! {
                <UnsupportedSettings
                    list=list
                    confirmed=confirmed
                    error=Signal::derive(confirm_error)
                    on_change=Callback::new(move |checked| {
                        confirmed.set(checked);
                        errors.edited(CONFIRM);
                    })
                />
            }
        })
    };

    let title = format!("Adopt “{}”", container.name);
    view! {
        <FormDialog
            id="adopt"
            title=title
            class="modal-wide"
            saving=saving
            form_error=errors.form
            note=Signal::derive(move || {
                if saving.get() {
                    "Adopting…".to_owned()
                } else {
                    "Berth will manage it from now on.".to_owned()
                }
            })
            save_label=Signal::derive(|| "Adopt container".to_owned())
            busy_label="Adopting…"
            save_disabled=Signal::derive(move || !ready() || invalid())
            on_submit=Callback::new(on_submit)
            on_close=on_close
        >
            {move || preview.with(|p| match p {
                None => Some(view! {
                    <div class="loading-block adopt-loading" aria-busy="true">
                        <span class="spinner" aria-hidden="true"></span>
                        <span class="muted">"Reading its settings…"</span>
                    </div>
                }
                .into_any()),
                Some(Err(error)) => Some(view! {
                    <p id="adopt-preview-error" class="form-error" role="alert">
                        <Icon kind=IconKind::AlertCircle />
                        <span>{format!("Its settings could not be read: {}", sentence(&error.message))}</span>
                    </p>
                }
                .into_any()),
                Some(Ok(_)) => None,
            })}
            <TextField
                id="adopt-name"
                label="Name of the new container"
                field=NAME
                value=name
                error=Signal::derive(name_error)
                hint=Signal::derive(|| "Letters, digits, _ . -; unique among Berth's containers.".to_owned())
                on_edit=Callback::new(move |()| {
                    name_edited.set(true);
                    errors.edited(NAME);
                })
            />
            {compose_warning}
            {unsupported_box}
            {settings}
            {move || {
                adoption()
                    .map(|adoption| {
                        view! {
                            <section class="adopt-section">
                                <h3 class="form-section-title">"What happens to it"</h3>
                                <p class="adopt-effect">{adoption.effect}</p>
                            </section>
                        }
                    })
            }}
        </FormDialog>
    }
}

/// One line of the preview: its label and value, or its list of values; marked when the last server error named
/// it (`key`, or a field under it such as `ports.0.hostPort`).
#[component]
fn SettingRow(
    key: &'static str,
    label: &'static str,
    value: Option<String>,
    #[prop(optional)] lines: Vec<String>,
    server_field: RwSignal<Option<String>>,
) -> impl IntoView {
    let body = if !lines.is_empty() {
        view! {
            <ul class="adopt-lines">
                {lines.into_iter().map(|line| view! { <li class="mono">{line}</li> }).collect_view()}
            </ul>
        }
        .into_any()
    } else {
        match value {
            Some(text) => view! { <span class="mono">{text}</span> }.into_any(),
            None => view! { <span class="muted">"None"</span> }.into_any(),
        }
    };
    view! {
        <div
            class="adopt-setting"
            class:invalid=move || server_field.with(|field| about(field.as_deref(), key))
            data-field=key
        >
            <dt>{label}</dt>
            <dd>{body}</dd>
        </div>
    }
}

/// The definition the adoption creates, read from the preview's `input`.
#[component]
fn AdoptSettings(
    input: Value,
    host_name: String,
    image_fallback: String,
    known_disks: RwSignal<Vec<Disk>>,
    server_field: RwSignal<Option<String>>,
) -> impl IntoView {
    let image = text_of(&input, "image").map_or(image_fallback, str::to_owned);
    let replicas = input.get("replicas").and_then(Value::as_i64).unwrap_or(1);
    let mounts = {
        let input = input.clone();
        move || known_disks.with(|list| mounts_of(&input, list))
    };
    view! {
        <section class="adopt-section" aria-labelledby="adopt-settings-title">
            <h3 id="adopt-settings-title" class="form-section-title">"The definition it creates"</h3>
            <dl class="adopt-settings">
                <SettingRow key="hostId" label="Host" value=Some(format!("{host_name} (pinned)")) server_field=server_field />
                <SettingRow key="image" label="Image" value=Some(image) server_field=server_field />
                <SettingRow key="command" label="Command" value=args_of(&input, "command") server_field=server_field />
                <SettingRow key="entrypoint" label="Entrypoint" value=args_of(&input, "entrypoint") server_field=server_field />
                <SettingRow key="env" label="Environment" value=None lines=env_of(&input) server_field=server_field />
                <SettingRow key="ports" label="Ports" value=None lines=ports_of(&input) server_field=server_field />
                <SettingRow key="resources" label="Limits" value=limits_of(&input) server_field=server_field />
                <SettingRow key="restartPolicy" label="Restart policy" value=Some(restart_of(&input)) server_field=server_field />
                {move || view! { <SettingRow key="mounts" label="Mounts" value=None lines=mounts() server_field=server_field /> }}
                <SettingRow key="replicas" label="Replicas" value=Some(replicas.to_string()) server_field=server_field />
            </dl>
        </section>
    }
}

/// The warning for a container a compose project owns.
#[component]
fn ComposeWarning(project: String, service: Option<String>) -> impl IntoView {
    let service = service
        .map(|service| format!(", service “{service}”"))
        .unwrap_or_default();
    view! {
        <div class="alert alert-warn adopt-compose-warning" role="note">
            <Icon kind=IconKind::AlertCircle />
            <div>
                <strong>{format!("Part of the compose project “{project}”{service}.")}</strong>
                " Berth takes it over, but Compose still thinks it owns it: "
                <code>"docker compose up"</code>
                " or "
                <code>"down"</code>
                " for that project may recreate or remove it behind Berth's back. "
                "Take the service out of the compose file first."
            </div>
        </div>
    }
}

/// The settings a definition cannot keep, and the box that confirms dropping them.
#[component]
fn UnsupportedSettings(
    list: Vec<String>,
    confirmed: RwSignal<bool>,
    error: Signal<Option<String>>,
    on_change: Callback<bool>,
) -> impl IntoView {
    let one = list.len() == 1;
    view! {
        <div class="adopt-unsupported" role="alert">
            <p class="adopt-unsupported-title">
                <Icon kind=IconKind::AlertCircle />
                <strong>
                    {format!(
                        "{} setting{} cannot be kept: a definition has no place for {}.",
                        list.len(),
                        if one { "" } else { "s" },
                        if one { "it" } else { "them" },
                    )}
                </strong>
            </p>
            <ul class="adopt-unsupported-list">
                {list.into_iter().map(|item| view! { <li>{item}</li> }).collect_view()}
            </ul>
            <CheckRow
                id="adopt-confirm-unsupported"
                checked=confirmed
                on_change=on_change
                label=|| "I understand these are dropped"
                help=|| "When Berth starts it again (after an edit, a restart by Berth, a move), it runs without them."
            >
                {move || error.get().map(|message| view! { <span class="field-error">{message}</span> })}
            </CheckRow>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_preview_reads_ports_env_and_args_as_the_form_writes_them() {
        let input = json!({
            "command": ["sh", "-c", "echo hi"],
            "entrypoint": [],
            "env": [{ "name": "A", "value": "1" }, { "name": "B", "value": "" }],
            "ports": [
                { "containerPort": 80, "hostPort": 8080, "hostIp": "127.0.0.1", "protocol": "TCP" },
                { "containerPort": 53, "hostPort": 5353, "protocol": "UDP" },
                { "containerPort": 9000 }
            ],
            "restartPolicy": "ALWAYS"
        });
        assert_eq!(
            args_of(&input, "command").as_deref(),
            Some("sh -c 'echo hi'")
        );
        assert_eq!(args_of(&input, "entrypoint"), None);
        assert_eq!(args_of(&input, "missing"), None);
        assert_eq!(env_of(&input), ["A=1", "B="]);
        assert_eq!(
            ports_of(&input),
            [
                "127.0.0.1:8080 → 80/tcp",
                "5353 → 53/udp",
                "(any) → 9000/tcp"
            ]
        );
        assert_eq!(restart_of(&input), RestartPolicy::Always.label());
        assert_eq!(restart_of(&json!({})), "No");
    }

    #[test]
    fn limits_read_in_words_whether_memory_comes_as_text_or_bytes() {
        let text = json!({ "resources": { "cpus": 0.5, "memory": "256m" } });
        assert_eq!(limits_of(&text).as_deref(), Some("0.5 CPU · 256 MiB"));
        let bytes =
            json!({ "resources": { "cpus": 2.0, "memoryBytes": 268_435_456, "cpuShares": 512 } });
        assert_eq!(
            limits_of(&bytes).as_deref(),
            Some("2 CPUs · 256 MiB · 512 CPU shares")
        );
        assert_eq!(limits_of(&json!({ "resources": {} })), None);
        assert_eq!(limits_of(&json!({})), None);
    }

    #[test]
    fn a_server_error_is_about_its_row_and_its_children() {
        assert!(about(Some("ports"), "ports"));
        assert!(about(Some("ports.0.hostPort"), "ports"));
        assert!(!about(Some("portsExtra"), "ports"));
        assert!(!about(None, "ports"));
    }
}
