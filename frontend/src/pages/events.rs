//! Events page (`/events`, ADMIN): the audit log newest first (`table#events-table`, `tr.event-row[data-action]`),
//! filtered by user, action, target and time, paged with "Load more", and live: new entries from `auditEvents`
//! that pass the filters appear at the top.

use leptos::prelude::*;
use wasm_bindgen::JsValue;

use crate::{
    api::{
        Live, Role,
        admin::{AuditEntry, AuditFilter, audit_log, watch_audit_events},
    },
    components::{
        badge::{Badge, Tone},
        empty_state::EmptyState,
        format::truncate,
        icons::IconKind,
        live::{LiveIndicator, LiveState},
        loading::{ListPhase, LoadFailed},
        page_header::PageHeader,
        paged::{LoadMore, Paged, PagedState},
        permission::{can, role_needed},
        time::{Timestamp, absolute},
    },
};

/// Entries per page.
const PAGE_SIZE: i64 = 50;
/// Characters of the detail shown in the table (all of it on hover or click).
const DETAIL_PREVIEW: usize = 80;
/// Columns of the table (for placeholder rows).
const COLUMNS: &str = "6";

/// A `datetime-local` value as RFC 3339 (UTC), `None` when empty or not a date.
fn local_to_rfc3339(value: &str) -> Option<String> {
    if value.trim().is_empty() {
        return None;
    }
    let date = js_sys::Date::new(&JsValue::from_str(value));
    (!date.get_time().is_nan()).then(|| String::from(date.to_iso_string()))
}

/// `Some(trimmed)` unless blank.
fn non_blank(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// The events page; admins only (others see why not).
#[component]
pub fn EventsPage() -> impl IntoView {
    if !can(Role::Admin) {
        return view! { <AdminOnly what="The audit log" /> }.into_any();
    }
    view! { <EventsLog /> }.into_any()
}

/// "… is for admins": what a non-admin sees on an admin page.
#[component]
pub fn AdminOnly(what: &'static str) -> impl IntoView {
    view! {
        <div class="card">
            <EmptyState icon=IconKind::Lock title="Admins only">
                <p>{format!("{what} is only available to admins ({}).", role_needed(Role::Admin).to_lowercase())}</p>
            </EmptyState>
        </div>
    }
}

#[component]
fn EventsLog() -> impl IntoView {
    let user = RwSignal::new(String::new());
    let action = RwSignal::new(String::new());
    let target = RwSignal::new(String::new());
    let since = RwSignal::new(String::new());
    let until = RwSignal::new(String::new());
    let filter = Memo::new(move |_| AuditFilter {
        user: non_blank(&user.get()),
        action: non_blank(&action.get()),
        target: non_blank(&target.get()),
        since: local_to_rfc3339(&since.get()),
        until: local_to_rfc3339(&until.get()),
    });
    let log = Paged::new(
        move |after| {
            let filter = filter.get_untracked();
            Box::pin(async move { audit_log(&filter, PAGE_SIZE, after.as_deref()).await })
        },
        |entry: &AuditEntry| &entry.id,
    );
    let live = RwSignal::new(LiveState::Connecting);
    // The first page, again whenever the filters change.
    Effect::new(move |_| {
        filter.track();
        log.reload();
    });

    watch_audit_events(move |event| {
        LiveState::follow(live, &event);
        match event {
            Live::Event(entry) => {
                if !filter.with_untracked(|f| f.admits(&entry)) {
                    return;
                }
                log.state
                    .update(|state| state.prepend(entry, |entry| &entry.id));
            }
            // Entries were missed while the feed was down.
            Live::Connected { reconnect: true } => log.reload(),
            _ => {}
        }
    });

    let clear = move |_| {
        user.set(String::new());
        action.set(String::new());
        target.set(String::new());
        since.set(String::new());
        until.set(String::new());
    };
    let filtered = move || filter.with(|f| *f != AuditFilter::default());
    let filter_input = |id: &'static str,
                        label: &'static str,
                        kind: &'static str,
                        placeholder: &'static str,
                        value: RwSignal<String>| {
        view! {
            <label class="events-filter">
                <span class="events-filter-label">{label}</span>
                <input
                    id=id
                    class="input"
                    type=kind
                    placeholder=placeholder
                    autocomplete="off"
                    spellcheck="false"
                    prop:value=move || value.get()
                    on:input=move |event| value.set(event_target_value(&event))
                />
            </label>
        }
    };

    let count = move || log.state.with(|state| state.count_text("entry", "entries"));
    let entries = move || log.state.with(|state| state.items().to_vec());
    let phase = Memo::new(move |_| log.state.with(PagedState::phase));

    view! {
        <PageHeader
            title="Events"
            description="Every change made through Berth and everything its hosts reported, newest first."
        >
            <LiveIndicator state=live />
        </PageHeader>
        <div class="card events-filters" role="search">
            {filter_input("events-user", "User", "search", "admin", user)}
            {filter_input("events-action", "Action", "search", "createContainer", action)}
            {filter_input("events-target", "Target contains", "search", "web", target)}
            {filter_input("events-since", "From", "datetime-local", "", since)}
            {filter_input("events-until", "Until", "datetime-local", "", until)}
            <Show when=filtered>
                <button id="events-clear" type="button" class="btn btn-ghost btn-sm" on:click=clear>
                    "Clear filters"
                </button>
            </Show>
        </div>
        {move || match phase.get() {
            ListPhase::Failed(error) => view! {
                <LoadFailed what="The audit log" error=error on_retry=Callback::new(move |()| log.restart()) />
            }
            .into_any(),
            _ => ().into_any(),
        }}
        <div class="table-meta muted" id="events-count">{count}</div>
        <div class="card table-card">
            <table id="events-table" class="table events-table">
                <thead>
                    <tr>
                        <th class="event-time-col">"Time"</th>
                        <th>"User"</th>
                        <th>"Action"</th>
                        <th>"Target"</th>
                        <th>"Result"</th>
                        <th>"Detail"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=entries key=|entry| entry.id.clone() let:entry>
                        <EventRow entry=entry />
                    </For>
                    {move || match phase.get() {
                        ListPhase::Loading => Some(view! {
                            <tr class="placeholder-row">
                                <td colspan=COLUMNS>
                                    <div class="loading-block" aria-busy="true">
                                        <span class="spinner" aria-hidden="true"></span>
                                        <span class="muted">"Loading the audit log…"</span>
                                    </div>
                                </td>
                            </tr>
                        }
                        .into_any()),
                        ListPhase::Empty => Some(view! {
                            <tr class="placeholder-row empty-row">
                                <td colspan=COLUMNS>
                                    <div class="table-empty muted">
                                        {if filtered() { "No entry matches these filters." } else { "Nothing recorded yet." }}
                                    </div>
                                </td>
                            </tr>
                        }
                        .into_any()),
                        _ => None,
                    }}
                </tbody>
            </table>
        </div>
        <LoadMore paged=log id="events-more" failed="More entries could not be loaded" />
    }
}

/// One `tr.event-row`; a long detail is cut short, whole on hover and after a click.
#[component]
fn EventRow(entry: AuditEntry) -> impl IntoView {
    let expanded = RwSignal::new(false);
    let ok = entry.result == "OK";
    let tone = if ok { Tone::Up } else { Tone::Down };
    let detail = entry.detail.clone().unwrap_or_default();
    let long = detail.chars().count() > DETAIL_PREVIEW;
    let preview = truncate(&detail, DETAIL_PREVIEW);
    let full = detail.clone();
    let at_title = absolute(&entry.at);
    let result = entry.result.clone();
    let full_title = full.clone();
    view! {
        <tr class="event-row" data-action=entry.action.clone() data-id=entry.id.clone() data-result=entry.result.clone()>
            <td class="event-time" title=at_title>
                <Timestamp value=entry.at.clone() />
            </td>
            <td class="event-user">
                {match entry.user.clone() {
                    Some(user) => view! { <span>{user}</span> }.into_any(),
                    None => view! { <span class="muted event-system">"Berth"</span> }.into_any(),
                }}
            </td>
            <td class="event-action">
                <span class="mono">{entry.action.clone()}</span>
            </td>
            <td class="event-target">
                <span class="mono" title=entry.target.clone()>{entry.target.clone().unwrap_or_else(|| "—".to_owned())}</span>
            </td>
            <td class="event-result">
                <Badge tone=tone>{result}</Badge>
            </td>
            <td class="event-detail" class:expanded=move || expanded.get()>
                {if long {
                    view! {
                        <button
                            type="button"
                            class="event-detail-toggle mono"
                            title=full_title
                            aria-expanded=move || expanded.get().to_string()
                            on:click=move |_| expanded.update(|open| *open = !*open)
                        >
                            {move || if expanded.get() { full.clone() } else { preview.clone() }}
                        </button>
                    }
                    .into_any()
                } else if detail.is_empty() {
                    view! { <span class="muted">"—"</span> }.into_any()
                } else {
                    view! { <span class="mono">{detail.clone()}</span> }.into_any()
                }}
            </td>
        </tr>
    }
}
