//! Alerts page (`/alerts`) in four sections chosen by subtabs and kept in the address (`?tab=channels`,
//! `rules`, `silences`; the alerts themselves without it):
//!
//! - **Alerts** (`table#alerts-table`, `tr.alert-row[data-id][data-state]`): newest first, 50 at a time with
//!   "Load more", filtered by state in the address (`?state=open|acknowledged|resolved`, all without it), live from
//!   `alertChanges` (new alerts appear in place, state changes update their row). Operators acknowledge open
//!   alerts; a row opens its details with every notification and attempt.
//! - **Channels** (`table#channels-table`): where notifications go, the add/edit dialog whose fields follow the
//!   kind (checked as you type with the shared parsers; secrets are write-only), "Send test" with its result in
//!   the row, delete.
//! - **Rules** (`table#rules-table`): what raises alerts, with the add/edit dialog (condition, host, label
//!   selector, channels, repeat interval).
//! - **Silences** (`table#silences-table`): what mutes them, active or ended, with the new-silence dialog.
//!
//! Viewers read everything; operators acknowledge; admins manage channels, rules and silences. The top bar's
//! count of open alerts is kept by [`watch_open_alert_count`].

use std::collections::{BTreeSet, HashMap};

use berth_shared::{
    AlertChannelKind, AlertCondition, AlertState, LabelSelector, SmtpSecurity, parse_email_list,
    parse_http_url, validate_email, validate_repeat_secs, validate_restart_loop,
    validate_threshold_percent,
};
use leptos::{ev::SubmitEvent, html, prelude::*, task::spawn_local};
use leptos_router::{
    NavigateOptions,
    hooks::{use_location, use_navigate, use_query_map},
};
use wasm_bindgen::JsValue;

use crate::{
    api::{
        self, ApiError, Host, Live, Role,
        alerts::{
            Alert, AlertChangeKind, AlertChannel, AlertChannelInput, AlertRule, AlertRuleInput,
            AlertSubject, Delivery, Silence, SilenceInput, acknowledge_alert, alert_channels,
            alert_deliveries, alert_rules, alerts, create_alert_channel, create_alert_rule,
            create_silence, delete_alert_channel, delete_alert_rule, delete_silence,
            open_alert_count, silences, state_label, test_alert_channel, update_alert_channel,
            update_alert_rule, watch_alert_changes,
        },
    },
    components::{
        badge::{Badge, Tone},
        dialog::{ConfirmDialog, FormDialog, Pending},
        empty_state::EmptyState,
        field::{
            CheckRow, FieldErrors, FieldFoot, HostOptions, SelectField, TextField, enum_options,
        },
        format::{sentence, truncate},
        icons::{Icon, IconKind},
        live::{LiveIndicator, LiveState},
        loading::{Latest, ListPhase, ListState, LoadFailed, LoadingCard},
        page_header::PageHeader,
        paged::{LoadMore, Paged, PagedState, Pages},
        permission::{can, needs_title},
        table_tools::ActionsHeader,
        time::{Countdown, Timestamp, absolute, clock},
        toast::use_toasts,
    },
};

/// Alerts per page.
const PAGE_SIZE: i64 = 50;
/// Columns of the alerts table (placeholder and detail rows).
const ALERT_COLUMNS: &str = "7";
/// Characters of an alert's message shown in the table (all of it in the details).
const MESSAGE_PREVIEW: usize = 120;
/// Characters of an error shown in a row (all of it on hover).
const ERROR_PREVIEW: usize = 80;
/// The longest channel or rule name the server takes.
const NAME_MAX: usize = 100;
/// The longest signing key the server takes.
const SECRET_MAX: usize = 1024;
/// The longest silence comment the server takes.
const COMMENT_MAX: usize = 1000;

/// The query keys of the page's address.
const TAB: &str = "tab";
const STATE: &str = "state";

// ---------------------------------------------------------------- the top bar's count

/// The number of open alerts, kept by the shell for the top bar (`None` until known).
#[derive(Clone, Copy)]
pub struct OpenAlertCount(pub RwSignal<Option<i64>>);

/// Asks for `openAlertCount`, then follows `alertChanges.openCount` for as long as the current component (the
/// shell) lives; asks again after every (re)connection, since changes are not replayed. Provides the count as
/// [`OpenAlertCount`] too.
pub fn watch_open_alert_count() -> RwSignal<Option<i64>> {
    let count = RwSignal::new(None::<i64>);
    provide_context(OpenAlertCount(count));
    // Changes seen so far: an answer to a question asked before the latest change is stale.
    let seen = StoredValue::new(0_u64);
    let fetch = move || {
        let Some(asked_at) = seen.try_get_value() else {
            return;
        };
        spawn_local(async move {
            if let Ok(n) = open_alert_count().await
                && seen.try_get_value() == Some(asked_at)
            {
                count.try_set(Some(n));
            }
        });
    };
    fetch();
    watch_alert_changes(move |event| match event {
        Live::Event(change) => {
            seen.update_value(|n| *n = n.wrapping_add(1));
            count.set(Some(change.open_count));
        }
        Live::Connected { .. } => fetch(),
        _ => {}
    });
    count
}

// ---------------------------------------------------------------- words

/// The page's sections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Alerts,
    Channels,
    Rules,
    Silences,
}

impl Section {
    const ALL: [Section; 4] = [
        Section::Alerts,
        Section::Channels,
        Section::Rules,
        Section::Silences,
    ];

    fn from_query(value: Option<&str>) -> Self {
        match value {
            Some("channels") => Self::Channels,
            Some("rules") => Self::Rules,
            Some("silences") => Self::Silences,
            _ => Self::Alerts,
        }
    }

    fn query(self) -> &'static str {
        match self {
            Self::Alerts => "alerts",
            Self::Channels => "channels",
            Self::Rules => "rules",
            Self::Silences => "silences",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Alerts => "Alerts",
            Self::Channels => "Channels",
            Self::Rules => "Rules",
            Self::Silences => "Silences",
        }
    }

    fn icon(self) -> IconKind {
        match self {
            Self::Alerts => IconKind::Bell,
            Self::Channels => IconKind::Send,
            Self::Rules => IconKind::Events,
            Self::Silences => IconKind::BellOff,
        }
    }
}

/// Which alerts the list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StateFilter {
    All,
    Open,
    Acknowledged,
    Resolved,
}

impl StateFilter {
    const ALL: [StateFilter; 4] = [
        StateFilter::Open,
        StateFilter::Acknowledged,
        StateFilter::Resolved,
        StateFilter::All,
    ];

    fn from_query(value: Option<&str>) -> Self {
        match value {
            Some("open") => Self::Open,
            Some("acknowledged") => Self::Acknowledged,
            Some("resolved") => Self::Resolved,
            _ => Self::All,
        }
    }

    /// The address's value; `None` for all.
    fn query(self) -> Option<&'static str> {
        match self {
            Self::All => None,
            Self::Open => Some("open"),
            Self::Acknowledged => Some("acknowledged"),
            Self::Resolved => Some("resolved"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::All => "All",
            Self::Open => "Open",
            Self::Acknowledged => "Acknowledged",
            Self::Resolved => "Resolved",
        }
    }

    fn states(self) -> Vec<AlertState> {
        match self {
            Self::All => Vec::new(),
            Self::Open => vec![AlertState::Open],
            Self::Acknowledged => vec![AlertState::Acknowledged],
            Self::Resolved => vec![AlertState::Resolved],
        }
    }

    fn admits(self, state: AlertState) -> bool {
        match self {
            Self::All => true,
            Self::Open => state == AlertState::Open,
            Self::Acknowledged => state == AlertState::Acknowledged,
            Self::Resolved => state == AlertState::Resolved,
        }
    }

    /// What the list says when nothing matches.
    fn nothing(self) -> &'static str {
        match self {
            Self::All => "No alerts.",
            Self::Open => "No open alerts.",
            Self::Acknowledged => "No acknowledged alerts.",
            Self::Resolved => "No resolved alerts.",
        }
    }
}

fn state_tone(state: AlertState) -> Tone {
    match state {
        AlertState::Open => Tone::Down,
        AlertState::Acknowledged => Tone::Warn,
        AlertState::Resolved => Tone::Up,
    }
}

/// "1 day", "4 h", "30 min", "90 s".
fn duration_text(secs: i64) -> String {
    if secs >= 86_400 && secs % 86_400 == 0 {
        let days = secs / 86_400;
        format!("{days} day{}", if days == 1 { "" } else { "s" })
    } else if secs >= 3600 && secs % 3600 == 0 {
        format!("{} h", secs / 3600)
    } else if secs >= 60 && secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// A repeat interval as the field shows it: `0`, `90s`, `30m`, `4h`, `1d`.
fn repeat_field_text(secs: i64) -> String {
    if secs == 0 {
        "0".to_owned()
    } else if secs % 86_400 == 0 {
        format!("{}d", secs / 86_400)
    } else if secs % 3600 == 0 {
        format!("{}h", secs / 3600)
    } else if secs % 60 == 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// A duration as typed: seconds (`300`) or with a unit (`90s`, `30m`, `4h`, `1d`).
fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim().to_lowercase();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number
        .parse()
        .map_err(|_| "Write a number of seconds, or such as 30m, 4h or 1d.".to_owned())?;
    let unit = match unit.trim() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        other => return Err(format!("“{other}” is not a unit: use s, m, h or d.")),
    };
    number
        .checked_mul(unit)
        .ok_or_else(|| "That is far too long.".to_owned())
}

/// A repeat interval as typed (`0`, `300`, `90s`, `30m`, `4h`, `1d`), checked with the server's rule.
fn parse_repeat(text: &str) -> Result<i64, String> {
    let trimmed = text.trim().to_lowercase();
    if trimmed.is_empty() || trimmed == "0" || trimmed == "once" {
        return Ok(0);
    }
    let secs = parse_duration(&trimmed)?;
    validate_repeat_secs(secs).map_err(|message| sentence(&message))?;
    Ok(secs)
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

/// A name as the server takes it: trimmed, 1 to [`NAME_MAX`] characters, no control characters.
fn check_name(text: &str, what: &str) -> Result<String, String> {
    let name = text.trim();
    if name.is_empty() {
        return Err(format!("Give the {what} a name."));
    }
    if name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Err(format!(
            "A {what} name has 1 to {NAME_MAX} characters and no control characters."
        ));
    }
    Ok(name.to_owned())
}

/// An optional label selector (`app=web`, `team`).
fn check_label(text: &str) -> Result<Option<String>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    LabelSelector::parse(text)
        .map(|selector| Some(selector.to_string()))
        .map_err(|message| sentence(&message))
}

/// The error as if it named the base of its field (`channelIds.0` → `channelIds`), so it lands under the field.
fn base_field(error: &ApiError) -> ApiError {
    let mut error = error.clone();
    if let Some(field) = &error.field
        && let Some((base, _)) = field.split_once('.')
    {
        error.field = Some(base.to_owned());
    }
    error
}

/// `Some(trimmed)` unless blank.
fn filled(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The moment `secs` from now, as RFC 3339.
fn in_secs(secs: i64) -> String {
    let millis = js_sys::Date::now() + (secs as f64) * 1000.0;
    String::from(js_sys::Date::new(&JsValue::from_f64(millis)).to_iso_string())
}

/// Milliseconds since the epoch of an RFC 3339 time (0 when unreadable), for ordering.
fn millis(iso: &str) -> f64 {
    let value = js_sys::Date::parse(iso);
    if value.is_nan() { 0.0 } else { value }
}

// ---------------------------------------------------------------- the page

/// What every section reads: channels, rules, silences and hosts, loaded once for the page.
#[derive(Clone, Copy)]
struct Shared {
    channels: RwSignal<ListState<AlertChannel>>,
    rules: RwSignal<ListState<AlertRule>>,
    silences: RwSignal<ListState<Silence>>,
    hosts: RwSignal<Vec<Host>>,
    latest_channels: Latest,
    latest_rules: Latest,
    latest_silences: Latest,
}

impl Shared {
    fn load() -> Self {
        let shared = Self {
            channels: RwSignal::new(ListState::Loading),
            rules: RwSignal::new(ListState::Loading),
            silences: RwSignal::new(ListState::Loading),
            hosts: RwSignal::new(Vec::new()),
            latest_channels: Latest::new(),
            latest_rules: Latest::new(),
            latest_silences: Latest::new(),
        };
        shared.reload_channels();
        shared.reload_rules();
        shared.reload_silences();
        Latest::new().run(api::hosts(), move |result| {
            if let Ok(list) = result {
                shared.hosts.set(list);
            }
        });
        shared
    }

    fn reload_channels(self) {
        self.latest_channels.run(alert_channels(), move |result| {
            self.channels.update(|state| state.settle(result))
        });
    }

    fn reload_rules(self) {
        self.latest_rules.run(alert_rules(), move |result| {
            self.rules.update(|state| state.settle(result))
        });
    }

    fn reload_silences(self) {
        self.latest_silences.run(silences(), move |result| {
            self.silences.update(|state| state.settle(result))
        });
    }

    fn channel_name(self, id: &str) -> Option<String> {
        self.channels.with(|state| {
            state
                .items()
                .iter()
                .find(|c| c.id == id)
                .map(|c| c.name.clone())
        })
    }

    fn channel_kind(self, id: &str) -> Option<AlertChannelKind> {
        self.channels
            .with(|state| state.items().iter().find(|c| c.id == id).map(|c| c.kind))
    }

    fn host_name(self, id: &str) -> Option<String> {
        self.hosts
            .with(|hosts| hosts.iter().find(|h| h.id == id).map(|h| h.name.clone()))
    }

    fn rule_name(self, id: &str) -> Option<String> {
        self.rules.with(|state| {
            state
                .items()
                .iter()
                .find(|r| r.id == id)
                .map(|r| r.name.clone())
        })
    }
}

/// The Alerts page.
#[component]
pub fn AlertsPage() -> impl IntoView {
    let query = use_query_map();
    let navigate = use_navigate();
    let pathname = use_location().pathname;
    let section = Memo::new(move |_| query.with(|q| Section::from_query(q.get_str(TAB))));
    let filter = Memo::new(move |_| query.with(|q| StateFilter::from_query(q.get_str(STATE))));
    let set_filter = Callback::new(move |next: StateFilter| {
        let mut map = query.get_untracked();
        match next.query() {
            Some(value) => map.replace(STATE, value.to_owned()),
            None => {
                map.remove(STATE);
            }
        }
        navigate(
            &format!("{}{}", pathname.get_untracked(), map.to_query_string()),
            NavigateOptions {
                replace: true,
                scroll: false,
                ..NavigateOptions::default()
            },
        );
    });
    let shared = Shared::load();
    let open_count = use_context::<OpenAlertCount>().map(|c| c.0);

    let count_of = move |section: Section| -> Option<String> {
        match section {
            Section::Alerts => open_count
                .and_then(|c| c.get())
                .filter(|n| *n > 0)
                .map(|n| n.to_string()),
            Section::Channels => shared.channels.with(|s| match s {
                ListState::Loaded(list) => Some(list.len().to_string()),
                _ => None,
            }),
            Section::Rules => shared.rules.with(|s| match s {
                ListState::Loaded(list) => Some(list.len().to_string()),
                _ => None,
            }),
            Section::Silences => shared.silences.with(|s| match s {
                ListState::Loaded(list) => {
                    Some(list.iter().filter(|s| s.active).count().to_string())
                }
                _ => None,
            }),
        }
    };

    view! {
        <PageHeader
            title="Alerts"
            description="What broke and who was told; where notifications go, what raises them and what mutes them."
        />
        <nav class="subtabs alerts-subtabs" role="tablist" aria-label="Alert sections">
            {Section::ALL
                .into_iter()
                .map(|this| {
                    let active = move || section.get() == this;
                    let href = match this {
                        Section::Alerts => "/alerts".to_owned(),
                        other => format!("/alerts?{TAB}={}", other.query()),
                    };
                    view! {
                        <a
                            id=format!("alerts-subtab-{}", this.query())
                            class="subtab"
                            class:active=active
                            role="tab"
                            aria-selected=move || active().to_string()
                            aria-current=move || active().then_some("page")
                            href=href
                        >
                            <Icon kind=this.icon() />
                            <span>{this.label()}</span>
                            {move || count_of(this).map(|n| {
                                let class = if this == Section::Alerts { "subtab-count alerting" } else { "subtab-count" };
                                view! { <span class=class>{n}</span> }
                            })}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
        {move || match section.get() {
            Section::Alerts => view! { <AlertsSection shared=shared filter=filter set_filter=set_filter /> }.into_any(),
            Section::Channels => view! { <ChannelsSection shared=shared /> }.into_any(),
            Section::Rules => view! { <RulesSection shared=shared /> }.into_any(),
            Section::Silences => view! { <SilencesSection shared=shared /> }.into_any(),
        }}
    }
}

// ---------------------------------------------------------------- alerts

/// Puts an alert that is not listed yet where it belongs in the newest-first order, unless it is older than every
/// loaded row while more pages follow (it arrives with "Load more").
fn place(pages: &mut Pages<Alert>, alert: Alert) {
    let at = millis(&alert.opened_at);
    let index = pages
        .items
        .iter()
        .position(|a| millis(&a.opened_at) < at)
        .unwrap_or(pages.items.len());
    if index < pages.items.len() || !pages.has_next_page {
        pages.items.insert(index, alert);
    }
}

#[component]
fn AlertsSection(
    shared: Shared,
    filter: Memo<StateFilter>,
    set_filter: Callback<StateFilter>,
) -> impl IntoView {
    let list = Paged::new(
        move |after| {
            let states = filter.get_untracked().states();
            Box::pin(async move { alerts(&states, PAGE_SIZE, after.as_deref()).await })
        },
        |alert: &Alert| &alert.id,
    );
    let live = RwSignal::new(LiveState::Connecting);
    Effect::new(move |previous: Option<StateFilter>| {
        let now = filter.get();
        if previous.is_some_and(|p| p != now) {
            list.restart();
        } else {
            list.reload();
        }
        now
    });

    watch_alert_changes(move |event| {
        LiveState::follow(live, &event);
        match event {
            Live::Event(change) => {
                let loading = list
                    .state
                    .with_untracked(|state| matches!(state, PagedState::Loading));
                if loading {
                    // The page being loaded may or may not have it: ask again.
                    list.reload();
                    return;
                }
                let filter_now = filter.get_untracked();
                let admitted = filter_now.admits(change.alert.state);
                list.state.update(|state| {
                    let PagedState::Loaded(loaded) = state else {
                        return;
                    };
                    // Whether the alert counted in the filter before this change.
                    let before = match loaded.items.iter().find(|a| a.id == change.alert.id) {
                        Some(old) => filter_now.admits(old.state),
                        None => match change.kind {
                            AlertChangeKind::Opened => false,
                            AlertChangeKind::Acknowledged => filter_now.admits(AlertState::Open),
                            AlertChangeKind::Resolved => {
                                filter_now.admits(AlertState::Open)
                                    || filter_now.admits(AlertState::Acknowledged)
                            }
                        },
                    };
                    loaded.total += i64::from(admitted) - i64::from(before);
                    if let Some(slot) = loaded.items.iter_mut().find(|a| a.id == change.alert.id) {
                        // In place, even when it left the filter: the row says what happened.
                        *slot = change.alert;
                    } else if admitted {
                        // Among the loaded rows, unless older than all of them (then "Load more" brings it).
                        place(loaded, change.alert);
                    }
                });
            }
            // Changes were missed while the feed was down.
            Live::Connected { reconnect: true } => list.reload(),
            _ => {}
        }
    });

    let phase = Memo::new(move |_| list.state.with(PagedState::phase));
    let rows = move || list.state.with(|state| state.items().to_vec());
    let count = move || list.state.with(|state| state.count_text("alert", "alerts"));

    let empty = move || {
        let filter_now = filter.get();
        let nothing_set_up = move || {
            shared
                .channels
                .with(|c| matches!(c, ListState::Loaded(list) if list.is_empty()))
                || shared
                    .rules
                    .with(|r| matches!(r, ListState::Loaded(list) if list.is_empty()))
        };
        if filter_now == StateFilter::All {
            view! {
                <div class="card">
                    <EmptyState icon=IconKind::Bell title="No alerts">
                        <p id="alerts-empty">
                            "No alerts. Create a channel and a rule to be told when something breaks."
                        </p>
                        <p class="muted">
                            "A channel says where notifications go (a webhook, Slack, ntfy or email); a rule says "
                            "what raises an alert (a container that exits, runs out of memory or keeps restarting, "
                            "a host that stops answering, …). Alerts resolve by themselves when the cause goes away."
                        </p>
                        <Show when=nothing_set_up>
                            <div class="empty-state-actions">
                                <a id="alerts-go-channels" class="btn btn-primary" href="/alerts?tab=channels">
                                    <Icon kind=IconKind::Send />
                                    <span>"Set up a channel"</span>
                                </a>
                                <a id="alerts-go-rules" class="btn btn-secondary" href="/alerts?tab=rules">
                                    <span>"Rules"</span>
                                </a>
                            </div>
                        </Show>
                    </EmptyState>
                </div>
            }
            .into_any()
        } else {
            view! {
                <div class="card">
                    <div class="table-empty alerts-none">
                        <Icon kind=IconKind::Check />
                        <div>
                            <strong>{filter_now.nothing()}</strong> " "
                            <button
                                type="button"
                                class="btn btn-ghost btn-sm"
                                on:click=move |_| set_filter.run(StateFilter::All)
                            >
                                "Show all alerts"
                            </button>
                        </div>
                    </div>
                </div>
            }
            .into_any()
        }
    };

    let table = move || {
        view! {
            <div class="card table-card table-scroll">
                <table id="alerts-table" class="table alerts-table">
                    <thead>
                        <tr>
                            <th>"State"</th>
                            <th>"Condition"</th>
                            <th>"Subject"</th>
                            <th>"Message"</th>
                            <th>"Opened"</th>
                            <th>"Handled"</th>
                            <ActionsHeader label="Actions" />
                        </tr>
                    </thead>
                    <tbody>
                        <For each=rows key=|alert| alert.id.clone() let:alert>
                            <AlertRow alert=alert list=list shared=shared />
                        </For>
                    </tbody>
                </table>
            </div>
            <LoadMore paged=list id="alerts-more" failed="More alerts could not be loaded" />
        }
    };

    view! {
        <section id="alerts-section" class="section" role="tabpanel" aria-labelledby="alerts-subtab-alerts">
            <div class="toolbar">
                <div class="segmented" role="group" aria-label="Which alerts">
                    {StateFilter::ALL
                        .into_iter()
                        .map(|option| {
                            let active = move || filter.get() == option;
                            view! {
                                <button
                                    id=format!("alerts-filter-{}", option.label().to_lowercase())
                                    type="button"
                                    class="segment"
                                    class:active=active
                                    aria-pressed=move || active().to_string()
                                    on:click=move |_| set_filter.run(option)
                                >
                                    {option.label()}
                                </button>
                            }
                        })
                        .collect_view()}
                </div>
                <span class="toolbar-count muted" id="alerts-count" aria-live="polite">
                    {count}
                    <LiveIndicator state=live />
                </span>
            </div>
            {move || match phase.get() {
                ListPhase::Loading => view! { <LoadingCard text="Loading alerts…" /> }.into_any(),
                ListPhase::Failed(error) => view! {
                    <LoadFailed what="The alerts" error=error on_retry=Callback::new(move |()| list.restart()) />
                }
                .into_any(),
                ListPhase::Empty => empty().into_any(),
                ListPhase::List => table().into_any(),
            }}
        </section>
    }
}

/// The subject's name (a link to its page where there is one) and, under it, the host it is on.
fn subject_view(subject: &AlertSubject) -> impl IntoView + use<> {
    let name = subject
        .name()
        .map(str::to_owned)
        .unwrap_or_else(|| subject.key.clone());
    let href = if let Some(id) = &subject.container_id {
        Some(format!("/containers/{id}"))
    } else if let Some(id) = &subject.registry_id {
        Some(format!("/storage/registries/{id}"))
    } else if subject.docker_name.is_some() {
        subject
            .host_id
            .as_ref()
            .map(|id| format!("/hosts/{id}?tab=containers"))
    } else {
        subject.host_id.as_ref().map(|id| format!("/hosts/{id}"))
    };
    let host = subject.on_host().map(|host| {
        let host = host.to_owned();
        let link = subject.host_id.as_ref().map(|id| format!("/hosts/{id}"));
        view! {
            <span class="alert-subject-host muted">
                "on "
                {match link {
                    Some(href) => view! { <a href=href>{host}</a> }.into_any(),
                    None => view! { <span>{host}</span> }.into_any(),
                }}
            </span>
        }
    });
    let title = name.clone();
    view! {
        <span class="alert-subject-name" title=title>
            {match href {
                Some(href) => view! { <a href=href class="strong">{name}</a> }.into_any(),
                None => view! { <span class="strong">{name}</span> }.into_any(),
            }}
        </span>
        {host}
    }
}

/// One `tr.alert-row` and, when opened, its `tr.alert-detail-row`. The row stays in place while its alert
/// changes: every cell reads the alert from the list.
#[component]
fn AlertRow(alert: Alert, list: Paged<Alert>, shared: Shared) -> impl IntoView {
    let toasts = use_toasts();
    let id = alert.id.clone();
    let current = {
        let id = id.clone();
        Memo::new(move |previous: Option<&Alert>| {
            list.find(&id)
                .or_else(|| previous.cloned())
                .unwrap_or_else(|| alert.clone())
        })
    };
    let expanded = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let operator = can(Role::Operator);
    let state = Memo::new(move |_| current.with(|a| a.state));

    let acknowledge = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        let id = current.with_untracked(|a| a.id.clone());
        spawn_local(async move {
            match acknowledge_alert(&id).await {
                Ok(alert) => {
                    list.replace(alert);
                    toasts.success(
                        "Alert acknowledged: no more reminders. It still resolves by itself.",
                    );
                }
                Err(error) => toasts.error(format!(
                    "Could not acknowledge the alert: {}",
                    error.message
                )),
            }
            busy.try_set(false);
        });
    };

    let detail_id = format!("alert-detail-{id}");
    let controls = detail_id.clone();
    view! {
        <tr
            class="alert-row"
            class:expanded=move || expanded.get()
            data-id=id.clone()
            data-state=move || state.get().as_str()
            data-condition=move || current.with(|a| a.condition.as_str())
            data-docker-name=move || current.with(|a| a.subject.docker_name.clone())
        >
            <td class="alert-state">
                {move || {
                    let now = state.get();
                    view! { <Badge tone=state_tone(now)>{state_label(now)}</Badge> }
                }}
                {move || current.with(|a| a.silenced).then(|| view! {
                    <span class="tag alert-silenced" title="A silence matched when it opened: nothing was sent.">
                        "Silenced"
                    </span>
                })}
            </td>
            <td class="alert-condition">
                <span class="strong">{move || current.with(|a| a.condition.label())}</span>
                <span class="alert-rule muted">{move || current.with(|a| a.rule_name.clone())}</span>
            </td>
            <td class="alert-subject">{move || current.with(|a| subject_view(&a.subject))}</td>
            <td class="alert-message">
                <span title=move || current.with(|a| a.message.clone())>
                    {move || current.with(|a| truncate(&a.message, MESSAGE_PREVIEW))}
                </span>
            </td>
            <td class="alert-opened">
                {move || current.with(|a| view! { <Timestamp value=a.opened_at.clone() /> })}
            </td>
            <td class="alert-handled">
                {move || current.with(|a| match a.state {
                    AlertState::Resolved => view! {
                        <span class="alert-handled-line">
                            "Resolved "
                            {a.resolved_at.clone().map(|at| view! { <Timestamp value=at /> })}
                        </span>
                        {a.resolve_message.clone().map(|message| view! {
                            <span class="alert-handled-note muted" title=message.clone()>
                                {truncate(&message, ERROR_PREVIEW)}
                            </span>
                        })}
                    }
                    .into_any(),
                    AlertState::Acknowledged => view! {
                        <span class="alert-handled-line">
                            "Acknowledged "
                            {a.acknowledged_at.clone().map(|at| view! { <Timestamp value=at /> })}
                        </span>
                        {a.acknowledged_by.clone().map(|by| view! {
                            <span class="alert-handled-note muted">"by " {by}</span>
                        })}
                    }
                    .into_any(),
                    AlertState::Open => view! { <span class="muted">"—"</span> }.into_any(),
                })}
            </td>
            <td class="actions-col">
                <div class="row-actions">
                    {operator.then(|| view! {
                        <Show when=move || state.get() == AlertState::Open>
                            <button
                                type="button"
                                class="btn btn-secondary btn-sm alert-acknowledge"
                                title="Stop the reminders; the alert still resolves by itself"
                                disabled=move || busy.get()
                                on:click=acknowledge
                            >
                                {move || if busy.get() { "Acknowledging…" } else { "Acknowledge" }}
                            </button>
                        </Show>
                    })}
                    <button
                        type="button"
                        class="icon-button alert-toggle"
                        class:open=move || expanded.get()
                        title=move || if expanded.get() { "Hide details" } else { "Details and notifications" }
                        aria-label=move || if expanded.get() { "Hide details" } else { "Show details and notifications" }
                        aria-expanded=move || expanded.get().to_string()
                        aria-controls=controls.clone()
                        on:click=move |_| expanded.update(|open| *open = !*open)
                    >
                        <Icon kind=IconKind::ChevronDown />
                    </button>
                </div>
            </td>
        </tr>
        <Show when=move || expanded.get()>
            <tr class="alert-detail-row" id=detail_id.clone()>
                <td colspan=ALERT_COLUMNS>
                    <AlertDetail alert=current shared=shared />
                </td>
            </tr>
        </Show>
    }
}

/// An alert's facts and its notifications (`.delivery` per channel and event, `.delivery-attempt` per try),
/// loaded when opened, again when the alert changes, and every few seconds while one is still pending.
#[component]
fn AlertDetail(alert: Memo<Alert>, shared: Shared) -> impl IntoView {
    let deliveries = RwSignal::new(ListState::<Delivery>::Loading);
    let id = StoredValue::new(alert.with_untracked(|a| a.id.clone()));
    let latest = Latest::new();
    let timer = StoredValue::new(None::<TimeoutHandle>);
    // `again`: how many more looks to take whatever the answer (the notifications of a change may be queued a
    // moment after the change is published).
    let load = move |again: u8| {
        if let Some(Some(old)) = timer.try_get_value() {
            old.clear();
            timer.try_set_value(None);
        }
        load_deliveries(id, latest, deliveries, timer, again);
    };
    on_cleanup(move || {
        if let Some(Some(handle)) = timer.try_get_value() {
            handle.clear();
        }
    });
    let state = Memo::new(move |_| alert.with(|a| a.state));
    // Read, not only tracked: a memo nobody read yet has no sources, so it would never change.
    Effect::new(move |previous: Option<AlertState>| {
        let now = state.get();
        load(if previous.is_none() { 0 } else { 2 });
        now
    });

    let facts = move || {
        alert.with(|a| {
            let subject = &a.subject;
            let mut rows: Vec<(&'static str, String)> = vec![
                ("Rule", a.rule_name.clone()),
                ("Condition", a.condition.label().to_owned()),
            ];
            if let Some(name) = &subject.container_name {
                rows.push(("Container", name.clone()));
            }
            if let Some(name) = &subject.docker_name {
                rows.push(("Docker container", name.clone()));
            }
            if let Some(docker_id) = &subject.docker_id {
                rows.push(("Docker id", docker_id.chars().take(12).collect()));
            }
            if let Some(image) = &subject.image {
                rows.push(("Image", image.clone()));
            }
            if let Some(code) = subject.exit_code {
                rows.push(("Exit code", code.to_string()));
            }
            if let Some(name) = &subject.registry_name {
                rows.push(("Registry", name.clone()));
            }
            if let Some(name) = &subject.host_name {
                rows.push(("Host", name.clone()));
            }
            rows.push(("Opened", absolute(&a.opened_at)));
            if let Some(at) = &a.acknowledged_at {
                let by = a
                    .acknowledged_by
                    .clone()
                    .map(|by| format!(" by {by}"))
                    .unwrap_or_default();
                rows.push(("Acknowledged", format!("{}{by}", absolute(at))));
            }
            if let Some(at) = &a.resolved_at {
                let why = a
                    .resolve_message
                    .clone()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                rows.push(("Resolved", format!("{}{why}", absolute(at))));
            }
            rows
        })
    };

    view! {
        <div class="alert-detail">
            <div class="alert-detail-facts">
                <p class="alert-detail-message">{move || alert.with(|a| a.message.clone())}</p>
                <dl class="alert-facts">
                    {move || {
                        facts()
                            .into_iter()
                            .map(|(term, value)| view! {
                                <div class="alert-fact">
                                    <dt>{term}</dt>
                                    <dd>{value}</dd>
                                </div>
                            })
                            .collect_view()
                    }}
                </dl>
            </div>
            <div class="alert-detail-deliveries">
                <div class="section-head">
                    <h3 class="section-title">"Notifications"</h3>
                    <button type="button" class="btn btn-ghost btn-sm delivery-refresh" on:click=move |_| load(0)>
                        <Icon kind=IconKind::Refresh />
                        <span>"Refresh"</span>
                    </button>
                </div>
                {move || match deliveries.with(ListState::phase) {
                    ListPhase::Loading => view! {
                        <div class="delivery-note muted" aria-busy="true">
                            <span class="spinner spinner-sm" aria-hidden="true"></span>
                            " Loading notifications…"
                        </div>
                    }
                    .into_any(),
                    ListPhase::Failed(error) => view! {
                        <p class="field-error">"The notifications could not be loaded: " {error.message}</p>
                    }
                    .into_any(),
                    ListPhase::Empty => view! {
                        <p class="delivery-note muted">
                            {move || if alert.with(|a| a.silenced) {
                                "Nothing was sent: a silence matched when the alert opened."
                            } else {
                                "Nothing was sent: the rule names no enabled channel."
                            }}
                        </p>
                    }
                    .into_any(),
                    ListPhase::List => view! {
                        <ol class="delivery-list">
                            {move || {
                                deliveries
                                    .with(|state| state.items().to_vec())
                                    .into_iter()
                                    .map(|delivery| view! { <DeliveryItem delivery=delivery shared=shared /> })
                                    .collect_view()
                            }}
                        </ol>
                    }
                    .into_any(),
                }}
            </div>
        </div>
    }
}

/// Loads an alert's notifications into `deliveries`; while one is still pending (or `again` is not 0 yet), again
/// in a moment (the handle in `timer`, cleared when the details close).
fn load_deliveries(
    id: StoredValue<String>,
    latest: Latest,
    deliveries: RwSignal<ListState<Delivery>>,
    timer: StoredValue<Option<TimeoutHandle>>,
    again: u8,
) {
    let Some(alert_id) = id.try_get_value() else {
        return;
    };
    latest.run(
        async move { alert_deliveries(&alert_id).await },
        move |result: Result<Vec<Delivery>, ApiError>| {
            let pending = result
                .as_ref()
                .is_ok_and(|list| list.iter().any(|d| d.state == "PENDING"));
            deliveries.update(|state| state.settle(result));
            if (pending || again > 0)
                && let Ok(handle) = set_timeout_with_handle(
                    move || {
                        timer.try_set_value(None);
                        load_deliveries(id, latest, deliveries, timer, again.saturating_sub(1));
                    },
                    std::time::Duration::from_secs(2),
                )
            {
                timer.try_set_value(Some(handle));
            }
        },
    );
}

/// "HTTP 200" or "SMTP 250".
fn status_text(kind: Option<AlertChannelKind>, code: i64) -> String {
    match kind {
        Some(AlertChannelKind::Email) => format!("SMTP {code}"),
        _ => format!("HTTP {code}"),
    }
}

fn delivery_tone(state: &str) -> (Tone, &'static str) {
    match state {
        "DELIVERED" => (Tone::Up, "Delivered"),
        "PENDING" => (Tone::Warn, "Retrying"),
        "FAILED" => (Tone::Down, "Failed"),
        _ => (Tone::Neutral, "Unknown"),
    }
}

/// One notification (`li.delivery[data-event][data-state]`) and its attempts.
#[component]
fn DeliveryItem(delivery: Delivery, shared: Shared) -> impl IntoView {
    let kind = shared.channel_kind(&delivery.channel_id);
    let channel = shared
        .channel_name(&delivery.channel_id)
        .unwrap_or_else(|| "a deleted channel".to_owned());
    let (tone, word) = delivery_tone(&delivery.state);
    let next = (delivery.state == "PENDING")
        .then(|| delivery.next_attempt_at.clone())
        .flatten();
    let attempts = delivery
        .attempts
        .iter()
        .map(|attempt| {
            let (class, text) = match (attempt.status_code, &attempt.error) {
                (Some(code), None) if (200..300).contains(&code) => {
                    ("attempt-result ok", status_text(kind, code))
                }
                (Some(code), error) => (
                    "attempt-result fail",
                    match error {
                        Some(error) => format!("{}: {error}", status_text(kind, code)),
                        None => status_text(kind, code),
                    },
                ),
                (None, Some(error)) => ("attempt-result fail", error.clone()),
                (None, None) => ("attempt-result", "no answer".to_owned()),
            };
            let code = attempt.status_code.map(|c| c.to_string());
            view! {
                <li class="delivery-attempt" data-status=code>
                    <time class="mono" datetime=attempt.at.clone() title=absolute(&attempt.at)>
                        {clock(&attempt.at)}
                    </time>
                    <span class=class title=text.clone()>{truncate(&text, ERROR_PREVIEW * 2)}</span>
                    <span class="muted attempt-duration">{format!("{} ms", attempt.duration_ms)}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <li class="delivery" data-event=delivery.event.clone() data-state=delivery.state.clone()>
            <div class="delivery-head">
                <span class="tag">{delivery.event.clone()}</span>
                <span>"to " <strong>{channel}</strong></span>
                <Badge tone=tone>{word}</Badge>
                <span class="muted">
                    {format!(
                        "{} attempt{}",
                        delivery.attempt_count,
                        if delivery.attempt_count == 1 { "" } else { "s" },
                    )}
                </span>
                {next.map(|at| view! { <span class="muted">"next " <Countdown value=at /></span> })}
            </div>
            <ol class="delivery-attempts">{attempts}</ol>
        </li>
    }
}

// ---------------------------------------------------------------- channels

/// Where a channel sends: its URL as shown, or its SMTP server and recipients.
fn destination(channel: &AlertChannel) -> String {
    match channel.kind {
        AlertChannelKind::Email => {
            let server = match (&channel.smtp_host, channel.smtp_port) {
                (Some(host), Some(port)) => format!("{host}:{port}"),
                (Some(host), None) => host.clone(),
                _ => "?".to_owned(),
            };
            format!("{} → {}", server, channel.email_to.join(", "))
        }
        _ => channel.url.clone().unwrap_or_else(|| "—".to_owned()),
    }
}

/// A channel test: running, or its first attempt.
#[derive(Clone, Debug, PartialEq)]
enum TestState {
    Sending,
    Done(Delivery),
    Failed(String),
}

/// Which channel dialog is open.
#[derive(Clone, Debug, PartialEq)]
enum EditingChannel {
    New,
    Edit(AlertChannel),
}

#[component]
fn ChannelsSection(shared: Shared) -> impl IntoView {
    let toasts = use_toasts();
    let editing = RwSignal::new(None::<EditingChannel>);
    let pending = Pending::<AlertChannel>::new();
    let tests = RwSignal::new(HashMap::<String, TestState>::new());
    let add_refused = needs_title(Role::Admin);
    let channels = shared.channels;

    let on_saved = Callback::new(move |channel: AlertChannel| {
        let added = matches!(editing.get_untracked(), Some(EditingChannel::New));
        editing.set(None);
        toasts.success(format!(
            "Channel “{}” {}. Send a test to check it.",
            channel.name,
            if added { "created" } else { "saved" }
        ));
        channels.update(|state| state.put(channel, |a, b| a.id == b.id));
        shared.reload_channels();
    });
    let confirm_delete = Callback::new(move |()| {
        pending.confirm(
            |channel: AlertChannel| async move { delete_alert_channel(&channel.id).await },
            move |channel| {
                channels.update(|state| {
                    if let ListState::Loaded(list) = state {
                        list.retain(|c| c.id != channel.id);
                    }
                });
                toasts.success(format!("Channel “{}” deleted.", channel.name));
                shared.reload_channels();
                shared.reload_rules();
            },
        )
    });
    let cancel_delete = Callback::new(move |()| pending.cancel());
    let send_test = Callback::new(move |channel: AlertChannel| {
        if tests.with_untracked(|t| matches!(t.get(&channel.id), Some(TestState::Sending))) {
            return;
        }
        tests.update(|t| {
            t.insert(channel.id.clone(), TestState::Sending);
        });
        spawn_local(async move {
            let result = match test_alert_channel(&channel.id).await {
                Ok(delivery) => TestState::Done(delivery),
                Err(error) => TestState::Failed(sentence(&error.message)),
            };
            tests.try_update(|t| {
                t.insert(channel.id.clone(), result);
            });
        });
    });

    let phase = Memo::new(move |_| channels.with(ListState::phase));
    let sorted = move || {
        let mut list = channels.with(|state| state.items().to_vec());
        list.sort_by_key(|c| c.name.to_lowercase());
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
                on:click=move |_| editing.set(Some(EditingChannel::New))
            >
                <Icon kind=IconKind::Plus />
                <span>{label}</span>
            </button>
        }
    };

    view! {
        <section id="channels-section" class="section" role="tabpanel" aria-labelledby="alerts-subtab-channels">
            <div class="section-head">
                <h2 class="section-title">"Where notifications go"</h2>
                {new_button("channel-add", "New channel", false)}
            </div>
            {move || match phase.get() {
                ListPhase::Loading => view! { <LoadingCard text="Loading channels…" /> }.into_any(),
                ListPhase::Failed(error) => view! {
                    <LoadFailed
                        what="The channels"
                        error=error
                        on_retry=Callback::new(move |()| {
                            channels.set(ListState::Loading);
                            shared.reload_channels();
                        })
                    />
                }
                .into_any(),
                ListPhase::Empty => view! {
                    <div class="card">
                        <EmptyState icon=IconKind::Send title="No channels yet">
                            <p>
                                "A channel is where Berth sends alerts: a webhook (one signed JSON document per "
                                "alert), a Slack incoming webhook, an ntfy topic, or email over SMTP. Rules then "
                                "say which alerts go to which channels."
                            </p>
                            <div class="empty-state-actions">
                                {new_button("channel-add-first", "Create your first channel", true)}
                            </div>
                        </EmptyState>
                    </div>
                }
                .into_any(),
                ListPhase::List => view! {
                    <div class="card table-card table-scroll">
                        <table id="channels-table" class="table channels-table">
                            <thead>
                                <tr>
                                    <th>"Name"</th>
                                    <th>"Kind"</th>
                                    <th>"Destination"</th>
                                    <th>"Secret"</th>
                                    <th>"State"</th>
                                    <th>"Test"</th>
                                    <ActionsHeader label="Actions" />
                                </tr>
                            </thead>
                            <tbody>
                                <For each=sorted key=|channel| channel.clone() let:channel>
                                    <ChannelRow
                                        channel=channel
                                        tests=tests
                                        send_test=send_test
                                        editing=editing
                                        to_delete=pending.item
                                    />
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
                    let channel = match mode {
                        EditingChannel::New => None,
                        EditingChannel::Edit(channel) => Some(channel),
                    };
                    view! {
                        <ChannelDialog
                            channel=channel
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
                .map(|channel| {
                    let used_by = shared
                        .rules
                        .with(|state| state.items().iter().filter(|r| r.channel_ids.contains(&channel.id)).count());
                    view! {
                        <ConfirmDialog
                            title="Delete this channel?"
                            confirm_label="Delete channel"
                            danger=true
                            busy=pending.busy
                            error=pending.error
                            on_confirm=confirm_delete
                            on_cancel=cancel_delete
                        >
                            <p>
                                "Notifications waiting for "<strong>"“"{channel.name.clone()}"”"</strong>
                                " are dropped"
                                {match used_by {
                                    0 => ".".to_owned(),
                                    1 => " and the rule that uses it forgets it.".to_owned(),
                                    n => format!(" and the {n} rules that use it forget it."),
                                }}
                            </p>
                        </ConfirmDialog>
                    }
                })
        }}
    }
}

/// The result of a channel's last test, inline (`.channel-test-result[data-state]`).
fn test_result_view(state: Option<TestState>, kind: AlertChannelKind) -> impl IntoView {
    match state {
        None => ().into_any(),
        Some(TestState::Sending) => view! {
            <span class="channel-test-result muted" data-state="SENDING">
                <span class="spinner spinner-sm" aria-hidden="true"></span>
                " Sending…"
            </span>
        }
        .into_any(),
        Some(TestState::Failed(message)) => view! {
            <span class="channel-test-result fail" data-state="ERROR" title=message.clone()>
                {truncate(&message, ERROR_PREVIEW)}
            </span>
        }
        .into_any(),
        Some(TestState::Done(delivery)) => {
            let (tone, word) = delivery_tone(&delivery.state);
            let attempt = delivery.attempts.first().cloned();
            let mut parts = Vec::new();
            if let Some(code) = delivery.last_status_code {
                parts.push(status_text(Some(kind), code));
            }
            if let Some(error) = &delivery.last_error {
                parts.push(error.clone());
            }
            if let Some(attempt) = &attempt {
                parts.push(format!("{} ms", attempt.duration_ms));
            }
            let detail = parts.join(" · ");
            let class = if delivery.state == "DELIVERED" {
                "channel-test-result ok"
            } else {
                "channel-test-result fail"
            };
            view! {
                <span class=class data-state=delivery.state.clone() data-status=delivery.last_status_code.map(|c| c.to_string()) role="status">
                    <Badge tone=tone>{word}</Badge>
                    <span class="channel-test-detail" title=detail.clone()>{truncate(&detail, ERROR_PREVIEW)}</span>
                </span>
            }
            .into_any()
        }
    }
}

/// One `tr.channel-row`.
#[component]
fn ChannelRow(
    channel: AlertChannel,
    tests: RwSignal<HashMap<String, TestState>>,
    send_test: Callback<AlertChannel>,
    editing: RwSignal<Option<EditingChannel>>,
    to_delete: RwSignal<Option<AlertChannel>>,
) -> impl IntoView {
    let admin = can(Role::Admin);
    let id = channel.id.clone();
    let kind = channel.kind;
    let test_state = {
        let id = id.clone();
        Memo::new(move |_| tests.with(|t| t.get(&id).cloned()))
    };
    let sending = move || matches!(test_state.get(), Some(TestState::Sending));
    let secret = match kind {
        AlertChannelKind::Webhook if channel.has_secret => Some("stored"),
        AlertChannelKind::Email if channel.has_smtp_password => Some("password stored"),
        _ => None,
    };
    let name = channel.name.clone();
    let (for_test, for_edit, for_delete) = (channel.clone(), channel.clone(), channel.clone());
    view! {
        <tr class="channel-row" data-id=id.clone() data-name=name.clone() data-kind=kind.as_str()>
            <td class="channel-name">
                <span class="strong">{name.clone()}</span>
            </td>
            <td class="channel-kind">{kind.label()}</td>
            <td class="channel-destination">
                <span class="mono" title=destination(&channel)>{destination(&channel)}</span>
            </td>
            <td class="channel-secret">
                {match secret {
                    Some(text) => view! {
                        <span class="tag" title="Write-only: never shown again">
                            <Icon kind=IconKind::Lock />
                            {text}
                        </span>
                    }
                    .into_any(),
                    None => view! { <span class="muted">"—"</span> }.into_any(),
                }}
            </td>
            <td class="channel-enabled">
                {if channel.enabled {
                    view! { <Badge tone=Tone::Up>"Enabled"</Badge> }.into_any()
                } else {
                    view! { <Badge tone=Tone::Neutral>"Disabled"</Badge> }.into_any()
                }}
            </td>
            <td class="channel-test-cell">
                <div class="channel-test">
                    {admin.then(|| view! {
                        <button
                            type="button"
                            class="btn btn-secondary btn-sm channel-test-button"
                            title="Send a test notification now and show how the receiver answered"
                            aria-label=format!("Send a test through {name}")
                            disabled=sending
                            on:click=move |_| send_test.run(for_test.clone())
                        >
                            {move || if sending() { "Sending…" } else { "Send test" }}
                        </button>
                    })}
                    {move || test_result_view(test_state.get(), kind)}
                </div>
            </td>
            <td class="actions-col">
                <div class="row-actions">
                    {admin.then(|| view! {
                        <button
                            type="button"
                            class="icon-button channel-edit"
                            title="Edit"
                            aria-label=format!("Edit channel {}", for_edit.name)
                            on:click=move |_| editing.set(Some(EditingChannel::Edit(for_edit.clone())))
                        >
                            <Icon kind=IconKind::Edit />
                        </button>
                        <button
                            type="button"
                            class="icon-button danger channel-delete"
                            title="Delete"
                            aria-label=format!("Delete channel {}", for_delete.name)
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

/// The input fields of a channel the server may name in `extensions.field`.
const C_NAME: &str = "name";
const C_KIND: &str = "kind";
const C_URL: &str = "url";
const C_SECRET: &str = "secret";
const C_SMTP_HOST: &str = "smtpHost";
const C_SMTP_PORT: &str = "smtpPort";
const C_SMTP_SECURITY: &str = "smtpSecurity";
const C_SMTP_USERNAME: &str = "smtpUsername";
const C_SMTP_PASSWORD: &str = "smtpPassword";
const C_EMAIL_FROM: &str = "emailFrom";
const C_EMAIL_TO: &str = "emailTo";
const CHANNEL_FIELDS: [&str; 11] = [
    C_NAME,
    C_KIND,
    C_URL,
    C_SECRET,
    C_SMTP_HOST,
    C_SMTP_PORT,
    C_SMTP_SECURITY,
    C_SMTP_USERNAME,
    C_SMTP_PASSWORD,
    C_EMAIL_FROM,
    C_EMAIL_TO,
];

const SECURITIES: [SmtpSecurity; 3] = [
    SmtpSecurity::Starttls,
    SmtpSecurity::Tls,
    SmtpSecurity::None,
];

fn security_label(security: SmtpSecurity) -> &'static str {
    match security {
        SmtpSecurity::Starttls => "STARTTLS (587)",
        SmtpSecurity::Tls => "TLS (465)",
        SmtpSecurity::None => "None (25)",
    }
}

/// A receiver URL; empty is fine when `required` is false (the stored one is kept).
fn check_url(text: &str, required: bool) -> Result<Option<String>, String> {
    if text.trim().is_empty() && !required {
        return Ok(None);
    }
    parse_http_url(text)
        .map(|_| Some(text.trim().to_owned()))
        .map_err(|message| sentence(&message))
}

fn check_smtp_host(text: &str) -> Result<String, String> {
    let host = text.trim();
    if host.is_empty() || host.len() > 253 || host.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err("Enter the SMTP server's host name, such as smtp.example.com.".to_owned());
    }
    Ok(host.to_owned())
}

fn check_port(text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<u16>()
        .ok()
        .filter(|port| *port > 0)
        .map(|port| Some(i64::from(port)))
        .ok_or_else(|| format!("“{text}” is not a port (1–65535)."))
}

/// The new (`channel: None`) or edit channel dialog (`form#channel-dialog`). Calls `on_saved` with the channel
/// as the server saved it.
#[component]
fn ChannelDialog(
    channel: Option<AlertChannel>,
    on_saved: Callback<AlertChannel>,
    on_close: Callback<()>,
) -> impl IntoView {
    let channel_id = channel.as_ref().map(|c| c.id.clone());
    let is_edit = channel.is_some();
    let stored_url = channel.as_ref().and_then(|c| c.url.clone());
    let had_secret = channel.as_ref().is_some_and(|c| c.has_secret);
    let had_password = channel.as_ref().is_some_and(|c| c.has_smtp_password);
    let title = match &channel {
        Some(channel) => format!("Edit channel “{}”", channel.name),
        None => "New channel".to_owned(),
    };
    let kind = RwSignal::new(
        channel
            .as_ref()
            .map_or(AlertChannelKind::Webhook, |c| c.kind),
    );
    let name = RwSignal::new(channel.as_ref().map(|c| c.name.clone()).unwrap_or_default());
    let url = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let remove_secret = RwSignal::new(false);
    let smtp_host = RwSignal::new(
        channel
            .as_ref()
            .and_then(|c| c.smtp_host.clone())
            .unwrap_or_default(),
    );
    let smtp_port = RwSignal::new(
        channel
            .as_ref()
            .and_then(|c| c.smtp_port)
            .map(|p| p.to_string())
            .unwrap_or_default(),
    );
    let security = RwSignal::new(
        channel
            .as_ref()
            .and_then(|c| c.smtp_security)
            .unwrap_or(SmtpSecurity::Starttls),
    );
    let smtp_username = RwSignal::new(
        channel
            .as_ref()
            .and_then(|c| c.smtp_username.clone())
            .unwrap_or_default(),
    );
    let smtp_password = RwSignal::new(String::new());
    let remove_password = RwSignal::new(false);
    let email_from = RwSignal::new(
        channel
            .as_ref()
            .and_then(|c| c.email_from.clone())
            .unwrap_or_default(),
    );
    let email_to = RwSignal::new(
        channel
            .as_ref()
            .map(|c| c.email_to.join(", "))
            .unwrap_or_default(),
    );
    let enabled = RwSignal::new(channel.as_ref().is_none_or(|c| c.enabled));
    let errors = FieldErrors::new();
    let saving = RwSignal::new(false);

    let name_ref = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = name_ref.get() {
            let _ = input.focus();
        }
    });

    let is_email = move || kind.get() == AlertChannelKind::Email;
    let is_webhook = move || kind.get() == AlertChannelKind::Webhook;
    let password_present =
        move || smtp_password.with(|p| !p.is_empty()) || (had_password && !remove_password.get());
    let client_error = move |field: &'static str| -> Option<String> {
        match field {
            C_NAME => check_name(&name.get(), "channel").err(),
            C_URL if !is_email() => check_url(&url.get(), !is_edit).err(),
            C_SECRET if is_webhook() => (secret.with(|s| s.chars().count()) > SECRET_MAX)
                .then(|| format!("A signing key has at most {SECRET_MAX} characters.")),
            C_SMTP_HOST if is_email() => check_smtp_host(&smtp_host.get()).err(),
            C_SMTP_PORT if is_email() => check_port(&smtp_port.get()).err(),
            C_SMTP_USERNAME if is_email() => (smtp_username.with(|u| u.trim().is_empty())
                && password_present())
            .then(|| "Enter the user name for this password, or leave both empty.".to_owned()),
            C_SMTP_PASSWORD if is_email() => (!smtp_username.with(|u| u.trim().is_empty())
                && !password_present())
            .then(|| "Enter the password for this user, or clear the user name.".to_owned()),
            C_EMAIL_FROM if is_email() => validate_email(&email_from.get())
                .err()
                .map(|message| sentence(&message)),
            C_EMAIL_TO if is_email() => parse_email_list(&email_to.get())
                .err()
                .map(|message| sentence(&message)),
            _ => None,
        }
    };
    let field_error = move |field: &'static str| {
        let empty = match field {
            C_NAME => name.with(|v| v.trim().is_empty()),
            C_URL => url.with(|v| v.trim().is_empty()),
            C_SMTP_HOST => smtp_host.with(|v| v.trim().is_empty()),
            C_SMTP_PASSWORD => smtp_password.with(String::is_empty),
            C_EMAIL_FROM => email_from.with(|v| v.trim().is_empty()),
            C_EMAIL_TO => email_to.with(|v| v.trim().is_empty()),
            _ => false,
        };
        errors.shown(field, client_error(field), empty)
    };
    let invalid = move || CHANNEL_FIELDS.iter().any(|f| client_error(f).is_some());

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if saving.get_untracked() {
            return;
        }
        errors.submitting();
        if CHANNEL_FIELDS.iter().any(|f| client_error(f).is_some()) {
            return;
        }
        let kind_now = kind.get_untracked();
        let mut input = AlertChannelInput {
            name: name.get_untracked().trim().to_owned(),
            kind: Some(kind_now),
            enabled: enabled.get_untracked(),
            ..AlertChannelInput::default()
        };
        if kind_now == AlertChannelKind::Email {
            input.smtp_host = filled(&smtp_host.get_untracked());
            input.smtp_port = check_port(&smtp_port.get_untracked()).ok().flatten();
            input.smtp_security = Some(security.get_untracked());
            input.smtp_username = Some(smtp_username.get_untracked().trim().to_owned());
            let typed = smtp_password.get_untracked();
            input.smtp_password = if !typed.is_empty() {
                Some(typed)
            } else if had_password
                && (remove_password.get_untracked()
                    || smtp_username.with_untracked(|u| u.trim().is_empty()))
            {
                Some(String::new())
            } else {
                None
            };
            input.email_from = filled(&email_from.get_untracked());
            input.email_to = parse_email_list(&email_to.get_untracked()).unwrap_or_default();
        } else {
            input.url = filled(&url.get_untracked());
            if kind_now == AlertChannelKind::Webhook {
                let typed = secret.get_untracked();
                input.secret = if !typed.is_empty() {
                    Some(typed)
                } else if had_secret && remove_secret.get_untracked() {
                    Some(String::new())
                } else {
                    None
                };
            }
        }
        saving.set(true);
        let channel_id = channel_id.clone();
        spawn_local(async move {
            let result = match &channel_id {
                Some(id) => update_alert_channel(id, &input).await,
                None => create_alert_channel(&input).await,
            };
            // The dialog may be gone (closed by a parent) when the answer arrives.
            if saving.try_set(false).is_some() {
                return;
            }
            match result {
                Ok(channel) => on_saved.run(channel),
                Err(error) => errors.put(&base_field(&error), &CHANNEL_FIELDS),
            }
        });
    };

    let url_hint = move || {
        let checked = url.with(|u| parse_http_url(u).ok());
        match (checked, &stored_url) {
            (Some(parsed), _) => format!("Berth sends to {}", parsed.shown()),
            (None, Some(stored)) => format!("Stored: {stored} Leave empty to keep it."),
            (None, None) => match kind.get() {
                AlertChannelKind::Webhook => {
                    "Berth POSTs one JSON document per alert, with an Idempotency-Key header."
                        .to_owned()
                }
                AlertChannelKind::Slack => {
                    "A Slack incoming webhook, such as https://hooks.slack.com/services/…"
                        .to_owned()
                }
                _ => "The topic's URL, such as https://ntfy.sh/berth-alerts.".to_owned(),
            },
        }
    };
    let url_placeholder = move || match kind.get() {
        AlertChannelKind::Slack => "https://hooks.slack.com/services/…",
        AlertChannelKind::Ntfy => "https://ntfy.sh/berth-alerts",
        _ => "https://hooks.example.com/berth",
    };
    let secret_hint = move || {
        if had_secret && !remove_secret.get() {
            "Stored (write-only, never shown). Type a new key to replace it, or leave empty to keep it.".to_owned()
        } else {
            "Optional: requests carry X-Berth-Signature, an HMAC-SHA256 of the body with this key."
                .to_owned()
        }
    };
    let password_hint = move || {
        if had_password && !remove_password.get() {
            "Stored (write-only, never shown). Type a new one to replace it, or leave empty to keep it.".to_owned()
        } else {
            "With the user name, for servers that need a login.".to_owned()
        }
    };
    let port_hint = move || {
        format!(
            "Empty: {} for this security.",
            security.get().default_port()
        )
    };
    let to_hint = move || match parse_email_list(&email_to.get()) {
        Ok(list) if list.len() > 1 => format!("{} recipients.", list.len()),
        _ => "Separate several addresses with commas.".to_owned(),
    };
    let kind_label = channel.as_ref().map(|c| c.kind.label());

    view! {
        <FormDialog
            id="channel"
            title=title
            class="channel-dialog"
            saving=saving
            form_error=errors.form
            note=Signal::derive(move || {
                if saving.get() { "Saving…" } else { "Secrets are stored encrypted and never shown again." }.to_owned()
            })
            save_label=Signal::derive(move || if is_edit { "Save channel" } else { "Create channel" }.to_owned())
            busy_label="Saving…"
            save_disabled=Signal::derive(invalid)
            on_submit=Callback::new(on_submit)
            on_close=on_close
        >
            <div class="field-pair">
                <TextField
                    id="channel-name"
                    label="Name"
                    field=C_NAME
                    placeholder="ops-webhook"
                    value=name
                    node_ref=name_ref
                    error=Signal::derive(move || field_error(C_NAME))
                    hint=Signal::derive(|| "Shown in rules and notifications; unique.".to_owned())
                    on_edit=Callback::new(move |()| errors.edited(C_NAME))
                />
                {match kind_label {
                    Some(label) => view! {
                        <div class="field" data-field=C_KIND>
                            <label for="channel-kind">"Kind"</label>
                            <input id="channel-kind" class="input" type="text" disabled value=label />
                            <FieldFoot
                                id="channel-kind-help"
                                error=Signal::derive(move || field_error(C_KIND))
                                hint=Signal::derive(|| "A channel's kind never changes.".to_owned())
                            />
                        </div>
                    }
                    .into_any(),
                    None => view! {
                        <SelectField
                            id="channel-kind"
                            label="Kind"
                            field=C_KIND
                            error=Signal::derive(move || field_error(C_KIND))
                            hint=Signal::derive(move || {
                                if kind.get().groups() {
                                    "Several alerts at once arrive as one message."
                                } else {
                                    "One request per alert, each with its own idempotency key."
                                }
                                    .to_owned()
                            })
                            on_change=Callback::new(move |value: String| {
                                if let Ok(chosen) = value.parse::<AlertChannelKind>() {
                                    kind.set(chosen);
                                }
                                errors.edited(C_KIND);
                            })
                        >
                            {enum_options(&AlertChannelKind::ALL, AlertChannelKind::as_str, AlertChannelKind::label, kind.into())}
                        </SelectField>
                    }
                    .into_any(),
                }}
            </div>
            <Show when=move || !is_email()>
                <TextField
                    id="channel-url"
                    label="URL"
                    field=C_URL
                    placeholder=url_placeholder()
                    mono=true
                    input_type="url"
                    value=url
                    error=Signal::derive(move || field_error(C_URL))
                    hint=Signal::derive(url_hint.clone())
                    on_edit=Callback::new(move |()| errors.edited(C_URL))
                />
            </Show>
            <Show when=is_webhook>
                <TextField
                    id="channel-secret"
                    label="Signing key"
                    field=C_SECRET
                    placeholder=if had_secret { "stored — type to replace" } else { "optional" }
                    mono=true
                    input_type="password"
                    value=secret
                    error=Signal::derive(move || field_error(C_SECRET))
                    hint=Signal::derive(secret_hint)
                    on_edit=Callback::new(move |()| errors.edited(C_SECRET))
                />
                {had_secret.then(|| view! {
                    <CheckRow
                        id="channel-secret-remove"
                        checked=remove_secret
                        on_change=Callback::new(move |on: bool| {
                            remove_secret.set(on);
                            errors.edited(C_SECRET);
                        })
                        label=|| "Remove the stored signing key"
                        help=|| "Requests are no longer signed."
                    />
                })}
            </Show>
            <Show when=is_email>
                <div class="field-pair field-trio smtp-row">
                    <TextField
                        id="channel-smtp-host"
                        label="SMTP server"
                        field=C_SMTP_HOST
                        placeholder="smtp.example.com"
                        mono=true
                        value=smtp_host
                        error=Signal::derive(move || field_error(C_SMTP_HOST))
                        hint=Signal::derive(|| "Host name or address.".to_owned())
                        on_edit=Callback::new(move |()| errors.edited(C_SMTP_HOST))
                    />
                    <SelectField
                        id="channel-smtp-security"
                        label="Security"
                        field=C_SMTP_SECURITY
                        error=Signal::derive(move || field_error(C_SMTP_SECURITY))
                        hint=Signal::derive(|| "Encryption of the connection.".to_owned())
                        on_change=Callback::new(move |value: String| {
                            if let Ok(chosen) = value.parse::<SmtpSecurity>() {
                                security.set(chosen);
                            }
                            errors.edited(C_SMTP_SECURITY);
                        })
                    >
                        {enum_options(&SECURITIES, SmtpSecurity::as_str, security_label, security.into())}
                    </SelectField>
                    <TextField
                        id="channel-smtp-port"
                        label="Port"
                        field=C_SMTP_PORT
                        placeholder="default"
                        mono=true
                        value=smtp_port
                        error=Signal::derive(move || field_error(C_SMTP_PORT))
                        hint=Signal::derive(port_hint)
                        on_edit=Callback::new(move |()| errors.edited(C_SMTP_PORT))
                    />
                </div>
                <div class="field-pair">
                    <TextField
                        id="channel-smtp-username"
                        label="User name"
                        field=C_SMTP_USERNAME
                        placeholder="optional"
                        value=smtp_username
                        error=Signal::derive(move || field_error(C_SMTP_USERNAME))
                        hint=Signal::derive(|| "For servers that need a login.".to_owned())
                        on_edit=Callback::new(move |()| {
                            errors.edited(C_SMTP_USERNAME);
                            errors.edited(C_SMTP_PASSWORD);
                        })
                    />
                    <TextField
                        id="channel-smtp-password"
                        label="Password"
                        field=C_SMTP_PASSWORD
                        placeholder=if had_password { "stored — type to replace" } else { "optional" }
                        input_type="password"
                        value=smtp_password
                        error=Signal::derive(move || field_error(C_SMTP_PASSWORD))
                        hint=Signal::derive(password_hint)
                        on_edit=Callback::new(move |()| {
                            errors.edited(C_SMTP_PASSWORD);
                            errors.edited(C_SMTP_USERNAME);
                        })
                    />
                </div>
                {had_password.then(|| view! {
                    <CheckRow
                        id="channel-password-remove"
                        checked=remove_password
                        on_change=Callback::new(move |on: bool| {
                            remove_password.set(on);
                            errors.edited(C_SMTP_PASSWORD);
                        })
                        label=|| "Remove the stored password"
                        help=|| "Clear the user name too, for a server without login."
                    />
                })}
                <TextField
                    id="channel-email-from"
                    label="From"
                    field=C_EMAIL_FROM
                    placeholder="berth@example.com"
                    value=email_from
                    error=Signal::derive(move || field_error(C_EMAIL_FROM))
                    hint=Signal::derive(|| "The sender's address.".to_owned())
                    on_edit=Callback::new(move |()| errors.edited(C_EMAIL_FROM))
                />
                <TextField
                    id="channel-email-to"
                    label="To"
                    field=C_EMAIL_TO
                    placeholder="ops@example.com, oncall@example.com"
                    value=email_to
                    error=Signal::derive(move || field_error(C_EMAIL_TO))
                    hint=Signal::derive(to_hint)
                    on_edit=Callback::new(move |()| errors.edited(C_EMAIL_TO))
                />
            </Show>
            <CheckRow
                id="channel-enabled"
                checked=enabled
                on_change=Callback::new(move |on: bool| enabled.set(on))
                label=|| "Enabled"
                help=|| "A disabled channel receives nothing; its rules still open alerts."
            />
        </FormDialog>
    }
}

// ---------------------------------------------------------------- rules

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
fn RulesSection(shared: Shared) -> impl IntoView {
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

// ---------------------------------------------------------------- silences

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
fn SilencesSection(shared: Shared) -> impl IntoView {
    let toasts = use_toasts();
    let adding = RwSignal::new(false);
    let pending = Pending::<Silence>::new();
    let add_refused = needs_title(Role::Admin);
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
    let new_button = move |id: &'static str, label: &'static str, primary: bool| {
        view! {
            <button
                id=id
                type="button"
                class=if primary { "btn btn-primary" } else { "btn btn-secondary" }
                disabled=add_refused.is_some()
                title=add_refused
                on:click=move |_| adding.set(true)
            >
                <Icon kind=IconKind::Plus />
                <span>{label}</span>
            </button>
        }
    };

    view! {
        <section id="silences-section" class="section" role="tabpanel" aria-labelledby="alerts-subtab-silences">
            <div class="section-head">
                <h2 class="section-title">"What is muted"</h2>
                {new_button("silence-add", "New silence", false)}
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
                                {new_button("silence-add-first", "Create a silence", true)}
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
