//! The live log view of one instance or inventory container (`#container-logs` / `#inventory-logs`, one
//! `div.log-line[data-stream]` per line): the last 200 lines, then new ones as they come; stdout and stderr told
//! apart (stderr in red with an `err` label), times shown or hidden, monospaced, following the end unless the user
//! scrolled up to read. A search box narrows the feed on the server (the last 5,000 lines, then what follows); a
//! download control fetches a time range as a file from `GET /api/logs`. For a container that is not running it
//! shows the last lines once and stops.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use leptos::{html, prelude::*, task::spawn_local_scoped_with_cancellation};

use super::{
    live::{LiveIndicator, LiveState},
    table_tools::SearchField,
    time::clock,
};
use crate::api::{
    Live,
    containers::{LogLine, container_logs},
    inventory::docker_container_logs,
};

/// Lines asked for when (re)connecting.
pub const TAIL: i64 = 200;
/// Lines searched on the server when a search is typed (the server's bound).
const SEARCH_TAIL: i64 = 5000;
/// Lines kept on the page; older ones are dropped.
const KEEP: usize = 2000;
/// How close to the end (in pixels) still counts as "at the end".
const FOLLOW_SLACK: i32 = 24;
/// The longest search the server takes.
const MAX_SEARCH: usize = 200;

/// One line with its place in the feed (the key of its row).
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    seq: u64,
    line: LogLine,
}

/// A feed of log lines (each (re)connection replays the tail).
pub type LogFeed = Pin<Box<dyn Stream<Item = Live<LogLine>>>>;

/// Whose output a log view shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogSource {
    /// One of Berth's instances, by id.
    Instance(String),
    /// A container of the inventory, by its inventory id.
    DockerContainer(String),
}

impl LogSource {
    /// The live feed: the last lines, then new ones; only those holding `search` when it is not empty.
    fn feed(&self, search: &str) -> LogFeed {
        let (tail, search) = if search.is_empty() {
            (TAIL, None)
        } else {
            (SEARCH_TAIL, Some(search))
        };
        match self {
            LogSource::Instance(id) => Box::pin(container_logs(id, tail, search)),
            LogSource::DockerContainer(id) => Box::pin(docker_container_logs(id, tail, search)),
        }
    }

    /// The id of the view's scrolling element (its title is `ID-title`, its controls `ID-…`).
    fn view_id(&self) -> &'static str {
        match self {
            LogSource::Instance(_) => "container-logs",
            LogSource::DockerContainer(_) => "inventory-logs",
        }
    }

    fn search_id(&self) -> &'static str {
        match self {
            LogSource::Instance(_) => "container-logs-search",
            LogSource::DockerContainer(_) => "inventory-logs-search",
        }
    }

    /// `/api/logs?…` for the range `since`..`until` (RFC 3339; `None` = from the start / until now).
    fn download_url(&self, since: Option<&str>, until: Option<&str>) -> String {
        let encode = |text: &str| String::from(js_sys::encode_uri_component(text));
        let mut url = match self {
            LogSource::Instance(id) => format!("/api/logs?instanceId={}", encode(id)),
            LogSource::DockerContainer(id) => format!("/api/logs?dockerContainerId={}", encode(id)),
        };
        if let Some(since) = since {
            url.push_str(&format!("&since={}", encode(since)));
        }
        if let Some(until) = until {
            url.push_str(&format!("&until={}", encode(until)));
        }
        url
    }
}

/// The ranges the download control offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Range {
    Minutes15,
    Hour,
    Day,
    All,
    Custom,
}

impl Range {
    const ALL: [Range; 5] = [
        Range::Minutes15,
        Range::Hour,
        Range::Day,
        Range::All,
        Range::Custom,
    ];

    fn key(self) -> &'static str {
        match self {
            Range::Minutes15 => "15m",
            Range::Hour => "1h",
            Range::Day => "24h",
            Range::All => "all",
            Range::Custom => "custom",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Range::Minutes15 => "Last 15 minutes",
            Range::Hour => "Last hour",
            Range::Day => "Last 24 hours",
            Range::All => "Everything",
            Range::Custom => "Custom range…",
        }
    }

    fn from_key(key: &str) -> Range {
        Range::ALL
            .into_iter()
            .find(|r| r.key() == key)
            .unwrap_or(Range::Hour)
    }

    /// How far back a preset reaches, in milliseconds.
    fn span_ms(self) -> Option<f64> {
        match self {
            Range::Minutes15 => Some(15.0 * 60_000.0),
            Range::Hour => Some(60.0 * 60_000.0),
            Range::Day => Some(24.0 * 60.0 * 60_000.0),
            Range::All | Range::Custom => None,
        }
    }
}

/// An ISO time (UTC) for a number of milliseconds since the epoch.
fn iso(millis: f64) -> String {
    String::from(js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(millis)).to_iso_string())
}

/// A `datetime-local` input's value (the browser's time zone) as an ISO time, or `None` when empty or not a
/// time.
fn local_to_iso(value: &str) -> Option<String> {
    if value.trim().is_empty() {
        return None;
    }
    let millis = js_sys::Date::parse(value);
    (!millis.is_nan()).then(|| iso(millis))
}

/// The output of instance `instance_id`; `title` names it ("replica 0 on h1"). While `running`, the view follows
/// the output (reconnecting when needed); otherwise it shows what the container printed and closes the feed.
#[component]
pub fn ContainerLogs(
    instance_id: String,
    #[prop(into)] title: String,
    running: bool,
) -> impl IntoView {
    view! { <LogPanel source=LogSource::Instance(instance_id) title=title running=running /> }
}

/// Reads `feed` into the panel's signals until it ends (or the component is dropped: a new search).
#[component]
fn FeedReader(
    feed: LogFeed,
    running: bool,
    lines: RwSignal<Vec<Entry>>,
    next: StoredValue<u64>,
    live: RwSignal<LiveState>,
    error: RwSignal<Option<String>>,
    ended: RwSignal<bool>,
) -> impl IntoView {
    let mut feed = feed;
    ended.set(false);
    spawn_local_scoped_with_cancellation(async move {
        while let Some(event) = feed.next().await {
            if matches!(event, Live::Disconnected { .. }) && !running {
                ended.set(true);
                break;
            }
            LiveState::follow(live, &event);
            match event {
                // Every (re)connection replays the tail: start over.
                Live::Connected { .. } => {
                    lines.set(Vec::new());
                    error.set(None);
                }
                Live::Event(line) => {
                    let seq = next.get_value();
                    next.set_value(seq + 1);
                    lines.update(|lines| {
                        lines.push(Entry { seq, line });
                        if lines.len() > KEEP {
                            let extra = lines.len() - KEEP;
                            lines.drain(..extra);
                        }
                    });
                }
                Live::Error(failure) => error.set(Some(failure.message)),
                Live::Disconnected { .. } => {}
            }
        }
    });
}

/// The log view of `source`: its output, a search on the server, times on or off, and a download of a range.
#[component]
pub fn LogPanel(source: LogSource, #[prop(into)] title: String, running: bool) -> impl IntoView {
    let view_id = source.view_id();
    let lines = RwSignal::new(Vec::<Entry>::new());
    let next = StoredValue::new(0_u64);
    let live = RwSignal::new(LiveState::Connecting);
    let error = RwSignal::new(None::<String>);
    let follow = RwSignal::new(true);
    let show_times = RwSignal::new(true);
    let search = RwSignal::new(String::new());
    let range = RwSignal::new(Range::Hour);
    let custom_since = RwSignal::new(String::new());
    let custom_until = RwSignal::new(String::new());
    let view_ref = NodeRef::<html::Div>::new();
    // Whether a stopped container's output has been read to its end.
    let ended = RwSignal::new(false);

    let scroll_to_end = move || {
        request_animation_frame(move || {
            if let Some(view) = view_ref.get_untracked() {
                view.set_scroll_top(view.scroll_height());
            }
        });
    };
    Effect::new(move |_| {
        lines.track();
        if follow.get_untracked() {
            scroll_to_end();
        }
    });
    let on_scroll = move |_| {
        if let Some(view) = view_ref.get_untracked() {
            let at_end =
                view.scroll_top() + view.client_height() + FOLLOW_SLACK >= view.scroll_height();
            if follow.get_untracked() != at_end {
                follow.set(at_end);
            }
        }
    };

    // The custom range, checked before the link is followed.
    let custom_problem = move || {
        if range.get() != Range::Custom {
            return None;
        }
        let since = local_to_iso(&custom_since.get());
        let until = local_to_iso(&custom_until.get());
        match (since, until) {
            (None, _) => Some("Give the start of the range."),
            (Some(s), Some(u)) if js_sys::Date::parse(&s) >= js_sys::Date::parse(&u) => {
                Some("The start must come before the end.")
            }
            _ => None,
        }
    };
    let download_source = source.clone();
    // The link's address, worked out when it is clicked ("last hour" means the hour before the click).
    let on_download = move |event: leptos::ev::MouseEvent| {
        let url = match range.get_untracked() {
            Range::Custom => {
                if custom_problem().is_some() {
                    event.prevent_default();
                    return;
                }
                download_source.download_url(
                    local_to_iso(&custom_since.get_untracked()).as_deref(),
                    local_to_iso(&custom_until.get_untracked()).as_deref(),
                )
            }
            preset => {
                let since = preset.span_ms().map(|span| iso(js_sys::Date::now() - span));
                download_source.download_url(since.as_deref(), None)
            }
        };
        if let Some(link) = event
            .current_target()
            .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
        {
            let _ = link.set_attribute("href", &url);
        }
    };
    let initial_href = source.download_url(None, None);
    let feed_source = source.clone();
    let search_id = source.search_id();

    view! {
        <section class="card log-panel" aria-labelledby=format!("{view_id}-title")>
            <div class="log-head">
                <h2 id=format!("{view_id}-title") class="card-title">
                    "Logs "
                    <span class="muted log-of">{title}</span>
                </h2>
                <div class="log-tools">
                    <Show when=move || !follow.get()>
                        <button
                            type="button"
                            class="btn btn-ghost btn-sm log-follow"
                            on:click=move |_| {
                                follow.set(true);
                                scroll_to_end();
                            }
                        >
                            "Jump to the end"
                        </button>
                    </Show>
                    <Show
                        when=move || running
                        fallback=move || {
                            view! {
                                <span class="tag" title="The container is not running: these are its last lines.">
                                    {move || if ended.get() { "Not running" } else { "Reading…" }}
                                </span>
                            }
                        }
                    >
                        <LiveIndicator state=live />
                    </Show>
                </div>
            </div>
            <div class="log-bar">
                <SearchField
                    id=search_id
                    placeholder="Search the last 5,000 lines"
                    label="Search the output (on the server)"
                    value=Signal::derive(move || search.get())
                    on_change=Callback::new(move |text: String| search.set(text.trim().to_owned()))
                    max_length=MAX_SEARCH
                />
                <label class="log-toggle">
                    <input
                        type="checkbox"
                        id=format!("{view_id}-times")
                        prop:checked=move || show_times.get()
                        on:change=move |event| show_times.set(event_target_checked(&event))
                    />
                    " Times"
                </label>
                <div class="log-download">
                    <select
                        id=format!("{view_id}-range")
                        class="input select input-sm"
                        aria-label="Range to download"
                        on:change=move |event| range.set(Range::from_key(&event_target_value(&event)))
                    >
                        {Range::ALL
                            .into_iter()
                            .map(|r| {
                                view! {
                                    <option value=r.key() selected=r == Range::Hour>
                                        {r.label()}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                    <Show when=move || range.get() == Range::Custom>
                        <input
                            type="datetime-local"
                            class="input input-sm"
                            id=format!("{view_id}-since")
                            aria-label="From"
                            step="1"
                            prop:value=move || custom_since.get()
                            on:input=move |event| custom_since.set(event_target_value(&event))
                        />
                        <input
                            type="datetime-local"
                            class="input input-sm"
                            id=format!("{view_id}-until")
                            aria-label="Until (empty: now)"
                            step="1"
                            prop:value=move || custom_until.get()
                            on:input=move |event| custom_until.set(event_target_value(&event))
                        />
                    </Show>
                    <a
                        id=format!("{view_id}-download")
                        class="btn btn-secondary btn-sm"
                        href=initial_href
                        download=""
                        class:disabled=move || custom_problem().is_some()
                        aria-disabled=move || custom_problem().is_some().to_string()
                        title="Download this range as a text file: time, stream and text on each line"
                        on:click=on_download
                    >
                        "Download"
                    </a>
                </div>
            </div>
            {move || {
                custom_problem()
                    .map(|problem| {
                        view! {
                            <p class="field-error log-range-error" role="alert">
                                {problem}
                            </p>
                        }
                    })
            }}
            {move || {
                let text = search.get();
                let feed = feed_source.feed(&text);
                view! {
                    <FeedReader
                        feed=feed
                        running=running
                        lines=lines
                        next=next
                        live=live
                        error=error
                        ended=ended
                    />
                }
            }}
            <Show when=move || !search.with(String::is_empty)>
                <p class="log-search-note muted">
                    {move || {
                        let n = lines.with(Vec::len);
                        format!(
                            "{n} {} holding “{}” in the last 5,000 lines and since then.",
                            if n == 1 { "line" } else { "lines" },
                            search.get(),
                        )
                    }}
                </p>
            </Show>
            <div
                id=view_id
                class="log-view"
                class:no-times=move || !show_times.get()
                role="log"
                node_ref=view_ref
                on:scroll=on_scroll
            >
                <For each=move || lines.get() key=|entry| entry.seq let:entry>
                    {
                        let stream = entry.line.stream.clone();
                        let marker = if stream == "stderr" { "err" } else { "out" };
                        let time = entry.line.at.as_deref().map(clock).unwrap_or_default();
                        view! {
                            <div class="log-line" class:stderr=stream == "stderr" data-stream=stream>
                                <span class="log-time" title=entry.line.at.clone()>
                                    {time}
                                </span>
                                <span class="log-stream">{marker}</span>
                                <span class="log-text">{entry.line.text}</span>
                            </div>
                        }
                    }
                </For>
                {move || {
                    let message = error
                        .get()
                        .or_else(|| {
                            lines
                                .with(Vec::is_empty)
                                .then(|| {
                                    if search.with(String::is_empty) {
                                        "No output yet.".to_owned()
                                    } else {
                                        "No line holds this text yet.".to_owned()
                                    }
                                })
                        });
                    message.map(|message| view! { <p class="log-empty">{message}</p> })
                }}
            </div>
        </section>
    }
}
