//! Convergence benchmark (`cargo xtask bench converge`, i.e. `cargo bench -p berth-tests --bench converge`),
//! against the real test environment (three engines, the local registry) and a real `berth` process (release
//! build, SQLite):
//!
//! - (a) restart: 100 containers × 3 replicas brought into mixed states (running, stopped, stop / run / scale
//!   requests acknowledged just before a SIGKILL, and while Berth is down replicas removed, stopped and started
//!   behind its back); Berth started again; for every container the time until Docker (counted by labels on
//!   the engines) and Berth's records match its definition. Median and max over the 100 (goal: all ≤ 30 s);
//! - (b) `docker rm -f` of one running replica → its replacement RUNNING on `containerStatus` (median of 10;
//!   reference: the periodic sync, 30 s by default, which is all that existed before).
//!
//! Prints the table and writes it into BENCHMARKS.md. Needs root. Not run by `cargo test` (`test = false`).

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, BerthProcess, spawn_berth_process};
use berth_tests::bench::{cores, fmt_duration, measure_in_env, median};
use berth_tests::containers::{create_container, subscribe_status};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::{TestApp, TestEnv};
use serde_json::{Value, json};

const COMMAND: &str = "cargo xtask bench converge";
const CONTAINERS: usize = 100;
const REPLICAS: usize = 3;
const RM_SAMPLES: usize = 10;
const BOUND: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    berth_tests::bench::run_main("converge", measure_in_env("converge", measure))
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Every container's definition and instances, through the paged list (100 a page).
async fn all_containers(app: &TestApp) -> Result<Vec<Value>> {
    let query = "query Q($after: String) { containers(first: 100, after: $after) { edges { node { id name \
                 replicas desiredState instances { id replica status dockerId } } } pageInfo { hasNextPage endCursor } } }";
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let body = app.graphql(query, json!({ "after": after })).await?;
        let page = berth_tests::app::data(&body)?["containers"].clone();
        for e in page["edges"].as_array().cloned().unwrap_or_default() {
            out.push(e["node"].clone());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return Ok(out);
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// (container id → [(replica, running)]) of this installation's Docker containers on every engine.
async fn docker_state(env: &TestEnv) -> Result<HashMap<String, Vec<(String, bool)>>> {
    let mut out: HashMap<String, Vec<(String, bool)>> = HashMap::new();
    for engine in &env.hosts {
        let listed = engine
            .docker_ok(&[
                "ps",
                "-a",
                "--filter",
                "label=berth.managed",
                "--format",
                "{{.Label \"berth.container\"}} {{.Label \"berth.replica\"}} {{.State}}",
            ])
            .await?;
        for line in listed.lines() {
            let mut parts = line.split_whitespace();
            if let (Some(c), Some(r), Some(state)) = (parts.next(), parts.next(), parts.next()) {
                out.entry(c.to_string())
                    .or_default()
                    .push((r.to_string(), state == "running"));
            }
        }
    }
    Ok(out)
}

fn converged(c: &Value, docker: &[(String, bool)]) -> bool {
    let n = c["replicas"].as_u64().unwrap_or(0) as usize;
    let instances = c["instances"].as_array().cloned().unwrap_or_default();
    let mut replicas: Vec<&String> = docker.iter().map(|(r, _)| r).collect();
    replicas.sort();
    replicas.dedup();
    if replicas.len() != docker.len()
        || docker
            .iter()
            .any(|(r, _)| r.parse::<usize>().map_or(true, |r| r >= n))
    {
        return false;
    }
    let running = docker.iter().filter(|(_, r)| *r).count();
    if c["desiredState"] == "RUNNING" {
        running == n
            && docker.len() == n
            && instances.len() == n
            && instances.iter().all(|i| i["status"] == "RUNNING")
    } else {
        running == 0 && instances.iter().all(|i| i["status"] == "STOPPED")
    }
}

async fn login(p: &BerthProcess) -> Result<()> {
    p.app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    Ok(())
}

async fn mutate(app: &TestApp, mutation: &str, id: &str, n: Option<i64>) -> Result<()> {
    let body = match n {
        Some(n) => {
            app.graphql(
                &format!("mutation M($id: ID!, $n: Int!) {{ {mutation}(id: $id, replicas: $n) {{ id }} }}"),
                json!({ "id": id, "n": n }),
            )
            .await?
        }
        None => {
            app.graphql(
                &format!("mutation M($id: ID!) {{ {mutation}(id: $id) {{ id }} }}"),
                json!({ "id": id }),
            )
            .await?
        }
    };
    berth_tests::app::data(&body).with_context(|| format!("{mutation}({id})"))?;
    Ok(())
}

/// Polls until every container matches (or the bound passes); the time each first matched, from `since`.
async fn time_to_converge(
    app: &TestApp,
    env: &TestEnv,
    since: Instant,
    limit: Duration,
) -> Result<Vec<Duration>> {
    let mut first: HashMap<String, Duration> = HashMap::new();
    loop {
        let containers = all_containers(app).await?;
        let docker = docker_state(env).await?;
        let now = since.elapsed();
        for c in &containers {
            let id = s(&c["id"]);
            let d = docker.get(&id).map(Vec::as_slice).unwrap_or(&[]);
            if converged(c, d) {
                first.entry(id).or_insert(now);
            } else {
                first.remove(&id);
            }
        }
        if first.len() == containers.len() {
            return Ok(first.into_values().collect());
        }
        if since.elapsed() > limit {
            let open: Vec<String> = containers
                .iter()
                .filter(|c| !first.contains_key(&s(&c["id"])))
                .map(|c| format!("{} {} {}", c["name"], c["desiredState"], c["instances"]))
                .take(5)
                .collect();
            bail!(
                "not converged after {limit:?}: {} left, e.g. {open:?}",
                containers.len() - first.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn measure(env: &TestEnv) -> Result<String> {
    let data_dir = env.new_app_dir()?;
    let mut p = spawn_berth_process(&data_dir).await?;
    let outcome = measure_with(env, &data_dir, &mut p).await;
    p.process.kill().await?;
    outcome
}

async fn measure_with(
    env: &TestEnv,
    data_dir: &std::path::Path,
    p: &mut BerthProcess,
) -> Result<String> {
    login(p).await?;
    for engine in &env.hosts {
        let host = add_host(&p.app, engine_input(&engine.name, engine)).await?;
        ensure!(host["status"] == "UP", "{host}");
    }
    let image = env.registry.reference("tools/busybox:1.35");
    let mut ids = Vec::new();
    for n in 0..CONTAINERS {
        let c = create_container(
            &p.app,
            json!({ "name": format!("c{n:03}"), "image": image, "replicas": REPLICAS,
                    "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
                    "restartPolicy": if n % 2 == 0 { "NO" } else { "ALWAYS" } }),
        )
        .await?;
        ids.push(s(&c["id"]));
    }
    let setup = Instant::now();
    for id in &ids {
        mutate(&p.app, "runContainer", id, None).await?;
    }
    time_to_converge(&p.app, env, setup, Duration::from_secs(600)).await?;
    // 30 stopped and settled.
    for id in &ids[..30] {
        mutate(&p.app, "stopContainer", id, None).await?;
    }
    time_to_converge(&p.app, env, Instant::now(), Duration::from_secs(120)).await?;
    eprintln!("converge: 300 replicas set up in {:.1?}", setup.elapsed());

    // Requests acknowledged just before the kill: stop 15 running, run 10 stopped, scale 10 up and 10 down.
    for id in &ids[30..45] {
        mutate(&p.app, "stopContainer", id, None).await?;
    }
    for id in &ids[..10] {
        mutate(&p.app, "runContainer", id, None).await?;
    }
    for id in &ids[45..55] {
        mutate(&p.app, "scaleContainer", id, Some(4)).await?;
    }
    for id in &ids[55..65] {
        mutate(&p.app, "scaleContainer", id, Some(1)).await?;
    }
    berth_tests::process::signal(p.process.pid(), nix::sys::signal::Signal::SIGKILL);
    p.process.kill().await?;
    // Behind Berth's back while it is down: rm -f, stop, and start replicas.
    let docker_ids = |label: &str| format!("label=berth.container={label}");
    for (k, id) in ids[65..95].iter().enumerate() {
        for engine in &env.hosts {
            let listed = engine
                .docker_ok(&["ps", "-q", "--filter", &docker_ids(id)])
                .await?;
            if let Some(one) = listed.lines().next() {
                let verb = if k % 2 == 0 {
                    vec!["rm", "-f", one]
                } else {
                    vec!["stop", "-t", "2", one]
                };
                engine.docker_ok(&verb).await?;
                break;
            }
        }
    }
    for id in &ids[10..20] {
        for engine in &env.hosts {
            let listed = engine
                .docker_ok(&["ps", "-aq", "--filter", &docker_ids(id)])
                .await?;
            if let Some(one) = listed.lines().next() {
                engine.docker_ok(&["start", one]).await?;
                break;
            }
        }
    }
    let restarted = Instant::now();
    *p = spawn_berth_process(data_dir).await?;
    login(p).await?;
    let mut times = time_to_converge(&p.app, env, restarted, BOUND).await?;
    times.sort();
    let restart_median = median(&times);
    let restart_max = times.last().copied().unwrap_or_default();

    // (b) docker rm -f of one running replica → replacement RUNNING.
    let token = p.app.admin_token("bench-converge").await?;
    let mut rm_times = Vec::new();
    for id in ids[45..45 + RM_SAMPLES].iter() {
        let mut ws = subscribe_status(&p.app, &token, Some(id)).await?;
        let (engine, docker_id) = {
            let mut found = None;
            for engine in &env.hosts {
                let listed = engine
                    .docker_ok(&["ps", "-q", "--filter", &docker_ids(id)])
                    .await?;
                if let Some(one) = listed.lines().next() {
                    found = Some((engine, one.trim().to_string()));
                    break;
                }
            }
            found.context("a running replica")?
        };
        let removed = Instant::now();
        engine.docker_ok(&["rm", "-f", &docker_id]).await?;
        ws.wait_for("the replacement RUNNING", BOUND, |e| {
            let st = &e.data["containerStatus"];
            st["status"] == "RUNNING"
                && !st["instance"].is_null()
                && st["instance"]["dockerId"] != docker_id.as_str()
        })
        .await?;
        rm_times.push(removed.elapsed());
        ws.close().await;
    }
    rm_times.sort();
    let date = time::OffsetDateTime::now_utc().date();
    Ok(format!(
        "## Convergence\n\n\
Command: `{COMMAND}` (runs `cargo bench -p berth-tests --bench converge`: release build, as root, three real \
engines, the local registry, a real `berth` process on SQLite, SIGKILLed). Measured {date} on a {}-core machine.\n\n\
| measurement | samples | median | max | bound | result |\n|---|---:|---:|---:|---|---:|\n\
| (a) restart after SIGKILL → every container matches its definition in Docker and in Berth ({CONTAINERS} containers × {REPLICAS} replicas; 30 stopped, 15 stop / 10 run / 20 scale requests acknowledged just before the kill; 15 replicas `docker rm -f`, 15 `docker stop`, 10 `docker start` while Berth was down), from the new process's start | {} | {} | {} | 30 s | {:.2} of the bound |\n\
| (b) `docker rm -f` of a running replica → replacement RUNNING on `containerStatus` | {} | {} | {} | one sync period (30 s) | {:.3} of it |\n",
        cores(),
        times.len(),
        fmt_duration(restart_median),
        fmt_duration(restart_max),
        restart_max.as_secs_f64() / BOUND.as_secs_f64(),
        rm_times.len(),
        fmt_duration(median(&rm_times)),
        fmt_duration(rm_times.last().copied().unwrap_or_default()),
        median(&rm_times).as_secs_f64() / 30.0,
    ))
}
