//! Small trend lines of the last hour in the containers lists (`td.container-usage`, `td.inventory-usage`): CPU and
//! memory of a row's containers summed, with their latest values. Rows drawn by the virtual table say which ids
//! they show; one `statsTrends` (definitions: instance ids) or `dockerContainerStatsTrends` (the inventory) query
//! reads the missing ones for all of them (again every minute), never one query per row.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use berth_shared::format_bytes;
use gloo_timers::future::sleep;
use leptos::{
    prelude::*,
    task::{spawn_local, spawn_local_scoped_with_cancellation},
};

use crate::api::{
    ApiError, bytes_u64,
    stats::{TrendPoint, docker_container_stats_trends, stats_trends},
};

/// Most instance ids one query asks for (the server's cap).
const MAX_IDS: usize = 500;
/// Drawing area of one line, in CSS pixels.
const WIDTH: f64 = 44.0;
const HEIGHT: f64 = 14.0;

/// What the ids of a list's trends are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Berth's instances (the definitions list).
    Instances,
    /// Containers of the inventory.
    DockerContainers,
}

/// The trends of the rows on screen, shared by the list and its rows.
#[derive(Clone, Copy)]
pub struct Trends {
    source: Source,
    /// Ids drawn now, with how many rows show each.
    wanted: RwSignal<BTreeMap<String, usize>>,
    /// Points read, by instance id (empty: none in the last hour).
    points: RwSignal<HashMap<String, Vec<TrendPoint>>>,
    fetching: StoredValue<bool>,
}

impl Trends {
    /// Starts the trends of the definitions list, keyed by instance id (call in the list's component; its rows
    /// find them in the context).
    pub fn provide() -> Self {
        Self::provide_for(Source::Instances)
    }

    /// Starts the trends of an inventory list, keyed by inventory id.
    pub fn provide_inventory() -> Self {
        Self::provide_for(Source::DockerContainers)
    }

    fn provide_for(source: Source) -> Self {
        let trends = Self {
            source,
            wanted: RwSignal::new(BTreeMap::new()),
            points: RwSignal::new(HashMap::new()),
            fetching: StoredValue::new(false),
        };
        provide_context(trends);
        // Rows drawn whose instances were not read yet: one query, a moment after the rows settle.
        Effect::new(move |_| {
            let missing = trends.wanted.with(|wanted| {
                trends
                    .points
                    .with_untracked(|points| wanted.keys().any(|id| !points.contains_key(id)))
            });
            if missing && trends.fetching.try_get_value() == Some(false) {
                trends.fetching.set_value(true);
                spawn_local(async move {
                    sleep(Duration::from_millis(150)).await;
                    trends.fetch(false).await;
                    let _ = trends.fetching.try_set_value(false);
                });
            }
        });
        // Every minute, all of the rows drawn again.
        spawn_local_scoped_with_cancellation(async move {
            loop {
                sleep(Duration::from_secs(60)).await;
                trends.fetch(true).await;
            }
        });
        trends
    }

    /// Reads the missing ids (or all, with `all`), at most [`MAX_IDS`], in one query.
    async fn fetch(self, all: bool) {
        let Some(ids) = self.wanted.try_with_untracked(|wanted| {
            self.points.with_untracked(|points| {
                wanted
                    .keys()
                    .filter(|id| all || !points.contains_key(*id))
                    .take(MAX_IDS)
                    .cloned()
                    .collect::<Vec<_>>()
            })
        }) else {
            return;
        };
        if ids.is_empty() {
            return;
        }
        // A failure is not worth a message in every row: the cells keep their dash and the next minute tries again.
        let read: Result<Vec<(String, Vec<TrendPoint>)>, ApiError> = match self.source {
            Source::Instances => stats_trends(&ids).await,
            Source::DockerContainers => docker_container_stats_trends(&ids).await,
        };
        if let Ok(list) = read {
            let _ = self.points.try_update(|points| {
                // Rows scrolled away since: their points go, so the map stays the size of what is drawn.
                if all {
                    self.wanted
                        .with_untracked(|wanted| points.retain(|id, _| wanted.contains_key(id)));
                }
                for (id, trend) in list {
                    points.insert(id, trend);
                }
            });
        }
    }
}

/// One summed point: CPU % (when known) and memory.
type Summed = (Option<f64>, i64);

/// The instances' points summed per time.
fn summed(lists: &[&Vec<TrendPoint>]) -> Vec<Summed> {
    let mut by_time: BTreeMap<&str, Summed> = BTreeMap::new();
    for list in lists {
        for p in list.iter() {
            let entry = by_time.entry(p.at.as_str()).or_insert((None, 0));
            if let Some(cpu) = p.cpu_percent {
                entry.0 = Some(entry.0.unwrap_or(0.0) + cpu);
            }
            entry.1 = entry.1.saturating_add(p.memory_bytes);
        }
    }
    by_time.into_values().collect()
}

/// An SVG path through `values` (a `None` breaks it), scaled to its own highest value (at least `min_top`).
fn spark_path(values: &[Option<f64>], min_top: f64) -> String {
    let top = values.iter().flatten().fold(min_top, |a, b| a.max(*b));
    let step = if values.len() > 1 {
        WIDTH / (values.len() - 1) as f64
    } else {
        0.0
    };
    let mut d = String::new();
    let mut pen_down = false;
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => {
                let x = i as f64 * step;
                let y = 1.0 + (1.0 - (v / top).clamp(0.0, 1.0)) * (HEIGHT - 2.0);
                d.push_str(&format!(
                    "{}{x:.1},{y:.1} ",
                    if pen_down { 'L' } else { 'M' }
                ));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    d
}

fn percent(v: f64) -> String {
    if v >= 10.0 || v == 0.0 {
        format!("{v:.0} %")
    } else {
        format!("{v:.1} %")
    }
}

/// The trend cell of a row showing `ids` (its instances with a Docker container, or its inventory id).
#[component]
pub fn TrendCell(#[prop(into)] ids: Signal<Vec<String>>) -> impl IntoView {
    let trends = use_context::<Trends>();
    if let Some(t) = trends {
        Effect::new(move |_| {
            let ids = ids.get();
            t.wanted.update(|wanted| {
                for id in &ids {
                    *wanted.entry(id.clone()).or_default() += 1;
                }
            });
            on_cleanup(move || {
                let _ = t.wanted.try_update(|wanted| {
                    for id in &ids {
                        if let Some(n) = wanted.get_mut(id) {
                            *n = n.saturating_sub(1);
                            if *n == 0 {
                                wanted.remove(id);
                            }
                        }
                    }
                });
            });
        });
    }
    let points = Memo::new(move |_| {
        let Some(t) = trends else {
            return Vec::new();
        };
        ids.with(|ids| {
            t.points.with(|points| {
                let lists: Vec<&Vec<TrendPoint>> =
                    ids.iter().filter_map(|id| points.get(id)).collect();
                summed(&lists)
            })
        })
    });
    move || {
        let list = points.get();
        if list.len() < 2 {
            return view! { <span class="muted trend-none" title="No samples in the last hour">"—"</span> }
                .into_any();
        }
        let cpu: Vec<Option<f64>> = list.iter().map(|(c, _)| *c).collect();
        let memory: Vec<Option<f64>> = list.iter().map(|(_, m)| Some(*m as f64)).collect();
        let cpu_now = cpu
            .iter()
            .rev()
            .flatten()
            .next()
            .copied()
            .map_or_else(|| "—".to_owned(), percent);
        let memory_now = list
            .last()
            .map(|(_, m)| format_bytes(bytes_u64(*m)))
            .unwrap_or_default();
        let title =
            format!("Last hour: CPU now {cpu_now} (100 % = one core), memory now {memory_now}");
        let line = |class: &'static str, d: String| {
            view! {
                <svg
                    class="sparkline"
                    width=WIDTH.to_string()
                    height=HEIGHT.to_string()
                    viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                    aria-hidden="true"
                >
                    <path class=class d=d />
                </svg>
            }
        };
        view! {
            <div class="trend" title=title>
                <div class="trend-line trend-cpu">
                    {line("spark cpu", spark_path(&cpu, 1.0))}
                    <span class="trend-now">{cpu_now.clone()}</span>
                </div>
                <div class="trend-line trend-memory">
                    {line("spark memory", spark_path(&memory, 1024.0 * 1024.0))}
                    <span class="trend-now">{memory_now.clone()}</span>
                </div>
            </div>
        }
        .into_any()
    }
}
