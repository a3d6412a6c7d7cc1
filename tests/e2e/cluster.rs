//! Three `berth serve` processes on one PostgreSQL (the harness's own server) with the three test engines:
//! exactly one leads; containers are run and scaled through a follower and every server's subscription sees
//! the statuses; the leader SIGKILLed during a scale from 1 to 3 is replaced within 10 s, exactly 3 replicas run
//! and no replica ever runs twice; a leader paused (SIGSTOP) past its lease is replaced, and once continued it
//! acts no more (no engine event for the container after SIGCONT) and serves as a follower.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use berth_tests::app::{
    ADMIN_PASSWORD, ADMIN_USERNAME, BerthProcess, data, spawn_berth_process_with_env,
};
use berth_tests::cluster::{leads, the_leader};
use berth_tests::containers::{create_container, subscribe_status, wait_instance_status};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, poll, signal};
use berth_tests::{PostgresServer, TestEnv};
use nix::sys::signal::Signal;
use serde_json::{Value, json};

use crate::containers::docker_containers_of;
use crate::replication::wait_running;

/// The bound for another server to lead after the leader is lost.
const TAKE_OVER: Duration = Duration::from_secs(10);
/// The same secret key for every server (stored secrets must open on all of them).
const KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
const METRICS_TOKEN: &str = "cluster-metrics";

fn looping() -> Value {
    json!([
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 1; done"
    ])
}

/// `berth_fenced_actions_total` of a server.
async fn fenced_actions(p: &BerthProcess) -> Result<u64> {
    let text = p
        .app
        .client
        .get(p.app.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await?
        .text()
        .await?;
    text.lines()
        .find_map(|l| l.strip_prefix("berth_fenced_actions_total "))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no berth_fenced_actions_total in /metrics:\n{text}"))
}

/// Samples the engines every 100 ms until `stop`: a replica index running twice, or more than `max` running,
/// is a violation (returned as text).
async fn sample(
    env: &TestEnv,
    id: &str,
    max: usize,
    stop: Arc<AtomicBool>,
) -> Result<(usize, Vec<String>)> {
    let mut samples = 0;
    let mut violations = Vec::new();
    while !stop.load(Ordering::Acquire) {
        let listed = docker_containers_of(env, id, false).await?;
        let mut running: Vec<&str> = listed
            .iter()
            .filter(|(_, _, r)| *r)
            .map(|(_, replica, _)| replica.as_str())
            .collect();
        running.sort_unstable();
        let total = running.len();
        running.dedup();
        if running.len() != total || total > max {
            violations.push(format!("{listed:?}"));
        }
        samples += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((samples, violations))
}

/// Container events of `id` on every engine between two instants (Unix seconds with fractions).
async fn engine_events(env: &TestEnv, id: &str, since: f64, until: f64) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for engine in &env.hosts {
        let filter = format!("label=berth.container={id}");
        let (since, until) = (format!("{since:.3}"), format!("{until:.3}"));
        let listed = engine
            .docker_ok(&[
                "events",
                "--since",
                &since,
                "--until",
                &until,
                "--filter",
                "type=container",
                "--filter",
                &filter,
                "--format",
                "{{.Action}}",
            ])
            .await?;
        out.extend(
            listed
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("exec_"))
                .map(|l| format!("{}: {l}", engine.name)),
        );
    }
    Ok(out)
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

async fn scale(p: &BerthProcess, token: &str, id: &str, replicas: i64) -> Result<Value> {
    p.app
        .graphql_with_token(
            token,
            "mutation S($id: ID!, $n: Int!) { scaleContainer(id: $id, replicas: $n) { id replicas } }",
            json!({ "id": id, "n": replicas }),
        )
        .await
}

pub async fn three_servers_share_the_work_and_fail_over(env: &TestEnv) -> Result<()> {
    let postgres = PostgresServer::start(env).await?;
    let mut servers: Vec<BerthProcess> = Vec::new();
    let outcome = three_servers(env, &postgres, &mut servers).await;
    if outcome.is_err() {
        for (n, p) in servers.iter().enumerate() {
            eprintln!(
                "server {n}'s log (last lines):\n{}",
                berth_tests::process::log_tail(&p.app.data_dir.join("berth.log"), 60)
            );
        }
    }
    for p in &mut servers {
        signal(p.process.pid(), Signal::SIGCONT);
        let _ = p.process.kill().await;
    }
    postgres.finish(outcome).await
}

async fn three_servers(
    env: &TestEnv,
    postgres: &PostgresServer,
    servers: &mut Vec<BerthProcess>,
) -> Result<()> {
    let url = postgres.create_database("berth_cluster").await?;
    let vars = [
        ("DATABASE_URL", url.as_str()),
        ("BERTH_SECRET_KEY", KEY),
        ("BERTH_METRICS_TOKEN", METRICS_TOKEN),
        ("RUST_BACKTRACE", "0"),
        ("RUST_LOG", "info"),
    ];
    // Started together: they migrate the database one after another and elect one leader.
    let dirs = [env.new_app_dir()?, env.new_app_dir()?, env.new_app_dir()?];
    let (a, b, c) = tokio::join!(
        spawn_berth_process_with_env(&dirs[0], &vars),
        spawn_berth_process_with_env(&dirs[1], &vars),
        spawn_berth_process_with_env(&dirs[2], &vars),
    );
    for (n, p) in [a, b, c].into_iter().enumerate() {
        servers.push(p.with_context(|| format!("starting server {n}"))?);
    }
    let leader = the_leader(servers, &[0, 1, 2], TAKE_OVER).await?;
    let followers: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    println!("  server {leader} leads; {followers:?} follow");
    for p in servers.iter() {
        p.app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    }
    let via = &servers[followers[0]];
    let token = via.app.admin_token("cluster").await?;

    // Hosts added through a follower: the leader's monitors check them (the answer waits for that).
    for engine in &env.hosts {
        let host = add_host(&via.app, engine_input(&engine.name, engine)).await?;
        ensure!(
            host["status"] == "UP",
            "a host added through a follower: {host}"
        );
    }
    let c = create_container(
        &via.app,
        json!({ "name": "spread", "image": env.registry.reference("tools/busybox:1.35"),
                "command": looping(), "replicas": 1 }),
    )
    .await?;
    let id = c["id"].as_str().unwrap_or_default().to_string();

    // Run and scale through a follower; every server's subscription sees the replicas run.
    let mut subs = Vec::new();
    for p in servers.iter() {
        subs.push(subscribe_status(&p.app, &token, Some(&id)).await?);
    }
    let body = via
        .app
        .graphql_with_token(
            &token,
            "mutation R($id: ID!) { runContainer(id: $id) { id desiredState } }",
            json!({ "id": id }),
        )
        .await?;
    ensure!(
        data(&body)?["runContainer"]["desiredState"] == "RUNNING",
        "runContainer through a follower: {body}"
    );
    let mut first = Vec::new();
    for (n, ws) in subs.iter_mut().enumerate() {
        let s = wait_instance_status(ws, "RUNNING", Duration::from_secs(60))
            .await
            .with_context(|| format!("server {n}'s subscription"))?;
        first.push(s["instance"]["id"].clone());
    }
    let body = scale(via, &token, &id, 2).await?;
    ensure!(data(&body)?["scaleContainer"]["replicas"] == 2, "{body}");
    wait_running(&via.app, &id, 2, Duration::from_secs(60)).await?;
    for (n, (ws, first)) in subs.iter_mut().zip(&first).enumerate() {
        ws.wait_for("the second replica running", Duration::from_secs(30), |e| {
            let s = &e.data["containerStatus"];
            s["status"] == "RUNNING" && !s["instance"].is_null() && s["instance"]["id"] != *first
        })
        .await
        .with_context(|| format!("server {n}'s subscription"))?;
    }
    println!("  run and scale through a follower: every server's subscription saw RUNNING");

    // The leader SIGKILLed during a scale from 1 to 3.
    let body = scale(via, &token, &id, 1).await?;
    data(&body)?;
    wait_running(&via.app, &id, 1, Duration::from_secs(60)).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let sampling = sample(env, &id, 3, stop.clone());
    let failover = async {
        let body = scale(via, &token, &id, 3).await?;
        ensure!(data(&body)?["scaleContainer"]["replicas"] == 3, "{body}");
        let killed_at = Instant::now();
        signal(servers[leader].process.pid(), Signal::SIGKILL);
        let next = the_leader(servers, &followers, TAKE_OVER + Duration::from_secs(2)).await?;
        let took = killed_at.elapsed();
        ensure!(
            took <= TAKE_OVER,
            "server {next} led {} ms after the SIGKILL",
            took.as_millis()
        );
        println!(
            "  leader SIGKILLed during a scale 1 → 3: server {next} leads after {} ms",
            took.as_millis()
        );
        wait_running(&servers[next].app, &id, 3, Duration::from_secs(60)).await?;
        Ok(next)
    };
    let (sampled, failed_over) = tokio::join!(sampling, async {
        let r = failover.await;
        stop.store(true, Ordering::Release);
        r
    });
    let second = failed_over?;
    let (samples, violations) = sampled?;
    ensure!(
        violations.is_empty(),
        "a replica ran twice or more than 3 ran, in {} of {samples} samples: {:?}",
        violations.len(),
        violations.first()
    );
    let running = docker_containers_of(env, &id, false).await?;
    ensure!(
        running.iter().filter(|(_, _, r)| *r).count() == 3,
        "exactly 3 replicas run in Docker: {running:?}"
    );
    println!("  {samples} samples, every one with at most 3 running and no replica twice");

    // A subscription on a surviving server keeps receiving.
    let survivor = followers
        .iter()
        .copied()
        .find(|i| *i != second)
        .unwrap_or(second);
    let body = scale(&servers[survivor], &token, &id, 2).await?;
    data(&body)?;
    subs[survivor]
        .wait_for("the third replica going", Duration::from_secs(30), |e| {
            let s = &e.data["containerStatus"];
            !s["instance"].is_null() && (s["status"] == "STOPPING" || s["status"] == "STOPPED")
        })
        .await
        .with_context(|| format!("server {survivor}'s subscription after the failover"))?;
    wait_running(&servers[survivor].app, &id, 2, Duration::from_secs(60)).await?;

    // The new leader paused past its lease while it scales 2 → 3: another leads; continued, it acts no more.
    let paused = second;
    let other = survivor;
    let before = fenced_actions(&servers[paused]).await?;
    let asked = {
        let app = servers[paused].app.client.clone();
        let url = servers[paused].app.url("/graphql");
        let token = token.clone();
        let id = id.clone();
        tokio::spawn(async move {
            app.post(url)
                .bearer_auth(token)
                .json(&json!({
                    "query": "mutation S($id: ID!) { scaleContainer(id: $id, replicas: 3) { id } }",
                    "variables": { "id": id }
                }))
                .timeout(Duration::from_secs(120))
                .send()
                .await
                .map(|_| ())
        })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let stopped_at = Instant::now();
    signal(servers[paused].process.pid(), Signal::SIGSTOP);
    let third = the_leader(servers, &[other], TAKE_OVER + Duration::from_secs(2)).await?;
    let took = stopped_at.elapsed();
    ensure!(
        took <= TAKE_OVER,
        "server {third} led {} ms after the SIGSTOP",
        took.as_millis()
    );
    println!(
        "  leader SIGSTOPped: server {third} leads after {} ms",
        took.as_millis()
    );
    // Whatever the paused server had recorded of the scale, the new leader carries it out; wait until the
    // engines match the recorded replicas and stay so, then continue the paused server.
    let settled = poll(
        "the engines matching the definition",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || async {
            let body = servers[third]
                .app
                .graphql_with_token(
                    &token,
                    "query Q($id: ID!) { container(id: $id) { replicas instances { status } } }",
                    json!({ "id": id }),
                )
                .await?;
            let c = &data(&body)?["container"];
            let want = c["replicas"].as_u64().unwrap_or(0) as usize;
            let all_running = c["instances"]
                .as_array()
                .is_some_and(|l| l.len() == want && l.iter().all(|i| i["status"] == "RUNNING"));
            let running = docker_containers_of(env, &id, false).await?;
            let n = running.iter().filter(|(_, _, r)| *r).count();
            Ok(if all_running && n == want {
                Probe::Ready(want)
            } else {
                Probe::NotYet(format!("want {want}, {n} running: {c}"))
            })
        },
    )
    .await?;
    let continued = unix_now();
    signal(servers[paused].process.pid(), Signal::SIGCONT);
    let rejoined = poll(
        "the continued server following",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async {
            Ok(match leads(&servers[paused]).await {
                Some(false) => Probe::Ready(()),
                other => Probe::NotYet(format!("leader: {other:?}")),
            })
        },
    )
    .await;
    rejoined?;
    let _ = asked.await;
    // Give the continued server time to do whatever it would still do, then look at the engines.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let events = engine_events(env, &id, continued, unix_now()).await?;
    ensure!(
        events.is_empty(),
        "engine events for the container after the paused leader was continued: {events:?}"
    );
    ensure!(
        the_leader(servers, &[paused, other], Duration::from_secs(5)).await? == third,
        "the leadership moved again"
    );
    let running = docker_containers_of(env, &id, false).await?;
    ensure!(
        running.iter().filter(|(_, _, r)| *r).count() == settled,
        "{settled} replicas recorded, Docker runs {running:?}"
    );
    let after = fenced_actions(&servers[paused]).await?;
    println!(
        "  continued: it follows, no engine event in 3 s, {} engine actions refused by its fence",
        after.saturating_sub(before)
    );
    if servers[paused].process.check_running().is_err() {
        bail!("the continued server exited");
    }
    Ok(())
}
