//! Rolling update benchmark (`cargo xtask bench rollouts`, i.e. `cargo bench -p berth-tests --bench rollouts`),
//! against the real test environment and a real `berth` process (release build, SQLite):
//!
//! - A definition of 10 replicas spread over the three engines runs image v1 from the open registry; v2 is pushed
//!   under the same tag and `redeployContainer` rolls them (`maxParallel` 1, then 3 with v3; `minHealthySecs` 1).
//!   Measured: the time from the mutation to the rollout recorded SUCCEEDED with all 10 running, and the lowest
//!   and highest number of replicas running at any 100 ms sample of the engines (`docker ps`).
//! - The peer: what an update without a rolling strategy does (Watchtower, `docker compose up` after a pull): the
//!   same 10 replicas as plain Docker containers, all stopped and removed, then all started from the new image
//!   (in parallel per engine). Same samples.
//!
//! Prints the table and writes it into BENCHMARKS.md. Needs root. Not run by `cargo test` (`test = false`).

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{
    ADMIN_PASSWORD, ADMIN_USERNAME, BerthProcess, data, spawn_berth_process_with_env,
};
use berth_tests::bench::{cores, fmt_duration, measure_in_env};
use berth_tests::containers::sample_running;
use berth_tests::engine::EngineHandle;
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, poll};
use serde_json::{Value, json};

const COMMAND: &str = "cargo xtask bench rollouts";
const REPLICAS: usize = 10;
const LOOP: &str = "trap 'exit 0' TERM; while true; do sleep 1; done";

fn main() -> ExitCode {
    berth_tests::bench::run_main("rollouts", measure_in_env("rollouts", measure))
}

async fn gql(p: &BerthProcess, query: &str, variables: Value) -> Result<Value> {
    let body = p.app.graphql(query, variables.clone()).await?;
    Ok(data(&body)
        .with_context(|| format!("{query} with {variables}"))?
        .clone())
}

/// Commits `base` with a marker file on `engine` and pushes it as `reference`.
async fn push(engine: &EngineHandle, base: &str, reference: &str, marker: &str) -> Result<()> {
    let name = format!("bench-rollout-{marker}");
    let _ = engine.docker(&["rm", "-f", &name]).await;
    engine
        .docker_ok(&[
            "run",
            "--name",
            &name,
            base,
            "sh",
            "-c",
            &format!("echo {marker} > /version"),
        ])
        .await?;
    engine.docker_ok(&["commit", &name, reference]).await?;
    engine.docker_ok(&["push", reference]).await?;
    let _ = engine.docker(&["rm", "-f", &name]).await;
    Ok(())
}

/// One measured update: how long it took, and the lowest and highest number of replicas running meanwhile.
struct Update {
    took: Duration,
    low: usize,
    high: usize,
    samples: usize,
}

/// Runs `update` while sampling the running containers that match `filter` on every engine.
async fn sampled<F>(engines: &[EngineHandle], filter: &str, update: F) -> Result<Update>
where
    F: std::future::Future<Output = Result<()>>,
{
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let (samples, updated) = futures::join!(sample_running(engines, filter, &stop), async {
        let r = update.await;
        let took = started.elapsed();
        stop.store(true, Ordering::Release);
        r.map(|()| took)
    });
    let took = updated?;
    let (low, high, samples) = samples?;
    Ok(Update {
        took,
        low,
        high,
        samples,
    })
}

async fn measure(env: &TestEnv) -> Result<String> {
    let data_dir = env.new_app_dir()?;
    let mut p = spawn_berth_process_with_env(&data_dir, &[]).await?;
    let outcome = measure_with(env, &p).await;
    let _ = p.process.kill().await;
    for e in &env.hosts {
        if let Ok(ids) = e
            .docker_ok(&["ps", "-aq", "--filter", "label=bench-rollout"])
            .await
        {
            for id in ids.lines().filter(|l| !l.trim().is_empty()) {
                let _ = e.docker(&["rm", "-f", id.trim()]).await;
            }
        }
    }
    outcome
}

/// Waits until the rollout is over (`want`) and every replica runs.
async fn wait_rolled(p: &BerthProcess, id: &str, want: &str) -> Result<()> {
    poll(
        &format!("rollout {want}"),
        Duration::from_secs(300),
        Duration::from_millis(50),
        || async {
            let c = gql(
                p,
                "query C($id: ID!) { container(id: $id) { status rollout { state reason } instances { status } } }",
                json!({ "id": id }),
            )
            .await?;
            let c = &c["container"];
            let done = c["rollout"]["state"] == want
                && c["status"] == "RUNNING"
                && c["instances"].as_array().is_some_and(|l| {
                    l.len() == REPLICAS && l.iter().all(|i| i["status"] == "RUNNING")
                });
            Ok(if done {
                Probe::Ready(())
            } else {
                Probe::NotYet(c.to_string())
            })
        },
    )
    .await
}

async fn measure_with(env: &TestEnv, p: &BerthProcess) -> Result<String> {
    p.app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    for e in &env.hosts {
        let h = add_host(&p.app, engine_input(&e.name, e)).await?;
        ensure!(h["status"] == "UP", "{h}");
    }
    let builder = &env.hosts[0];
    let base = env.registry.reference("tools/busybox:1.35");
    let reference = env
        .registry
        .reference(&format!("bench/rollout-{}:1", std::process::id()));
    builder.docker_ok(&["pull", &base]).await?;
    push(builder, &base, &reference, "v1").await?;
    let c = gql(
        p,
        "mutation C($i: ContainerInput!) { createContainer(input: $i) { id } }",
        json!({ "i": { "name": "bench-rolling", "image": reference, "command": ["sh", "-c", LOOP],
                       "replicas": REPLICAS, "minHealthySecs": 1, "maxParallel": 1 } }),
    )
    .await?;
    let id = c["createContainer"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    gql(
        p,
        "mutation R($id: ID!) { runContainer(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await?;
    poll(
        "10 replicas running",
        Duration::from_secs(120),
        Duration::from_millis(100),
        || async {
            let c = gql(
                p,
                "query C($id: ID!) { container(id: $id) { status } }",
                json!({ "id": id }),
            )
            .await?;
            Ok(if c["container"]["status"] == "RUNNING" {
                Probe::Ready(())
            } else {
                Probe::NotYet(c.to_string())
            })
        },
    )
    .await?;
    let filter = format!("label=berth.container={id}");
    let redeploy = || async {
        gql(
            p,
            "mutation R($id: ID!) { redeployContainer(id: $id) { rollout { state } } }",
            json!({ "id": id }),
        )
        .await?;
        wait_rolled(p, &id, "SUCCEEDED").await
    };

    push(builder, &base, &reference, "v2").await?;
    let one = sampled(&env.hosts, &filter, redeploy()).await?;
    eprintln!(
        "bench rollouts: maxParallel 1: {} , {}..{} running",
        fmt_duration(one.took),
        one.low,
        one.high
    );

    let input = gql(
        p,
        "query C($id: ID!) { container(id: $id) { version } }",
        json!({ "id": id }),
    )
    .await?;
    let version = input["container"]["version"].as_i64().unwrap_or(1);
    gql(
        p,
        "mutation U($id: ID!, $v: Int!, $i: ContainerInput!) { updateContainer(id: $id, version: $v, input: $i) { id } }",
        json!({ "id": id, "v": version, "i": { "name": "bench-rolling", "image": reference, "command": ["sh", "-c", LOOP],
                                              "replicas": REPLICAS, "minHealthySecs": 1, "maxParallel": 3 } }),
    )
    .await?;
    push(builder, &base, &reference, "v3").await?;
    let three = sampled(&env.hosts, &filter, redeploy()).await?;
    eprintln!(
        "bench rollouts: maxParallel 3: {} , {}..{} running",
        fmt_duration(three.took),
        three.low,
        three.high
    );

    // The peer: the same replicas as plain containers, all stopped and removed, then all started again.
    for (n, e) in env.hosts.iter().enumerate() {
        e.docker_ok(&["pull", &reference]).await?;
        for r in (n..REPLICAS).step_by(env.hosts.len()) {
            let name = format!("bench-rollout-plain-{r}");
            let _ = e.docker(&["rm", "-f", &name]).await;
            e.docker_ok(&[
                "run",
                "-d",
                "--label",
                "bench-rollout",
                "--name",
                &name,
                &reference,
                "sh",
                "-c",
                LOOP,
            ])
            .await?;
        }
    }
    push(builder, &base, &reference, "v4").await?;
    let plain = sampled(&env.hosts, "label=bench-rollout", async {
        // The new image is pulled first, as an updater does, then every replica is replaced at once.
        futures::future::try_join_all(env.hosts.iter().map(|e| async {
            e.docker_ok(&["pull", &reference]).await?;
            let ids = e
                .docker_ok(&["ps", "-aq", "--filter", "label=bench-rollout"])
                .await?;
            let ids: Vec<&str> = ids
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let names = e
                .docker_ok(&[
                    "ps",
                    "-a",
                    "--filter",
                    "label=bench-rollout",
                    "--format",
                    "{{.Names}}",
                ])
                .await?;
            let mut args = vec!["stop"];
            args.extend(ids.iter().copied());
            e.docker_ok(&args).await?;
            let mut args = vec!["rm"];
            args.extend(ids.iter().copied());
            e.docker_ok(&args).await?;
            for name in names.lines().map(str::trim).filter(|l| !l.is_empty()) {
                e.docker_ok(&[
                    "run",
                    "-d",
                    "--label",
                    "bench-rollout",
                    "--name",
                    name,
                    &reference,
                    "sh",
                    "-c",
                    LOOP,
                ])
                .await?;
            }
            anyhow::Ok(())
        }))
        .await
        .map(|_| ())
    })
    .await?;
    eprintln!(
        "bench rollouts: stop all, start all: {} , {}..{} running",
        fmt_duration(plain.took),
        plain.low,
        plain.high
    );

    let row = |what: &str, u: &Update| {
        format!(
            "| {what} | {} | {} | {} | {} |\n",
            fmt_duration(u.took),
            u.low,
            u.high,
            u.samples
        )
    };
    Ok(format!(
        "## Rolling updates (`{COMMAND}`)\n\n\
Command: `{COMMAND}` (runs `cargo bench -p berth-tests --bench rollouts`: release build, as root, three real engines, a real `berth` process on SQLite, the open Debian `docker-registry`). Measured {} on a {}-core machine.\n\n\
{REPLICAS} replicas over three engines; a new image pushed under the running tag before each update; replicas counted every 100 ms with `docker ps` on every engine.\n\n\
| Update of {REPLICAS} replicas to a new image | total time | fewest running | most running | samples |\n\
|---|---:|---:|---:|---:|\n\
{}{}{}\n\
- Berth's time runs from `redeployContainer` (which pulls on the three engines first) to the rollout recorded SUCCEEDED with every replica RUNNING; each new replica must run 1 s (`minHealthySecs`) before its old one goes.\n\
- The peer is what an updater without a rolling strategy does: pull, stop and remove every replica, start them all again (the three engines in parallel). It is faster, and the replicas go down together (as few as {} of {REPLICAS} ran at one sample); Berth kept at least {} of {REPLICAS} running throughout (the new replica starts beside the old one) at the price of time, which grows with the replica count over `maxParallel`.\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        cores(),
        plain.low,
        one.low.min(three.low),
        row("Berth, rolling, `maxParallel` 1", &one),
        row("Berth, rolling, `maxParallel` 3", &three),
        row(
            "Stop all, then start all (`docker stop`, `rm`, `run`)",
            &plain
        ),
    ))
}
