//! The dialog's row sections (published ports, environment, mounts): a title with an Add button, a note while
//! there is no row, and rows that each check themselves and show their hint or error underneath.

use berth_shared::PortSpec;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::checks::describe_port;
use super::form::Form;
use crate::components::{
    container_mounts::{DiskOption, MountInputs, mount_hint},
    field::FieldFoot,
    icons::{Icon, IconKind},
};

/// The published ports (`#container-ports`, rows `.port-row`).
#[component]
pub(super) fn PortsSection(form: Form) -> impl IntoView {
    let values = form.values;
    let add = move |()| {
        let row = values.port_row("");
        values.ports.update(|rows| rows.push(row));
        focus_last(".port-input");
    };
    view! {
        <RowsSection
            id="container-ports"
            title="Published ports"
            add_id="container-add-port"
            add_label="Add port"
            empty=Signal::derive(move || values.ports.with(Vec::is_empty))
            empty_text="None. A mapping is host port:container port, e.g. 8080:80 or 127.0.0.1:5353:53/udp."
            on_add=Callback::new(add)
        >
            <For each=move || values.ports.get() key=|row| row.key let:row>
                {
                    let (slot, error) = form.row_slot("ports", row.key, form.port_errors);
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
                                on_edit=Callback::new(move |()| form.edited(slot.clone()))
                            />
                        </EditRow>
                    }
                }
            </For>
        </RowsSection>
    }
}

/// The environment (`#container-env`, rows `.env-row`).
#[component]
pub(super) fn EnvSection(form: Form) -> impl IntoView {
    let values = form.values;
    let add = move |()| {
        let row = values.env_row("", "");
        values.env.update(|rows| rows.push(row));
        focus_last(".env-name");
    };
    view! {
        <RowsSection
            id="container-env"
            title="Environment"
            add_id="container-add-env"
            add_label="Add variable"
            empty=Signal::derive(move || values.env.with(Vec::is_empty))
            empty_text="No variables besides the image's."
            on_add=Callback::new(add)
        >
            <For each=move || values.env.get() key=|row| row.key let:row>
                {
                    let (slot, error) = form.row_slot("env", row.key, form.env_errors);
                    let on_edit = Callback::new(move |()| form.edited(slot.clone()));
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
    }
}

/// The mounts (`#container-mounts`, rows `.mount-row`): a disk from `options` at a path inside the container.
#[component]
pub(super) fn MountsSection(form: Form, options: Memo<Vec<DiskOption>>) -> impl IntoView {
    let values = form.values;
    let disks = form.disks;
    let add = move |()| {
        let row = values.mount_row("", "", false);
        values.mounts.update(|rows| rows.push(row));
        focus_last(".mount-disk");
    };
    view! {
        <RowsSection
            id="container-mounts"
            title="Mounts"
            add_id="container-add-mount"
            add_label="Add mount"
            empty=Signal::derive(move || values.mounts.with(Vec::is_empty))
            empty_text="None. A mount puts a disk from the Storage tab (a Docker volume or a host directory) at a path inside the container, so its data outlives the container."
            on_add=Callback::new(add)
        >
            <For each=move || values.mounts.get() key=|row| row.key let:row>
                {
                    let (slot, error) = form.row_slot("mounts", row.key, form.mount_errors);
                    let on_edit = Callback::new(move |()| form.edited_mount(slot.clone()));
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
                                form.edited_mount(String::new());
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
