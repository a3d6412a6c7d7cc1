//! The Rules section: what raises alerts, with the add/edit dialog (condition, scope, channels, repeat interval).

use berth_shared::AlertCondition;
use leptos::prelude::*;

use crate::api::Role;
use crate::api::alerts::{AlertRule, delete_alert_rule};
use crate::components::badge::{Badge, Tone};
use crate::components::dialog::{ConfirmDialog, Pending};
use crate::components::empty_state::EmptyState;
use crate::components::icons::{Icon, IconKind};
use crate::components::loading::{ListPhase, ListState, LoadFailed, LoadingCard};
use crate::components::permission::can;
use crate::components::table_tools::ActionsHeader;
use crate::components::toast::use_toasts;

use super::rule_dialog::{RESTART_COUNT_DEFAULT, RESTART_WINDOW_DEFAULT, RuleDialog};
use super::words::duration_text;
use super::{AddButton, Shared};

/// Which rule dialog is open.
#[derive(Clone, Debug, PartialEq)]
enum EditingRule {
    New,
    Edit(AlertRule),
}

/// A rule's scope in words: "h2 · app=web", "Every host".
fn scope_text(shared: Shared, host_id: Option<&str>, label: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(id) = host_id {
        parts.push(
            shared
                .host_name(id)
                .unwrap_or_else(|| "a removed host".to_owned()),
        );
    }
    if let Some(label) = label {
        parts.push(format!("label {label}"));
    }
    if parts.is_empty() {
        "Every host".to_owned()
    } else {
        parts.join(" · ")
    }
}

#[component]
pub(super) fn RulesSection(shared: Shared) -> impl IntoView {
    let toasts = use_toasts();
    let editing = RwSignal::new(None::<EditingRule>);
    let pending = Pending::<AlertRule>::new();
    let rules = shared.rules;

    let on_saved = Callback::new(move |rule: AlertRule| {
        let added = matches!(editing.get_untracked(), Some(EditingRule::New));
        editing.set(None);
        toasts.success(format!(
            "Rule “{}” {}.",
            rule.name,
            if added { "created" } else { "saved" }
        ));
        rules.update(|state| state.put(rule, |a, b| a.id == b.id));
        shared.reload_rules();
    });
    let confirm_delete = Callback::new(move |()| {
        pending.confirm(
            |rule: AlertRule| async move { delete_alert_rule(&rule.id).await },
            move |rule| {
                rules.update(|state| {
                    if let ListState::Loaded(list) = state {
                        list.retain(|r| r.id != rule.id);
                    }
                });
                toasts.success(format!("Rule “{}” deleted.", rule.name));
                shared.reload_rules();
            },
        )
    });
    let cancel_delete = Callback::new(move |()| pending.cancel());

    let phase = Memo::new(move |_| rules.with(ListState::phase));
    let sorted = move || {
        let mut list = rules.with(|state| state.items().to_vec());
        list.sort_by_key(|r| r.name.to_lowercase());
        list
    };
    let open_new = Callback::new(move |()| editing.set(Some(EditingRule::New)));

    view! {
        <section id="rules-section" class="section" role="tabpanel" aria-labelledby="alerts-subtab-rules">
            <div class="section-head">
                <h2 class="section-title">"What raises alerts"</h2>
                <AddButton id="rule-add" label="New rule" on_click=open_new />
            </div>
            {move || match phase.get() {
                ListPhase::Loading => view! { <LoadingCard text="Loading rules…" /> }.into_any(),
                ListPhase::Failed(error) => view! {
                    <LoadFailed
                        what="The rules"
                        error=error
                        on_retry=Callback::new(move |()| {
                            rules.set(ListState::Loading);
                            shared.reload_rules();
                        })
                    />
                }
                .into_any(),
                ListPhase::Empty => view! {
                    <div class="card">
                        <EmptyState icon=IconKind::Events title="No rules yet">
                            <p>
                                "A rule watches for one condition (a container that exits, runs out of memory, turns "
                                "unhealthy or keeps restarting; a host that stops answering; a registry that fails), "
                                "on every host or one, and tells its channels when an alert opens and resolves."
                            </p>
                            <div class="empty-state-actions">
                                <AddButton id="rule-add-first" label="Create your first rule" primary=true on_click=open_new />
                            </div>
                        </EmptyState>
                    </div>
                }
                .into_any(),
                ListPhase::List => view! {
                    <div class="card table-card table-scroll">
                        <table id="rules-table" class="table rules-table">
                            <thead>
                                <tr>
                                    <th>"Name"</th>
                                    <th>"Condition"</th>
                                    <th>"Scope"</th>
                                    <th>"Channels"</th>
                                    <th>"Reminders"</th>
                                    <th>"State"</th>
                                    <ActionsHeader label="Actions" />
                                </tr>
                            </thead>
                            <tbody>
                                <For each=sorted key=|rule| rule.clone() let:rule>
                                    <RuleRow rule=rule shared=shared editing=editing to_delete=pending.item />
                                </For>
                            </tbody>
                        </table>
                    </div>
                }
                .into_any(),
            }}
        </section>
        {move || {
            editing
                .get()
                .map(|mode| {
                    let rule = match mode {
                        EditingRule::New => None,
                        EditingRule::Edit(rule) => Some(rule),
                    };
                    view! {
                        <RuleDialog
                            rule=rule
                            shared=shared
                            on_saved=on_saved
                            on_close=Callback::new(move |()| editing.set(None))
                        />
                    }
                })
        }}
        {move || {
            pending
                .item
                .get()
                .map(|rule| {
                    view! {
                        <ConfirmDialog
                            title="Delete this rule?"
                            confirm_label="Delete rule"
                            danger=true
                            busy=pending.busy
                            error=pending.error
                            on_confirm=confirm_delete
                            on_cancel=cancel_delete
                        >
                            <p>
                                "“"<strong>{rule.name.clone()}</strong>"” stops watching. Its open alerts are "
                                "resolved without notifications."
                            </p>
                        </ConfirmDialog>
                    }
                })
        }}
    }
}

/// One `tr.rule-row`.
#[component]
fn RuleRow(
    rule: AlertRule,
    shared: Shared,
    editing: RwSignal<Option<EditingRule>>,
    to_delete: RwSignal<Option<AlertRule>>,
) -> impl IntoView {
    let admin = can(Role::Admin);
    let scope = {
        let rule = rule.clone();
        move || {
            scope_text(
                shared,
                rule.host_id.as_deref(),
                rule.label_selector.as_deref(),
            )
        }
    };
    let channels = {
        let ids = rule.channel_ids.clone();
        move || {
            let names: Vec<String> = ids
                .iter()
                .map(|id| shared.channel_name(id).unwrap_or_else(|| "?".to_owned()))
                .collect();
            if names.is_empty() {
                "None: alerts are only listed here".to_owned()
            } else {
                names.join(", ")
            }
        }
    };
    let reminders = if rule.repeat_secs == 0 {
        "Once".to_owned()
    } else {
        format!("Every {}", duration_text(rule.repeat_secs))
    };
    let (for_edit, for_delete) = (rule.clone(), rule.clone());
    view! {
        <tr class="rule-row" data-id=rule.id.clone() data-name=rule.name.clone() data-condition=rule.condition.as_str()>
            <td class="rule-name"><span class="strong">{rule.name.clone()}</span></td>
            <td class="rule-condition">
                {rule.condition.label()}
                {rule.threshold_percent.filter(|_| rule.condition.has_threshold()).map(|percent| view! {
                    <span class="rule-condition-detail muted">{format!("at {percent}% or more")}</span>
                })}
                {(rule.condition == AlertCondition::RestartLoop).then(|| {
                    let count = rule.restart_count.unwrap_or(RESTART_COUNT_DEFAULT);
                    let window = rule.restart_window_secs.unwrap_or(RESTART_WINDOW_DEFAULT);
                    view! {
                        <span class="rule-condition-detail muted">
                            {format!("{count} starts in {}", duration_text(window))}
                        </span>
                    }
                })}
            </td>
            <td class="rule-scope">{scope}</td>
            <td class="rule-channels" class:muted=rule.channel_ids.is_empty()>{channels}</td>
            <td class="rule-repeat">{reminders}</td>
            <td class="rule-enabled">
                {if rule.enabled {
                    view! { <Badge tone=Tone::Up>"Enabled"</Badge> }.into_any()
                } else {
                    view! { <Badge tone=Tone::Neutral>"Disabled"</Badge> }.into_any()
                }}
            </td>
            <td class="actions-col">
                <div class="row-actions">
                    {admin.then(|| view! {
                        <button
                            type="button"
                            class="icon-button rule-edit"
                            title="Edit"
                            aria-label=format!("Edit rule {}", for_edit.name)
                            on:click=move |_| editing.set(Some(EditingRule::Edit(for_edit.clone())))
                        >
                            <Icon kind=IconKind::Edit />
                        </button>
                        <button
                            type="button"
                            class="icon-button danger rule-delete"
                            title="Delete"
                            aria-label=format!("Delete rule {}", for_delete.name)
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
