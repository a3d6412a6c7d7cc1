//! The new/edit rule dialog (`form#rule-dialog`) in sections: name, condition and host; what the condition needs
//! (a restart loop's starts and window, a host threshold, a container label); the channels told; the reminder
//! interval. Checked as you type with the shared rules the server applies.

use std::collections::BTreeSet;

use berth_shared::{AlertCondition, validate_restart_loop, validate_threshold_percent};
use leptos::{ev::SubmitEvent, html, prelude::*, task::spawn_local};

use crate::api::Host;
use crate::api::alerts::{
    AlertChannel, AlertRule, AlertRuleInput, create_alert_rule, update_alert_rule,
};
use crate::components::dialog::FormDialog;
use crate::components::field::{
    CheckRow, FieldErrors, FieldFoot, HostOptions, SelectField, TextField, enum_options,
};
use crate::components::format::sentence;

use super::Shared;
use super::words::{
    base_field, check_label, check_name, duration_text, filled, parse_duration, parse_repeat,
    repeat_field_text,
};

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
pub(super) const RESTART_COUNT_DEFAULT: i64 = 3;
pub(super) const RESTART_WINDOW_DEFAULT: i64 = 300;

/// The dialog's values (one signal per field), the container a stored rule is about, and the errors shown.
#[derive(Clone, Copy)]
struct RuleForm {
    name: RwSignal<String>,
    condition: RwSignal<AlertCondition>,
    host_id: RwSignal<String>,
    /// Kept as it is (the dialog has no field for it): rules made from a container's page.
    container_id: StoredValue<Option<String>>,
    label: RwSignal<String>,
    chosen: RwSignal<BTreeSet<String>>,
    repeat: RwSignal<String>,
    restart_count: RwSignal<String>,
    restart_window: RwSignal<String>,
    threshold: RwSignal<String>,
    enabled: RwSignal<bool>,
    errors: FieldErrors,
}

impl RuleForm {
    /// The fields of `rule` (for a new one: a container-exit rule on every host, the server's defaults).
    fn new(rule: Option<&AlertRule>) -> Self {
        Self {
            name: RwSignal::new(rule.map(|r| r.name.clone()).unwrap_or_default()),
            condition: RwSignal::new(rule.map_or(AlertCondition::ContainerExited, |r| r.condition)),
            host_id: RwSignal::new(rule.and_then(|r| r.host_id.clone()).unwrap_or_default()),
            container_id: StoredValue::new(rule.and_then(|r| r.container_id.clone())),
            label: RwSignal::new(
                rule.and_then(|r| r.label_selector.clone())
                    .unwrap_or_default(),
            ),
            chosen: RwSignal::new(
                rule.map(|r| r.channel_ids.iter().cloned().collect())
                    .unwrap_or_default(),
            ),
            repeat: RwSignal::new(
                rule.map_or_else(|| "0".to_owned(), |r| repeat_field_text(r.repeat_secs)),
            ),
            restart_count: RwSignal::new(
                rule.and_then(|r| r.restart_count)
                    .unwrap_or(RESTART_COUNT_DEFAULT)
                    .to_string(),
            ),
            restart_window: RwSignal::new(repeat_field_text(
                rule.and_then(|r| r.restart_window_secs)
                    .unwrap_or(RESTART_WINDOW_DEFAULT),
            )),
            threshold: RwSignal::new(
                rule.and_then(|r| r.threshold_percent)
                    .unwrap_or(THRESHOLD_DEFAULT)
                    .to_string(),
            ),
            enabled: RwSignal::new(rule.is_none_or(|r| r.enabled)),
            errors: FieldErrors::new(),
        }
    }

    fn about_containers(self) -> bool {
        self.condition.get().about_containers()
    }

    fn is_loop(self) -> bool {
        self.condition.get() == AlertCondition::RestartLoop
    }

    fn has_threshold(self) -> bool {
        self.condition.get().has_threshold()
    }

    /// What the checks as you type say about `field` (fields the condition does not use say nothing).
    fn client_error(self, field: &'static str) -> Option<String> {
        match field {
            R_NAME => check_name(&self.name.get(), "rule").err(),
            R_LABEL if self.about_containers() => check_label(&self.label.get()).err(),
            R_REPEAT => parse_repeat(&self.repeat.get()).err(),
            R_THRESHOLD if self.has_threshold() => parse_threshold(&self.threshold.get()).err(),
            R_RESTART_COUNT | R_RESTART_WINDOW if self.is_loop() => {
                match parse_restart_loop(&self.restart_count.get(), &self.restart_window.get()) {
                    Err((about, message)) if about == field => Some(message),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The error `field` shows ("required" only after a touch or a save).
    fn field_error(self, field: &'static str) -> Option<String> {
        let empty = field == R_NAME && self.name.with(|v| v.trim().is_empty());
        self.errors.shown(field, self.client_error(field), empty)
    }

    fn invalid(self) -> bool {
        RULE_FIELDS
            .iter()
            .any(|field| self.client_error(field).is_some())
    }

    /// What is sent, unless a field is invalid: the fields of the condition, and of the chosen channels those
    /// that still exist (`known`; one deleted meanwhile is dropped rather than refused).
    fn input(self, known: &[String]) -> Option<AlertRuleInput> {
        let condition = self.condition.get_untracked();
        let containers = condition.about_containers();
        let name = check_name(&self.name.get_untracked(), "rule").ok()?;
        let repeat_secs = parse_repeat(&self.repeat.get_untracked()).ok()?;
        let label_selector = if containers {
            check_label(&self.label.get_untracked()).ok()?
        } else {
            None
        };
        let restart = if condition == AlertCondition::RestartLoop {
            Some(
                parse_restart_loop(
                    &self.restart_count.get_untracked(),
                    &self.restart_window.get_untracked(),
                )
                .ok()?,
            )
        } else {
            None
        };
        let threshold_percent = if condition.has_threshold() {
            Some(parse_threshold(&self.threshold.get_untracked()).ok()?)
        } else {
            None
        };
        Some(AlertRuleInput {
            name,
            condition: Some(condition),
            host_id: filled(&self.host_id.get_untracked()),
            container_id: self.container_id.get_value().filter(|_| containers),
            label_selector,
            channel_ids: self.chosen.with_untracked(|set| {
                set.iter()
                    .filter(|id| known.contains(id))
                    .cloned()
                    .collect()
            }),
            repeat_secs,
            restart_count: restart.map(|(count, _)| count),
            restart_window_secs: restart.map(|(_, window)| window),
            threshold_percent,
            enabled: self.enabled.get_untracked(),
        })
    }
}

/// The new (`rule: None`) or edit rule dialog (`form#rule-dialog`).
#[component]
pub(super) fn RuleDialog(
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
    let form = RuleForm::new(rule.as_ref());
    let saving = RwSignal::new(false);
    let hosts = Signal::derive(move || shared.hosts.get());
    let channels = Signal::derive(move || {
        let mut list = shared.channels.with(|state| state.items().to_vec());
        list.sort_by_key(|c| c.name.to_lowercase());
        list
    });

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if saving.get_untracked() {
            return;
        }
        form.errors.submitting();
        let known: Vec<String> =
            channels.with_untracked(|list| list.iter().map(|c| c.id.clone()).collect());
        let Some(input) = form.input(&known) else {
            return;
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
                Err(error) => form.errors.put(&base_field(&error), &RULE_FIELDS),
            }
        });
    };

    view! {
        <FormDialog
            id="rule"
            title=title
            class="rule-dialog"
            saving=saving
            form_error=form.errors.form
            note=Signal::derive(move || {
                if saving.get() { "Saving…" } else { "Alerts resolve by themselves when the cause goes away." }.to_owned()
            })
            save_label=Signal::derive(move || if is_edit { "Save rule" } else { "Create rule" }.to_owned())
            busy_label="Saving…"
            save_disabled=Signal::derive(move || form.invalid())
            on_submit=Callback::new(on_submit)
            on_close=on_close
        >
            <WhatAndWhere form=form hosts=hosts />
            <ConditionFields form=form />
            {move || form.field_error(R_CONTAINER).map(|message| view! { <p class="field-error">{message}</p> })}
            <ChannelChoice form=form channels=channels />
            <Reminders form=form />
        </FormDialog>
    }
}

/// The name (focused), the condition and the host it watches.
#[component]
fn WhatAndWhere(form: RuleForm, hosts: Signal<Vec<Host>>) -> impl IntoView {
    let errors = form.errors;
    let condition = form.condition;
    let host_id = form.host_id;
    let name_ref = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = name_ref.get() {
            let _ = input.focus();
        }
    });
    let host_hint = move || {
        if host_id.with(String::is_empty) {
            "Watches every host, present and future.".to_owned()
        } else {
            "Watches this host only.".to_owned()
        }
    };
    view! {
        <TextField
            id="rule-name"
            label="Name"
            field=R_NAME
            placeholder="exits in production"
            value=form.name
            node_ref=name_ref
            error=Signal::derive(move || form.field_error(R_NAME))
            hint=Signal::derive(|| "Shown with every alert it raises; unique.".to_owned())
            on_edit=Callback::new(move |()| errors.edited(R_NAME))
        />
        <div class="field-pair">
            <SelectField
                id="rule-condition"
                label="Condition"
                field=R_CONDITION
                error=Signal::derive(move || form.field_error(R_CONDITION))
                hint=Signal::derive(move || {
                    if form.about_containers() { "About containers." } else { "About hosts or registries." }.to_owned()
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
                error=Signal::derive(move || form.field_error(R_HOST))
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
    }
}

/// What the condition needs: a restart loop's starts and window, a host threshold, a container label.
#[component]
fn ConditionFields(form: RuleForm) -> impl IntoView {
    let errors = form.errors;
    let (restart_count, restart_window) = (form.restart_count, form.restart_window);
    let loop_hint = move || match parse_restart_loop(&restart_count.get(), &restart_window.get()) {
        Ok((count, window)) => format!(
            "Opens when a container starts {count} times within {}.",
            duration_text(window)
        ),
        Err(_) => "2 to 100 starts within 60 s to a day (such as 5m).".to_owned(),
    };
    let threshold_hint = move || match parse_threshold(&form.threshold.get()) {
        Ok(percent) => format!(
            "Opens when the containers on a host use {percent}% or more of its {} in two readings in a row (one stats interval apart); resolves after two under it.",
            if form.condition.get() == AlertCondition::HostCpuHigh {
                "CPUs"
            } else {
                "memory"
            }
        ),
        Err(_) => "1 to 100 percent of the host.".to_owned(),
    };
    let label_hint = move || match check_label(&form.label.get()) {
        Ok(Some(selector)) => format!("Only containers with the label {selector}."),
        _ => "Optional: app=web (that value) or team (any value).".to_owned(),
    };
    view! {
        <Show when=move || form.is_loop()>
            <div class="field-pair">
                <TextField
                    id="rule-restart-count"
                    label="Starts"
                    field=R_RESTART_COUNT
                    placeholder="3"
                    mono=true
                    value=restart_count
                    error=Signal::derive(move || form.field_error(R_RESTART_COUNT))
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
                    error=Signal::derive(move || form.field_error(R_RESTART_WINDOW))
                    hint=Signal::derive(|| "A duration: 300, 5m, 1h.".to_owned())
                    on_edit=Callback::new(move |()| {
                        errors.edited(R_RESTART_WINDOW);
                        errors.edited(R_RESTART_COUNT);
                    })
                />
            </div>
        </Show>
        <Show when=move || form.has_threshold()>
            <TextField
                id="rule-threshold"
                label="Threshold (%)"
                field=R_THRESHOLD
                placeholder="90"
                mono=true
                value=form.threshold
                error=Signal::derive(move || form.field_error(R_THRESHOLD))
                hint=Signal::derive(threshold_hint)
                on_edit=Callback::new(move |()| errors.edited(R_THRESHOLD))
            />
        </Show>
        <Show when=move || form.about_containers()>
            <TextField
                id="rule-label"
                label="Label"
                field=R_LABEL
                placeholder="app=web"
                mono=true
                value=form.label
                error=Signal::derive(move || form.field_error(R_LABEL))
                hint=Signal::derive(label_hint)
                on_edit=Callback::new(move |()| errors.edited(R_LABEL))
            />
        </Show>
    }
}

/// The channels told about the rule's alerts (`#rule-channels`, one checkbox each).
#[component]
fn ChannelChoice(form: RuleForm, channels: Signal<Vec<AlertChannel>>) -> impl IntoView {
    let errors = form.errors;
    let chosen = form.chosen;
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
    }
}

/// How often an open alert is told again, and whether the rule is on.
#[component]
fn Reminders(form: RuleForm) -> impl IntoView {
    let repeat = form.repeat;
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
    view! {
        <div class="field-pair">
            <TextField
                id="rule-repeat"
                label="Remind every"
                field=R_REPEAT
                placeholder="0"
                mono=true
                value=repeat
                error=Signal::derive(move || form.field_error(R_REPEAT))
                hint=Signal::derive(repeat_hint)
                on_edit=Callback::new(move |()| form.errors.edited(R_REPEAT))
            />
            <div class="field rule-enabled-field">
                <span class="field-label">"State"</span>
                <CheckRow
                    id="rule-enabled"
                    checked=form.enabled
                    on_change=Callback::new(move |on: bool| form.enabled.set(on))
                    label=|| "Enabled"
                    help=|| "A disabled rule opens no alerts."
                />
            </div>
        </div>
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_loop_error_names_its_field() {
        assert_eq!(parse_restart_loop("3", "5m"), Ok((3, 300)));
        assert_eq!(parse_restart_loop(" 10 ", "1h"), Ok((10, 3600)));
        assert_eq!(
            parse_restart_loop("three", "5m").map_err(|e| e.0),
            Err(R_RESTART_COUNT)
        );
        assert_eq!(
            parse_restart_loop("3", "soon").map_err(|e| e.0),
            Err(R_RESTART_WINDOW)
        );
        // The server's range: 2 to 100 starts within 60 s to a day.
        assert!(parse_restart_loop("1", "5m").is_err());
        assert!(parse_restart_loop("3", "10s").is_err());
    }

    #[test]
    fn a_threshold_takes_a_percent_sign_and_the_servers_range() {
        assert_eq!(parse_threshold("80"), Ok(80));
        assert_eq!(parse_threshold(" 75 % "), Ok(75));
        assert_eq!(
            parse_threshold("lots"),
            Err("Write a percentage, such as 80.".to_owned())
        );
        assert!(parse_threshold("0").is_err());
        assert!(parse_threshold("101").is_err());
    }
}
