//! Form fields of the dialogs: a labelled text input or select with its hint or error underneath (`.field`,
//! `.field-foot`), and what a form says about its fields' problems ([`FieldErrors`]).

use std::collections::{BTreeMap, HashSet};

use leptos::{html, prelude::*};

use super::{container_info::hosts_by_name, format::sentence};
use crate::api::{ApiError, Host};

/// A form's problems: the server's word on a field first, then the client's check, which waits for a touch or
/// a save attempt while the field is empty; errors that name no field go to the top of the form.
#[derive(Clone, Copy)]
pub struct FieldErrors {
    touched: RwSignal<HashSet<&'static str>>,
    submitted: RwSignal<bool>,
    server: RwSignal<BTreeMap<&'static str, String>>,
    /// The error that names no field.
    pub form: RwSignal<Option<String>>,
}

impl Default for FieldErrors {
    fn default() -> Self {
        Self::new()
    }
}

impl FieldErrors {
    pub fn new() -> Self {
        Self {
            touched: RwSignal::new(HashSet::new()),
            submitted: RwSignal::new(false),
            server: RwSignal::new(BTreeMap::new()),
            form: RwSignal::new(None),
        }
    }

    /// What `field` shows: the server's message, else `client` (for an `empty` field only once touched or after
    /// a save attempt).
    pub fn shown(
        &self,
        field: &'static str,
        client: Option<String>,
        empty: bool,
    ) -> Option<String> {
        if let Some(message) = self.server.with(|errors| errors.get(field).cloned()) {
            return Some(message);
        }
        let shown = self.submitted.get() || self.touched.with(|t| t.contains(field));
        client.filter(|_| !empty || shown)
    }

    /// The user changed `field`: it counts as touched and the server's word on it (and at the top) is dropped.
    pub fn edited(&self, field: &'static str) {
        self.touched.update(|t| {
            t.insert(field);
        });
        self.forget(field);
        self.form.set(None);
    }

    /// Drops the server's word on `field` (something it depends on changed) without counting it as touched.
    pub fn forget(&self, field: &'static str) {
        self.server.update(|errors| {
            errors.remove(field);
        });
    }

    /// A save attempt: every check shows, earlier server errors go.
    pub fn submitting(&self) {
        self.submitted.set(true);
        self.server.set(BTreeMap::new());
        self.form.set(None);
    }

    /// Puts a failed save's error under the field it names when it is bad input about one of `fields`; any other
    /// error (a conflict, an engine that does not answer) at the top, as the server wrote it.
    pub fn put_bad_input(&self, error: &ApiError, fields: &[&'static str]) {
        if fields.iter().any(|field| error.is_about_field(field)) {
            self.put(error, fields);
        } else {
            self.form.set(Some(error.message.clone()));
        }
    }

    /// Puts a failed save's error under the field it names (one of `fields`), or at the top.
    pub fn put(&self, error: &ApiError, fields: &[&'static str]) {
        let field = fields
            .iter()
            .find(|field| error.field.as_deref() == Some(**field));
        match field {
            Some(field) => self.server.update(|errors| {
                errors.insert(field, sentence(&error.message));
            }),
            None => self.form.set(Some(sentence(&error.message))),
        }
    }
}

/// The line under a field: the error when there is one (`.field-error`), else the hint (`.field-hint`); children
/// (a character counter) go at its end.
#[component]
pub fn FieldFoot(
    /// Element id, referenced by the input's `aria-describedby`.
    #[prop(into)]
    id: String,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(into)] hint: Signal<String>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="field-foot">
            <span id=id class=move || if error.get().is_some() { "field-error" } else { "field-hint" }>
                {move || error.get().unwrap_or_else(|| hint.get())}
            </span>
            {children.map(|children| children())}
        </div>
    }
}

/// A text input with its label and foot. `on_edit` runs after each change of `value` (to clear server errors);
/// children go at the end of the foot.
#[component]
pub fn TextField(
    id: &'static str,
    label: &'static str,
    /// The input's `name` and the wrapper's `data-field`.
    field: &'static str,
    value: RwSignal<String>,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(into)] hint: Signal<String>,
    on_edit: Callback<()>,
    #[prop(optional)] placeholder: &'static str,
    /// Monospaced input (references, commands, sizes).
    #[prop(optional)]
    mono: bool,
    /// The id of a `<datalist>` with suggestions.
    #[prop(optional)]
    list: Option<&'static str>,
    #[prop(optional)] node_ref: NodeRef<html::Input>,
    /// `text` unless given (`url`, `number`, `password`).
    #[prop(optional)]
    input_type: Option<&'static str>,
    #[prop(optional, into)] disabled: Signal<bool>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let help_id = format!("{id}-help");
    let input_type = input_type.unwrap_or("text");
    let autocomplete = if input_type == "password" {
        "new-password"
    } else {
        "off"
    };
    let set = move |text: String| {
        value.set(text);
        on_edit.run(());
    };
    view! {
        <div class="field" data-field=field>
            <label for=id>{label}</label>
            <input
                id=id
                name=field
                class=if mono { "input input-mono" } else { "input" }
                type=input_type
                autocomplete=autocomplete
                autocapitalize="none"
                spellcheck="false"
                placeholder=placeholder
                list=list
                node_ref=node_ref
                prop:value=move || value.get()
                disabled=move || disabled.get()
                class:invalid=move || error.get().is_some()
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=help_id.clone()
                on:input=move |event| set(event_target_value(&event))
                on:change=move |event| set(event_target_value(&event))
            />
            <FieldFoot id=help_id error=error hint=hint>
                {children.map(|children| children())}
            </FieldFoot>
        </div>
    }
}

/// A select with its label and foot; children are the options. `on_change` gets the chosen option's value.
#[component]
pub fn SelectField(
    id: &'static str,
    label: &'static str,
    /// The select's `name` and the wrapper's `data-field`.
    field: &'static str,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(into)] hint: Signal<String>,
    on_change: Callback<String>,
    children: Children,
) -> impl IntoView {
    let help_id = format!("{id}-help");
    view! {
        <div class="field" data-field=field>
            <label for=id>{label}</label>
            <select
                id=id
                name=field
                class="input select"
                class:invalid=move || error.get().is_some()
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=help_id.clone()
                on:change=move |event| on_change.run(event_target_value(&event))
            >
                {children()}
            </select>
            <FieldFoot id=help_id error=error hint=hint />
        </div>
    }
}

/// The options of a select over the values of an enum (`all`), by wire name and label; `current` is selected.
pub fn enum_options<T: Copy + PartialEq + Send + Sync + 'static>(
    all: &'static [T],
    value: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
    current: Signal<T>,
) -> impl IntoView {
    all.iter()
        .map(|option| {
            let option = *option;
            view! {
                <option value=value(option) selected=move || current.get() == option>
                    {label(option)}
                </option>
            }
        })
        .collect_view()
}

/// The options of a host select, by name, with the host's id as value; `selected` holds the chosen id.
#[component]
pub fn HostOptions(
    #[prop(into)] hosts: Signal<Vec<Host>>,
    selected: RwSignal<String>,
) -> impl IntoView {
    view! {
        <For each=move || hosts_by_name(hosts.get()) key=|host| host.id.clone() let:host>
            {
                let id = host.id.clone();
                view! {
                    <option value=host.id.clone() selected=move || selected.with(|h| *h == id)>
                        {host.name.clone()}
                    </option>
                }
            }
        </For>
    }
}

/// A checkbox with its label and a line of help (`label.check-row`); children go under the help (an error).
#[component]
pub fn CheckRow(
    id: &'static str,
    #[prop(into)] checked: Signal<bool>,
    on_change: Callback<bool>,
    /// What the box means (it may hold an icon).
    #[prop(into)]
    label: ViewFn,
    #[prop(into)] help: ViewFn,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <label class="check-row">
            <input
                id=id
                type="checkbox"
                prop:checked=move || checked.get()
                on:change=move |event| on_change.run(event_target_checked(&event))
            />
            <span>
                <span class="check-label">{label.run()}</span>
                <span class="check-help">{help.run()}</span>
                {children.map(|children| children())}
            </span>
        </label>
    }
}
