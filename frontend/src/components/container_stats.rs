//! Stats charts of one instance (`#container-stats`): CPU %, memory against its limit, and network receive/send
//! rates, as SVG line charts with their units on the axes and the latest values written in each heading (readable
//! without hovering). Fed by `statsHistory` (the last hour) then, while the instance runs and the page is open, the
//! live `containerStats` feed (about one sample a second). The same charts show a host's totals on its page
//! (`#host-stats`, from `Host.statsHistory`, read again every 10 s).

use berth_shared::format_bytes;
use futures::StreamExt;
use leptos::{prelude::*, task::spawn_local_scoped_with_cancellation};

use super::{
    live::{LiveIndicator, LiveState},
    time::clock,
};
use crate::api::{
    Live, bytes_u64,
    stats::{StatsSample, container_stats, host_stats_history, stats_history},
};

/// Samples kept on the page.
const KEEP: usize = 1500;
/// How far back the charts start.
const WINDOW_MS: f64 = 3_600_000.0;
/// Drawing area in SVG units (the SVG scales to the card's width).
const WIDTH: f64 = 360.0;
const HEIGHT: f64 = 160.0;
const LEFT: f64 = 76.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

/// A sample with its time in milliseconds.
#[derive(Clone, Debug, PartialEq)]
struct Point {
    ms: f64,
    sample: StatsSample,
}

fn point(sample: StatsSample) -> Option<Point> {
    let ms = js_sys::Date::parse(&sample.at);
    (!ms.is_nan()).then_some(Point { ms, sample })
}

/// A line's values: (time in ms, value), `None` where it breaks.
type Values = Vec<(f64, Option<f64>)>;

/// One line of a chart: its CSS class (colour) and its values (a `None` breaks the line).
struct Series {
    class: &'static str,
    values: Values,
}

/// What one chart draws.
#[derive(Clone, Debug, PartialEq, Default)]
struct Drawn {
    /// (class, path) per line.
    paths: Vec<(&'static str, String)>,
    /// Y axis labels: bottom, middle, top.
    y_labels: [String; 3],
    /// X axis labels: first and last time.
    x_labels: (String, String),
    /// A dashed line at this height with its label (the memory limit).
    mark: Option<(f64, String)>,
}

/// A round top for an axis: 1, 2 or 5 times a power of ten (or of 1024 for bytes), at least `min`.
fn nice_top(max: f64, min: f64, binary: bool) -> f64 {
    let max = max.max(min);
    let base: f64 = if binary { 1024.0 } else { 10.0 };
    let mut unit = 1.0;
    while unit * base <= max {
        unit *= base;
    }
    let steps: &[f64] = if binary {
        &[
            1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
        ]
    } else {
        &[1.0, 2.0, 5.0, 10.0]
    };
    steps
        .iter()
        .map(|s| s * unit)
        .find(|v| *v >= max)
        .unwrap_or(unit * base)
}

fn draw(
    series: &[Series],
    from: f64,
    to: f64,
    top: f64,
    label: impl Fn(f64) -> String,
    mark: Option<(f64, String)>,
) -> Drawn {
    let span = (to - from).max(1.0);
    let x = |ms: f64| LEFT + (ms - from) / span * (WIDTH - LEFT - RIGHT);
    let y = |v: f64| TOP + (1.0 - (v / top).clamp(0.0, 1.0)) * (HEIGHT - TOP - BOTTOM);
    let mut paths = Vec::new();
    for s in series {
        let mut d = String::new();
        let mut pen_down = false;
        for (ms, value) in &s.values {
            match value {
                Some(v) => {
                    let command = if pen_down { 'L' } else { 'M' };
                    d.push_str(&format!("{command}{:.1},{:.1} ", x(*ms), y(*v)));
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        paths.push((s.class, d));
    }
    Drawn {
        paths,
        y_labels: [label(0.0), label(top / 2.0), label(top)],
        x_labels: (clock_ms(from), clock_ms(to)),
        mark: mark
            .filter(|(v, _)| *v <= top)
            .map(|(v, text)| (y(v), text)),
    }
}

/// An SVG coordinate.
fn n(v: f64) -> String {
    format!("{v:.1}")
}

fn clock_ms(ms: f64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms));
    clock(&String::from(date.to_iso_string()))
}

fn bytes(v: f64) -> String {
    format_bytes(v.max(0.0) as u64)
}

fn percent(v: f64) -> String {
    if v >= 10.0 || v == 0.0 {
        format!("{v:.0} %")
    } else {
        format!("{v:.1} %")
    }
}

/// Receive and send rates (bytes a second) between consecutive samples; a counter that went back (the container
/// restarted) gives no rate.
fn rates(points: &[Point]) -> (Values, Values) {
    let mut rx = Vec::new();
    let mut tx = Vec::new();
    for pair in points.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let secs = (b.ms - a.ms) / 1000.0;
        let rate = |before: i64, after: i64| {
            (secs > 0.0 && after >= before).then(|| (after - before) as f64 / secs)
        };
        rx.push((b.ms, rate(a.sample.net_rx_bytes, b.sample.net_rx_bytes)));
        tx.push((b.ms, rate(a.sample.net_tx_bytes, b.sample.net_tx_bytes)));
    }
    (rx, tx)
}

/// The stats panel of instance `instance_id` of container `container_id`; `title` names it ("replica 0 on h1").
#[component]
pub fn ContainerStats(
    container_id: String,
    instance_id: String,
    #[prop(into)] title: String,
    running: bool,
) -> impl IntoView {
    let points = RwSignal::new(Vec::<Point>::new());
    let state = RwSignal::new(LiveState::Connecting);
    let loaded = RwSignal::new(false);
    spawn_local_scoped_with_cancellation(async move {
        let since = {
            let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(
                js_sys::Date::now() - WINDOW_MS,
            ));
            String::from(date.to_iso_string())
        };
        if let Ok(history) = stats_history(&container_id, &instance_id, &since).await {
            points.set(history.into_iter().filter_map(point).collect());
        }
        loaded.set(true);
        if !running {
            return;
        }
        let mut feed = Box::pin(container_stats(&instance_id));
        while let Some(event) = feed.next().await {
            LiveState::follow(state, &event);
            if let Live::Event(sample) = event
                && let Some(p) = point(sample)
            {
                points.update(|list| {
                    if list.last().is_none_or(|last| last.ms < p.ms) {
                        list.push(p);
                    }
                    let cut = p_cut(list);
                    list.retain(|q| q.ms >= cut);
                    if list.len() > KEEP {
                        list.drain(..list.len() - KEEP);
                    }
                });
            }
        }
    });

    view! {
        <section id="container-stats" class="card stats-panel" aria-labelledby="container-stats-title">
            <div class="log-head">
                <h2 id="container-stats-title" class="card-title">
                    "Stats " <span class="log-of muted">"of " {title}</span>
                </h2>
                {running.then(|| view! { <LiveIndicator state=state /> })}
            </div>
            {charts(points, loaded, "limit", "in use, dashed: the limit")}
        </section>
    }
}

/// A host's totals (its running instances summed) over the last hour, read again every 10 s.
#[component]
pub fn HostStats(host_id: String) -> impl IntoView {
    let points = RwSignal::new(Vec::<Point>::new());
    let loaded = RwSignal::new(false);
    let failed = RwSignal::new(None::<String>);
    spawn_local_scoped_with_cancellation(async move {
        loop {
            let since = {
                let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(
                    js_sys::Date::now() - WINDOW_MS,
                ));
                String::from(date.to_iso_string())
            };
            match host_stats_history(&host_id, &since).await {
                Ok(history) => {
                    points.set(history.into_iter().filter_map(point).collect());
                    failed.set(None);
                }
                Err(e) => failed.set(Some(e.to_string())),
            }
            loaded.set(true);
            gloo_timers::future::sleep(std::time::Duration::from_secs(10)).await;
        }
    });
    view! {
        <section id="host-stats" class="card stats-panel" aria-labelledby="host-stats-title">
            <div class="log-head">
                <h2 id="host-stats-title" class="card-title">
                    "Usage " <span class="log-of muted">"of its running containers, last hour"</span>
                </h2>
            </div>
            {move || failed.get().map(|e| view! { <p class="log-empty form-error">"Stats could not be read: " {e}</p> })}
            {charts(points, loaded, "host memory", "in use by its containers, of the host's memory")}
        </section>
    }
}

/// The CPU, memory and network charts of `points` (once `loaded` and empty: a line saying there are no samples
/// yet); the memory chart marks the samples' limit as `limit_word`.
fn charts(
    points: RwSignal<Vec<Point>>,
    loaded: RwSignal<bool>,
    limit_word: &'static str,
    memory_unit: &'static str,
) -> impl IntoView {
    let range = Memo::new(move |_| {
        points.with(|list| match (list.first(), list.last()) {
            (Some(a), Some(b)) => (a.ms, b.ms.max(a.ms + 60_000.0)),
            _ => (0.0, 1.0),
        })
    });
    let latest = Memo::new(move |_| points.with(|list| list.last().map(|p| p.sample.clone())));

    let cpu = Memo::new(move |_| {
        let (from, to) = range.get();
        points.with(|list| {
            let values: Vec<(f64, Option<f64>)> =
                list.iter().map(|p| (p.ms, p.sample.cpu_percent)).collect();
            let max = values.iter().filter_map(|(_, v)| *v).fold(0.0, f64::max);
            let top = nice_top(max, 1.0, false);
            draw(
                &[Series {
                    class: "chart-line cpu",
                    values,
                }],
                from,
                to,
                top,
                percent,
                None,
            )
        })
    });
    let memory = Memo::new(move |_| {
        let (from, to) = range.get();
        points.with(|list| {
            let values: Vec<(f64, Option<f64>)> = list
                .iter()
                .map(|p| (p.ms, Some(p.sample.memory_bytes as f64)))
                .collect();
            let max = values.iter().filter_map(|(_, v)| *v).fold(0.0, f64::max);
            let limit = list
                .last()
                .and_then(|p| p.sample.memory_limit_bytes)
                .map(|l| l as f64);
            // A limit far above the usage (no limit: the host's memory) would flatten the line.
            let top = match limit {
                Some(l) if l <= max * 8.0 => l,
                _ => nice_top(max, 1024.0 * 1024.0, true),
            };
            draw(
                &[Series {
                    class: "chart-line memory",
                    values,
                }],
                from,
                to,
                top,
                bytes,
                limit.map(|l| (l, format!("{limit_word} {}", bytes(l)))),
            )
        })
    });
    let network = Memo::new(move |_| {
        let (from, to) = range.get();
        points.with(|list| {
            let (rx, tx) = rates(list);
            let max = rx
                .iter()
                .chain(tx.iter())
                .filter_map(|(_, v)| *v)
                .fold(0.0, f64::max);
            let top = nice_top(max, 1024.0, true);
            draw(
                &[
                    Series {
                        class: "chart-line rx",
                        values: rx,
                    },
                    Series {
                        class: "chart-line tx",
                        values: tx,
                    },
                ],
                from,
                to,
                top,
                |v| format!("{}/s", bytes(v)),
                None,
            )
        })
    });

    let cpu_now = move || {
        latest
            .get()
            .and_then(|s| s.cpu_percent)
            .map_or_else(|| "—".to_owned(), percent)
    };
    let memory_now = move || match latest.get() {
        Some(s) => match s.memory_limit_bytes {
            Some(limit) if limit > 0 => format!(
                "{} of {} ({:.0} %)",
                format_bytes(bytes_u64(s.memory_bytes)),
                format_bytes(bytes_u64(limit)),
                s.memory_bytes as f64 / limit as f64 * 100.0
            ),
            _ => format_bytes(bytes_u64(s.memory_bytes)),
        },
        None => "—".to_owned(),
    };
    let network_now = move || {
        points.with(|list| {
            let (rx, tx) = rates(list);
            let last = |v: &[(f64, Option<f64>)]| v.last().and_then(|(_, r)| *r);
            match (last(&rx), last(&tx)) {
                (Some(r), Some(t)) => format!("↓ {}/s  ↑ {}/s", bytes(r), bytes(t)),
                _ => "—".to_owned(),
            }
        })
    };

    view! {
        <Show
            when=move || !loaded.get() || !points.with(Vec::is_empty)
            fallback=|| {
                view! {
                    <p class="log-empty">
                        "No samples yet: Berth samples running containers every few seconds to minutes."
                    </p>
                }
            }
        >
        <div class="stats-charts">
            <Chart id="stats-cpu" title="CPU" unit="100 % = one core" now=Signal::derive(cpu_now) drawn=cpu />
            <Chart id="stats-memory" title="Memory" unit=memory_unit now=Signal::derive(memory_now) drawn=memory />
            <Chart
                id="stats-network"
                title="Network"
                unit="per second: ↓ received (blue), ↑ sent (amber)"
                now=Signal::derive(network_now)
                drawn=network
            />
        </div>
        </Show>
    }
}

/// The oldest time kept: an hour before the newest sample.
fn p_cut(list: &[Point]) -> f64 {
    list.last().map_or(0.0, |p| p.ms - WINDOW_MS)
}

/// One chart: its heading with the latest value, then the SVG.
#[component]
fn Chart(
    id: &'static str,
    title: &'static str,
    unit: &'static str,
    now: Signal<String>,
    drawn: Memo<Drawn>,
) -> impl IntoView {
    let grid = |i: usize| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - i as f64 / 2.0);
    view! {
        <figure class="stats-chart" id=id>
            <figcaption>
                <span class="stats-chart-title">{title}</span>
                <span class="stats-chart-now" data-role="now">{move || now.get()}</span>
                <span class="stats-chart-unit muted">{unit}</span>
            </figcaption>
            <svg
                class="chart"
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                role="img"
                aria-label=move || format!("{title}: {}", now.get())
            >
                {(0..3)
                    .map(|i| {
                        view! {
                            <line
                                class="chart-grid"
                                x1=n(LEFT)
                                x2=n(WIDTH - RIGHT)
                                y1=n(grid(i))
                                y2=n(grid(i))
                            />
                            <text class="chart-label" x=n(LEFT - 6.0) y=n(grid(i) + 4.0) text-anchor="end">
                                {move || drawn.with(|d| d.y_labels[i].clone())}
                            </text>
                        }
                    })
                    .collect_view()}
                <text class="chart-label" x=n(LEFT) y=n(HEIGHT - 6.0) text-anchor="start">
                    {move || drawn.with(|d| d.x_labels.0.clone())}
                </text>
                <text class="chart-label" x=n(WIDTH - RIGHT) y=n(HEIGHT - 6.0) text-anchor="end">
                    {move || drawn.with(|d| d.x_labels.1.clone())}
                </text>
                {move || {
                    drawn
                        .with(|d| d.mark.clone())
                        .map(|(y, text)| {
                            view! {
                                <line class="chart-mark" x1=n(LEFT) x2=n(WIDTH - RIGHT) y1=n(y) y2=n(y) />
                                <text class="chart-label chart-mark-label" x=n(WIDTH - RIGHT - 4.0) y=n(y + 12.0) text-anchor="end">
                                    {text}
                                </text>
                            }
                        })
                }}
                {move || {
                    drawn
                        .with(|d| d.paths.clone())
                        .into_iter()
                        .map(|(class, d)| view! { <path class=class d=d /> })
                        .collect_view()
                }}
            </svg>
        </figure>
    }
}
