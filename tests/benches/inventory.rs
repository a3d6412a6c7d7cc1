//! Inventory benchmark (`cargo xtask bench inventory`, i.e. `cargo bench -p berth-tests --bench inventory`),
//! against the real test environment (three engines, the local registry, chromedriver) and a real `berth`
//! process (release build, SQLite), loaded with 10,000 definitions (20,000 instances, seeded into its database)
//! and an inventory of 20,000 Docker containers (600 real ones created on the engines with the Docker CLI, the
//! rest seeded on 17 made-up hosts with Docker support off, which nothing re-lists or reconciles):
//!
//! - (a) `containers(first: 50)` and `dockerContainers(first: 50)`, unfiltered, filtered and after a cursor
//!   deep in the list: p50/p99 with one client (goal p99 ≤ 20 ms); requests/s with 8 clients against
//!   dockerd's own `/containers/json?all=1&limit=50` with 8 clients in the same run (goal: ≥ dockerd's rate);
//! - (b) Docker event → `dockerContainerChanges` message at a subscriber, for 200 `docker kill`/`docker start`
//!   of real containers (latency from the event's `timeNano` in the engine's own event stream; goal p99 ≤
//!   50 ms);
//! - (c) Chromium on the Containers tab with 10,001 definitions: navigation → first row painted (goal ≤ 1 s),
//!   DOM nodes (goal ≤ 5,000), live status change painted after its WebSocket message arrives (goal ≤ 100 ms;
//!   measured in the page: a WebSocket wrapper injected before the app loads stamps each message, a
//!   MutationObserver stamps the status badge's change and the next animation frame);
//! - (d) the server's resident memory (`VmRSS`, and the peak `VmHWM`) with all of that loaded (goal ≤ 200 MB).
//!
//! Prints the tables and writes them into BENCHMARKS.md. Needs root. Not run by `cargo test` (`test = false`).

use std::collections::BTreeMap;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, ensure};
use berth_tests::app::{
    ADMIN_PASSWORD, ADMIN_USERNAME, BerthProcess, data, spawn_berth_process_with_env,
};
use berth_tests::bench::{cores, fmt_duration, median, percentile, write_section};
use berth_tests::browser::{Cdp, submit_login};
use berth_tests::containers::{container_action, create_container, wait_container_status};
use berth_tests::engine::EngineHandle;
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, poll};
use berth_tests::ws::GraphqlWs;
use berth_tests::{TestEnv, wait_for};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

const COMMAND: &str = "cargo xtask bench inventory";
const DEFINITIONS: usize = 10_000;
const REPLICAS: usize = 2;
const INVENTORY: usize = 20_000;
/// Real Docker containers per engine (created), and how many of them run.
const REAL_PER_ENGINE: usize = 200;
const STARTED_PER_ENGINE: usize = 70;
/// Made-up hosts (Docker support off) holding the seeded instances and inventory rows.
const FAKE_HOSTS: usize = 17;
/// `docker` CLI processes at once while creating containers.
const CLI_PARALLEL: usize = 6;
const WARMUP: usize = 20;
const ROUNDS: usize = 300;
const CLIENTS: usize = 8;
const RATE_WINDOW: Duration = Duration::from_secs(5);
const RATE_WARMUP: Duration = Duration::from_secs(1);
/// Four rounds: a background tick of the server (the stats sampler every 30 s, a re-listing every 60 s) falling
/// into one 5 s window moves that window by a third; the mean of four is steadier.
const RATE_REPEATS: usize = 4;
/// Kill + start cycles for (b): two measured events each.
const EVENT_CYCLES: usize = 100;
const NAVIGATIONS: usize = 5;
const LIVE_CYCLES: usize = 8;
const LABEL: &str = "berth-bench=inventory";
const PROBE_NAME: &str = "aaa-live-probe";
const MB: f64 = 1024.0 * 1024.0;

/// The fields the web app asks for (frontend/src/api/containers.rs, `container_fields`).
const DEFINITION_FIELDS: &str = "id name image command entrypoint env { name value } \
     ports { containerPort hostPort hostIp protocol } resources { cpus memoryBytes cpuShares } \
     restartPolicy replicas mounts { containerPath readOnly disk { id name kind host { id name endpoint } } } \
     desiredState version createdAt updatedAt host { id name endpoint } status changedSinceStart \
     instances { id replica dockerId status exitCode error startedAt finishedAt definitionVersion attempts \
     nextAttemptAt host { id name endpoint } }";
/// The fields the web app asks for (frontend/src/api/inventory.rs, `DOCKER_CONTAINER_FIELDS`).
const DOCKER_FIELDS: &str = "id hostId hostName dockerId name image imageId command state status health \
     exitCode createdAt startedAt ports { privatePort publicPort ip protocol } composeProject composeService \
     managed container { id name } current lastSeenAt";

fn main() -> ExitCode {
    berth_tests::bench::run_main("inventory", run())
}

async fn run() -> Result<()> {
    let interrupted = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let env = TestEnv::start_until(interrupted).await?;
    let measured = tokio::select! {
        result = measure(&env) => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    let cleaned = remove_bench_containers(&env).await;
    let stopped = env.stop().await;
    let report = measured?;
    cleaned?;
    stopped?;
    println!("\n{report}");
    write_section("inventory", &report)
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// What else the machine is doing: load average and compiler processes.
fn machine_load() -> String {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into());
    let (mut rustc, mut cargo) = (0, 0);
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(comm) = std::fs::read_to_string(e.path().join("comm")) else {
                continue;
            };
            match comm.trim() {
                "rustc" => rustc += 1,
                "cargo" => cargo += 1,
                _ => {}
            }
        }
    }
    format!("load average {load}, {rustc} rustc and {cargo} cargo processes")
}

/// `VmRSS` and `VmHWM` of a process, in bytes.
fn memory_of(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("{name} in /proc/{pid}/status"))?;
        let kb: u64 = line
            .split_whitespace()
            .nth(1)
            .context("a number")?
            .parse()?;
        Ok(kb * 1024)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU time (user + system) a process has used.
fn cpu_of(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) in parentheses; utime and stime are the 14th and 15th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(Duration::from_millis(ticks * 10))
}

/// The pid of an engine's dockerd (its command line names the engine's folder).
fn dockerd_pid(engine: &EngineHandle) -> Option<u32> {
    let dir = engine.dir.to_string_lossy().into_owned();
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.first().is_some_and(|a| a.ends_with("dockerd"))
            && args.iter().any(|a| a.contains(&dir))
        {
            return Some(pid);
        }
    }
    None
}

/// Removes every container this benchmark created on the engines.
async fn remove_bench_containers(env: &TestEnv) -> Result<()> {
    for engine in &env.hosts {
        let listed = engine
            .docker_ok(&["ps", "-aq", "--filter", &format!("label={LABEL}")])
            .await?;
        let ids: Vec<&str> = listed.split_whitespace().collect();
        for chunk in ids.chunks(100) {
            let mut args = vec!["rm", "-f"];
            args.extend(chunk);
            engine.docker_ok(&args).await?;
        }
        if !ids.is_empty() {
            eprintln!(
                "bench inventory: removed {} containers on {}",
                ids.len(),
                engine.name
            );
        }
    }
    Ok(())
}

/// A GraphQL client with a bearer token and its own connection pool.
#[derive(Clone)]
struct Api {
    client: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    fn new(p: &BerthProcess, token: &str) -> Result<Api> {
        Ok(Api {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            url: p.app.url("/graphql"),
            token: token.to_owned(),
        })
    }

    fn request(&self, body: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(&self.url)
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
    }

    async fn query(&self, query: &str, variables: Value) -> Result<Value> {
        let body = json!({ "query": query, "variables": variables });
        let text = self.request(&body).send().await?.text().await?;
        let v: Value = serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))?;
        Ok(data(&v)?.clone())
    }
}

/// One measured request of (a).
struct Case {
    label: String,
    body: Value,
    /// The connection's field, to check the answer.
    field: &'static str,
}

fn definitions_case(label: &str, filter: Value, after: Option<&str>) -> Case {
    Case {
        label: label.to_owned(),
        body: json!({
            "query": format!(
                "query Containers($filter: ContainerFilter, $sort: ContainerSort, $first: Int, $after: String) {{ \
                 containers(filter: $filter, sort: $sort, first: $first, after: $after) {{ \
                 edges {{ node {{ {DEFINITION_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} totalCount }} }}"
            ),
            "variables": { "filter": filter, "sort": { "by": "NAME", "direction": "ASC" }, "first": 50, "after": after },
        }),
        field: "containers",
    }
}

fn inventory_case(label: &str, filter: Value, after: Option<&str>) -> Case {
    inventory_case_with(label, filter, after, "")
}

/// An inventory page asking `extra` fields besides the web app's usual ones.
fn inventory_case_with(label: &str, filter: Value, after: Option<&str>, extra: &str) -> Case {
    Case {
        label: label.to_owned(),
        body: json!({
            "query": format!(
                "query DockerContainers($filter: DockerContainerFilter, $sort: DockerContainerSort, $first: Int, \
                 $after: String) {{ dockerContainers(filter: $filter, sort: $sort, first: $first, after: $after) {{ \
                 edges {{ node {{ {DOCKER_FIELDS} {extra} }} }} pageInfo {{ hasNextPage endCursor }} totalCount }} }}"
            ),
            "variables": { "filter": filter, "sort": { "by": "NAME", "direction": "ASC" }, "first": 50, "after": after },
        }),
        field: "dockerContainers",
    }
}

struct Latency {
    label: String,
    total: u64,
    rows: usize,
    bytes: usize,
    samples: Vec<Duration>,
}

/// `ROUNDS` sequential requests (after `WARMUP`), each timed from sending to the whole body read.
async fn latency(api: &Api, case: &Case) -> Result<Latency> {
    let text = api.request(&case.body).send().await?.text().await?;
    let v: Value = serde_json::from_str(&text)?;
    let conn = &data(&v).with_context(|| case.label.clone())?[case.field];
    let rows = conn["edges"].as_array().map_or(0, Vec::len);
    let total = conn["totalCount"].as_u64().unwrap_or_default();
    for _ in 0..WARMUP {
        api.request(&case.body).send().await?.bytes().await?;
    }
    let mut samples = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let response = api.request(&case.body).send().await?;
        ensure!(
            response.status().is_success(),
            "{}: HTTP {}",
            case.label,
            response.status()
        );
        response.bytes().await?;
        samples.push(started.elapsed());
    }
    Ok(Latency {
        label: case.label.clone(),
        total,
        rows,
        bytes: text.len(),
        samples,
    })
}

/// What a rate run targets.
#[derive(Clone)]
enum Target {
    Berth {
        url: String,
        token: String,
        body: String,
    },
    Docker {
        url: String,
    },
}

struct Rate {
    label: String,
    /// Requests per second of each repeat.
    rates: Vec<f64>,
    /// CPU time of the server process per request (mean over the repeats).
    cpu_per_request: Option<Duration>,
}

/// `CLIENTS` clients in a loop for `RATE_WINDOW` (after `RATE_WARMUP`); completed requests per second, and the
/// server's CPU time per request.
async fn rate_once(target: &Target, server_pid: Option<u32>) -> Result<(f64, Option<Duration>)> {
    let started = Instant::now();
    let measure_from = started + RATE_WARMUP;
    let measure_to = measure_from + RATE_WINDOW;
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let target = target.clone();
        let done = done.clone();
        let failed = failed.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?;
            loop {
                let now = Instant::now();
                if now >= measure_to {
                    break;
                }
                let request = match &target {
                    Target::Berth { url, token, body } => client
                        .post(url)
                        .bearer_auth(token)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body.clone()),
                    Target::Docker { url } => client.get(url),
                };
                let response = request.send().await?;
                let ok = response.status().is_success();
                let body = response.bytes().await?;
                let ok = ok && !body.starts_with(br#"{"errors""#);
                let end = Instant::now();
                if end >= measure_from && end < measure_to {
                    if ok {
                        done.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    let cpu_at = async {
        tokio::time::sleep_until(measure_from.into()).await;
        let before = server_pid.and_then(cpu_of);
        tokio::time::sleep_until(measure_to.into()).await;
        let after = server_pid.and_then(cpu_of);
        before.zip(after).map(|(b, a)| a.saturating_sub(b))
    };
    let (cpu, results) = tokio::join!(cpu_at, futures::future::join_all(tasks));
    for r in results {
        r??;
    }
    let failed = failed.load(Ordering::Relaxed);
    ensure!(failed == 0, "{failed} requests failed");
    let n = done.load(Ordering::Relaxed);
    let per = cpu.and_then(|c| u32::try_from(n).ok().filter(|n| *n > 0).map(|n| c / n));
    Ok((n as f64 / RATE_WINDOW.as_secs_f64(), per))
}

/// The Docker CLI's `docker events` on one engine: (docker id, action, timeNano, when this process read the line)
/// of `die` and `start` events of this benchmark's containers.
fn follow_events(
    engine: &EngineHandle,
    tx: mpsc::UnboundedSender<(String, String, i64, SystemTime)>,
) -> Result<tokio::process::Child> {
    let mut cmd = engine.docker_command();
    cmd.args([
        "events",
        "--filter",
        "type=container",
        "--filter",
        "event=die",
        "--filter",
        "event=start",
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
            let read_at = SystemTime::now();
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                let _ = tx.send((
                    s(&v["id"]),
                    s(&v["Action"]),
                    v["timeNano"].as_i64().unwrap_or(0),
                    read_at,
                ));
            }
        }
    });
    Ok(child)
}

/// A real container created for the benchmark.
struct Real {
    engine: usize,
    docker_id: String,
}

/// Creates `REAL_PER_ENGINE` busybox containers on each engine (some with compose labels) and starts
/// `STARTED_PER_ENGINE` of them; returns the started ones.
async fn create_real(env: &TestEnv, image: &str) -> Result<Vec<Real>> {
    let mut jobs = Vec::new();
    for (e, engine) in env.hosts.iter().enumerate() {
        for n in 0..REAL_PER_ENGINE {
            jobs.push((e, engine, n));
        }
    }
    let created: Vec<Result<(usize, usize, String)>> = futures::stream::iter(jobs)
        .map(|(e, engine, n)| async move {
            let name = format!("inv-{}-{n:04}", engine.name);
            let mut args = vec![
                "create".to_owned(),
                "--name".to_owned(),
                name,
                "--label".to_owned(),
                LABEL.to_owned(),
            ];
            if n % 10 < 3 {
                args.extend([
                    "--label".to_owned(),
                    format!("com.docker.compose.project=shop-{}", engine.name),
                    "--label".to_owned(),
                    format!("com.docker.compose.service=svc{}", n % 5),
                ]);
            }
            args.extend([image.to_owned(), "sleep".to_owned(), "86400".to_owned()]);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let id = engine.docker_ok(&refs).await?;
            Ok((e, n, id.trim().to_owned()))
        })
        .buffer_unordered(CLI_PARALLEL)
        .collect()
        .await;
    let mut started = Vec::new();
    let mut to_start: Vec<Vec<String>> = vec![Vec::new(); env.hosts.len()];
    for c in created {
        let (e, n, id) = c?;
        if n < STARTED_PER_ENGINE {
            to_start[e].push(id.clone());
            started.push(Real {
                engine: e,
                docker_id: id,
            });
        }
    }
    let starts: Vec<Result<String>> = futures::stream::iter(
        to_start
            .iter()
            .enumerate()
            .flat_map(|(e, ids)| ids.chunks(10).map(move |chunk| (e, chunk))),
    )
    .map(|(e, chunk)| async move {
        let mut args = vec!["start"];
        args.extend(chunk.iter().map(String::as_str));
        env.hosts[e].docker_ok(&args).await
    })
    .buffer_unordered(CLI_PARALLEL)
    .collect()
    .await;
    for r in starts {
        r?;
    }
    Ok(started)
}

struct Setup {
    token: String,
    /// Berth's host ids: the three engines, then the made-up hosts.
    real_hosts: Vec<String>,
    fake_hosts: Vec<String>,
    probe_id: String,
    started: Vec<Real>,
    seeded_inventory: usize,
    seeded_by_status: BTreeMap<String, usize>,
    seed_took: Duration,
    create_took: Duration,
    /// Sweeps the server's log recorded before the loaded start.
    sweeps_before: usize,
    /// Where the web app came from.
    web_app: String,
}

/// The release `berth` (`BERTH_BIN`), serving the benchmark's own copy of the web app (see [`copy_web_app`]).
async fn spawn_berth(data_dir: &std::path::Path) -> Result<BerthProcess> {
    let static_dir = data_dir
        .parent()
        .context("the data folder's parent")?
        .join("web-app");
    let static_dir = static_dir.to_string_lossy().into_owned();
    spawn_berth_process_with_env(data_dir, &[("BERTH_STATIC_DIR", static_dir.as_str())]).await
}

/// Copies the web app (`BERTH_BENCH_STATIC_DIR`, else `dist/`) beside the data folder, so that a rebuild of
/// `dist/` by someone else during the run changes nothing; returns where it came from.
fn copy_web_app(data_dir: &std::path::Path) -> Result<String> {
    let from = match std::env::var("BERTH_BENCH_STATIC_DIR") {
        Ok(dir) => std::path::PathBuf::from(dir),
        Err(_) => berth_tests::app::static_dir()?,
    };
    let to = data_dir
        .parent()
        .context("the data folder's parent")?
        .join("web-app");
    std::fs::create_dir_all(&to)?;
    for entry in std::fs::read_dir(&from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    let index = std::fs::read_to_string(to.join("index.html"))?;
    ensure!(
        index.contains(".wasm") || index.contains("<script"),
        "{} holds no built web app (index.html: {index:.80})",
        from.display()
    );
    let built = std::fs::metadata(from.join("index.html"))?
        .modified()
        .ok()
        .map(|t| time::OffsetDateTime::from(t).to_string())
        .unwrap_or_default();
    Ok(format!("{} (index.html written {built})", from.display()))
}

async fn measure(env: &TestEnv) -> Result<String> {
    let data_dir = env.new_app_dir()?;
    let web_app = copy_web_app(&data_dir)?;
    eprintln!("bench inventory: web app from {web_app}");
    let mut p = spawn_berth(&data_dir).await?;
    let outcome = measure_with(env, &data_dir, &mut p, web_app).await;
    let _ = p.process.kill().await;
    // The server's log outlives the run's folder: target/bench-inventory-berth.log.
    let kept = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/bench-inventory-berth.log");
    match std::fs::copy(p.process.log_path(), &kept) {
        Ok(_) => eprintln!("bench inventory: berth's log kept in {}", kept.display()),
        Err(e) => eprintln!("bench inventory: keeping berth's log: {e}"),
    }
    if outcome.is_err() {
        eprintln!(
            "bench inventory: berth's log ends with:\n{}",
            berth_tests::process::log_tail(p.process.log_path(), 40)
        );
    }
    outcome
}

async fn set_up(env: &TestEnv, data_dir: &std::path::Path, p: &mut BerthProcess) -> Result<Setup> {
    p.app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    let token = p.app.admin_token("bench-inventory").await?;
    let mut real_hosts = Vec::new();
    for engine in &env.hosts {
        let host = add_host(&p.app, engine_input(&engine.name, engine)).await?;
        ensure!(host["status"] == "UP", "{host}");
        real_hosts.push(s(&host["id"]));
    }
    let mut fake_hosts = Vec::new();
    for n in 0..FAKE_HOSTS {
        let host = add_host(
            &p.app,
            json!({ "name": format!("node-{:02}", n + 1), "endpoint": format!("tcp://10.88.0.{}:2376", n + 10),
                    "dockerSupport": false }),
        )
        .await?;
        fake_hosts.push(s(&host["id"]));
    }
    let image = env.registry.reference("tools/busybox:1.35");
    for engine in &env.hosts {
        engine.docker_ok(&["pull", "-q", &image]).await?;
    }
    // The definition whose status changes the browser watches: a real replica on h1.
    let probe = create_container(
        &p.app,
        json!({ "name": PROBE_NAME, "image": image, "hostId": real_hosts[0],
                "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"] }),
    )
    .await?;
    let probe_id = s(&probe["id"]);
    container_action(&p.app, "runContainer", &probe_id, None).await?;
    wait_container_status(&p.app, &probe_id, "RUNNING", Duration::from_secs(60)).await?;

    let created = Instant::now();
    let started = create_real(env, &image).await?;
    let create_took = created.elapsed();
    eprintln!(
        "bench inventory: {} containers created ({} started) in {:.1?}",
        REAL_PER_ENGINE * env.hosts.len(),
        started.len(),
        create_took
    );

    // Seed with the server stopped, as a database it starts on.
    p.process.stop(Duration::from_secs(20)).await?;
    let seeding = Instant::now();
    let url = format!("sqlite://{}?mode=rwc", data_dir.join("berth.db").display());
    let db = berth::service::fixtures::Fixtures::open(&url).await?;
    let seeded = db
        .definitions(&fake_hosts, "", DEFINITIONS, REPLICAS)
        .await?;
    let real_total = REAL_PER_ENGINE * env.hosts.len() + 1;
    let seeded_inventory = INVENTORY - real_total + 1;
    for (n, host_id) in fake_hosts.iter().enumerate() {
        let count = seeded_inventory / FAKE_HOSTS + usize::from(n < seeded_inventory % FAKE_HOSTS);
        let name = format!("node-{:02}", n + 1);
        db.inventory(host_id, &name, &format!("n{:02}", n + 1), count)
            .await?;
    }
    db.close().await?;
    let seed_took = seeding.elapsed();
    eprintln!(
        "bench inventory: seeded {} definitions ({} instances) and {seeded_inventory} inventory rows in {:.1?}",
        seeded.ids.len(),
        seeded.instances,
        seed_took
    );
    let sweeps_before = std::fs::read_to_string(p.process.log_path())
        .unwrap_or_default()
        .matches("sweep: converging containers")
        .count();
    *p = spawn_berth(data_dir).await?;
    p.app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    Ok(Setup {
        token,
        real_hosts,
        fake_hosts,
        probe_id,
        started,
        seeded_inventory,
        seeded_by_status: seeded.by_status,
        seed_took,
        create_took,
        sweeps_before,
        web_app: String::new(),
    })
}

/// Definition counts by summary status, through the API.
async fn status_counts(api: &Api) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for status in [
        "RUNNING", "STOPPED", "EXITED", "FAILED", "PENDING", "UNKNOWN",
    ] {
        let d = api
            .query(
                "query Q($s: InstanceStatus) { containers(filter: { status: $s }, first: 1) { totalCount } }",
                json!({ "s": status }),
            )
            .await?;
        let n = d["containers"]["totalCount"].as_u64().unwrap_or(0);
        if n > 0 {
            out.insert(status.to_owned(), n);
        }
    }
    Ok(out)
}

struct Report {
    setup_note: String,
    load_before: String,
    load_after: String,
    latencies: Vec<Latency>,
    rates: Vec<Rate>,
    events: Vec<Duration>,
    /// The same events as the `docker events` CLI read them (the engine's own delivery to a client).
    cli_events: Vec<Duration>,
    event_misses: Vec<String>,
    browser: Browser,
    rss_loaded: (u64, u64),
    rss_end: (u64, u64),
    /// VmRSS after each phase.
    rss_phases: Vec<(&'static str, u64)>,
    statuses_before: BTreeMap<String, u64>,
    statuses_after: BTreeMap<String, u64>,
    inventory_total: u64,
    definitions_total: u64,
}

async fn measure_with(
    env: &TestEnv,
    data_dir: &std::path::Path,
    p: &mut BerthProcess,
    web_app: String,
) -> Result<String> {
    let mut setup = set_up(env, data_dir, p).await?;
    setup.web_app = web_app;
    let api = Api::new(p, &setup.token)?;
    let pid = p.process.pid();
    let real_total = REAL_PER_ENGINE * env.hosts.len() + 1;
    let expected_inventory = (setup.seeded_inventory + real_total) as u64;
    let loading = Instant::now();
    // The monitors list the engines after the start; wait until every real container is in the inventory.
    let inventory_total = poll(
        "the whole inventory listed",
        Duration::from_secs(180),
        Duration::from_millis(200),
        || async {
            let d = api
                .query("{ dockerContainers(first: 1) { totalCount } }", json!({}))
                .await?;
            let n = d["dockerContainers"]["totalCount"].as_u64().unwrap_or(0);
            Ok(if n >= expected_inventory {
                Probe::Ready(n)
            } else {
                Probe::NotYet(format!("{n} of {expected_inventory}"))
            })
        },
    )
    .await?;
    eprintln!(
        "bench inventory: {inventory_total} inventory rows listed {:.1?} after the restart",
        loading.elapsed()
    );
    let definitions_total = api
        .query("{ containers(first: 1) { totalCount } }", json!({}))
        .await?["containers"]["totalCount"]
        .as_u64()
        .unwrap_or(0);
    ensure!(
        definitions_total == (DEFINITIONS + 1) as u64,
        "{definitions_total} definitions"
    );
    let probe = poll(
        "the probe running again",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || async {
            let d = api
                .query(
                    "query Q($id: ID!) { container(id: $id) { status instances { dockerId } } }",
                    json!({ "id": setup.probe_id }),
                )
                .await?;
            let c = d["container"].clone();
            Ok(if c["status"] == "RUNNING" {
                Probe::Ready(c)
            } else {
                Probe::NotYet(c.to_string())
            })
        },
    )
    .await?;
    ensure!(!probe["instances"][0]["dockerId"].is_null(), "{probe}");
    // The reconciler's start-up sweep (one read of every definition with its instances) is part of loading.
    let log = p.process.log_path().to_path_buf();
    let swept = poll(
        "the start-up sweep",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            Ok(
                if text.matches("sweep: converging containers").count() > setup.sweeps_before {
                    Probe::Ready(())
                } else {
                    Probe::NotYet("no sweep logged yet".into())
                },
            )
        },
    )
    .await;
    if let Err(e) = swept {
        eprintln!("bench inventory: {e:#}");
    }
    let statuses_before = status_counts(&api).await?;
    let rss_loaded = memory_of(pid)?;
    let load_before = machine_load();
    eprintln!(
        "bench inventory: loaded; {load_before}; server RSS {:.0} MB",
        rss_loaded.0 as f64 / MB
    );

    // (a) latency with one client.
    let h1 = &setup.real_hosts[0];
    let node = &setup.fake_hosts[0];
    let name_cursor = |field: &'static str, depth: usize| {
        let api = api.clone();
        async move {
            let query = if field == "containers" {
                "query Q($a: String) { containers(first: 500, after: $a) { pageInfo { endCursor } } }"
            } else {
                "query Q($a: String) { dockerContainers(first: 500, after: $a) { pageInfo { endCursor } } }"
            };
            let mut after = Value::Null;
            for _ in 0..depth {
                let d = api.query(query, json!({ "a": after })).await?;
                after = d[field]["pageInfo"]["endCursor"].clone();
            }
            Ok::<_, anyhow::Error>(s(&after))
        }
    };
    let def_mid = name_cursor("containers", DEFINITIONS / 2 / 500).await?;
    let inv_mid = name_cursor("dockerContainers", INVENTORY / 2 / 500).await?;
    let cases = vec![
        definitions_case(
            "`containers(first: 50)`, unfiltered (name order)",
            Value::Null,
            None,
        ),
        definitions_case(
            "`containers`, search `billing`",
            json!({ "search": "billing" }),
            None,
        ),
        definitions_case(
            "`containers`, status RUNNING",
            json!({ "status": "RUNNING" }),
            None,
        ),
        definitions_case(
            "`containers`, hostId (one of 17 hosts)",
            json!({ "hostId": node }),
            None,
        ),
        definitions_case(
            "`containers`, after the 5,000th",
            Value::Null,
            Some(&def_mid),
        ),
        definitions_case(
            "`containers`, search matching nothing",
            json!({ "search": "no-such-thing" }),
            None,
        ),
        inventory_case(
            "`dockerContainers(first: 50)`, unfiltered (name order)",
            Value::Null,
            None,
        ),
        inventory_case(
            "`dockerContainers`, search `app7`",
            json!({ "search": "app7" }),
            None,
        ),
        inventory_case(
            "`dockerContainers`, state running",
            json!({ "state": "running" }),
            None,
        ),
        inventory_case(
            "`dockerContainers`, hostId h1 (real engine)",
            json!({ "hostId": h1 }),
            None,
        ),
        inventory_case(
            "`dockerContainers`, hostId (a seeded host)",
            json!({ "hostId": node }),
            None,
        ),
        inventory_case(
            "`dockerContainers`, after the 10,000th",
            Value::Null,
            Some(&inv_mid),
        ),
        inventory_case(
            "`dockerContainers`, search matching nothing",
            json!({ "search": "no-such-thing" }),
            None,
        ),
        inventory_case_with(
            "`dockerContainers(first: 50)` with `imageDigest latestDigest updateAvailable`",
            Value::Null,
            None,
            "imageDigest latestDigest updateAvailable",
        ),
    ];
    let mut latencies = Vec::new();
    for case in &cases {
        let l = latency(&api, case).await?;
        eprintln!(
            "bench inventory: {}: p50 {} p99 {} ({} rows of {})",
            l.label,
            fmt_duration(percentile(&l.samples, 50.0)),
            fmt_duration(percentile(&l.samples, 99.0)),
            l.rows,
            l.total
        );
        latencies.push(l);
    }

    let rss_after_latency = memory_of(pid)?.0;

    // (a) rate with 8 clients, Berth against dockerd (h2 over TCP), alternating.
    let h2 = env.host("h2")?;
    let docker_base = h2
        .tcp_endpoint
        .as_deref()
        .context("h2 listens on TCP")?
        .replace("tcp://", "http://");
    let h2_pid = dockerd_pid(h2);
    let body_of = |c: &Case| c.body.to_string();
    let running_filter = serde_json::to_string(&json!({ "status": ["running"] }))?;
    let targets: Vec<(String, Target, Option<u32>)> = vec![
        (
            "dockerd (h2, 200 containers) `GET /containers/json?all=1&limit=50`".into(),
            Target::Docker {
                url: format!("{docker_base}/containers/json?all=1&limit=50"),
            },
            h2_pid,
        ),
        (
            "Berth `dockerContainers(first: 50)` (20,001 containers)".into(),
            Target::Berth {
                url: api.url.clone(),
                token: api.token.clone(),
                body: body_of(&cases[6]),
            },
            Some(pid),
        ),
        (
            "Berth `containers(first: 50)` (10,001 definitions)".into(),
            Target::Berth {
                url: api.url.clone(),
                token: api.token.clone(),
                body: body_of(&cases[0]),
            },
            Some(pid),
        ),
        (
            "dockerd (h2) `GET /containers/json?all=1&limit=50&filters={\"status\":[\"running\"]}`"
                .into(),
            Target::Docker {
                url: format!(
                    "{docker_base}/containers/json?all=1&limit=50&filters={}",
                    url_escape(&running_filter)
                ),
            },
            h2_pid,
        ),
        (
            "Berth `dockerContainers(filter: {state: \"running\"}, first: 50)`".into(),
            Target::Berth {
                url: api.url.clone(),
                token: api.token.clone(),
                body: body_of(&cases[8]),
            },
            Some(pid),
        ),
    ];
    let mut rates: Vec<Rate> = targets
        .iter()
        .map(|(label, _, _)| Rate {
            label: label.clone(),
            rates: Vec::new(),
            cpu_per_request: None,
        })
        .collect();
    let mut cpu: Vec<Vec<Duration>> = vec![Vec::new(); targets.len()];
    for _ in 0..RATE_REPEATS {
        for (i, (label, target, server)) in targets.iter().enumerate() {
            let (r, per) = rate_once(target, *server)
                .await
                .with_context(|| label.clone())?;
            eprintln!("bench inventory: {label}: {r:.0} requests/s");
            rates[i].rates.push(r);
            if let Some(per) = per {
                cpu[i].push(per);
            }
        }
    }
    for (rate, cpu) in rates.iter_mut().zip(cpu) {
        if !cpu.is_empty() {
            rate.cpu_per_request = Some(cpu.iter().sum::<Duration>() / u32::try_from(cpu.len())?);
        }
    }

    let mut rss_phases = vec![
        ("loaded", rss_loaded.0),
        ("after (a) one client", rss_after_latency),
    ];
    rss_phases.push(("after (a) 8 clients", memory_of(pid)?.0));

    // (b) Docker event → dockerContainerChanges at a subscriber.
    let (events, cli_events, event_misses) = event_latency(env, p, &setup).await?;
    rss_phases.push(("after (b)", memory_of(pid)?.0));

    // (c) the browser.
    let browser = browser(env, p, &api, &setup).await?;
    rss_phases.push(("after (c)", memory_of(pid)?.0));

    let rss_end = memory_of(pid)?;
    let statuses_after = status_counts(&api).await?;
    let load_after = machine_load();
    let seeded_status: Vec<String> = setup
        .seeded_by_status
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    let setup_note = format!(
        "{} real containers created on the engines with the Docker CLI in {:.1} s ({} of them started), the rest \
         seeded; definitions seeded: {} ({} instances) in {:.1} s with the inventory rows",
        REAL_PER_ENGINE * env.hosts.len(),
        setup.create_took.as_secs_f64(),
        setup.started.len(),
        seeded_status.join(", "),
        DEFINITIONS * REPLICAS,
        setup.seed_took.as_secs_f64(),
    );
    Ok(report(&Report {
        setup_note,
        load_before,
        load_after,
        latencies,
        rates,
        events,
        cli_events,
        event_misses,
        browser,
        rss_loaded,
        rss_end,
        rss_phases,
        statuses_before,
        statuses_after,
        inventory_total,
        definitions_total,
    }))
}

fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// (b): kills and starts real containers behind Berth's back, `EVENT_CYCLES` times, on the three engines in
/// turn; each latency is the subscriber's receive time minus the engine's own time of the event.
async fn event_latency(
    env: &TestEnv,
    p: &BerthProcess,
    setup: &Setup,
) -> Result<(Vec<Duration>, Vec<Duration>, Vec<String>)> {
    let (event_tx, mut event_rx) = mpsc::unbounded_channel();
    let mut followers = Vec::new();
    for engine in &env.hosts {
        followers.push(follow_events(engine, event_tx.clone())?);
    }
    let mut ws = GraphqlWs::connect(&p.app, &setup.token).await?;
    ws.subscribe(
        &format!(
            "subscription DockerContainerChanges($filter: DockerContainerFilter) {{ \
             dockerContainerChanges(filter: $filter) {{ kind id dockerId container {{ {DOCKER_FIELDS} }} }} }}"
        ),
        json!({ "filter": null }),
    )
    .await?;
    let (msg_tx, mut msg_rx) = mpsc::unbounded_channel::<(String, String, SystemTime)>();
    let reader = tokio::spawn(async move {
        while let Ok((text, at)) = ws.next_raw().await {
            let Ok(v) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let change = &v["payload"]["data"]["dockerContainerChanges"];
            if change.is_null() {
                continue;
            }
            let _ = msg_tx.send((s(&change["dockerId"]), s(&change["container"]["state"]), at));
        }
    });
    // Spread over the engines: the started containers in turn, one per engine.
    let mut by_engine: Vec<Vec<&Real>> = vec![Vec::new(); env.hosts.len()];
    for r in &setup.started {
        by_engine[r.engine].push(r);
    }
    let mut order = Vec::new();
    for k in 0.. {
        if order.len() >= EVENT_CYCLES || by_engine.iter().all(|v| v.len() <= k) {
            break;
        }
        for list in &by_engine {
            if let Some(r) = list.get(k)
                && order.len() < EVENT_CYCLES
            {
                order.push(*r);
            }
        }
    }
    // The server registers a subscription after reading it: until a change arrives it may not be listening.
    // Kill and start one container (not measured) until its change is seen, then forget everything so far.
    let warm = order.first().copied().context("a started container")?;
    let mut live = false;
    for _ in 0..10 {
        for verb in ["kill", "start"] {
            env.hosts[warm.engine]
                .docker_ok(&[verb, &warm.docker_id])
                .await?;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while let Ok(Some((id, _, _))) = tokio::time::timeout_at(deadline, msg_rx.recv()).await {
            if id == warm.docker_id {
                live = true;
                break;
            }
        }
        if live {
            break;
        }
    }
    ensure!(
        live,
        "no dockerContainerChanges message after 10 kill/start rounds"
    );
    // Settle: the warm-up's own messages and events are drained before measuring.
    let quiet_until = tokio::time::Instant::now() + Duration::from_millis(500);
    while tokio::time::timeout_at(quiet_until, msg_rx.recv())
        .await
        .is_ok()
    {}
    while event_rx.try_recv().is_ok() {}
    let mut out = Vec::new();
    let mut cli = Vec::new();
    // (Berth's latency, the CLI's, engine, action) of every measured event, for the slowest ones' report.
    let mut detail: Vec<(Duration, Duration, usize, &str)> = Vec::new();
    let mut misses: Vec<String> = Vec::new();
    let mut in_a_row = 0;
    'ops: for (n, r) in order.into_iter().enumerate() {
        for (verb, action, state) in [("kill", "die", "exited"), ("start", "start", "running")] {
            env.hosts[r.engine].docker_ok(&[verb, &r.docker_id]).await?;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            let (nanos, cli_at) = loop {
                let (id, a, nanos, read_at) = tokio::time::timeout_at(deadline, event_rx.recv())
                    .await
                    .with_context(|| format!("the engine's {action} event of {}", r.docker_id))?
                    .context("docker events ended")?;
                if id == r.docker_id && a == action {
                    break (nanos, read_at);
                }
            };
            let mut seen = Vec::new();
            let at = loop {
                match tokio::time::timeout_at(deadline, msg_rx.recv()).await {
                    Err(_) => break None,
                    Ok(None) => anyhow::bail!("the subscription ended"),
                    Ok(Some((id, st, at))) => {
                        if id == r.docker_id {
                            if st == state {
                                break Some(at);
                            }
                            seen.push(st);
                        }
                    }
                }
            };
            let event = UNIX_EPOCH + Duration::from_nanos(u64::try_from(nanos)?);
            match at {
                Some(at) => {
                    in_a_row = 0;
                    let berth = at.duration_since(event).unwrap_or_default();
                    let by_cli = cli_at.duration_since(event).unwrap_or_default();
                    out.push(berth);
                    cli.push(by_cli);
                    detail.push((berth, by_cli, r.engine, action));
                }
                None => {
                    let miss = format!(
                        "cycle {n}, h{}, {verb} {}: no `{state}` change within 20 s (its changes meanwhile: {seen:?})",
                        r.engine + 1,
                        &r.docker_id[..12.min(r.docker_id.len())]
                    );
                    eprintln!("bench inventory: {miss}");
                    misses.push(miss);
                    in_a_row += 1;
                    if in_a_row >= 3 {
                        eprintln!("bench inventory: three misses in a row; (b) stops here");
                        break 'ops;
                    }
                }
            }
        }
    }
    reader.abort();
    for mut f in followers {
        let _ = f.kill().await;
    }
    eprintln!(
        "bench inventory: event → subscriber: p50 {} p99 {} max {} ({} events)",
        fmt_duration(percentile(&out, 50.0)),
        fmt_duration(percentile(&out, 99.0)),
        fmt_duration(percentile(&out, 100.0)),
        out.len()
    );
    eprintln!(
        "bench inventory: the same events read by `docker events`: p50 {} p99 {} max {}",
        fmt_duration(percentile(&cli, 50.0)),
        fmt_duration(percentile(&cli, 99.0)),
        fmt_duration(percentile(&cli, 100.0)),
    );
    detail.sort_by_key(|d| std::cmp::Reverse(d.0));
    for (berth, by_cli, engine, action) in detail.iter().take(5) {
        eprintln!(
            "bench inventory: slow event: {action} on h{}: subscriber {} after the engine, `docker events` {}",
            engine + 1,
            fmt_duration(*berth),
            fmt_duration(*by_cli)
        );
    }
    Ok((out, cli, misses))
}

/// Runs in every page before its own scripts: every WebSocket message that mentions the watched container id
/// is stamped (`performance.now()`) with the summary status it carries.
const STAMP_MESSAGES: &str = r#"
(() => {
  window.__bench = { msgs: [], muts: [] };
  const Native = window.WebSocket;
  class Stamped extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (ev) => {
        const t = performance.now();
        const id = window.__benchWatch;
        if (!id || typeof ev.data !== 'string' || ev.data.indexOf(id) < 0) return;
        let status = null;
        try {
          const m = JSON.parse(ev.data);
          const cs = m.payload && m.payload.data && m.payload.data.containerStatus;
          if (cs && cs.container && cs.container.id === id) status = cs.container.status;
        } catch (e) {}
        window.__bench.msgs.push({ t, status });
      });
    }
  }
  window.WebSocket = Stamped;
})();
"#;

/// After navigation: the time (from the navigation's start) of the animation frame after the first table row is
/// in the DOM with a box in the viewport; `already` when it was there before this script ran.
const FIRST_ROW: &str = r#"
const done = arguments[arguments.length - 1];
const visible = () => {
  const el = document.querySelector('tr.container-row');
  if (!el) return false;
  const r = el.getBoundingClientRect();
  return r.height > 0 && r.bottom > 0 && r.top < window.innerHeight;
};
if (visible()) {
  done({ t: performance.now(), already: true });
} else {
  const obs = new MutationObserver(() => {
    if (visible()) {
      obs.disconnect();
      requestAnimationFrame(() => done({ t: performance.now(), already: false }));
    }
  });
  obs.observe(document.documentElement, { childList: true, subtree: true, attributes: true });
}
"#;

/// Watches the probe row's status badge: every change of its text is stamped, with the next animation frame.
const WATCH_BADGE: &str = r#"
const id = arguments[0];
window.__benchWatch = id;
const sel = `tr.container-row[data-container-id="${id}"] .container-status`;
const text = () => { const el = document.querySelector(sel); return el ? el.textContent.trim() : null; };
let last = text();
window.__bench.muts.push({ t: performance.now(), frame: performance.now(), text: last, initial: true });
const obs = new MutationObserver(() => {
  const now = text();
  if (now === last) return;
  last = now;
  const entry = { t: performance.now(), frame: null, text: now };
  window.__bench.muts.push(entry);
  requestAnimationFrame(() => { entry.frame = performance.now(); });
});
obs.observe(document.documentElement, { childList: true, subtree: true, characterData: true, attributes: true });
return last;
"#;

struct Browser {
    frontend_note: String,
    first_row: Vec<Duration>,
    first_row_already: usize,
    dom_nodes: u64,
    dom_nodes_scrolled: u64,
    rows_in_dom: u64,
    total_shown: String,
    /// Message → DOM change, message → next frame.
    live: Vec<(Duration, Duration)>,
    live_coalesced: usize,
    live_messages: usize,
}

fn ms(v: &Value) -> Duration {
    Duration::from_secs_f64(v.as_f64().unwrap_or(0.0).max(0.0) / 1000.0)
}

fn letters(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_uppercase()
}

async fn browser(env: &TestEnv, p: &BerthProcess, api: &Api, setup: &Setup) -> Result<Browser> {
    let client = env.browser().await?;
    let outcome = browser_with(&client, p, api, setup).await;
    if outcome.is_err() {
        let _ = berth_tests::screenshot(&client, "failed-bench-inventory.png").await;
    }
    let _ = client.close().await;
    outcome
}

async fn browser_with(
    client: &fantoccini::Client,
    p: &BerthProcess,
    api: &Api,
    setup: &Setup,
) -> Result<Browser> {
    const PAGE: Duration = Duration::from_secs(30);
    client.goto(&p.app.url("/login")).await?;
    submit_login(client, ADMIN_USERNAME, ADMIN_PASSWORD, PAGE).await?;
    wait_for(client, "nav#tabs", PAGE).await?;
    client
        .issue_cmd(Cdp {
            cmd: "Page.addScriptToEvaluateOnNewDocument",
            params: json!({ "source": STAMP_MESSAGES }),
        })
        .await
        .context("injecting the WebSocket stamp through chromedriver's CDP endpoint")?;
    let url = p.app.url("/containers");
    let mut first_row = Vec::new();
    let mut already = 0;
    for _ in 0..NAVIGATIONS {
        client.goto(&url).await?;
        let v = client.execute_async(FIRST_ROW, vec![]).await?;
        if v["already"] == true {
            already += 1;
        }
        first_row.push(ms(&v["t"]));
    }
    let virtual_table = client
        .execute(
            "return document.getElementById('containers-scroll') !== null",
            vec![],
        )
        .await?
        == true;
    let build = format!(
        "the web app build copied at the start of the run from {}",
        setup.web_app
    );
    let frontend_note = if virtual_table {
        format!(" The page measured is {build}, with the virtualized table (`#containers-scroll`).")
    } else {
        format!(
            " The page measured is {build}; it has no virtualized table (`#containers-scroll` absent): every \
             loaded row is in the DOM."
        )
    };
    eprintln!(
        "bench inventory: navigation → first row: {:?}",
        first_row
            .iter()
            .map(|d| fmt_duration(*d))
            .collect::<Vec<_>>()
    );
    // Every count loaded.
    let total_shown = poll(
        "the count of definitions shown",
        PAGE,
        Duration::from_millis(50),
        || async {
            let v = client
                .execute(
                    "const el = document.getElementById('containers-total'); \
                     return el ? (el.getAttribute('data-total') || el.textContent) : null;",
                    vec![],
                )
                .await?;
            let t = s(&v);
            Ok(
                if t.replace([',', ' ', '\u{202f}', '\u{a0}'], "")
                    .contains(&(DEFINITIONS + 1).to_string())
                {
                    Probe::Ready(t)
                } else {
                    Probe::NotYet(format!("{v}"))
                },
            )
        },
    )
    .await
    .unwrap_or_else(|e| format!("not shown ({e})"));
    let dom_nodes = client
        .execute("return document.getElementsByTagName('*').length", vec![])
        .await?
        .as_u64()
        .unwrap_or(0);
    let rows_in_dom = client
        .execute(
            "return document.querySelectorAll('tr.container-row').length",
            vec![],
        )
        .await?
        .as_u64()
        .unwrap_or(0);
    // Scrolled to the middle of the list (whatever scrolls: the table's own scroller, else the page).
    client
        .execute(
            "const el = document.getElementById('containers-scroll'); \
             if (el && el.scrollHeight > el.clientHeight) { el.scrollTop = el.scrollHeight / 2; } \
             else { window.scrollTo(0, document.body.scrollHeight / 2); } return true;",
            vec![],
        )
        .await?;
    let dom_nodes_scrolled = poll(
        "rows after scrolling",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            let v = client
                .execute(
                    "const rows = [...document.querySelectorAll('tr.container-row')]; \
                     const mid = rows.find(r => { const b = r.getBoundingClientRect(); return b.top >= 0 && b.top < innerHeight; }); \
                     return { nodes: document.getElementsByTagName('*').length, name: mid ? mid.getAttribute('data-container-name') : null };",
                    vec![],
                )
                .await?;
            let name = s(&v["name"]);
            Ok(if !name.is_empty() && name != PROBE_NAME {
                Probe::Ready(v["nodes"].as_u64().unwrap_or(0))
            } else {
                Probe::NotYet(v.to_string())
            })
        },
    )
    .await
    .unwrap_or(0);

    // Live: back at the top, the probe's row watched while it is stopped and run again.
    client.goto(&url).await?;
    let probe_row = format!("tr.container-row[data-container-id=\"{}\"]", setup.probe_id);
    wait_for(client, &probe_row, PAGE)
        .await
        .context("the probe's row at the top of the list")?;
    let initial = client
        .execute(WATCH_BADGE, vec![json!(setup.probe_id)])
        .await?;
    ensure!(letters(&s(&initial)) == "RUNNING", "probe badge: {initial}");
    for cycle in 0..LIVE_CYCLES {
        for (mutation, status) in [("stopContainer", "STOPPED"), ("runContainer", "RUNNING")] {
            api.query(
                &format!("mutation M($id: ID!) {{ {mutation}(id: $id) {{ id }} }}"),
                json!({ "id": setup.probe_id }),
            )
            .await
            .with_context(|| format!("{mutation}, cycle {cycle}"))?;
            let badge = format!("{probe_row} .container-status");
            poll(
                &format!("the probe's badge showing {status}"),
                Duration::from_secs(60),
                Duration::from_millis(50),
                || async {
                    let text = client
                        .find(fantoccini::Locator::Css(&badge))
                        .await?
                        .text()
                        .await?;
                    Ok(if letters(&text) == status {
                        Probe::Ready(())
                    } else {
                        Probe::NotYet(text)
                    })
                },
            )
            .await?;
        }
    }
    // The last frame's stamp.
    poll(
        "the last frame stamped",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || async {
            let v = client
                .execute(
                    "return window.__bench.muts.every(m => m.frame !== null)",
                    vec![],
                )
                .await?;
            Ok(if v == true {
                Probe::Ready(())
            } else {
                Probe::NotYet("frame".into())
            })
        },
    )
    .await?;
    let stamps = client.execute("return window.__bench", vec![]).await?;
    let msgs: Vec<(f64, String)> = stamps["msgs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|m| m["status"].is_string())
        .map(|m| (m["t"].as_f64().unwrap_or(0.0), s(&m["status"])))
        .collect();
    let muts: Vec<(f64, f64, String)> = stamps["muts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|m| {
            (
                m["t"].as_f64().unwrap_or(0.0),
                m["frame"].as_f64().unwrap_or(0.0),
                letters(&s(&m["text"])),
            )
        })
        .collect();
    let (live, coalesced) = pair_live(&msgs, &muts);
    eprintln!(
        "bench inventory: live: {} messages, {} shown, {} replaced before shown",
        msgs.len(),
        live.len(),
        coalesced
    );
    Ok(Browser {
        frontend_note,
        first_row,
        first_row_already: already,
        dom_nodes,
        dom_nodes_scrolled,
        rows_in_dom,
        total_shown,
        live,
        live_coalesced: coalesced,
        live_messages: msgs.len(),
    })
}

/// For each message that changes what the badge shows: the first badge change to its status after it, unless a
/// message with another status came first (then it was replaced before being shown: counted apart).
fn pair_live(
    msgs: &[(f64, String)],
    muts: &[(f64, f64, String)],
) -> (Vec<(Duration, Duration)>, usize) {
    let mut out = Vec::new();
    let mut coalesced = 0;
    for (i, (t, status)) in msgs.iter().enumerate() {
        let shown = muts
            .iter()
            .rfind(|(mt, _, _)| mt <= t)
            .map(|(_, _, text)| text.as_str())
            .unwrap_or("");
        if shown == status {
            continue;
        }
        let next_other = msgs[i + 1..]
            .iter()
            .find(|(_, s)| s != status)
            .map_or(f64::INFINITY, |(t, _)| *t);
        match muts.iter().find(|(mt, _, text)| mt > t && text == status) {
            Some((mt, frame, _)) if *mt <= next_other => out.push((
                Duration::from_secs_f64((mt - t) / 1000.0),
                Duration::from_secs_f64((frame - t).max(0.0) / 1000.0),
            )),
            _ => coalesced += 1,
        }
    }
    (out, coalesced)
}

fn report(r: &Report) -> String {
    let date = time::OffsetDateTime::now_utc().date();
    let mut out = format!(
        "## Inventory (`{COMMAND}`)\n\n\
Command: `{COMMAND}` (runs `cargo bench -p berth-tests --bench inventory`: release build, as root, three real \
engines, the local registry, chromedriver, a real `berth` process — the release binary — on SQLite). Measured \
{date} on a {}-core machine; before the measurements: {}; after: {}.\n\n\
Loaded: {} definitions with 2 instances each and an inventory of {} Docker containers on 20 hosts: {}. \
The seeded instances and 19,400 inventory rows sit on 17 made-up hosts with Docker support off (nothing \
re-lists or reconciles them; the real engines' 601 containers, the probe included, are listed by Berth's \
monitors, re-listed every 60 s and followed by their events). Summary statuses through the API before the \
measurements: {:?}; after: {:?}.\n\n",
        cores(),
        r.load_before,
        r.load_after,
        r.definitions_total,
        r.inventory_total,
        r.setup_note,
        r.statuses_before,
        r.statuses_after,
    );
    out.push_str(
        "| (a) one client, first 50 rows, the web app's fields | rows / matching | response | p50 | p99 | max | goal | p99 / goal |\n\
|---|---:|---:|---:|---:|---:|---|---:|\n",
    );
    for l in &r.latencies {
        let p99 = percentile(&l.samples, 99.0);
        out.push_str(&format!(
            "| {} | {} / {} | {} KiB | {} | {} | {} | p99 ≤ 20 ms | {:.2} |\n",
            l.label,
            l.rows,
            l.total,
            l.bytes / 1024,
            fmt_duration(percentile(&l.samples, 50.0)),
            fmt_duration(p99),
            fmt_duration(percentile(&l.samples, 100.0)),
            p99.as_secs_f64() / 0.020,
        ));
    }
    out.push_str(&format!(
        "\n| (a) {CLIENTS} clients, {} s windows | requests/s (each window) | mean | server CPU per request |\n|---|---|---:|---:|\n",
        RATE_WINDOW.as_secs()
    ));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    for rate in &r.rates {
        out.push_str(&format!(
            "| {} | {} | {:.0} | {} |\n",
            rate.label,
            rate.rates
                .iter()
                .map(|x| format!("{x:.0}"))
                .collect::<Vec<_>>()
                .join(", "),
            mean(&rate.rates),
            rate.cpu_per_request.map_or("—".into(), fmt_duration),
        ));
    }
    let docker_all = r.rates.first().map_or(0.0, |x| mean(&x.rates));
    let docker_running = r.rates.get(3).map_or(0.0, |x| mean(&x.rates));
    let inv = r.rates.get(1).map_or(0.0, |x| mean(&x.rates));
    let defs = r.rates.get(2).map_or(0.0, |x| mean(&x.rates));
    let inv_running = r.rates.get(4).map_or(0.0, |x| mean(&x.rates));
    out.push_str(&format!(
        "\nRatios to the goal (Berth's rate / dockerd's rate, goal ≥ 1): `dockerContainers` {:.2}, `containers` {:.2}, \
`dockerContainers` state running / dockerd's running filter {:.2}.\n",
        inv / docker_all.max(1e-9),
        defs / docker_all.max(1e-9),
        inv_running / docker_running.max(1e-9),
    ));
    let p99 = percentile(&r.events, 99.0);
    out.push_str(&format!(
        "\n| (b) Docker event → `dockerContainerChanges` at a subscriber | events | p50 | p99 | max | goal | p99 / goal |\n\
|---|---:|---:|---:|---:|---|---:|\n\
| `docker kill` (die) and `docker start` (start) of real containers, 3 engines in turn | {} | {} | {} | {} | p99 ≤ 50 ms | {:.2} |\n\
| for comparison: the same events read by the Docker CLI (`docker events`, the engine's own delivery to a client) | {} | {} | {} | {} | — | — |\n",
        r.events.len(),
        fmt_duration(percentile(&r.events, 50.0)),
        fmt_duration(p99),
        fmt_duration(percentile(&r.events, 100.0)),
        p99.as_secs_f64() / 0.050,
        r.cli_events.len(),
        fmt_duration(percentile(&r.cli_events, 50.0)),
        fmt_duration(percentile(&r.cli_events, 99.0)),
        fmt_duration(percentile(&r.cli_events, 100.0)),
    ));
    if !r.event_misses.is_empty() {
        out.push_str(&format!(
            "\nChanges that never reached the subscriber within 20 s (not in the percentiles): {}.\n",
            r.event_misses.join("; ")
        ));
    }
    let b = &r.browser;
    let dom: Vec<Duration> = b.live.iter().map(|l| l.0).collect();
    let frame: Vec<Duration> = b.live.iter().map(|l| l.1).collect();
    let first_max = percentile(&b.first_row, 100.0);
    out.push_str(&format!(
        "\n| (c) Chromium, Containers tab | samples | median | max | goal | max / goal |\n|---|---:|---:|---:|---|---:|\n\
| navigation → first row painted (web app files cached) | {} | {} | {} | ≤ 1 s | {:.2} |\n\
| live status change: WebSocket message → badge text changed in the DOM | {} | {} | {} | ≤ 100 ms | {:.2} |\n\
| live status change: WebSocket message → next animation frame (painted) | {} | {} | {} | ≤ 100 ms | {:.2} |\n\n\
| (c), (d) | value | goal | value / goal |\n|---|---:|---|---:|\n\
| DOM nodes, list loaded (`document.getElementsByTagName('*').length`; {} rows in the DOM) | {} | ≤ 5,000 | {:.2} |\n\
| DOM nodes, scrolled to the middle of the list | {} | ≤ 5,000 | {:.2} |\n\
| (d) server RSS (`VmRSS`) with everything loaded, after (a)–(c) | {:.0} MB | ≤ 200 MB | {:.2} |\n\
| (d) server peak RSS (`VmHWM`) over the run | {:.0} MB | ≤ 200 MB | {:.2} |\n\
| (d) server RSS once loaded, before the measurements | {:.0} MB | — | — |\n",
        b.first_row.len(),
        fmt_duration(median(&b.first_row)),
        fmt_duration(first_max),
        first_max.as_secs_f64(),
        dom.len(),
        fmt_duration(median(&dom)),
        fmt_duration(percentile(&dom, 100.0)),
        percentile(&dom, 100.0).as_secs_f64() / 0.1,
        frame.len(),
        fmt_duration(median(&frame)),
        fmt_duration(percentile(&frame, 100.0)),
        percentile(&frame, 100.0).as_secs_f64() / 0.1,
        b.rows_in_dom,
        b.dom_nodes,
        b.dom_nodes as f64 / 5000.0,
        b.dom_nodes_scrolled,
        b.dom_nodes_scrolled as f64 / 5000.0,
        r.rss_end.0 as f64 / MB,
        r.rss_end.0 as f64 / MB / 200.0,
        r.rss_end.1 as f64 / MB,
        r.rss_end.1 as f64 / MB / 200.0,
        r.rss_loaded.0 as f64 / MB,
    ));
    out.push_str(&format!(
        "\nServer RSS by phase: {}.\n",
        r.rss_phases
            .iter()
            .map(|(phase, rss)| format!("{phase} {:.0} MB", *rss as f64 / MB))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out.push_str(&format!(
        "\n- (a) Plain HTTP POST `/graphql` with an admin bearer token (reqwest, keep-alive), the queries and fields \
the web app sends (`containers` with instances and hosts; `dockerContainers` with ports and the definition), \
sorted by name; {WARMUP} unmeasured then {ROUNDS} measured requests per row, each timed from sending to the \
last byte read. Every page also counts its filter's matches (`totalCount`). The rate rows alternate ({RATE_REPEATS} \
rounds); dockerd is h2 over plain TCP, same client code, 8 keep-alive connections, the body read whole; CPU \
per request is the server process's (Berth's or that dockerd's) user + system time over the window divided by \
the requests answered. The benchmark's clients share the 2 cores with the server they measure.\n\
- (b) One `graphql-transport-ws` subscriber to `dockerContainerChanges` (no filter, the web app's fields); \
{EVENT_CYCLES} real running containers (the three engines in turn) each `docker kill`ed then `docker start`ed; \
latency = the frame's receive time (read before parsing) − the engine's `timeNano` of the `die`/`start` event \
(`docker events`, same clock); before them, one container is killed and started (not counted) until \
the subscription delivers its change (the server registers a subscription asynchronously).\n\
- (c) Headless Chromium through chromedriver, logged in, {NAVIGATIONS} navigations to `/containers` (the web \
app's files cached after the login page). The time is the page's own `performance.now()` (from the \
navigation's start) at the animation frame after the first `tr.container-row` is in the DOM with a box in the \
viewport ({} of the {NAVIGATIONS} were there before the check could start, then the time is when the check \
ran). Count shown: {}. Live: a script injected before the app's own (`Page.addScriptToEvaluateOnNewDocument`) \
stamps every WebSocket message carrying the probe definition's status, a MutationObserver stamps each change \
of its row's badge and the animation frame after it; the probe (a real replica on h1, first by name) is \
stopped and run {LIVE_CYCLES} times through the API: {} status messages, {} shown changes measured, {} \
replaced by a newer status before they were shown (not counted).{}\n",
        b.first_row_already,
        b.total_shown,
        b.live_messages,
        b.live.len(),
        b.live_coalesced,
        b.frontend_note,
    ));
    out
}
