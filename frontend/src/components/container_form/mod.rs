//! The new/edit container dialog (`form#container-dialog`): name, image (with suggestions from the registries),
//! command and entrypoint, port, environment and mount rows, the health check (`container_health`), CPU and
//! memory limits, restart policy, host and replicas. Every field is checked as you type with the parsers the
//! server uses; server errors that name a field (`extensions.field`, e.g. `ports.0.hostPort`,
//! `mounts.1.containerPath`, `healthCheck.intervalSecs`) appear beside it, others at the top.
//! An edit sends the version it started from: when someone saved in between, the server answers CONFLICT and the
//! dialog offers to reload.

mod checks;
mod fields;
mod form;
mod rows;
mod values;

use std::collections::BTreeMap;

use berth_shared::{PortSpec, UpdatePolicy, suggest_container_name};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};

use self::checks::{
    NAME, check_args, check_cpus, check_image, check_memory, check_name, check_replicas,
    check_window,
};
use self::fields::{Limits, NewImages, Placement, WhatRuns};
use self::form::Form;
use self::rows::{EnvSection, MountsSection, PortsSection};
use self::values::{Sent, Values, error_slot};
use super::{
    container_health::HealthCheckSection,
    container_mounts::disk_options,
    dialog::FormDialog,
    format::sentence,
    icons::{Icon, IconKind},
};
use crate::api::{
    self, ApiError, Container, Disk, ErrorCode, Host, ServerCode,
    containers::{ContainerInput, EnvVar, MountInput, PortMapping, ResourcesInput},
};

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

    let form = Form::new(values, disks);
    // The rows each index of the last submission meant.
    let sent = StoredValue::new(Sent::default());
    let stale = RwSignal::new(false);
    let reloading = RwSignal::new(false);
    let saving = RwSignal::new(false);

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if saving.get_untracked() {
            return;
        }
        form.submitted.set(true);
        form.form_error.set(None);
        form.server_errors.set(BTreeMap::new());
        if form.invalid() {
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
                Err(error) => show_error(error, is_edit, sent, form, stale),
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
                    form.server_errors.set(BTreeMap::new());
                    form.form_error.set(None);
                }
                Ok(None) => {
                    stale.set(false);
                    form.form_error.set(Some(
                        "This container was deleted in the meantime; there is nothing to save."
                            .to_owned(),
                    ));
                }
                Err(error) => form.form_error.set(Some(format!(
                    "The latest version could not be loaded: {}",
                    error.message
                ))),
            }
        });
    });

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
            form_error=form.form_error
            note=Signal::derive(note)
            save_label=Signal::derive(move || {
                if is_edit { "Save changes" } else { "Create container" }.to_owned()
            })
            busy_label="Saving…"
            save_disabled=Signal::derive(move || stale.get() || form.invalid())
            on_submit=Callback::new(on_submit)
            on_close=on_close
            banner=banner
        >
            <WhatRuns form=form suggestions=suggestions />
            <PortsSection form=form />
            <EnvSection form=form />
            <MountsSection form=form options=options />
            <HealthCheckSection
                values=values.health
                field_error=Callback::new(move |field: &'static str| form.field_error(field))
                on_edit=Callback::new(move |field: &'static str| form.edited_field(field))
            />
            <Limits form=form />
            <Placement form=form hosts=hosts />
            <NewImages form=form />
        </FormDialog>
    }
}

/// Puts a failed save's error where it belongs: a name taken (CONFLICT) under the name, a stale edit (CONFLICT)
/// in the banner with Reload, a bad field beside it, anything else at the top.
fn show_error(
    error: ApiError,
    is_edit: bool,
    sent: StoredValue<Sent>,
    form: Form,
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
        Some(slot) => form.server_errors.update(|errors| {
            errors.insert(slot, sentence(&error.message));
        }),
        None => form.form_error.set(Some(sentence(&error.message))),
    }
}
