//! Image update benchmark (`cargo xtask bench updates`, i.e. `cargo bench -p berth-tests --bench updates`), against
//! the real test environment, a real `berth` process (release build, SQLite) and a Debian `docker-registry`
//! configured to notify that Berth of every push (`notifications.endpoints`, the registry's push hook):
//!
//! - Push → `latestDigest` at a subscriber: a definition of `hook/app:1` runs on h1; then, `PUSHES` times, a new
//!   image is committed on h2 and `docker push`ed under the same tag; latency = the `containerStatus` message
//!   carrying the new digest (received time) − the moment `docker push` returned (the registry had accepted the
//!   manifest; a message that came before the CLI returned counts as 0). Goal: p99 ≤ 1 s.
//!
//! Prints the table and writes it into BENCHMARKS.md. Needs root. Not run by `cargo test` (`test = false`).

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{
    ADMIN_PASSWORD, ADMIN_USERNAME, BerthProcess, data, spawn_berth_process_with_env,
};
use berth_tests::bench::{cores, fmt_duration, measure_in_env, percentile};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, free_port, poll, require_binary};
use berth_tests::registry::{Notify, spawn_notifying, wait_ready};
use berth_tests::ws::GraphqlWs;
use serde_json::{Value, json};
use tokio::sync::mpsc;

const COMMAND: &str = "cargo xtask bench updates";
const PUSHES: usize = 40;
const GOAL: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    berth_tests::bench::run_main("updates", measure_in_env("updates", measure))
}

async fn gql(p: &BerthProcess, query: &str, variables: Value) -> Result<Value> {
    let body = p.app.graphql(query, variables.clone()).await?;
    Ok(data(&body)
        .with_context(|| format!("{query} with {variables}"))?
        .clone())
}

async fn measure(env: &TestEnv) -> Result<String> {
    let data_dir = env.new_app_dir()?;
    let mut p = spawn_berth_process_with_env(&data_dir, &[]).await?;
    let outcome = measure_with(env, &p).await;
    let _ = p.process.kill().await;
    outcome
}

/// The digest `docker push` printed (`…: digest: sha256:… size: …`).
fn pushed_digest(output: &str) -> Option<String> {
    output
        .lines()
        .rev()
        .find_map(|l| l.split("digest: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
}

async fn measure_with(env: &TestEnv, p: &BerthProcess) -> Result<String> {
    let registry_bin = require_binary("docker-registry", "apt-get install -y docker-registry")?;
    p.app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    let token = p.app.admin_token("bench-updates").await?;
    let h1 = add_host(&p.app, engine_input("h1", &env.hosts[0])).await?;
    ensure!(h1["status"] == "UP", "{h1}");
    let (builder, runner) = (&env.hosts[1], &env.hosts[0]);
    let port = free_port()?;
    let registry_id = gql(
        p,
        "mutation A($i: RegistryInput!) { addRegistry(input: $i) { id } }",
        json!({ "i": { "name": "hooked", "url": format!("http://127.0.0.1:{port}"), "insecure": true, "refreshIntervalSeconds": 0 } }),
    )
    .await?["addRegistry"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let secret = gql(
        p,
        "mutation S($r: ID!) { createRegistryHookSecret(registryId: $r) }",
        json!({ "r": registry_id }),
    )
    .await?["createRegistryHookSecret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let hook_url = p.app.url(&format!("/hooks/registry/{registry_id}"));
    let (registry, mut process) = spawn_notifying(
        "bench-hooked",
        &env.run_dir.join("registry-bench-hooked"),
        &registry_bin,
        port,
        &Notify {
            url: &hook_url,
            bearer: &secret,
        },
    )?;
    let outcome = async {
        wait_ready(&registry, &mut process).await?;
        let base = env.registry.reference("tools/busybox:1.35");
        let reference = registry.reference("hook/app:1");
        runner.docker_ok(&["pull", &base]).await?;
        runner.docker_ok(&["tag", &base, &reference]).await?;
        runner.docker_ok(&["push", &reference]).await?;
        builder.docker_ok(&["pull", &base]).await?;
        let c = gql(
            p,
            "mutation C($i: ContainerInput!) { createContainer(input: $i) { id } }",
            json!({ "i": { "name": "bench-hooked", "image": reference, "command": ["sleep", "100000"], "hostId": h1["id"] } }),
        )
        .await?;
        let id = c["createContainer"]["id"].as_str().unwrap_or_default().to_owned();
        gql(p, "mutation R($id: ID!) { runContainer(id: $id) { id } }", json!({ "id": id })).await?;
        poll("the definition running with a known digest", Duration::from_secs(60), Duration::from_millis(100), || async {
            let c = gql(p, "query C($id: ID!) { container(id: $id) { status latestDigest } }", json!({ "id": id })).await?;
            Ok(if c["container"]["status"] == "RUNNING" && c["container"]["latestDigest"].is_string() {
                Probe::Ready(())
            } else {
                Probe::NotYet(c.to_string())
            })
        })
        .await?;

        let mut ws = GraphqlWs::connect(&p.app, &token).await?;
        ws.subscribe(
            "subscription S($id: ID) { containerStatus(containerId: $id) { container { latestDigest updateAvailable } } }",
            json!({ "id": id }),
        )
        .await?;
        let (msg_tx, mut msg_rx) = mpsc::unbounded_channel::<(String, SystemTime)>();
        let reader = tokio::spawn(async move {
            while let Ok((text, at)) = ws.next_raw().await {
                let Ok(v) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let digest = &v["payload"]["data"]["containerStatus"]["container"]["latestDigest"];
                if let Some(d) = digest.as_str() {
                    let _ = msg_tx.send((d.to_owned(), at));
                }
            }
        });
        // The server registers a subscription asynchronously: one push (not counted) until its change arrives.
        let mut latencies = Vec::new();
        let mut pushes_took = Vec::new();
        for n in 0..=PUSHES {
            let marker = format!("bench-hooked-{n}");
            let _ = builder.docker(&["rm", "-f", &marker]).await;
            builder
                .docker_ok(&["run", "--name", &marker, &base, "sh", "-c", &format!("echo {n} > /version")])
                .await?;
            builder.docker_ok(&["commit", &marker, &reference]).await?;
            let _ = builder.docker(&["rm", "-f", &marker]).await;
            let started = Instant::now();
            let out = builder.docker_ok(&["push", &reference]).await?;
            let returned = SystemTime::now();
            pushes_took.push(started.elapsed());
            let digest = pushed_digest(&out).with_context(|| format!("no digest in the push output: {out}"))?;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            let seen = loop {
                let (d, at) = tokio::time::timeout_at(deadline, msg_rx.recv())
                    .await
                    .with_context(|| format!("push {n}: no containerStatus message with {digest} within 20 s"))?
                    .context("the subscription ended")?;
                if d == digest {
                    break at;
                }
            };
            if n > 0 {
                latencies.push(seen.duration_since(returned).unwrap_or_default());
            }
        }
        reader.abort();
        Ok::<_, anyhow::Error>((latencies, pushes_took))
    }
    .await;
    let _ = process.stop(Duration::from_secs(5)).await;
    let (latencies, pushes_took) = outcome?;
    let p99 = percentile(&latencies, 99.0);
    eprintln!(
        "bench updates: push → latestDigest at a subscriber: p50 {} p99 {} max {} ({} pushes)",
        fmt_duration(percentile(&latencies, 50.0)),
        fmt_duration(p99),
        fmt_duration(percentile(&latencies, 100.0)),
        latencies.len()
    );
    Ok(format!(
        "## Image updates (`{COMMAND}`)\n\n\
Command: `{COMMAND}` (runs `cargo bench -p berth-tests --bench updates`: release build, as root, real engines, a real `berth` process on SQLite, Debian's `docker-registry` with `notifications.endpoints` pointing at Berth's push hook). Measured {} on a {}-core machine.\n\n\
| Push → `latestDigest` at a `containerStatus` subscriber (push hook on) | pushes | p50 | p99 | max | goal | p99 / goal |\n\
|---|---:|---:|---:|---:|---|---:|\n\
| `docker push` of a new image under the same tag (built on h2), the definition running on h1 | {} | {} | {} | {} | p99 ≤ 1 s | {:.3} |\n\n\
- Latency = the WebSocket message carrying the pushed digest (its receive time, read before parsing) − the moment `docker push` returned (the registry had accepted the manifest); a message that arrived before the CLI returned counts as 0. One push before them is not counted (the server registers a subscription asynchronously).\n\
- `docker push` itself took p50 {} (the image's layers are already in the registry; only the new layer and the manifest go).\n\
- Without the hook, a push is seen at the registry's next refresh (its interval). Rolling the replicas to the pushed image has its own table (`cargo xtask bench rollouts`).\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        cores(),
        latencies.len(),
        fmt_duration(percentile(&latencies, 50.0)),
        fmt_duration(p99),
        fmt_duration(percentile(&latencies, 100.0)),
        p99.as_secs_f64() / GOAL.as_secs_f64(),
        fmt_duration(percentile(&pushes_took, 50.0)),
    ))
}
