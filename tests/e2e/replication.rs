//! Replication and disks against the real engines: replicas spread over hosts and kept at count (replaced
//! after a crash, moved off a lost host, surplus removed when it returns), scaling, and volumes and host paths
//! mounted into containers.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{TestApp, data, error_code, spawn_app};
use berth_tests::containers::{
    container_action, create_container, create_container_raw, get_container, wait_container_status,
};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, poll};
use serde_json::{Value, json};

use crate::containers::docker_containers_of;

const TIMEOUT: Duration = Duration::from_secs(60);

async fn berth_with_hosts(env: &TestEnv) -> Result<(TestApp, [String; 3])> {
    let app = spawn_app(env).await?;
    let setup = async {
        app.admin_token("replication-e2e").await?;
        let mut ids = Vec::new();
        for engine in &env.hosts {
            let host = add_host(&app, engine_input(&engine.name, engine)).await?;
            ensure!(host["status"] == "UP", "{}: {host}", engine.name);
            ids.push(host["id"].as_str().unwrap_or_default().to_string());
        }
        ids.try_into().map_err(|_| anyhow::anyhow!("three hosts"))
    }
    .await;
    match setup {
        Ok(ids) => Ok((app, ids)),
        Err(e) => app.finish(Err(e)).await,
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn busybox(env: &TestEnv) -> String {
    env.registry.reference("tools/busybox:1.35")
}

/// Polls until the container has `n` RUNNING instances with distinct replica indexes; returns it.
pub async fn wait_running(app: &TestApp, id: &str, n: usize, timeout: Duration) -> Result<Value> {
    poll(
        &format!("{n} running replicas"),
        timeout,
        Duration::from_millis(100),
        || async {
            let c = get_container(app, id).await?;
            let instances = c["instances"].as_array().cloned().unwrap_or_default();
            let running: Vec<&Value> = instances
                .iter()
                .filter(|i| i["status"] == "RUNNING")
                .collect();
            let mut replicas: Vec<i64> = running
                .iter()
                .filter_map(|i| i["replica"].as_i64())
                .collect();
            replicas.sort_unstable();
            replicas.dedup();
            if running.len() == n && instances.len() == n && replicas.len() == n {
                Ok(Probe::Ready(c))
            } else {
                Ok(Probe::NotYet(c["instances"].to_string()))
            }
        },
    )
    .await
}

/// Polls until the engines hold exactly `n` running Docker containers of the container, one per replica
/// index, and no stopped leftovers.
async fn wait_docker_exactly(env: &TestEnv, id: &str, n: usize, timeout: Duration) -> Result<()> {
    poll(
        &format!("exactly {n} Docker containers, one per replica"),
        timeout,
        Duration::from_millis(200),
        || async {
            let found = docker_containers_of(env, id, true).await?;
            let mut replicas: Vec<&str> = found.iter().map(|f| f.1.as_str()).collect();
            replicas.sort_unstable();
            replicas.dedup();
            if found.len() == n && replicas.len() == n && found.iter().all(|f| f.2) {
                Ok(Probe::Ready(()))
            } else {
                Ok(Probe::NotYet(format!("{found:?}")))
            }
        },
    )
    .await
}

fn hosts_of(c: &Value) -> Vec<String> {
    let mut hosts: Vec<String> = c["instances"]
        .as_array()
        .map(|a| a.iter().map(|i| s(&i["host"]["name"])).collect())
        .unwrap_or_default();
    hosts.sort();
    hosts
}

/// Three replicas land one per host; a replica killed behind Berth's back (restart policy NO) is replaced
/// within 10 s.
pub async fn replicas_spread_and_are_replaced(env: &TestEnv) -> Result<()> {
    let (app, _) = berth_with_hosts(env).await?;
    let outcome = async {
        let c = create_container(
            &app,
            json!({ "name": "spread", "image": busybox(env), "command": ["sleep", "600"], "replicas": 3 }),
        )
        .await?;
        let id = s(&c["id"]);
        container_action(&app, "runContainer", &id, None).await?;
        let c = wait_running(&app, &id, 3, TIMEOUT).await?;
        ensure!(hosts_of(&c) == ["h1", "h2", "h3"], "one replica per host: {}", c["instances"]);
        wait_docker_exactly(env, &id, 3, TIMEOUT).await?;

        let victim = c["instances"][1].clone();
        let killed = Instant::now();
        env.host(&s(&victim["host"]["name"]))?
            .docker_ok(&["kill", &s(&victim["dockerId"])])
            .await?;
        let replaced = poll("the killed replica replaced", Duration::from_secs(10), Duration::from_millis(100), || async {
            let c = get_container(&app, &id).await?;
            let i = c["instances"]
                .as_array()
                .and_then(|a| a.iter().find(|i| i["replica"] == victim["replica"]).cloned())
                .context("the replica is still listed")?;
            if i["status"] == "RUNNING" && i["dockerId"] != victim["dockerId"] {
                Ok(Probe::Ready(i))
            } else {
                Ok(Probe::NotYet(i.to_string()))
            }
        })
        .await?;
        eprintln!("berth-test: killed replica replaced in {:.1?}", killed.elapsed());
        ensure!(replaced["attempts"] == 1, "first replacement: {replaced}");
        wait_docker_exactly(env, &id, 3, TIMEOUT).await?;
        container_action(&app, "killContainer", &id, None).await?;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// h2's engine killed: its replica is replaced elsewhere within grace + 10 s; h2 started again: the surplus is
/// removed, exactly three run and no replica index runs twice.
pub async fn lost_host_replicas_move_and_surplus_goes(env: &TestEnv) -> Result<()> {
    let (app, [_, h2, _]) = berth_with_hosts(env).await?;
    let outcome = async {
        let c = create_container(
            &app,
            json!({ "name": "survivor", "image": busybox(env), "command": ["sleep", "600"], "replicas": 3 }),
        )
        .await?;
        let id = s(&c["id"]);
        container_action(&app, "runContainer", &id, None).await?;
        let c = wait_running(&app, &id, 3, TIMEOUT).await?;
        ensure!(hosts_of(&c) == ["h1", "h2", "h3"], "{}", c["instances"]);
        let on_h2 = c["instances"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["host"]["id"] == h2.as_str()).cloned())
            .context("a replica on h2")?;

        // The grace period the servers of this suite run with.
        let grace = berth::config::Settings::from_pairs(berth_tests::app::suite_settings())
            .map_err(anyhow::Error::msg)?
            .host_grace;
        let lost_at = Instant::now();
        env.kill_engine("h2").await?;
        let moved = async {
            let i = poll("h2's replica running elsewhere", grace + Duration::from_secs(10), Duration::from_millis(100), || async {
                let c = get_container(&app, &id).await?;
                let i = c["instances"]
                    .as_array()
                    .and_then(|a| a.iter().find(|i| i["replica"] == on_h2["replica"]).cloned())
                    .context("the replica is still listed")?;
                if i["status"] == "RUNNING" && i["host"]["id"] != h2.as_str() {
                    Ok(Probe::Ready(i))
                } else {
                    Ok(Probe::NotYet(i.to_string()))
                }
            })
            .await?;
            eprintln!(
                "berth-test: replica of the lost host running on {} after {:.1?} (grace {grace:?})",
                i["host"]["name"],
                lost_at.elapsed()
            );
            Ok::<_, anyhow::Error>(())
        }
        .await;
        let restarted = env.start_engine("h2").await;
        moved?;
        restarted?;
        // h2 answers again: its old copy of the replica is removed.
        wait_docker_exactly(env, &id, 3, TIMEOUT).await?;
        let c = wait_running(&app, &id, 3, TIMEOUT).await?;
        ensure!(
            c["instances"].as_array().is_some_and(|a| a.iter().all(|i| i["status"] == "RUNNING")),
            "{}",
            c["instances"]
        );
        container_action(&app, "killContainer", &id, None).await?;
        Ok(())
    }
    .await;
    // Whatever happened, h2 runs again for the tests after this one.
    let _ = env.start_engine("h2").await;
    app.finish(outcome).await
}

/// Scale 3 → 1 → 3; 50 parallel scale calls end with as many replicas running as the container says, one per
/// index.
pub async fn scale_down_up_and_in_parallel(env: &TestEnv) -> Result<()> {
    let (app, _) = berth_with_hosts(env).await?;
    let outcome = async {
        let c = create_container(
            &app,
            json!({ "name": "scaled", "image": busybox(env), "command": ["sleep", "600"], "replicas": 3 }),
        )
        .await?;
        let id = s(&c["id"]);
        container_action(&app, "runContainer", &id, None).await?;
        wait_running(&app, &id, 3, TIMEOUT).await?;
        let scale = "mutation S($id: ID!, $n: Int!) { scaleContainer(id: $id, replicas: $n) { replicas version } }";

        let body = app.graphql(scale, json!({ "id": id, "n": 1 })).await?;
        ensure!(data(&body)?["scaleContainer"]["replicas"] == 1, "{body}");
        let c = wait_running(&app, &id, 1, TIMEOUT).await?;
        ensure!(c["instances"][0]["replica"] == 0, "the highest indexes go first: {}", c["instances"]);
        wait_docker_exactly(env, &id, 1, TIMEOUT).await?;

        let body = app.graphql(scale, json!({ "id": id, "n": 3 })).await?;
        ensure!(data(&body)?["scaleContainer"]["replicas"] == 3, "{body}");
        wait_running(&app, &id, 3, TIMEOUT).await?;
        wait_docker_exactly(env, &id, 3, TIMEOUT).await?;

        let bad = app.graphql(scale, json!({ "id": id, "n": 0 })).await?;
        ensure!(error_code(&bad) == Some("BAD_USER_INPUT"), "{bad}");

        let calls = (0..50).map(|i| {
            let app = &app;
            let id = id.clone();
            async move {
                let n = (i * 7) % 4 + 1;
                let body = app.graphql(scale, json!({ "id": id, "n": n })).await?;
                let c = data(&body).with_context(|| format!("scale to {n}: {body}"))?["scaleContainer"].clone();
                Ok::<_, anyhow::Error>(c)
            }
        });
        let answers: Vec<Value> = futures::future::try_join_all(calls).await?;
        let last = answers
            .iter()
            .max_by_key(|c| c["version"].as_i64().unwrap_or_default())
            .context("answers")?;
        let final_count = last["replicas"].as_i64().unwrap_or_default();
        let c = get_container(&app, &id).await?;
        ensure!(c["replicas"] == final_count, "the newest answer is the final count: {} vs {last}", c["replicas"]);
        let n = usize::try_from(final_count)?;
        wait_running(&app, &id, n, TIMEOUT).await?;
        wait_docker_exactly(env, &id, n, TIMEOUT).await?;
        container_action(&app, "killContainer", &id, None).await?;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

async fn create_disk(app: &TestApp, input: Value) -> Result<Value> {
    let body = app
        .graphql(
            "mutation D($input: DiskInput!) { createDisk(input: $input) { id name kind path host { name } } }",
            json!({ "input": input }),
        )
        .await?;
    Ok(data(&body).with_context(|| format!("createDisk: {body}"))?["createDisk"].clone())
}

/// The output of an instance's Docker container, read with the Docker CLI.
async fn docker_logs(env: &TestEnv, c: &Value) -> Result<String> {
    let i = &c["instances"][0];
    let out = env
        .host(&s(&i["host"]["name"]))?
        .docker(&["logs", &s(&i["dockerId"])])
        .await?;
    Ok(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// A VOLUME keeps a file across stop and run; a HOST_PATH receives the container's file on the host; a
/// read-only mount refuses writes; the rules on paths, replicas and deletion hold.
pub async fn disks_keep_data_and_follow_the_rules(env: &TestEnv) -> Result<()> {
    let (app, [h1, h2, _]) = berth_with_hosts(env).await?;
    let outcome = async {
        let bad = app
            .graphql(
                "mutation D($input: DiskInput!) { createDisk(input: $input) { id } }",
                json!({ "input": { "name": "etc", "kind": "HOST_PATH", "path": "/etc" } }),
            )
            .await?;
        ensure!(error_code(&bad) == Some("BAD_USER_INPUT") && bad["errors"][0]["extensions"]["field"] == "path", "{bad}");
        let bad = app
            .graphql(
                "mutation D($input: DiskInput!) { createDisk(input: $input) { id } }",
                json!({ "input": { "name": "nohost", "kind": "VOLUME" } }),
            )
            .await?;
        ensure!(bad["errors"][0]["extensions"]["field"] == "hostId", "{bad}");

        // VOLUME on h1: data survives stop and run.
        let volume = create_disk(&app, json!({ "name": "data", "kind": "VOLUME", "hostId": h1 })).await?;
        let vid = s(&volume["id"]);
        let replicated = create_container_raw(
            &app,
            json!({ "name": "twice", "image": busybox(env), "replicas": 2,
                    "mounts": [{ "diskId": vid, "containerPath": "/data" }] }),
        )
        .await?;
        ensure!(
            error_code(&replicated) == Some("BAD_USER_INPUT") && replicated["errors"][0]["extensions"]["field"] == "replicas",
            "replicas of a host-bound read-write disk: {replicated}"
        );
        let keeper = create_container(
            &app,
            json!({ "name": "keeper", "image": busybox(env),
                    "command": ["sh", "-c", "if [ -f /data/marker ]; then echo FOUND; else echo NEW; echo x > /data/marker; fi; exec sleep 600"],
                    "mounts": [{ "diskId": vid, "containerPath": "/data" }] }),
        )
        .await?;
        let kid = s(&keeper["id"]);
        container_action(&app, "runContainer", &kid, None).await?;
        let c = wait_container_status(&app, &kid, "RUNNING", TIMEOUT).await?;
        ensure!(c["instances"][0]["host"]["id"] == h1.as_str(), "placed on the volume's host: {}", c["instances"]);
        ensure!(c["mounts"][0]["disk"]["name"] == "data", "{}", c["mounts"]);
        let first = poll("the first run's output", TIMEOUT, Duration::from_millis(100), || async {
            let logs = docker_logs(env, &c).await?;
            Ok(if logs.contains("NEW") { Probe::Ready(logs) } else { Probe::NotYet(logs) })
        })
        .await?;
        ensure!(!first.contains("FOUND"), "{first}");
        container_action(&app, "killContainer", &kid, None).await?;
        wait_container_status(&app, &kid, "STOPPED", TIMEOUT).await?;
        container_action(&app, "runContainer", &kid, None).await?;
        let c = wait_container_status(&app, &kid, "RUNNING", TIMEOUT).await?;
        poll("the second run finds the file", TIMEOUT, Duration::from_millis(100), || async {
            let logs = docker_logs(env, &c).await?;
            Ok(if logs.contains("FOUND") { Probe::Ready(()) } else { Probe::NotYet(logs) })
        })
        .await?;
        let attached = app
            .graphql("mutation D($id: ID!) { deleteDisk(id: $id) }", json!({ "id": vid }))
            .await?;
        ensure!(error_code(&attached) == Some("CONFLICT"), "delete while attached: {attached}");

        // HOST_PATH on h2, read-write and read-only.
        let dir = env.scratch_dir("hostpath-disk")?;
        let path = dir.to_string_lossy().into_owned();
        let hostpath = create_disk(&app, json!({ "name": "shared", "kind": "HOST_PATH", "hostId": h2, "path": path })).await?;
        let hid = s(&hostpath["id"]);
        let writer = create_container(
            &app,
            json!({ "name": "writer", "image": busybox(env),
                    "command": ["sh", "-c", "echo from-the-container > /out/hello; if touch /ro/probe 2>/dev/null; then echo WRITABLE; else echo READONLY; fi; exec sleep 600"],
                    "mounts": [{ "diskId": hid, "containerPath": "/out" },
                               { "diskId": hid, "containerPath": "/ro", "readOnly": true }] }),
        )
        .await?;
        let wid = s(&writer["id"]);
        container_action(&app, "runContainer", &wid, None).await?;
        let c = wait_container_status(&app, &wid, "RUNNING", TIMEOUT).await?;
        ensure!(c["instances"][0]["host"]["id"] == h2.as_str(), "placed on the path's host: {}", c["instances"]);
        let logs = poll("the writer's output", TIMEOUT, Duration::from_millis(100), || async {
            let logs = docker_logs(env, &c).await?;
            Ok(if logs.contains("ONLY") || logs.contains("WRITABLE") { Probe::Ready(logs) } else { Probe::NotYet(logs) })
        })
        .await?;
        ensure!(logs.contains("READONLY"), "a read-only mount refuses writes: {logs}");
        let written = std::fs::read_to_string(dir.join("hello")).context("the file on the host path")?;
        ensure!(written.trim() == "from-the-container", "{written:?}");

        // Delete: containers first, then the disks; the volume goes with its disk.
        for id in [&kid, &wid] {
            container_action(&app, "killContainer", id, None).await?;
            wait_container_status(&app, id, "STOPPED", TIMEOUT).await?;
            let body = app.graphql("mutation D($id: ID!) { deleteContainer(id: $id) }", json!({ "id": id })).await?;
            data(&body)?;
        }
        for id in [&vid, &hid] {
            let body = app.graphql("mutation D($id: ID!) { deleteDisk(id: $id) }", json!({ "id": id })).await?;
            ensure!(data(&body)?["deleteDisk"] == true, "{body}");
        }
        let volume_gone = env
            .host("h1")?
            .docker(&["volume", "inspect", &format!("berth-{vid}")])
            .await?;
        ensure!(!volume_gone.status.success(), "the Docker volume is removed with its disk");
        Ok(())
    }
    .await;
    app.finish(outcome).await
}
