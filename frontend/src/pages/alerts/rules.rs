//! The Rules section: what raises alerts, with the add/edit dialog (condition, scope, channels, repeat interval).

use std::collections::BTreeSet;

use berth_shared::{AlertCondition, validate_restart_loop, validate_threshold_percent};
use leptos::{ev::SubmitEvent, html, prelude::*, task::spawn_local};

use crate::api::Role;
use crate::api::alerts::{
    AlertRule, AlertRuleInput, create_alert_rule, delete_alert_rule, update_alert_rule,
};
use crate::components::badge::{Badge, Tone};
use crate::components::dialog::{ConfirmDialog, FormDialog, Pending};
use crate::components::empty_state::EmptyState;
use crate::components::field::{
    CheckRow, FieldErrors, FieldFoot, HostOptions, SelectField, TextField, enum_options,
};
use crate::components::format::sentence;
use crate::components::icons::{Icon, IconKind};
use crate::components::loading::{ListPhase, ListState, LoadFailed, LoadingCard};
use crate::components::permission::{can, needs_title};
use crate::components::table_tools::ActionsHeader;
use crate::components::toast::use_toasts;

use super::Shared;
use super::words::{
    base_field, check_label, check_name, duration_text, filled, parse_duration, parse_repeat,
    repeat_field_text,
};

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
    let add_refused = needs_title(Role::Admin);
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
    let new_button = move |id: &'static str, label: &'static str, primary: bool| {
        view! {
            <button
                id=id
                type="button"
                class=if primary { "btn btn-primary" } else { "btn btn-secondary" }
                disabled=add_refused.is_some()
                title=add_refused
                on:click=move |_| editing.set(Some(EditingRule::New))
            >
                <Icon kind=IconKind::Plus />
                <span>{label}</span>
            </button>
        }
    };

    view! {
        <section id="rules-section" class="section" role="tabpanel" aria-labelledby="alerts-subtab-rules">
            <div class="section-head">
                <h2 class="section-title">"What raises alerts"</h2>
                {new_button("rule-add", "New rule", false)}
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
                                {new_button("rule-add-first", "Create your first rule", true)}
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

/// The input fields of a rule the server may name in `extensions.field` (`channelIds.N` lands on `channelIds`).
const R_NAME: &str = "name";
const R_CONDITION: &str = "condition";
const R_HOST: &str = "hostId";
const R_CONTAINER: &str = "containerId";
const R_LABEL: &str = "labelSelector";
const R_CHANNELS: &str = "channelIds";
const R_REPEAT: &str = "repeatSecs";
const R_RESTART_COUNT: &str = "restartCount";
const R_RESTART_WINDOW: &str = "restartWindowSecs";
const R_THRESHOLD: &str = "thresholdPercent";
const RULE_FIELDS: [&str; 10] = [
    R_NAME,
    R_CONDITION,
    R_HOST,
    R_CONTAINER,
    R_LABEL,
    R_CHANNELS,
    R_REPEAT,
    R_RESTART_COUNT,
    R_RESTART_WINDOW,
    R_THRESHOLD,
];

/// What the threshold field starts with for a new host rule.
const THRESHOLD_DEFAULT: i64 = 90;

/// A restart loop's defaults (the server's): 3 starts within 5 minutes.
const RESTART_COUNT_DEFAULT: i64 = 3;
const RESTART_WINDOW_DEFAULT: i64 = 300;

/// The new (`rule: None`) or edit rule dialog (`form#rule-dialog`).
#[component]
fn RuleDialog(
    rule: Option<AlertRule>,
    shared: Shared,
    on_saved: Callback<AlertRule>,
    on_close: Callback<()>,
) -> impl IntoView {
    let rule_id = rule.as_ref().map(|r| r.id.clone());
    let is_edit = rule.is_some();
    let title = match &rule {
        Some(rule) => format!("Edit rule “{}”", rule.name),
        None => "New rule".to_owned(),
    };
    let name = RwSignal::new(rule.as_ref().map(|r| r.name.clone()).unwrap_or_default());
    let condition = RwSignal::new(
        rule.as_ref()
            .map_or(AlertCondition::ContainerExited, |r| r.condition),
    );
    let host_id = RwSignal::new(
        rule.as_ref()
            .and_then(|r| r.host_id.clone())
            .unwrap_or_default(),
    );
    let container_id = rule.as_ref().and_then(|r| r.container_id.clone());
    let label = RwSignal::new(
        rule.as_ref()
            .and_then(|r| r.label_selector.clone())
            .unwrap_or_default(),
    );
    let chosen = RwSignal::new(
        rule.as_ref()
            .map(|r| r.channel_ids.iter().cloned().collect::<BTreeSet<String>>())
            .unwrap_or_default(),
    );
    let repeat = RwSignal::new(
        rule.as_ref()
            .map_or_else(|| "0".to_owned(), |r| repeat_field_text(r.repeat_secs)),
    );
    let restart_count = RwSignal::new(
        rule.as_ref()
            .and_then(|r| r.restart_count)
            .unwrap_or(RESTART_COUNT_DEFAULT)
            .to_string(),
    );
    let restart_window = RwSignal::new(repeat_field_text(
        rule.as_ref()
            .and_then(|r| r.restart_window_secs)
            .unwrap_or(RESTART_WINDOW_DEFAULT),
    ));
    let threshold = RwSignal::new(
        rule.as_ref()
            .and_then(|r| r.threshold_percent)
            .unwrap_or(THRESHOLD_DEFAULT)
            .to_string(),
    );
    let enabled = RwSignal::new(rule.as_ref().is_none_or(|r| r.enabled));
    let errors = FieldErrors::new();
    let saving = RwSignal::new(false);
    let hosts = Signal::derive(move || shared.hosts.get());
    let channels = Signal::derive(move || {
        let mut list = shared.channels.with(|state| state.items().to_vec());
        list.sort_by_key(|c| c.name.to_lowercase());
        list
    });

    let name_ref = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = name_ref.get() {
            let _ = input.focus();
        }
    });

    let about_containers = move || condition.get().about_containers();
    let is_loop = move || condition.get() == AlertCondition::RestartLoop;
    let has_threshold = move || condition.get().has_threshold();
    let client_error = move |field: &'static str| -> Option<String> {
        match field {
            R_NAME => check_name(&name.get(), "rule").err(),
            R_LABEL if about_containers() => check_label(&label.get()).err(),
            R_REPEAT => parse_repeat(&repeat.get()).err(),
            R_THRESHOLD if has_threshold() => parse_threshold(&threshold.get()).err(),
            R_RESTART_COUNT | R_RESTART_WINDOW if is_loop() => {
                match parse_restart_loop(&restart_count.get(), &restart_window.get()) {
                    Err((about, message)) if about == field => Some(message),
                    _ => None,
                }
            }
            _ => None,
        }
    };
    let field_error = move |field: &'static str| {
        let empty = field == R_NAME && name.with(|v| v.trim().is_empty());
        errors.shown(field, client_error(field), empty)
    };
    let invalid = move || RULE_FIELDS.iter().any(|f| client_error(f).is_some());

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if saving.get_untracked() {
            return;
        }
        errors.submitting();
        let containers = condition.get_untracked().about_containers();
        let (Ok(rule_name), Ok(repeat_secs), Ok(label_selector)) = (
            check_name(&name.get_untracked(), "rule"),
            parse_repeat(&repeat.get_untracked()),
            if containers {
                check_label(&label.get_untracked())
            } else {
                Ok(None)
            },
        ) else {
            return;
        };
        let restart = if condition.get_untracked() == AlertCondition::RestartLoop {
            match parse_restart_loop(
                &restart_count.get_untracked(),
                &restart_window.get_untracked(),
            ) {
                Ok((count, window)) => Some((count, window)),
                Err(_) => return,
            }
        } else {
            None
        };
        let threshold_percent = if condition.get_untracked().has_threshold() {
            match parse_threshold(&threshold.get_untracked()) {
                Ok(percent) => Some(percent),
                Err(_) => return,
            }
        } else {
            None
        };
        // Channels deleted meanwhile are dropped rather than refused.
        let known: Vec<String> =
            channels.with_untracked(|list| list.iter().map(|c| c.id.clone()).collect());
        let input = AlertRuleInput {
            name: rule_name,
            condition: Some(condition.get_untracked()),
            host_id: filled(&host_id.get_untracked()),
            container_id: container_id.clone().filter(|_| containers),
            label_selector,
            channel_ids: chosen.with_untracked(|set| {
                set.iter()
                    .filter(|id| known.contains(id))
                    .cloned()
                    .collect()
            }),
            repeat_secs,
            restart_count: restart.map(|(count, _)| count),
            restart_window_secs: restart.map(|(_, window)| window),
            threshold_percent,
            enabled: enabled.get_untracked(),
        };
        saving.set(true);
        let rule_id = rule_id.clone();
        spawn_local(async move {
            let result = match &rule_id {
                Some(id) => update_alert_rule(id, &input).await,
                None => create_alert_rule(&input).await,
            };
            if saving.try_set(false).is_some() {
                return;
            }
            match result {
                Ok(rule) => on_saved.run(rule),
                Err(error) => errors.put(&base_field(&error), &RULE_FIELDS),
            }
        });
    };

    let repeat_hint = move || {
        match parse_repeat(&repeat.get()) {
        Ok(0) => "0: notify once when it opens (and when it resolves). Or 30m, 4h, 1d: remind while it stays open."
            .to_owned(),
        Ok(secs) => format!(
            "Reminds every {} while the alert stays open and unacknowledged.",
            duration_text(secs)
        ),
        Err(_) => "60 s to 7 days, such as 30m, 4h or 1d; 0 notifies once.".to_owned(),
    }
    };
    let loop_hint = move || match parse_restart_loop(&restart_count.get(), &restart_window.get()) {
        Ok((count, window)) => format!(
            "Opens when a container starts {count} times within {}.",
            duration_text(window)
        ),
        Err(_) => "2 to 100 starts within 60 s to a day (such as 5m).".to_owned(),
    };
    let threshold_hint = move || match parse_threshold(&threshold.get()) {
        Ok(percent) => format!(
            "Opens when the containers on a host use {percent}% or more of its {} in two readings in a row (one stats interval apart); resolves after two under it.",
            if condition.get() == AlertCondition::HostCpuHigh {
                "CPUs"
            } else {
                "memory"
            }
        ),
        Err(_) => "1 to 100 percent of the host.".to_owned(),
    };
    let label_hint = move || match check_label(&label.get()) {
        Ok(Some(selector)) => format!("Only containers with the label {selector}."),
        _ => "Optional: app=web (that value) or team (any value).".to_owned(),
    };
    let host_hint = move || {
        if host_id.with(String::is_empty) {
            "Watches every host, present and future.".to_owned()
        } else {
            "Watches this host only.".to_owned()
        }
    };
    let channels_error = Signal::derive(move || errors.shown(R_CHANNELS, None, false));
    let channels_hint = Signal::derive(move || {
        if channels.with(Vec::is_empty) {
            "No channel yet: create one in Channels; until then alerts are only listed here."
                .to_owned()
        } else if chosen.with(BTreeSet::is_empty) {
            "None chosen: alerts are only listed here.".to_owned()
        } else {
            "Told when an alert opens, is reminded and resolves.".to_owned()
        }
    });

    view! {
        <FormDialog
            id="rule"
            title=title
            class="rule-dialog"
            saving=saving
            form_error=errors.form
            note=Signal::derive(move || {
                if saving.get() { "Saving…" } else { "Alerts resolve by themselves when the cause goes away." }.to_owned()
            })
            save_label=Signal::derive(move || if is_edit { "Save rule" } else { "Create rule" }.to_owned())
            busy_label="Saving…"
            save_disabled=Signal::derive(invalid)
            on_submit=Callback::new(on_submit)
            on_close=on_close
        >
            <TextField
                id="rule-name"
                label="Name"
                field=R_NAME
                placeholder="exits in production"
                value=name
                node_ref=name_ref
                error=Signal::derive(move || field_error(R_NAME))
                hint=Signal::derive(|| "Shown with every alert it raises; unique.".to_owned())
                on_edit=Callback::new(move |()| errors.edited(R_NAME))
            />
            <div class="field-pair">
                <SelectField
                    id="rule-condition"
                    label="Condition"
                    field=R_CONDITION
                    error=Signal::derive(move || field_error(R_CONDITION))
                    hint=Signal::derive(move || {
                        if about_containers() { "About containers." } else { "About hosts or registries." }.to_owned()
                    })
                    on_change=Callback::new(move |value: String| {
                        if let Ok(chosen) = value.parse::<AlertCondition>() {
                            condition.set(chosen);
                        }
                        errors.edited(R_CONDITION);
                        errors.edited(R_LABEL);
                        errors.edited(R_CONTAINER);
                        errors.edited(R_THRESHOLD);
                    })
                >
                    {enum_options(&AlertCondition::ALL, AlertCondition::as_str, AlertCondition::label, condition.into())}
                </SelectField>
                <SelectField
                    id="rule-host"
                    label="Host"
                    field=R_HOST
                    error=Signal::derive(move || field_error(R_HOST))
                    hint=Signal::derive(host_hint)
                    on_change=Callback::new(move |value: String| {
                        host_id.set(value);
                        errors.edited(R_HOST);
                    })
                >
                    <option value="" selected=move || host_id.with(String::is_empty)>"Every host"</option>
                    <HostOptions hosts=hosts selected=host_id />
                </SelectField>
            </div>
            <Show when=is_loop>
                <div class="field-pair">
                    <TextField
                        id="rule-restart-count"
                        label="Starts"
                        field=R_RESTART_COUNT
                        placeholder="3"
                        mono=true
                        value=restart_count
                        error=Signal::derive(move || field_error(R_RESTART_COUNT))
                        hint=Signal::derive(loop_hint)
                        on_edit=Callback::new(move |()| {
                            errors.edited(R_RESTART_COUNT);
                            errors.edited(R_RESTART_WINDOW);
                        })
                    />
                    <TextField
                        id="rule-restart-window"
                        label="Within"
                        field=R_RESTART_WINDOW
                        placeholder="5m"
                        mono=true
                        value=restart_window
                        error=Signal::derive(move || field_error(R_RESTART_WINDOW))
                        hint=Signal::derive(|| "A duration: 300, 5m, 1h.".to_owned())
                        on_edit=Callback::new(move |()| {
                            errors.edited(R_RESTART_WINDOW);
                            errors.edited(R_RESTART_COUNT);
                        })
                    />
                </div>
            </Show>
            <Show when=has_threshold>
                <TextField
                    id="rule-threshold"
                    label="Threshold (%)"
                    field=R_THRESHOLD
                    placeholder="90"
                    mono=true
                    value=threshold
                    error=Signal::derive(move || field_error(R_THRESHOLD))
                    hint=Signal::derive(threshold_hint)
                    on_edit=Callback::new(move |()| errors.edited(R_THRESHOLD))
                />
            </Show>
            <Show when=about_containers>
                <TextField
                    id="rule-label"
                    label="Label"
                    field=R_LABEL
                    placeholder="app=web"
                    mono=true
                    value=label
                    error=Signal::derive(move || field_error(R_LABEL))
                    hint=Signal::derive(label_hint)
                    on_edit=Callback::new(move |()| errors.edited(R_LABEL))
                />
            </Show>
            {move || field_error(R_CONTAINER).map(|message| view! { <p class="field-error">{message}</p> })}
            <div class="field" data-field=R_CHANNELS role="group" aria-labelledby="rule-channels-label">
                <span id="rule-channels-label" class="field-label">"Channels"</span>
                <div class="check-list" id="rule-channels">
                    <For each=move || channels.get() key=|channel| channel.id.clone() let:channel>
                        {
                            let id = channel.id.clone();
                            let toggled = id.clone();
                            view! {
                                <label class="check-row check-item">
                                    <input
                                        type="checkbox"
                                        class="rule-channel"
                                        value=id.clone()
                                        data-name=channel.name.clone()
                                        prop:checked=move || chosen.with(|set| set.contains(&id))
                                        on:change=move |event| {
                                            let on = event_target_checked(&event);
                                            chosen.update(|set| {
                                                if on {
                                                    set.insert(toggled.clone());
                                                } else {
                                                    set.remove(&toggled);
                                                }
                                            });
                                            errors.edited(R_CHANNELS);
                                        }
                                    />
                                    <span>
                                        <span class="check-label">{channel.name.clone()}</span>
                                        <span class="check-help">
                                            {channel.kind.label()}
                                            {(!channel.enabled).then_some(" · disabled")}
                                        </span>
                                    </span>
                                </label>
                            }
                        }
                    </For>
                </div>
                <FieldFoot id="rule-channels-help" error=channels_error hint=channels_hint />
            </div>
            <div class="field-pair">
                <TextField
                    id="rule-repeat"
                    label="Remind every"
                    field=R_REPEAT
                    placeholder="0"
                    mono=true
                    value=repeat
                    error=Signal::derive(move || field_error(R_REPEAT))
                    hint=Signal::derive(repeat_hint)
                    on_edit=Callback::new(move |()| errors.edited(R_REPEAT))
                />
                <div class="field rule-enabled-field">
                    <span class="field-label">"State"</span>
                    <CheckRow
                        id="rule-enabled"
                        checked=enabled
                        on_change=Callback::new(move |on: bool| enabled.set(on))
                        label=|| "Enabled"
                        help=|| "A disabled rule opens no alerts."
                    />
                </div>
            </div>
        </FormDialog>
    }
}

/// A restart loop as typed (a number of starts, a window such as `5m`), checked with the server's rule; the
/// error names its field.
fn parse_restart_loop(count: &str, window: &str) -> Result<(i64, i64), (&'static str, String)> {
    let count: i64 = count.trim().parse().map_err(|_| {
        (
            R_RESTART_COUNT,
            "Write a number of starts, such as 3.".to_owned(),
        )
    })?;
    let window = parse_duration(window).map_err(|message| (R_RESTART_WINDOW, message))?;
    validate_restart_loop(count, window)
        .map(|()| (count, window))
        .map_err(|(field, message)| (field, sentence(&message)))
}

/// A host threshold as typed (`80` or `80%`), checked like the server checks it.
fn parse_threshold(text: &str) -> Result<i64, String> {
    let percent: i64 = text
        .trim()
        .trim_end_matches('%')
        .trim()
        .parse()
        .map_err(|_| "Write a percentage, such as 80.".to_owned())?;
    validate_threshold_percent(percent)
        .map(|()| percent)
        .map_err(|message| sentence(&message))
}
