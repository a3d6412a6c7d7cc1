//! Form fields of the dialogs: a labelled text input with its hint or error underneath (`.field`, `.field-foot`).

use leptos::{html, prelude::*};

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
