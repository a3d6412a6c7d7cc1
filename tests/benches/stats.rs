//! Stats sampling benchmark (`cargo xtask bench stats`, i.e. `cargo bench -p berth-tests --bench stats`), against the
//! real test environment and a real `berth` process (release build, SQLite):
//!
//! 100 busybox containers run by Berth on h1; then, over the same window each:
//! - (a) Berth sampling them every `BERTH_STATS_INTERVAL_SECS` (one-shot reads): Berth's CPU (utime + stime from
//!   /proc/<pid>/stat) as % of one core (goal ≤ 2 %), and the engine's (dockerd + containerd) CPU;
//! - (b) Berth stopped, `docker stats --no-stream` of the same containers run at the same rate: the engine's CPU;
//! - (c) Berth stopped, nothing reading stats: the engine's idle CPU, taken off (a) and (b);
//!
//! the engine is dockerd, its containerd and the containers' shims. Before Berth stops, the live feed of one
//! container (`containerStats` on a GraphQL WebSocket, as the web app reads it): the delay from the engine's
//! reading (the sample's `at`, the engine's `read` time) to the message read by the client.
//!
//! Prints the table and writes it into BENCHMARKS.md. Needs root. Not run by `cargo test` (`test = false`).

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use berth_tests::app::{
    ADMIN_PASSWORD, ADMIN_USERNAME, BerthProcess, spawn_berth_process_with_env,
};
use berth_tests::bench::{cores, fmt_duration, measure_in_env, median, percentile};
use berth_tests::containers::{container_action, create_container};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, poll};
use berth_tests::ws::GraphqlWs;
use berth_tests::{TestApp, TestEnv};
use serde_json::json;

const COMMAND: &str = "cargo xtask bench stats";
const CONTAINERS: usize = 100;
/// The sampling interval measured (Berth's default).
const INTERVAL_SECS: u64 = 30;
/// Each window covers this many intervals.
const WINDOW: Duration = Duration::from_secs(INTERVAL_SECS * 3);
/// Live samples timed (about one a second).
const LIVE_SAMPLES: usize = 30;

fn main() -> ExitCode {
    berth_tests::bench::run_main("stats", measure_in_env("stats", measure))
}

/// Clock ticks per second of /proc/<pid>/stat (USER_HZ; 100 on every Linux this runs on).
const TICKS: f64 = 100.0;

/// utime + stime of a process, in ticks.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0);
    let stime: u64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok(utime + stime)
}

fn pid_in(file: &Path) -> Result<u32> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    text.trim()
        .parse()
        .with_context(|| format!("a pid in {}", file.display()))
}

/// The engine's processes: dockerd, its containerd and the shims of its containers (their command lines name
/// the engine's folder).
fn engine_pids(engine: &berth_tests::engine::EngineHandle) -> Result<Vec<u32>> {
    let mut pids = vec![
        pid_in(&engine.dir.join("pid"))?,
        pid_in(&engine.dir.join("exec/containerd/containerd.pid"))?,
    ];
    let needle = format!("{}/", engine.dir.display());
    for entry in std::fs::read_dir("/proc").context("reading /proc")? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.contains("containerd-shim") && cmdline.contains(&needle) && !pids.contains(&pid)
        {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// Delays from the engine's reading to the client, over `count` live samples of `instance`.
async fn live_latency(app: &TestApp, instance: &str, count: usize) -> Result<Vec<Duration>> {
    let token = app.admin_token("stats-bench").await?;
    let mut ws = GraphqlWs::connect(app, &token).await?;
    ws.subscribe(
        "subscription S($id: ID!) { containerStats(instanceId: $id) { at } }",
        json!({ "id": instance }),
    )
    .await?;
    let mut delays = Vec::with_capacity(count);
    let deadline = Instant::now() + Duration::from_secs(count as u64 * 3 + 30);
    while delays.len() < count {
        ensure!(
            Instant::now() < deadline,
            "{} live samples in time",
            delays.len()
        );
        let (text, received) = tokio::time::timeout(Duration::from_secs(10), ws.next_raw())
            .await
            .context("waiting for a live sample")??;
        let message: serde_json::Value = serde_json::from_str(&text)?;
        let Some(at) = message["payload"]["data"]["containerStats"]["at"].as_str() else {
            continue;
        };
        let at = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
            .with_context(|| format!("parsing {at}"))?;
        let received = time::OffsetDateTime::from(received);
        let delay = received - at;
        delays.push(Duration::from_secs_f64(delay.as_seconds_f64().max(0.0)));
    }
    ws.close().await;
    delays.sort();
    Ok(delays)
}

/// CPU of `pids` over `window` while `during` runs, as % of one core.
async fn cpu_over<F: std::future::Future<Output = Result<()>>>(
    pids: &[u32],
    window: Duration,
    during: impl FnOnce(Instant) -> F,
) -> Result<Vec<f64>> {
    let before: Vec<u64> = pids.iter().map(|p| cpu_ticks(*p)).collect::<Result<_>>()?;
    let started = Instant::now();
    let deadline = started + window;
    during(deadline).await?;
    let now = Instant::now();
    if now < deadline {
        tokio::time::sleep(deadline - now).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let after: Vec<u64> = pids.iter().map(|p| cpu_ticks(*p)).collect::<Result<_>>()?;
    Ok(before
        .iter()
        .zip(after)
        .map(|(b, a)| (a.saturating_sub(*b)) as f64 / TICKS / secs * 100.0)
        .collect())
}

async fn start_berth(data_dir: &Path) -> Result<BerthProcess> {
    let interval = INTERVAL_SECS.to_string();
    let berth = spawn_berth_process_with_env(
        data_dir,
        &[
            ("BERTH_STATS_INTERVAL_SECS", interval.as_str()),
            ("RUST_LOG", "warn"),
        ],
    )
    .await?;
    berth.app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    Ok(berth)
}

async fn running_count(app: &TestApp) -> Result<usize> {
    let body = app
        .graphql(
            "{ containers(first: 200, filter: { status: RUNNING }) { edges { node { id } } } }",
            json!({}),
        )
        .await?;
    Ok(berth_tests::app::data(&body)?["containers"]["edges"]
        .as_array()
        .map_or(0, Vec::len))
}

async fn measure(env: &TestEnv) -> Result<String> {
    let engine = env.host("h1")?;
    let data_dir = env.new_app_dir()?;
    let mut berth = start_berth(&data_dir).await?;
    let setup = async {
        let app = &berth.app;
        let host = add_host(app, engine_input("h1", engine)).await?;
        let host_id = host["id"].as_str().unwrap_or_default().to_string();
        let image = env.registry.reference("tools/busybox:1.35");
        for n in 0..CONTAINERS {
            let c = create_container(
                app,
                json!({ "name": format!("stats-{n:03}"), "image": image, "command": ["sleep", "3600"],
                        "hostId": host_id }),
            )
            .await?;
            container_action(app, "runContainer", c["id"].as_str().unwrap_or_default(), None).await?;
        }
        poll(
            "100 containers running",
            Duration::from_secs(300),
            Duration::from_secs(1),
            || async {
                let n = running_count(app).await?;
                Ok(if n >= CONTAINERS {
                    Probe::Ready(())
                } else {
                    Probe::NotYet(format!("{n} running"))
                })
            },
        )
        .await
    }
    .await;
    if let Err(e) = setup {
        berth.process.kill().await?;
        return Err(e);
    }
    // Let the first samples (and the start-up work) pass.
    tokio::time::sleep(Duration::from_secs(INTERVAL_SECS + 5)).await;
    let engine_pids = engine_pids(engine)?;
    ensure!(
        engine_pids.len() >= 2 + CONTAINERS,
        "dockerd, containerd and {CONTAINERS} shims: {} processes found",
        engine_pids.len()
    );
    let berth_pid = berth.process.pid();
    let mut pids = vec![berth_pid];
    pids.extend(&engine_pids);
    let sampling = cpu_over(&pids, WINDOW, |_| async { Ok(()) }).await?;
    let (points, instance) = {
        let body = berth
            .app
            .graphql(
                "{ containers(first: 1) { edges { node { instances { id statsHistory { at } } } } } }",
                json!({}),
            )
            .await?;
        let first =
            &berth_tests::app::data(&body)?["containers"]["edges"][0]["node"]["instances"][0];
        (
            first["statsHistory"].as_array().map_or(0, Vec::len),
            first["id"].as_str().unwrap_or_default().to_owned(),
        )
    };
    ensure!(points >= 3, "Berth stored {points} samples of a container");
    let live = live_latency(&berth.app, &instance, LIVE_SAMPLES).await?;
    berth.process.stop(Duration::from_secs(20)).await?;

    let idle = cpu_over(&engine_pids, WINDOW, |_| async { Ok(()) }).await?;
    let cli = cpu_over(&engine_pids, WINDOW, |deadline| async move {
        let mut round = Instant::now();
        while round < deadline {
            let mut cmd = engine.docker_command();
            cmd.args([
                "stats",
                "--no-stream",
                "--format",
                "{{.ID}} {{.CPUPerc}} {{.MemUsage}}",
            ]);
            berth_tests::process::run_ok(&mut cmd, Duration::from_secs(60)).await?;
            round += Duration::from_secs(INTERVAL_SECS);
            let now = Instant::now();
            if round > now && round < deadline {
                tokio::time::sleep(round - now).await;
            }
        }
        Ok(())
    })
    .await?;

    let engine_sum = |v: &[f64]| v.iter().sum::<f64>();
    let berth_cpu = sampling[0];
    let engine_sampling = engine_sum(&sampling[1..]);
    let engine_idle = engine_sum(&idle);
    let engine_cli = engine_sum(&cli);
    Ok(format!(
        "## Stats sampling\n\n\
         `{COMMAND}` — {CONTAINERS} busybox containers run by Berth on one engine, sampled every {INTERVAL_SECS} s \
         (one one-shot read each, 4 at a time), each window {} s; CPU from utime + stime in /proc/<pid>/stat, as % \
         of one core; the engine is dockerd + containerd; measured on {} cores.\n\n\
         | What | CPU, % of one core |\n\
         | --- | --- |\n\
         | Berth (release), sampling {CONTAINERS} containers | {berth_cpu:.2} % ({:.2}× the goal of ≤ 2 %) |\n\
         | engine while Berth samples | {engine_sampling:.2} % (+{:.2} % over idle) |\n\
         | engine while `docker stats --no-stream` runs every {INTERVAL_SECS} s | {engine_cli:.2} % (+{:.2} % over idle) |\n\
         | engine idle (neither) | {engine_idle:.2} % |\n\n\
         {points} samples of one container stored in the first window.\n\n\
         Live feed, engine's reading → client ({LIVE_SAMPLES} samples of one container on `containerStats`, \
         GraphQL WebSocket on loopback): median {}, p90 {}, max {}.\n",
        WINDOW.as_secs(),
        cores(),
        berth_cpu / 2.0,
        engine_sampling - engine_idle,
        engine_cli - engine_idle,
        fmt_duration(median(&live)),
        fmt_duration(percentile(&live, 90.0)),
        fmt_duration(live.last().copied().unwrap_or_default()),
    ))
}
