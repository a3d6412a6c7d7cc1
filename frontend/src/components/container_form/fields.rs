//! The dialog's single fields in their groups: what runs (name, image with the registries' suggestions, command,
//! entrypoint), the limits (CPUs, memory, restart policy), where it runs (host, replicas) and what happens to a
//! newer image (update policy and window). Each hint says what the value will mean.

use berth_shared::{UpdatePolicy, format_bytes};
use leptos::{html, prelude::*};

use super::checks::{
    ARGS_HINT, COMMAND, CPUS, ENTRYPOINT, HOST, IMAGE, MEMORY, NAME, REPLICAS, RESTART, UPDATES,
    WINDOW, check_args, check_cpus, check_image, check_memory, check_replicas, check_window,
};
use super::form::Form;
use crate::api::{Host, RestartPolicy};
use crate::components::{
    container_mounts::bound_host,
    field::{HostOptions, SelectField, TextField, enum_options},
};

/// The `<datalist>` of image suggestions.
const IMAGE_OPTIONS: &str = "container-image-options";

/// "2 arguments: ‹sh› ‹-c›", or how to write them and what empty means.
fn args_hint(text: RwSignal<String>, empty: &'static str) -> impl Fn() -> String + Copy {
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
}

/// Name, image (suggested from `suggestions`), command and entrypoint; the name takes the focus.
#[component]
pub(super) fn WhatRuns(form: Form, suggestions: RwSignal<Vec<String>>) -> impl IntoView {
    let values = form.values;
    let name_ref = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = name_ref.get() {
            let _ = input.focus();
        }
    });
    let image_hint = move || {
        match check_image(&values.image.get()) {
        Ok(image) => format!("Pulls {image}."),
        Err(_) => "A reference such as registry.example.com/team/app:1.0; the registries' images are suggested."
            .to_owned(),
    }
    };
    view! {
        <div class="field-pair">
            <TextField
                id="container-name"
                label="Name"
                field=NAME
                placeholder="web"
                value=values.name
                node_ref=name_ref
                error=Signal::derive(move || form.field_error(NAME))
                hint=Signal::derive(|| "Letters, digits, _ . -; unique.".to_owned())
                on_edit=Callback::new(move |()| form.edited_field(NAME))
            />
            <TextField
                id="container-image"
                label="Image"
                field=IMAGE
                placeholder="registry.example.com/team/app:1.0"
                mono=true
                list=IMAGE_OPTIONS
                value=values.image
                error=Signal::derive(move || form.field_error(IMAGE))
                hint=Signal::derive(image_hint)
                on_edit=Callback::new(move |()| form.edited_field(IMAGE))
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
            error=Signal::derive(move || form.field_error(COMMAND))
            hint=Signal::derive(args_hint(values.command, "Empty: the image's command."))
            on_edit=Callback::new(move |()| form.edited_field(COMMAND))
        />
        <TextField
            id="container-entrypoint"
            label="Entrypoint"
            field=ENTRYPOINT
            placeholder="optional"
            mono=true
            value=values.entrypoint
            error=Signal::derive(move || form.field_error(ENTRYPOINT))
            hint=Signal::derive(args_hint(values.entrypoint, "Empty: the image's entrypoint."))
            on_edit=Callback::new(move |()| form.edited_field(ENTRYPOINT))
        />
    }
}

/// CPUs, memory and the restart policy.
#[component]
pub(super) fn Limits(form: Form) -> impl IntoView {
    let values = form.values;
    let memory_hint = move || match check_memory(&values.memory.get()) {
        Ok(Some(bytes)) => format!("Limit: {}.", format_bytes(bytes)),
        _ => "512m, 1.5g or bytes; empty = no limit.".to_owned(),
    };
    let cpus_hint = move || match check_cpus(&values.cpus.get()) {
        Ok(Some(cpus)) => format!("At most {cpus} CPU{}.", if cpus > 1.0 { "s" } else { "" }),
        _ => "0.5, 2…; empty = no limit.".to_owned(),
    };
    view! {
        <div class="field-pair field-trio">
            <TextField
                id="container-cpus"
                label="CPUs"
                field=CPUS
                placeholder="no limit"
                value=values.cpus
                error=Signal::derive(move || form.field_error(CPUS))
                hint=Signal::derive(cpus_hint)
                on_edit=Callback::new(move |()| form.edited_field(CPUS))
            />
            <TextField
                id="container-memory"
                label="Memory"
                field=MEMORY
                placeholder="no limit"
                mono=true
                value=values.memory
                error=Signal::derive(move || form.field_error(MEMORY))
                hint=Signal::derive(memory_hint)
                on_edit=Callback::new(move |()| form.edited_field(MEMORY))
            />
            <SelectField
                id="container-restart"
                label="Restart policy"
                field=RESTART
                error=Signal::derive(move || form.field_error(RESTART))
                hint=Signal::derive(|| "What Docker does when the process ends.".to_owned())
                on_change=Callback::new(move |value: String| {
                    if let Ok(policy) = value.parse() {
                        values.restart.set(policy);
                    }
                    form.edited_field(RESTART);
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
    }
}

/// The host (any, or one of `hosts`) and the number of replicas.
#[component]
pub(super) fn Placement(form: Form, hosts: Signal<Vec<Host>>) -> impl IntoView {
    let values = form.values;
    let disks = form.disks;
    let replicas_hint = move || {
        let pinned = !values.host_id.with(String::is_empty);
        match check_replicas(&values.replicas.get()) {
            Ok(1) => "One instance; up to 100.".to_owned(),
            Ok(n) if pinned => format!("{n} instances, all on the pinned host."),
            Ok(n) => format!("{n} instances, spread over the hosts."),
            Err(_) => "1 to 100 instances.".to_owned(),
        }
    };
    let host_hint = move || {
        let bound = values
            .mounts
            .with(|rows| disks.with(|list| bound_host(rows, list)));
        match (values.host_id.with(String::is_empty), bound) {
            (true, Some((host, disk))) => format!("It runs on {host}, where disk {disk} lives."),
            (true, None) => {
                "Berth picks an UP host that fits, preferring one with the image.".to_owned()
            }
            (false, _) => "Pinned: it runs only there.".to_owned(),
        }
    };
    view! {
        <div class="field-pair">
            <SelectField
                id="container-host"
                label="Host"
                field=HOST
                error=Signal::derive(move || form.field_error(HOST))
                hint=Signal::derive(host_hint)
                on_change=Callback::new(move |value: String| {
                    values.host_id.set(value);
                    form.edited_field(HOST);
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
                error=Signal::derive(move || form.field_error(REPLICAS))
                hint=Signal::derive(replicas_hint)
                on_edit=Callback::new(move |()| form.edited_field(REPLICAS))
            />
        </div>
    }
}

/// What happens when the registry has a newer image of the tag, and when an automatic rollout may run.
#[component]
pub(super) fn NewImages(form: Form) -> impl IntoView {
    let values = form.values;
    view! {
        <div class="field-pair">
            <SelectField
                id="container-updates"
                label="New images"
                field=UPDATES
                error=Signal::derive(move || form.field_error(UPDATES))
                hint=Signal::derive(move || match values.updates.get() {
                    UpdatePolicy::Off => "Berth does not say when the registry has a newer image of the tag.".to_owned(),
                    UpdatePolicy::Notify => "An Update tag (and an alert, when a rule asks) when the registry has a newer image.".to_owned(),
                    UpdatePolicy::Auto => "A newer image in the registry is rolled out by itself, replica by replica.".to_owned(),
                })
                on_change=Callback::new(move |value: String| {
                    if let Ok(policy) = value.parse() {
                        values.updates.set(policy);
                    }
                    form.edited_field(UPDATES);
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
                    error=Signal::derive(move || form.field_error(WINDOW))
                    hint=Signal::derive(move || {
                        match check_window(&values.window.get()) {
                            Ok(Some(w)) => format!("A newer image found outside {w} UTC waits until then."),
                            _ => "Empty: a newer image rolls out as soon as it is seen.".to_owned(),
                        }
                    })
                    on_edit=Callback::new(move |()| form.edited_field(WINDOW))
                />
            </Show>
        </div>
    }
}
