//! The Silences section: what mutes alerts, active or ended, with the new-silence dialog.

use berth_shared::AlertCondition;
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use wasm_bindgen::JsValue;

use crate::api::Role;
use crate::api::alerts::{Silence, SilenceInput, create_silence, delete_silence};
use crate::components::badge::{Badge, Tone};
use crate::components::dialog::{ConfirmDialog, FormDialog, Pending};
use crate::components::empty_state::EmptyState;
use crate::components::field::{FieldErrors, HostOptions, SelectField, TextField};
use crate::components::format::truncate;
use crate::components::icons::{Icon, IconKind};
use crate::components::loading::{ListPhase, ListState, LoadFailed, LoadingCard};
use crate::components::permission::can;
use crate::components::table_tools::ActionsHeader;
use crate::components::time::{Timestamp, absolute};
use crate::components::toast::use_toasts;

use super::words::{base_field, check_label, filled, in_secs, millis};
use super::{AddButton, COMMENT_MAX, ERROR_PREVIEW, Shared};

/// What a silence matches, in words: "Rule exits · Container exited · h2 · label app=web", or "Every alert".
fn silence_matches(shared: Shared, silence: &Silence) -> String {
    let mut parts = Vec::new();
    if let Some(id) = &silence.rule_id {
        parts.push(format!(
            "rule {}",
            shared
                .rule_name(id)
                .unwrap_or_else(|| "(deleted)".to_owned())
        ));
    }
    if let Some(condition) = silence.condition {
        parts.push(condition.label().to_owned());
    }
    if let Some(id) = &silence.host_id {
        parts.push(
            shared
                .host_name(id)
                .unwrap_or_else(|| "a removed host".to_owned()),
        );
    }
    if silence.container_id.is_some() {
        parts.push("one container".to_owned());
    }
    if let Some(label) = &silence.label_selector {
        parts.push(format!("label {label}"));
    }
    if parts.is_empty() {
        "Every alert".to_owned()
    } else {
        parts.join(" · ")
    }
}

#[component]
pub(super) fn SilencesSection(shared: Shared) -> impl IntoView {
    let toasts = use_toasts();
    let adding = RwSignal::new(false);
    let pending = Pending::<Silence>::new();
    let list = shared.silences;

    let on_saved = Callback::new(move |silence: Silence| {
        adding.set(false);
        toasts.success(format!(
            "Silence created: matching alerts are muted until {}.",
            absolute(&silence.ends_at)
        ));
        list.update(|state| state.put(silence, |a, b| a.id == b.id));
        shared.reload_silences();
    });
    let confirm_delete = Callback::new(move |()| {
        pending.confirm(
            |silence: Silence| async move { delete_silence(&silence.id).await },
            move |silence| {
                list.update(|state| {
                    if let ListState::Loaded(items) = state {
                        items.retain(|s| s.id != silence.id);
                    }
                });
                toasts.success("Silence deleted.");
                shared.reload_silences();
            },
        )
    });
    let cancel_delete = Callback::new(move |()| pending.cancel());

    let phase = Memo::new(move |_| list.with(ListState::phase));
    // Active first, then by end.
    let sorted = move || {
        let mut items = list.with(|state| state.items().to_vec());
        items.sort_by(|a, b| {
            b.active
                .cmp(&a.active)
                .then_with(|| millis(&b.ends_at).total_cmp(&millis(&a.ends_at)))
        });
        items
    };
    let open_new = Callback::new(move |()| adding.set(true));

    view! {
        <section id="silences-section" class="section" role="tabpanel" aria-labelledby="alerts-subtab-silences">
            <div class="section-head">
                <h2 class="section-title">"What is muted"</h2>
                <AddButton id="silence-add" label="New silence" on_click=open_new />
            </div>
            {move || match phase.get() {
                ListPhase::Loading => view! { <LoadingCard text="Loading silences…" /> }.into_any(),
                ListPhase::Failed(error) => view! {
                    <LoadFailed
                        what="The silences"
                        error=error
                        on_retry=Callback::new(move |()| {
                            list.set(ListState::Loading);
                            shared.reload_silences();
                        })
                    />
                }
                .into_any(),
                ListPhase::Empty => view! {
                    <div class="card">
                        <EmptyState icon=IconKind::BellOff title="No silences">
                            <p>
                                "A silence mutes the alerts it matches (by rule, condition, host or label) for a "
                                "while, during a deployment or maintenance: they are still listed, marked silenced, "
                                "but nobody is told."
                            </p>
                            <div class="empty-state-actions">
                                <AddButton id="silence-add-first" label="Create a silence" primary=true on_click=open_new />
                            </div>
                        </EmptyState>
                    </div>
                }
                .into_any(),
                ListPhase::List => view! {
                    <div class="card table-card table-scroll">
                        <table id="silences-table" class="table silences-table">
                            <thead>
                                <tr>
                                    <th>"Matches"</th>
                                    <th>"Comment"</th>
                                    <th>"Ends"</th>
                                    <th>"Created by"</th>
                                    <th>"State"</th>
                                    <ActionsHeader label="Actions" />
                                </tr>
                            </thead>
                            <tbody>
                                <For each=sorted key=|silence| silence.clone() let:silence>
                                    <SilenceRow silence=silence shared=shared to_delete=pending.item />
                                </For>
                            </tbody>
                        </table>
                    </div>
                }
                .into_any(),
            }}
        </section>
        <Show when=move || adding.get()>
            <SilenceDialog shared=shared on_saved=on_saved on_close=Callback::new(move |()| adding.set(false)) />
        </Show>
        {move || {
            pending
                .item
                .get()
                .map(|silence| {
                    view! {
                        <ConfirmDialog
                            title="Delete this silence?"
                            confirm_label="Delete silence"
                            danger=true
                            busy=pending.busy
                            error=pending.error
                            on_confirm=confirm_delete
                            on_cancel=cancel_delete
                        >
                            <p>
                                "Alerts matching " <strong>{silence_matches(shared, &silence)}</strong>
                                " are no longer muted: the next ones are sent."
                            </p>
                        </ConfirmDialog>
                    }
                })
        }}
    }
}

/// One `tr.silence-row`.
#[component]
fn SilenceRow(
    silence: Silence,
    shared: Shared,
    to_delete: RwSignal<Option<Silence>>,
) -> impl IntoView {
    let admin = can(Role::Admin);
    let matches = {
        let silence = silence.clone();
        move || silence_matches(shared, &silence)
    };
    let for_delete = silence.clone();
    view! {
        <tr class="silence-row" class:ended=!silence.active data-id=silence.id.clone() data-active=silence.active.to_string()>
            <td class="silence-matches"><span class="strong">{matches}</span></td>
            <td class="silence-comment">
                {if silence.comment.is_empty() {
                    view! { <span class="muted">"—"</span> }.into_any()
                } else {
                    view! { <span title=silence.comment.clone()>{truncate(&silence.comment, ERROR_PREVIEW)}</span> }.into_any()
                }}
            </td>
            <td class="silence-ends">
                <time datetime=silence.ends_at.clone() title=absolute(&silence.ends_at)>{absolute(&silence.ends_at)}</time>
            </td>
            <td class="silence-by">
                {silence.created_by.clone()} " "
                <span class="muted"><Timestamp value=silence.created_at.clone() /></span>
            </td>
            <td class="silence-state">
                {if silence.active {
                    view! { <Badge tone=Tone::Warn>"Active"</Badge> }.into_any()
                } else {
                    view! { <Badge tone=Tone::Neutral>"Ended"</Badge> }.into_any()
                }}
            </td>
            <td class="actions-col">
                <div class="row-actions">
                    {admin.then(|| view! {
                        <button
                            type="button"
                            class="icon-button danger silence-delete"
                            title="Delete"
                            aria-label="Delete silence"
                            on:click=move |_| to_delete.set(Some(for_delete.clone()))
                        >
                            <Icon kind=IconKind::Trash />
                        </button>
                    })}
                </div>
            </td>
        </tr>
    }
}

/// How long a new silence lasts: the choices.
const DURATIONS: [(i64, &str); 6] = [
    (15 * 60, "15 minutes"),
    (3600, "1 hour"),
    (4 * 3600, "4 hours"),
    (12 * 3600, "12 hours"),
    (86_400, "1 day"),
    (7 * 86_400, "1 week"),
];

/// The input fields of a silence the server may name in `extensions.field`.
const S_RULE: &str = "ruleId";
const S_CONDITION: &str = "condition";
const S_HOST: &str = "hostId";
const S_LABEL: &str = "labelSelector";
const S_COMMENT: &str = "comment";
const S_ENDS: &str = "endsAt";
const SILENCE_FIELDS: [&str; 6] = [S_RULE, S_CONDITION, S_HOST, S_LABEL, S_COMMENT, S_ENDS];

/// The new silence dialog (`form#silence-dialog`).
#[component]
fn SilenceDialog(
    shared: Shared,
    on_saved: Callback<Silence>,
    on_close: Callback<()>,
) -> impl IntoView {
    let rule_id = RwSignal::new(String::new());
    let condition = RwSignal::new(String::new());
    let host_id = RwSignal::new(String::new());
    let label = RwSignal::new(String::new());
    let comment = RwSignal::new(String::new());
    let duration = RwSignal::new(3600_i64);
    let errors = FieldErrors::new();
    let saving = RwSignal::new(false);
    let hosts = Signal::derive(move || shared.hosts.get());
    let rules = move || {
        let mut list = shared.rules.with(|state| state.items().to_vec());
        list.sort_by_key(|r| r.name.to_lowercase());
        list
    };
    // Ticks so the end shown follows the clock.
    let now = RwSignal::new(js_sys::Date::now());
    if let Ok(handle) = set_interval_with_handle(
        move || {
            now.try_set(js_sys::Date::now());
        },
        std::time::Duration::from_secs(30),
    ) {
        on_cleanup(move || handle.clear());
    }

    let client_error = move |field: &'static str| -> Option<String> {
        match field {
            S_LABEL => check_label(&label.get()).err(),
            S_COMMENT => (comment.with(|c| c.trim().chars().count()) > COMMENT_MAX)
                .then(|| format!("A comment has at most {COMMENT_MAX} characters.")),
            _ => None,
        }
    };
    let field_error = move |field: &'static str| errors.shown(field, client_error(field), false);
    let invalid = move || SILENCE_FIELDS.iter().any(|f| client_error(f).is_some());
    let matches_everything = move || {
        rule_id.with(String::is_empty)
            && condition.with(String::is_empty)
            && host_id.with(String::is_empty)
            && label.with(|l| l.trim().is_empty())
    };

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if saving.get_untracked() {
            return;
        }
        errors.submitting();
        let Ok(label_selector) = check_label(&label.get_untracked()) else {
            return;
        };
        if client_error(S_COMMENT).is_some() {
            return;
        }
        let input = SilenceInput {
            rule_id: filled(&rule_id.get_untracked()),
            condition: condition.get_untracked().parse().ok(),
            host_id: filled(&host_id.get_untracked()),
            label_selector,
            comment: comment.get_untracked().trim().to_owned(),
            ends_at: in_secs(duration.get_untracked()),
        };
        saving.set(true);
        spawn_local(async move {
            let result = create_silence(&input).await;
            if saving.try_set(false).is_some() {
                return;
            }
            match result {
                Ok(silence) => on_saved.run(silence),
                Err(error) => errors.put(&base_field(&error), &SILENCE_FIELDS),
            }
        });
    };

    let ends_hint = move || {
        let at = now.get() + (duration.get() as f64) * 1000.0;
        let iso = String::from(js_sys::Date::new(&JsValue::from_f64(at)).to_iso_string());
        format!("Until {}.", absolute(&iso))
    };

    view! {
        <FormDialog
            id="silence"
            title="New silence"
            class="silence-dialog"
            saving=saving
            form_error=errors.form
            note=Signal::derive(move || {
                if saving.get() {
                    "Saving…".to_owned()
                } else if matches_everything() {
                    "Nothing chosen: this mutes every alert.".to_owned()
                } else {
                    "Muted alerts are still listed, marked silenced.".to_owned()
                }
            })
            save_label=Signal::derive(|| "Create silence".to_owned())
            busy_label="Saving…"
            save_disabled=Signal::derive(invalid)
            on_submit=Callback::new(on_submit)
            on_close=on_close
        >
            <div class="field-pair">
                <SelectField
                    id="silence-rule"
                    label="Rule"
                    field=S_RULE
                    error=Signal::derive(move || field_error(S_RULE))
                    hint=Signal::derive(|| "Only this rule's alerts, or any.".to_owned())
                    on_change=Callback::new(move |value: String| {
                        rule_id.set(value);
                        errors.edited(S_RULE);
                    })
                >
                    <option value="" selected=move || rule_id.with(String::is_empty)>"Any rule"</option>
                    <For each=rules key=|rule| rule.id.clone() let:rule>
                        {
                            let id = rule.id.clone();
                            view! {
                                <option value=rule.id.clone() selected=move || rule_id.with(|r| *r == id)>
                                    {rule.name.clone()}
                                </option>
                            }
                        }
                    </For>
                </SelectField>
                <SelectField
                    id="silence-condition"
                    label="Condition"
                    field=S_CONDITION
                    error=Signal::derive(move || field_error(S_CONDITION))
                    hint=Signal::derive(|| "Only this kind of alert, or any.".to_owned())
                    on_change=Callback::new(move |value: String| {
                        condition.set(value);
                        errors.edited(S_CONDITION);
                    })
                >
                    <option value="" selected=move || condition.with(String::is_empty)>"Any condition"</option>
                    {AlertCondition::ALL
                        .into_iter()
                        .map(|option| view! {
                            <option value=option.as_str() selected=move || condition.with(|c| c == option.as_str())>
                                {option.label()}
                            </option>
                        })
                        .collect_view()}
                </SelectField>
            </div>
            <div class="field-pair">
                <SelectField
                    id="silence-host"
                    label="Host"
                    field=S_HOST
                    error=Signal::derive(move || field_error(S_HOST))
                    hint=Signal::derive(|| "Only what happens on this host, or anywhere.".to_owned())
                    on_change=Callback::new(move |value: String| {
                        host_id.set(value);
                        errors.edited(S_HOST);
                    })
                >
                    <option value="" selected=move || host_id.with(String::is_empty)>"Every host"</option>
                    <HostOptions hosts=hosts selected=host_id />
                </SelectField>
                <TextField
                    id="silence-label"
                    label="Label"
                    field=S_LABEL
                    placeholder="app=web"
                    mono=true
                    value=label
                    error=Signal::derive(move || field_error(S_LABEL))
                    hint=Signal::derive(|| "Optional: containers with this label.".to_owned())
                    on_edit=Callback::new(move |()| errors.edited(S_LABEL))
                />
            </div>
            <TextField
                id="silence-comment"
                label="Comment"
                field=S_COMMENT
                placeholder="deploying web, back by 15:00"
                value=comment
                error=Signal::derive(move || field_error(S_COMMENT))
                hint=Signal::derive(|| "Why, for the others.".to_owned())
                on_edit=Callback::new(move |()| errors.edited(S_COMMENT))
            />
            <SelectField
                id="silence-duration"
                label="For"
                field=S_ENDS
                error=Signal::derive(move || field_error(S_ENDS))
                hint=Signal::derive(ends_hint)
                on_change=Callback::new(move |value: String| {
                    if let Ok(secs) = value.parse::<i64>() {
                        duration.set(secs);
                    }
                    errors.edited(S_ENDS);
                })
            >
                {DURATIONS
                    .into_iter()
                    .map(|(secs, text)| view! {
                        <option value=secs.to_string() selected=move || duration.get() == secs>{text}</option>
                    })
                    .collect_view()}
            </SelectField>
        </FormDialog>
    }
}
