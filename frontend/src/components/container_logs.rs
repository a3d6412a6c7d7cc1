//! The live log view of one instance (`#container-logs`, one `div.log-line[data-stream]` per line): the last 200
//! lines, then new ones as they come; stdout and stderr marked, monospaced, following the end unless the user
//! scrolled up to read. For an instance that is not running it shows the last lines once and stops.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use leptos::{html, prelude::*, task::spawn_local_scoped_with_cancellation};

use super::{
    live::{LiveIndicator, LiveState},
    time::clock,
};
use crate::api::{
    Live,
    containers::{LogLine, container_logs},
};

/// Lines asked for when (re)connecting.
pub const TAIL: i64 = 200;
/// Lines kept on the page; older ones are dropped.
const KEEP: usize = 2000;
/// How close to the end (in pixels) still counts as "at the end".
const FOLLOW_SLACK: i32 = 24;

/// One line with its place in the feed (the key of its row).
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    seq: u64,
    line: LogLine,
}

/// A feed of log lines (each (re)connection replays the tail).
pub type LogFeed = Pin<Box<dyn Stream<Item = Live<LogLine>>>>;

/// The output of instance `instance_id`; `title` names it ("replica 0 on h1"). While `running`, the view follows
/// the output (reconnecting when needed); otherwise it shows what the container printed and closes the feed.
#[component]
pub fn ContainerLogs(
    instance_id: String,
    #[prop(into)] title: String,
    running: bool,
) -> impl IntoView {
    view! {
        <LogPanel
            feed=Box::pin(container_logs(&instance_id, TAIL))
            title=title
            running=running
            view_id="container-logs"
        />
    }
}

/// The log view of any feed: `view_id` is the id of the scrolling `div.log-view` (its title is `VIEW_ID-title`).
#[component]
pub fn LogPanel(
    feed: LogFeed,
    #[prop(into)] title: String,
    running: bool,
    view_id: &'static str,
) -> impl IntoView {
    let lines = RwSignal::new(Vec::<Entry>::new());
    let next = StoredValue::new(0_u64);
    let live = RwSignal::new(LiveState::Connecting);
    let error = RwSignal::new(None::<String>);
    let follow = RwSignal::new(true);
    let view_ref = NodeRef::<html::Div>::new();

    // Whether a stopped instance's output has been read to its end.
    let ended = RwSignal::new(false);
    let mut feed = feed;
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
            <div id=view_id class="log-view" role="log" node_ref=view_ref on:scroll=on_scroll>
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
                        .or_else(|| lines.with(Vec::is_empty).then(|| "No output yet.".to_owned()));
                    message.map(|message| view! { <p class="log-empty">{message}</p> })
                }}
            </div>
        </section>
    }
}
