//! The Health check section of the container dialog (`section#container-health`): keep the image's check, a
//! shell command (`CMD-SHELL`), a command as arguments (`CMD`) or none at all (`NONE`), with interval, timeout,
//! retries, start period and how long a replica may stay unhealthy before it is replaced. Checked as you type
//! with the `shared` rule the server applies; the server's errors name the same fields (`healthCheck.intervalSecs`).

use berth_shared::{
    HealthCheck, validate_health_retries, validate_health_secs, validate_health_test,
    validate_replace_unhealthy_after,
};
use leptos::prelude::*;

use super::{
    args::{join_args, split_args},
    field::{SelectField, TextField},
    format::sentence,
};

pub const HC_TEST: &str = "healthCheck.test";
pub const HC_INTERVAL: &str = "healthCheck.intervalSecs";
pub const HC_TIMEOUT: &str = "healthCheck.timeoutSecs";
pub const HC_RETRIES: &str = "healthCheck.retries";
pub const HC_START: &str = "healthCheck.startPeriodSecs";
pub const REPLACE_AFTER: &str = "replaceUnhealthyAfterSecs";
/// The inputs of this section the server may name in `extensions.field`.
pub const HEALTH_FIELDS: [&str; 6] = [
    HC_TEST,
    HC_INTERVAL,
    HC_TIMEOUT,
    HC_RETRIES,
    HC_START,
    REPLACE_AFTER,
];

/// Which check the container runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthMode {
    /// The image's own (if it has one).
    Image,
    /// `CMD-SHELL`: one shell command.
    Shell,
    /// `CMD`: a command as arguments.
    Exec,
    /// `NONE`: no check, not even the image's.
    Disabled,
}

impl HealthMode {
    const ALL: [HealthMode; 4] = [
        HealthMode::Image,
        HealthMode::Shell,
        HealthMode::Exec,
        HealthMode::Disabled,
    ];

    fn as_str(self) -> &'static str {
        match self {
            HealthMode::Image => "image",
            HealthMode::Shell => "shell",
            HealthMode::Exec => "exec",
            HealthMode::Disabled => "none",
        }
    }

    fn label(self) -> &'static str {
        match self {
            HealthMode::Image => "Keep the image's",
            HealthMode::Shell => "Custom: shell command",
            HealthMode::Exec => "Custom: command and arguments",
            HealthMode::Disabled => "Disabled",
        }
    }

    fn custom(self) -> bool {
        matches!(self, HealthMode::Shell | HealthMode::Exec)
    }
}

/// The section's values, one signal per field.
#[derive(Clone, Copy)]
pub struct HealthValues {
    pub mode: RwSignal<HealthMode>,
    pub command: RwSignal<String>,
    pub interval: RwSignal<String>,
    pub timeout: RwSignal<String>,
    pub retries: RwSignal<String>,
    pub start_period: RwSignal<String>,
    pub replace_after: RwSignal<String>,
}

fn number_text(value: Option<i64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// A whole number or nothing.
fn parse_number(text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<i64>()
        .map(Some)
        .map_err(|_| "A whole number.".to_owned())
}

fn check_secs(field: &'static str, text: &str) -> Result<Option<i64>, String> {
    let value = parse_number(text)?;
    validate_health_secs(field, value)
        .map(|()| value)
        .map_err(|e| sentence(&e.to_string()))
}

impl HealthValues {
    pub fn new() -> Self {
        Self {
            mode: RwSignal::new(HealthMode::Image),
            command: RwSignal::new(String::new()),
            interval: RwSignal::new(String::new()),
            timeout: RwSignal::new(String::new()),
            retries: RwSignal::new(String::new()),
            start_period: RwSignal::new(String::new()),
            replace_after: RwSignal::new(String::new()),
        }
    }

    /// Shows a stored definition's check.
    pub fn fill(&self, check: Option<&HealthCheck>, replace_after: Option<i64>) {
        self.replace_after.set(number_text(replace_after));
        let Some(check) = check else {
            self.mode.set(HealthMode::Image);
            return;
        };
        let (mode, command) = match check.test.first().map(String::as_str) {
            Some("NONE") => (HealthMode::Disabled, String::new()),
            Some("CMD-SHELL") => (
                HealthMode::Shell,
                check.test.get(1).cloned().unwrap_or_default(),
            ),
            _ => (
                HealthMode::Exec,
                join_args(check.test.get(1..).unwrap_or_default()),
            ),
        };
        self.mode.set(mode);
        self.command.set(command);
        self.interval.set(number_text(check.interval_secs));
        self.timeout.set(number_text(check.timeout_secs));
        self.retries.set(number_text(check.retries));
        self.start_period.set(number_text(check.start_period_secs));
    }

    /// The test the mode and command make (`None` = the image's own).
    fn test(&self) -> Result<Option<Vec<String>>, String> {
        let command = self.command.get();
        let test = match self.mode.get() {
            HealthMode::Image => return Ok(None),
            HealthMode::Disabled => vec!["NONE".to_owned()],
            HealthMode::Shell => vec!["CMD-SHELL".to_owned(), command.trim().to_owned()],
            HealthMode::Exec => {
                let mut test = vec!["CMD".to_owned()];
                test.extend(split_args(&command)?);
                test
            }
        };
        validate_health_test(&test)
            .map(|()| Some(test))
            .map_err(|e| sentence(&e.to_string()))
    }

    /// What is wrong with one of [`HEALTH_FIELDS`], if anything (the durations only matter for a custom check).
    pub fn error(&self, field: &str) -> Option<String> {
        let custom = self.mode.get().custom();
        match field {
            HC_TEST => self.test().err(),
            HC_INTERVAL if custom => check_secs(HC_INTERVAL, &self.interval.get()).err(),
            HC_TIMEOUT if custom => check_secs(HC_TIMEOUT, &self.timeout.get()).err(),
            HC_START if custom => check_secs(HC_START, &self.start_period.get()).err(),
            HC_RETRIES if custom => parse_number(&self.retries.get())
                .and_then(|v| validate_health_retries(v).map_err(|e| sentence(&e.to_string())))
                .err(),
            REPLACE_AFTER => parse_number(&self.replace_after.get())
                .and_then(|v| {
                    validate_replace_unhealthy_after(v).map_err(|e| sentence(&e.to_string()))
                })
                .err(),
            _ => None,
        }
    }

    /// The check and replace time to send, untracked; `None` when a field is wrong.
    pub fn input(&self) -> Option<(Option<HealthCheck>, Option<i64>)> {
        let untracked = |s: RwSignal<String>| s.get_untracked();
        let replace_after = parse_number(&untracked(self.replace_after)).ok()?;
        let mode = self.mode.get_untracked();
        let check = match mode {
            HealthMode::Image => None,
            HealthMode::Disabled => Some(HealthCheck {
                test: vec!["NONE".to_owned()],
                ..Default::default()
            }),
            HealthMode::Shell | HealthMode::Exec => Some(HealthCheck {
                test: self.test_untracked()?,
                interval_secs: parse_number(&untracked(self.interval)).ok()?,
                timeout_secs: parse_number(&untracked(self.timeout)).ok()?,
                retries: parse_number(&untracked(self.retries)).ok()?,
                start_period_secs: parse_number(&untracked(self.start_period)).ok()?,
            }),
        };
        Some((check, replace_after))
    }

    fn test_untracked(&self) -> Option<Vec<String>> {
        let command = self.command.get_untracked();
        match self.mode.get_untracked() {
            HealthMode::Shell => Some(vec!["CMD-SHELL".to_owned(), command.trim().to_owned()]),
            HealthMode::Exec => {
                let mut test = vec!["CMD".to_owned()];
                test.extend(split_args(&command).ok()?);
                Some(test)
            }
            HealthMode::Image | HealthMode::Disabled => None,
        }
    }
}

impl Default for HealthValues {
    fn default() -> Self {
        Self::new()
    }
}

/// The section: the mode, then (for a custom check) its command and timing; the replace time whenever a check
/// may run. `field_error` gives a field's message (the server's first), `on_edit` is told which field changed.
#[component]
pub fn HealthCheckSection(
    values: HealthValues,
    field_error: Callback<&'static str, Option<String>>,
    on_edit: Callback<&'static str>,
) -> impl IntoView {
    let error = move |field: &'static str| Signal::derive(move || field_error.run(field));
    let edit = move |field: &'static str| Callback::new(move |()| on_edit.run(field));
    let custom = move || values.mode.get().custom();
    let secs_hint = |default: &'static str| {
        Signal::derive(move || format!("Seconds; Docker's default is {default}."))
    };
    view! {
        <section id="container-health" class="form-section" aria-labelledby="container-health-title">
            <div class="form-section-head">
                <h3 id="container-health-title" class="form-section-title">
                    "Health check"
                </h3>
            </div>
            <div class="field-pair">
                <SelectField
                    id="container-health-mode"
                    label="Check"
                    field="healthCheck.mode"
                    error=Signal::derive(|| None::<String>)
                    hint=Signal::derive(move || {
                        match values.mode.get() {
                            HealthMode::Image => "Docker runs the image's HEALTHCHECK, if it has one.",
                            HealthMode::Shell => "Run by /bin/sh -c inside the container; exit 0 means healthy.",
                            HealthMode::Exec => "Run as given, without a shell; exit 0 means healthy.",
                            HealthMode::Disabled => "No health check, not even the image's.",
                        }
                        .to_owned()
                    })
                    on_change=Callback::new(move |value: String| {
                        if let Some(mode) = HealthMode::ALL.iter().find(|m| m.as_str() == value) {
                            values.mode.set(*mode);
                        }
                        on_edit.run(HC_TEST);
                    })
                >
                    {HealthMode::ALL
                        .iter()
                        .map(|mode| {
                            let mode = *mode;
                            view! {
                                <option value=mode.as_str() selected=move || values.mode.get() == mode>
                                    {mode.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </SelectField>
                <Show when=move || values.mode.get() != HealthMode::Disabled>
                    <TextField
                        id="container-health-replace"
                        label="Replace when unhealthy for"
                        field=REPLACE_AFTER
                        input_type="number"
                        placeholder="never"
                        value=values.replace_after
                        error=error(REPLACE_AFTER)
                        hint=Signal::derive(|| "Seconds; Docker itself never restarts an unhealthy container.".to_owned())
                        on_edit=edit(REPLACE_AFTER)
                    />
                </Show>
            </div>
            <Show when=custom>
                <TextField
                    id="container-health-command"
                    label="Command"
                    field=HC_TEST
                    mono=true
                    placeholder="test -f /tmp/ok"
                    value=values.command
                    error=error(HC_TEST)
                    hint=Signal::derive(String::new)
                    on_edit=edit(HC_TEST)
                />
                <div class="field-pair field-quad">
                    <TextField
                        id="container-health-interval"
                        label="Interval"
                        field=HC_INTERVAL
                        input_type="number"
                        placeholder="30"
                        value=values.interval
                        error=error(HC_INTERVAL)
                        hint=secs_hint("30")
                        on_edit=edit(HC_INTERVAL)
                    />
                    <TextField
                        id="container-health-timeout"
                        label="Timeout"
                        field=HC_TIMEOUT
                        input_type="number"
                        placeholder="30"
                        value=values.timeout
                        error=error(HC_TIMEOUT)
                        hint=secs_hint("30")
                        on_edit=edit(HC_TIMEOUT)
                    />
                    <TextField
                        id="container-health-retries"
                        label="Retries"
                        field=HC_RETRIES
                        input_type="number"
                        placeholder="3"
                        value=values.retries
                        error=error(HC_RETRIES)
                        hint=Signal::derive(|| "Failures in a row before unhealthy.".to_owned())
                        on_edit=edit(HC_RETRIES)
                    />
                    <TextField
                        id="container-health-start"
                        label="Start period"
                        field=HC_START
                        input_type="number"
                        placeholder="0"
                        value=values.start_period
                        error=error(HC_START)
                        hint=secs_hint("0")
                        on_edit=edit(HC_START)
                    />
                </div>
            </Show>
        </section>
    }
}
