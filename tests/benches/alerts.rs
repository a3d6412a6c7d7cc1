//! Alerts benchmark (`cargo xtask bench alerts`, i.e. `cargo bench -p berth-tests --bench alerts`), against the
//! real test environment (three engines) and a real `berth` process (release build, SQLite), with a real HTTP
//! receiver in this process:
//!
//! - (a) Docker `die` → webhook request received: 100 running containers (the three engines in turn) killed one
//!   at a time; latency = the receiver's arrival time − the engine's `timeNano` of the `die` (`docker events`,
//!   same clock). Goal: p99 ≤ 500 ms.
//! - (b) a burst: 1,000 running containers killed at once (one `docker kill` per engine, the three in parallel);
//!   every alert must reach the receiver, none twice (by idempotency key); the time from the first `die` to the
//!   last request received.
//!
//! Prints the tables and writes them into BENCHMARKS.md. Needs root. Not run by `cargo test` (`test = false`).

use std::collections::{HashMap, HashSet};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};
use berth_tests::app::{
    ADMIN_PASSWORD, ADMIN_USERNAME, BerthProcess, data, spawn_berth_process_with_env,
};
use berth_tests::bench::{cores, fmt_duration, measure_in_env, percentile};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::receiver::Receiver;
use berth_tests::{EngineHandle, TestEnv};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

const COMMAND: &str = "cargo xtask bench alerts";
const LABEL: &str = "berth-bench-alerts=1";
const LATENCY_SAMPLES: usize = 100;
const BURST: usize = 1000;
const CLI_PARALLEL: usize = 8;
const LATENCY_GOAL: Duration = Duration::from_millis(500);

fn main() -> ExitCode {
    berth_tests::bench::run_main("alerts", measure_in_env("alerts", measure))
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// `docker events` of this benchmark's `die`s on one engine: (docker id, timeNano).
fn follow_dies(
    engine: &EngineHandle,
    tx: mpsc::UnboundedSender<(String, i64)>,
) -> Result<tokio::process::Child> {
    let mut cmd = engine.docker_command();
    cmd.args([
        "events",
        "--filter",
        "type=container",
        "--filter",
        "event=die",
        "--filter",
        &format!("label={LABEL}"),
        "--format",
        "{{json .}}",
    ])
    .stdout(Stdio::piped())
    .kill_on_drop(true);
    let mut child = cmd.spawn().context("starting docker events")?;
    let stdout = child.stdout.take().context("docker events stdout")?;
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                let _ = tx.send((s(&v["id"]), v["timeNano"].as_i64().unwrap_or(0)));
            }
        }
    });
    Ok(child)
}

fn at_nanos(nanos: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
}

async fn gql(p: &BerthProcess, query: &str, variables: Value) -> Result<Value> {
    let body = p.app.graphql(query, variables).await?;
    Ok(data(&body)
        .with_context(|| format!("{query}: {body}"))?
        .clone())
}

/// Creates and starts `per_engine` labelled busybox containers on each engine: (engine, docker id).
async fn create_running(
    env: &TestEnv,
    image: &str,
    per_engine: usize,
) -> Result<Vec<(usize, String)>> {
    let jobs: Vec<(usize, usize)> = (0..per_engine)
        .flat_map(|n| (0..env.hosts.len()).map(move |e| (e, n)))
        .collect();
    let made: Vec<Result<(usize, String)>> = futures::stream::iter(jobs)
        .map(|(e, n)| async move {
            let engine = &env.hosts[e];
            let name = format!("al-{}-{n:04}", engine.name);
            let id = engine
                .docker_ok(&[
                    "run",
                    "-d",
                    "--network",
                    "none",
                    "--name",
                    &name,
                    "--label",
                    LABEL,
                    image,
                    "sleep",
                    "86400",
                ])
                .await?;
            Ok((e, id.trim().to_owned()))
        })
        .buffer_unordered(CLI_PARALLEL)
        .collect()
        .await;
    made.into_iter().collect()
}

/// Waits until the inventory counts `n` running containers of the benchmark.
async fn wait_inventory_running(p: &BerthProcess, n: usize, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let d = gql(
            p,
            "query Q($f: DockerContainerFilter) { dockerContainers(filter: $f, first: 1) { totalCount } }",
            json!({ "f": { "search": LABEL, "state": "running" } }),
        )
        .await?;
        let count = d["dockerContainers"]["totalCount"].as_u64().unwrap_or(0);
        if count as usize >= n {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "the inventory shows {count} of {n} running"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn measure(env: &TestEnv) -> Result<String> {
    let receiver = Receiver::start().await?;
    let data_dir = env.new_app_dir()?;
    let mut p = spawn_berth_process_with_env(&data_dir, &[]).await?;
    let outcome = measure_with(env, &p, &receiver).await;
    let _ = p.process.kill().await;
    outcome
}

async fn measure_with(env: &TestEnv, p: &BerthProcess, receiver: &Receiver) -> Result<String> {
    p.app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    for engine in &env.hosts {
        let host = add_host(&p.app, engine_input(&engine.name, engine)).await?;
        ensure!(host["status"] == "UP", "{host}");
    }
    let channel = gql(
        p,
        "mutation C($i: AlertChannelInput!) { createAlertChannel(input: $i) { id } }",
        json!({ "i": { "name": "bench", "kind": "WEBHOOK", "url": receiver.url("/hook"), "secret": "k" } }),
    )
    .await?["createAlertChannel"]["id"]
        .clone();
    gql(
        p,
        "mutation R($i: AlertRuleInput!) { createAlertRule(input: $i) { id } }",
        json!({ "i": { "name": "exits", "condition": "CONTAINER_EXITED", "channelIds": [channel] } }),
    )
    .await?;

    let image = env.registry.reference("tools/busybox:1.35");
    for engine in &env.hosts {
        engine.docker_ok(&["pull", &image]).await?;
    }
    // One for the warm-up, the latency samples, then the burst.
    let per_engine = (1 + LATENCY_SAMPLES + BURST).div_ceil(env.hosts.len());
    let created_at = Instant::now();
    let containers = create_running(env, &image, per_engine).await?;
    let create_took = created_at.elapsed();
    let total = containers.len();
    wait_inventory_running(p, total, Duration::from_secs(120)).await?;

    let (tx, mut dies) = mpsc::unbounded_channel();
    let mut followers = Vec::new();
    for engine in &env.hosts {
        followers.push(follow_dies(engine, tx.clone())?);
    }
    // `docker events` starts listening asynchronously: kill one container (not counted) until its die is seen.
    let (warm_e, warm_id) = containers.first().cloned().context("containers")?;
    env.hosts[warm_e].docker_ok(&["kill", &warm_id]).await?;
    let warm_deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (id, _) = tokio::time::timeout_at(warm_deadline.into(), dies.recv())
            .await
            .context("the warm-up die event")?
            .context("docker events ended")?;
        if id == warm_id {
            break;
        }
    }
    receiver
        .wait_for("the warm-up alert", Duration::from_secs(20), |r| {
            r.json()["subject"]["dockerId"] == warm_id.as_str()
        })
        .await?;

    // (a) one at a time.
    let mut latencies = Vec::new();
    for (e, id) in containers.iter().skip(1).take(LATENCY_SAMPLES) {
        env.hosts[*e].docker_ok(&["kill", id]).await?;
        let deadline = Instant::now() + Duration::from_secs(20);
        let nanos = loop {
            let (got, nanos) = tokio::time::timeout_at(deadline.into(), dies.recv())
                .await
                .with_context(|| format!("the die event of {id}"))?
                .context("docker events ended")?;
            if got == *id {
                break nanos;
            }
        };
        let r = receiver
            .wait_for(
                &format!("the alert of {id}"),
                Duration::from_secs(20),
                |r| r.json()["subject"]["dockerId"] == id.as_str() && r.json()["event"] == "OPENED",
            )
            .await?;
        latencies.push(r.at.duration_since(at_nanos(nanos)).unwrap_or_default());
    }
    eprintln!(
        "bench alerts: die → webhook p50 {} p99 {} max {}",
        fmt_duration(percentile(&latencies, 50.0)),
        fmt_duration(percentile(&latencies, 99.0)),
        fmt_duration(percentile(&latencies, 100.0))
    );

    // (b) the burst: everything still running, killed at once.
    let burst: Vec<(usize, String)> = containers
        .iter()
        .skip(1 + LATENCY_SAMPLES)
        .take(BURST)
        .cloned()
        .collect();
    let burst_ids: HashSet<String> = burst.iter().map(|(_, id)| id.clone()).collect();
    let before = receiver.seen().len();
    let mut by_engine: Vec<Vec<String>> = vec![Vec::new(); env.hosts.len()];
    for (e, id) in &burst {
        by_engine[*e].push(id.clone());
    }
    let kill_started = Instant::now();
    let kills: Vec<Result<String>> =
        futures::future::join_all(by_engine.iter().enumerate().map(|(e, ids)| async move {
            let mut args = vec!["kill"];
            args.extend(ids.iter().map(String::as_str));
            env.hosts[e].docker_ok(&args).await
        }))
        .await;
    for k in kills {
        k?;
    }
    let kill_took = kill_started.elapsed();
    let mut first_die: Option<i64> = None;
    let mut died = 0;
    let die_deadline = Instant::now() + Duration::from_secs(60);
    while died < burst_ids.len() {
        let (id, nanos) = tokio::time::timeout_at(die_deadline.into(), dies.recv())
            .await
            .context("the burst's die events")?
            .context("docker events ended")?;
        if burst_ids.contains(&id) {
            died += 1;
            first_die = Some(first_die.map_or(nanos, |f| f.min(nanos)));
        }
    }
    let drain_deadline = Instant::now() + Duration::from_secs(300);
    let (received, last_at) = loop {
        let seen = receiver.seen();
        let got: HashSet<String> = seen[before..]
            .iter()
            .filter(|r| r.json()["event"] == "OPENED")
            .map(|r| s(&r.json()["subject"]["dockerId"]))
            .filter(|id| burst_ids.contains(id))
            .collect();
        if got.len() == burst_ids.len() {
            let last = seen[before..]
                .iter()
                .map(|r| r.at)
                .max()
                .unwrap_or(SystemTime::now());
            break (got.len(), last);
        }
        ensure!(
            Instant::now() < drain_deadline,
            "only {} of {} alerts arrived within 300 s",
            got.len(),
            burst_ids.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let drain = last_at
        .duration_since(at_nanos(first_die.unwrap_or(0)))
        .unwrap_or_default();
    let mut keys: HashMap<String, usize> = HashMap::new();
    for r in receiver.seen() {
        *keys
            .entry(r.header("idempotency-key").unwrap_or_default())
            .or_default() += 1;
    }
    let duplicates = keys.values().filter(|n| **n > 1).count();
    let requests = receiver.seen().len();
    for mut f in followers {
        let _ = f.kill().await;
    }
    eprintln!(
        "bench alerts: burst of {} delivered in {} (kill CLI {}), {duplicates} keys twice",
        burst_ids.len(),
        fmt_duration(drain),
        fmt_duration(kill_took)
    );

    let p99 = percentile(&latencies, 99.0);
    let rate = received as f64 / drain.as_secs_f64().max(0.001);
    Ok(format!(
        "## Alerts (`{COMMAND}`)\n\n\
Command: `{COMMAND}` (runs `cargo bench -p berth-tests --bench alerts`: release build, as root, three real engines, a real \
`berth` process — the release binary — on SQLite, a real HTTP receiver in the benchmark process). Measured {} on a \
{}-core machine. {total} running busybox containers made with the Docker CLI in {} ({} per engine); one webhook channel \
(signed) and one rule (`CONTAINER_EXITED`, every host).\n\n\
| Measure | Samples | p50 | p99 | max | Goal | p99 / goal |\n|---|---:|---:|---:|---:|---|---:|\n\
| (a) `docker kill` → `die` (engine's `timeNano`) → webhook request received | {} | {} | {} | {} | p99 ≤ 500 ms | {:.2} |\n\n\
| (b) Burst | Value |\n|---|---:|\n\
| containers killed at once (one `docker kill` per engine, 3 in parallel) | {} |\n\
| alerts received (distinct containers) | {received} |\n\
| idempotency keys received more than once | {duplicates} |\n\
| requests received in the whole run | {requests} |\n\
| first `die` → last request received (drain) | {} |\n\
| delivered per second | {:.0} |\n\n\
- (a) Each container is killed only after the previous alert arrived; the path is the engine's event stream → \
the host monitor (exit recorded at once) → the alert evaluator (rule match, the alert and its outbox row in one \
transaction) → the deliverer (woken by the outbox, claims the row, POSTs it).\n\
- (b) A webhook gets one request per alert (each with its own idempotency key); the deliverer sends at most 4 at \
a time per channel.\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        cores(),
        fmt_duration(create_took),
        per_engine,
        latencies.len(),
        fmt_duration(percentile(&latencies, 50.0)),
        fmt_duration(p99),
        fmt_duration(percentile(&latencies, 100.0)),
        p99.as_secs_f64() / LATENCY_GOAL.as_secs_f64(),
        burst_ids.len(),
        fmt_duration(drain),
        rate,
    ))
}
