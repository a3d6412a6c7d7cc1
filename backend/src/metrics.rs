//! Prometheus metrics: the counters and histograms the server updates as it works (process-wide, lock-free), and
//! the text exposition format (0.0.4) that `GET /metrics` answers with them and the gauges read when scraped.

use std::fmt::Write as _;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// A histogram of durations in seconds with fixed bucket bounds.
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative), the last one past every bound (+Inf).
    counts: Vec<AtomicU64>,
    /// The sum of the observations, in microseconds.
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = self
            .bounds
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// The `_bucket`, `_sum` and `_count` lines, with `labels` (`kind="query"`, or empty) on each.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0u64;
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, bound) in self.bounds.iter().enumerate() {
            cumulative += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative += self.counts[self.bounds.len()].load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cumulative}"
        );
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

/// Sub-millisecond to a minute: requests, reconcile jobs, event lag.
const FAST: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// A tenth of a second to ten minutes: registry refreshes.
const SLOW: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// What the server counts as it works.
pub struct Metrics {
    /// Reconcile jobs handed to a container's worker and not started yet.
    pub reconcile_queued: AtomicI64,
    /// How long each reconcile job took (the work and the convergence after it).
    pub reconcile_jobs: Histogram,
    /// From the engine's time of a Docker event to Berth reading it.
    pub docker_event_lag: Histogram,
    /// How long each registry refresh took, whatever its outcome.
    pub registry_refreshes: Histogram,
    pub registry_refresh_failures: AtomicU64,
    /// GraphQL requests by operation kind: query, mutation (subscriptions are counted when they start).
    pub graphql_queries: Histogram,
    pub graphql_mutations: Histogram,
    pub subscriptions_started: AtomicU64,
    /// Subscriptions open now.
    pub subscriptions_open: AtomicI64,
    /// Engine actions refused because this server's leadership had ended.
    pub fenced_actions: AtomicU64,
    /// Terms this server has led.
    pub leader_terms: AtomicU64,
    /// Events this server received from the other servers.
    pub relayed_events: AtomicU64,
}

impl Metrics {
    pub fn fenced_action(&self) {
        self.fenced_actions.fetch_add(1, Ordering::Relaxed);
    }
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    reconcile_queued: AtomicI64::new(0),
    reconcile_jobs: Histogram::new(FAST),
    docker_event_lag: Histogram::new(FAST),
    registry_refreshes: Histogram::new(SLOW),
    registry_refresh_failures: AtomicU64::new(0),
    graphql_queries: Histogram::new(FAST),
    graphql_mutations: Histogram::new(FAST),
    subscriptions_started: AtomicU64::new(0),
    subscriptions_open: AtomicI64::new(0),
    fenced_actions: AtomicU64::new(0),
    leader_terms: AtomicU64::new(0),
    relayed_events: AtomicU64::new(0),
});

/// Counts an open subscription until dropped.
pub struct OpenSubscription(());

impl OpenSubscription {
    pub fn start() -> Self {
        METRICS
            .subscriptions_started
            .fetch_add(1, Ordering::Relaxed);
        METRICS.subscriptions_open.fetch_add(1, Ordering::Relaxed);
        Self(())
    }
}

impl Drop for OpenSubscription {
    fn drop(&mut self) {
        METRICS.subscriptions_open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The gauges read from the database when scraped.
#[derive(Clone, Debug, Default)]
pub struct Gauges {
    /// (status word, hosts).
    pub hosts: Vec<(String, i64)>,
    /// (status word, instances).
    pub instances: Vec<(String, i64)>,
    /// Replicas of the definitions whose desired state is RUNNING.
    pub desired_replicas: i64,
    /// Instances RUNNING.
    pub running_replicas: i64,
    /// Whether this server does the work that runs once (a single server always does).
    pub leader: bool,
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The whole exposition: the gauges given, then the process's counters and histograms.
pub fn render(g: &Gauges) -> String {
    let m = &*METRICS;
    let mut out = String::with_capacity(8 * 1024);
    family(&mut out, "berth_hosts", "gauge", "Hosts by status.");
    for (status, n) in &g.hosts {
        let _ = writeln!(out, "berth_hosts{{status=\"{}\"}} {n}", escape(status));
    }
    family(
        &mut out,
        "berth_instances",
        "gauge",
        "Container instances (replicas) by status.",
    );
    for (status, n) in &g.instances {
        let _ = writeln!(out, "berth_instances{{status=\"{}\"}} {n}", escape(status));
    }
    family(
        &mut out,
        "berth_replicas_desired",
        "gauge",
        "Replicas of the definitions asked to run.",
    );
    let _ = writeln!(out, "berth_replicas_desired {}", g.desired_replicas);
    family(
        &mut out,
        "berth_replicas_running",
        "gauge",
        "Replicas running.",
    );
    let _ = writeln!(out, "berth_replicas_running {}", g.running_replicas);
    family(
        &mut out,
        "berth_leader",
        "gauge",
        "1 when this server runs the work that must run once (monitors, reconciler, refresher, alert delivery).",
    );
    let _ = writeln!(out, "berth_leader {}", i32::from(g.leader));
    family(
        &mut out,
        "berth_leader_terms_total",
        "counter",
        "Times this server became the leader.",
    );
    let _ = writeln!(
        out,
        "berth_leader_terms_total {}",
        m.leader_terms.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "berth_fenced_actions_total",
        "counter",
        "Engine actions this server refused because its leadership had ended.",
    );
    let _ = writeln!(
        out,
        "berth_fenced_actions_total {}",
        m.fenced_actions.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "berth_relayed_events_total",
        "counter",
        "Events received from the other servers on the same database.",
    );
    let _ = writeln!(
        out,
        "berth_relayed_events_total {}",
        m.relayed_events.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "berth_reconcile_queue_depth",
        "gauge",
        "Reconcile jobs waiting for their container's worker.",
    );
    let _ = writeln!(
        out,
        "berth_reconcile_queue_depth {}",
        m.reconcile_queued.load(Ordering::Relaxed).max(0)
    );
    family(
        &mut out,
        "berth_reconcile_job_duration_seconds",
        "histogram",
        "How long a reconcile job took, with the convergence after it.",
    );
    m.reconcile_jobs
        .render(&mut out, "berth_reconcile_job_duration_seconds", "");
    family(
        &mut out,
        "berth_docker_event_lag_seconds",
        "histogram",
        "From a Docker engine's time of an event to Berth reading it.",
    );
    m.docker_event_lag
        .render(&mut out, "berth_docker_event_lag_seconds", "");
    family(
        &mut out,
        "berth_registry_refresh_duration_seconds",
        "histogram",
        "How long a registry refresh took, whatever its outcome.",
    );
    m.registry_refreshes
        .render(&mut out, "berth_registry_refresh_duration_seconds", "");
    family(
        &mut out,
        "berth_registry_refresh_failures_total",
        "counter",
        "Registry refreshes that failed.",
    );
    let _ = writeln!(
        out,
        "berth_registry_refresh_failures_total {}",
        m.registry_refresh_failures.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "berth_graphql_request_duration_seconds",
        "histogram",
        "GraphQL queries and mutations by kind, from the parsed document to the response.",
    );
    m.graphql_queries.render(
        &mut out,
        "berth_graphql_request_duration_seconds",
        "kind=\"query\"",
    );
    m.graphql_mutations.render(
        &mut out,
        "berth_graphql_request_duration_seconds",
        "kind=\"mutation\"",
    );
    family(
        &mut out,
        "berth_graphql_subscriptions_started_total",
        "counter",
        "GraphQL subscriptions started.",
    );
    let _ = writeln!(
        out,
        "berth_graphql_subscriptions_started_total {}",
        m.subscriptions_started.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "berth_graphql_subscriptions_open",
        "gauge",
        "GraphQL subscriptions open now.",
    );
    let _ = writeln!(
        out,
        "berth_graphql_subscriptions_open {}",
        m.subscriptions_open.load(Ordering::Relaxed).max(0)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_render_cumulative_buckets() {
        let h = Histogram::new(&[0.01, 0.1]);
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_millis(50));
        h.observe(Duration::from_millis(50));
        h.observe(Duration::from_secs(2));
        let mut out = String::new();
        h.render(&mut out, "x_seconds", "kind=\"query\"");
        assert_eq!(
            out,
            "x_seconds_bucket{kind=\"query\",le=\"0.01\"} 1\n\
             x_seconds_bucket{kind=\"query\",le=\"0.1\"} 3\n\
             x_seconds_bucket{kind=\"query\",le=\"+Inf\"} 4\n\
             x_seconds_sum{kind=\"query\"} 2.105\n\
             x_seconds_count{kind=\"query\"} 4\n"
        );
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
