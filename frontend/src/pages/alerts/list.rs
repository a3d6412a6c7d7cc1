//! The Alerts section: the state filter, the paged list kept live from `alertChanges`, a row with its acknowledge
//! button, and its details with every notification and attempt.

use berth_shared::{AlertChannelKind, AlertState};
use leptos::{prelude::*, task::spawn_local};

use crate::api::alerts::{
    Alert, AlertChangeKind, AlertSubject, Delivery, acknowledge_alert, alert_deliveries, alerts,
    state_label, watch_alert_changes,
};
use crate::api::{ApiError, Live, Role};
use crate::components::badge::{Badge, Tone};
use crate::components::empty_state::EmptyState;
use crate::components::format::truncate;
use crate::components::icons::{Icon, IconKind};
use crate::components::live::{LiveIndicator, LiveState};
use crate::components::loading::{Latest, ListPhase, ListState, LoadFailed, LoadingCard};
use crate::components::paged::{LoadMore, Paged, PagedState, Pages};
use crate::components::permission::can;
use crate::components::table_tools::ActionsHeader;
use crate::components::time::{Countdown, Timestamp, absolute, clock};
use crate::components::toast::use_toasts;

use super::words::{millis, state_tone};
use super::{ALERT_COLUMNS, ERROR_PREVIEW, MESSAGE_PREVIEW, PAGE_SIZE, Shared};

/// Which alerts the list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StateFilter {
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

    pub(super) fn from_query(value: Option<&str>) -> Self {
        match value {
            Some("open") => Self::Open,
            Some("acknowledged") => Self::Acknowledged,
            Some("resolved") => Self::Resolved,
            _ => Self::All,
        }
    }

    /// The address's value; `None` for all.
    pub(super) fn query(self) -> Option<&'static str> {
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
pub(super) fn AlertsSection(
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
pub(super) fn status_text(kind: Option<AlertChannelKind>, code: i64) -> String {
    match kind {
        Some(AlertChannelKind::Email) => format!("SMTP {code}"),
        _ => format!("HTTP {code}"),
    }
}

pub(super) fn delivery_tone(state: &str) -> (Tone, &'static str) {
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
