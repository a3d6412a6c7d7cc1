//! Container stats on real engines: a busybox container holding 24 MiB under a 64 MiB limit seen live on
//! `containerStats` (two watchers, one engine stream, closed when they leave) and on `dockerContainerStats`; the
//! background samples in `statsHistory` and `Host.stats`, still there after Berth restarts; unknown ids NOT_FOUND;
//! the host's totals over time (`Host.statsHistory`) and the list's batched trends (`statsTrends`, 501 ids refused).
//! A container made with `docker run` is sampled too (`DockerContainer.statsHistory`, `dockerContainerStatsTrends`,
//! counted in the host's totals).
//!
//! Berth runs as a process here, so the sampling interval (`BERTH_STATS_INTERVAL_SECS=1`) is its own and its log
//! tells how many engine streams it opened.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{
    ADMIN_PASSWORD, ADMIN_USERNAME, BerthProcess, TestApp, data, expect_error_code,
    spawn_berth_process_with_env,
};
use berth_tests::containers::{container_action, create_container, wait_container_status};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, poll};
use berth_tests::ws::GraphqlWs;
use serde_json::{Value, json};

const MIB: i64 = 1024 * 1024;
const SETTINGS: &[(&str, &str)] = &[("BERTH_STATS_INTERVAL_SECS", "1")];
/// The container made with `docker run` on h1 (not Berth's).
const HAND_MADE: &str = "stats-by-hand";
const FIELDS: &str = "at cpuPercent memoryBytes memoryLimitBytes netRxBytes netTxBytes blockReadBytes \
                      blockWriteBytes";

fn live_query() -> String {
    format!("subscription S($id: ID!) {{ containerStats(instanceId: $id) {{ {FIELDS} }} }}")
}

fn history_query() -> String {
    format!(
        "query H($id: ID!) {{ container(id: $id) {{ instances {{ id statsHistory {{ {FIELDS} }} }} }} }}"
    )
}

/// Lines of Berth's log that contain every one of `parts`.
fn log_lines(log: &Path, parts: &[&str]) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .count()
}

async fn history(app: &TestApp, container: &str) -> Result<Vec<Value>> {
    let body = app
        .graphql(&history_query(), json!({ "id": container }))
        .await?;
    let points =
        data(&body).with_context(|| body.to_string())?["container"]["instances"][0]["statsHistory"]
            .as_array()
            .cloned()
            .unwrap_or_default();
    Ok(points)
}

fn memory_is_held(sample: &Value) -> bool {
    let memory = sample["memoryBytes"].as_i64().unwrap_or_default();
    memory >= 20 * MIB
        && sample["memoryLimitBytes"].as_i64() == Some(64 * MIB)
        && memory <= 64 * MIB
}

async fn start(data_dir: &Path) -> Result<BerthProcess> {
    let berth = spawn_berth_process_with_env(data_dir, SETTINGS).await?;
    berth.app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    Ok(berth)
}

pub async fn live_and_sampled_stats(env: &TestEnv) -> Result<()> {
    let data_dir = env.new_app_dir()?;
    let mut first = start(&data_dir).await?;
    let log = first.process.log_path().to_path_buf();
    let outcome = async {
        let app = &first.app;
        let token = app.admin_token("stats-e2e").await?;
        let engine = env.host("h1")?;
        let host = add_host(app, engine_input("h1", engine)).await?;
        ensure!(host["status"] == "UP", "{host}");
        let host_id = host["id"].as_str().unwrap_or_default().to_string();
        let c = create_container(
            app,
            json!({
                "name": "stats-target",
                "image": env.registry.reference("tools/busybox:1.35"),
                // 24 MiB in the container's /dev/shm (a tmpfs charged to its memory), then idle.
                "command": ["sh", "-c", "dd if=/dev/zero of=/dev/shm/x bs=1M count=24 2>/dev/null; sleep 3600"],
                "resources": { "memory": "64m" },
                "hostId": host_id,
            }),
        )
        .await?;
        let id = c["id"].as_str().unwrap_or_default().to_string();
        container_action(app, "runContainer", &id, None).await?;
        let c = wait_container_status(app, &id, "RUNNING", Duration::from_secs(60)).await?;
        let instance = c["instances"][0]["id"].as_str().unwrap_or_default().to_string();
        let docker_id = c["instances"][0]["dockerId"]
            .as_str()
            .unwrap_or_default()
            .to_string();

        // Two watchers of one container: both get samples, the engine gives one stream.
        let mut a = GraphqlWs::connect(app, &token).await?;
        let mut b = GraphqlWs::connect(app, &token).await?;
        a.subscribe(&live_query(), json!({ "id": instance })).await?;
        b.subscribe(&live_query(), json!({ "id": instance })).await?;
        let started = std::time::Instant::now();
        let seen_a = a
            .wait_for("24 MiB held, under the 64 MiB limit (watcher a)", Duration::from_secs(30), |e| {
                memory_is_held(&e.data["containerStats"])
            })
            .await?;
        let seen_b = b
            .wait_for("24 MiB held (watcher b)", Duration::from_secs(10), |e| {
                memory_is_held(&e.data["containerStats"])
            })
            .await?;
        let sample = &seen_a.data["containerStats"];
        eprintln!(
            "stats: live sample after {:.2?}: {sample}; b {}",
            started.elapsed(),
            seen_b.data["containerStats"]["memoryBytes"]
        );
        // The next samples carry a CPU %.
        let with_cpu = a
            .wait_for("a sample with a CPU %", Duration::from_secs(10), |e| {
                e.data["containerStats"]["cpuPercent"].is_number()
            })
            .await?;
        ensure!(
            with_cpu.data["containerStats"]["cpuPercent"]
                .as_f64()
                .is_some_and(|c| (0.0..=400.0).contains(&c)),
            "{}",
            with_cpu.data
        );
        let opened = log_lines(&log, &["stats stream opened", docker_id.as_str()]);
        ensure!(opened == 1, "{opened} engine streams opened for two watchers");

        // The inventory's view of the same container shares that stream.
        let inventory_id = format!("{host_id}:{docker_id}");
        let mut inv = GraphqlWs::connect(app, &token).await?;
        inv.subscribe(
            &format!(
                "subscription S($id: ID!) {{ dockerContainerStats(id: $id) {{ {FIELDS} }} }}"
            ),
            json!({ "id": inventory_id }),
        )
        .await?;
        inv.wait_for("a sample through the inventory", Duration::from_secs(10), |e| {
            memory_is_held(&e.data["dockerContainerStats"])
        })
        .await?;
        ensure!(
            log_lines(&log, &["stats stream opened", docker_id.as_str()]) == 1,
            "the inventory watcher opened a second engine stream"
        );
        a.close().await;
        b.close().await;
        inv.close().await;
        poll(
            "the engine stream closed after the last watcher left",
            Duration::from_secs(10),
            Duration::from_millis(100),
            || async {
                let closed = log_lines(&log, &["stats stream closed", docker_id.as_str()]);
                Ok(if closed == 1 {
                    Probe::Ready(())
                } else {
                    Probe::NotYet(format!("{closed} closed"))
                })
            },
        )
        .await?;

        // Unknown ids.
        let mut bad = GraphqlWs::connect(app, &token).await?;
        bad.subscribe(&live_query(), json!({ "id": "no-such-instance" }))
            .await?;
        let refused = bad.next_event(Duration::from_secs(10)).await;
        let text = format!("{refused:?}");
        ensure!(
            refused.is_err() && text.contains("NOT_FOUND"),
            "unknown instance: {text}"
        );
        bad.close().await;
        // A fresh connection: the first one still has the refused subscription's `complete` to read.
        let mut bad = GraphqlWs::connect(app, &token).await?;
        bad.subscribe(
            "subscription S($id: ID!) { dockerContainerStats(id: $id) { at } }",
            json!({ "id": "nope:nope" }),
        )
        .await?;
        let refused = bad.next_event(Duration::from_secs(10)).await;
        let text = format!("{refused:?}");
        ensure!(
            refused.is_err() && text.contains("NOT_FOUND"),
            "unknown inventory container: {text}"
        );
        bad.close().await;

        // Background samples every second: history and the host's totals.
        let points = poll(
            "three background samples in statsHistory",
            Duration::from_secs(20),
            Duration::from_millis(250),
            || async {
                let points = history(app, &id).await?;
                Ok(if points.len() >= 3 && points.last().is_some_and(memory_is_held) {
                    Probe::Ready(points)
                } else {
                    Probe::NotYet(format!("{} points", points.len()))
                })
            },
        )
        .await?;
        ensure!(
            points.iter().skip(1).any(|p| p["cpuPercent"].is_number()),
            "a CPU % from two one-shot reads: {points:?}"
        );
        let body = app
            .graphql(
                "query H($id: ID!) { host(id: $id) { stats { at cpuPercent memoryBytes memoryLimitBytes cpus containers } } }",
                json!({ "id": host_id }),
            )
            .await?;
        let stats = &data(&body).with_context(|| body.to_string())?["host"]["stats"];
        ensure!(
            // Other tests' containers may run on h1 too: every running container counts.
            stats["containers"].as_i64().unwrap_or_default() >= 1
                && stats["memoryBytes"].as_i64().unwrap_or_default() >= 20 * MIB
                && stats["memoryLimitBytes"].as_i64().unwrap_or_default() > 64 * MIB,
            "host totals: {stats}"
        );
        eprintln!(
            "stats: {} history points after {:.2?}; host {stats}",
            points.len(),
            started.elapsed()
        );
        // The host's totals over time (summed per bucket in SQL; 2-second buckets over the last two minutes) and
        // the list's batched trend lines.
        let since = (time::OffsetDateTime::now_utc() - time::Duration::minutes(2))
            .format(&time::format_description::well_known::Rfc3339)?;
        let (host_points, trend) = poll(
            "Host.statsHistory and statsTrends with the held memory",
            Duration::from_secs(20),
            Duration::from_millis(250),
            || async {
                let body = app
                    .graphql(
                        "query T($host: ID!, $ids: [ID!]!, $since: DateTime) { host(id: $host) { statsHistory(since: $since) { at cpuPercent \
                         memoryBytes containers } } statsTrends(instanceIds: $ids) { instanceId points { at \
                         cpuPercent memoryBytes } } }",
                        json!({ "host": host_id, "ids": [instance, "no-such-instance"], "since": since }),
                    )
                    .await?;
                let d = data(&body).with_context(|| body.to_string())?;
                let points = d["host"]["statsHistory"].as_array().cloned().unwrap_or_default();
                let trends = d["statsTrends"].as_array().cloned().unwrap_or_default();
                let held = |p: &Value| p["memoryBytes"].as_i64().unwrap_or_default() >= 20 * MIB;
                let host_ok = points.len() >= 2
                    && points.iter().all(|p| p["containers"].as_i64().unwrap_or_default() >= 1)
                    && points.last().is_some_and(held);
                let trend_ok = trends.len() == 2
                    && trends[0]["instanceId"] == instance.as_str()
                    && trends[0]["points"].as_array().is_some_and(|p| !p.is_empty() && p.len() <= 30 && p.iter().all(held))
                    && trends[1]["points"].as_array().is_some_and(Vec::is_empty);
                Ok(if host_ok && trend_ok {
                    Probe::Ready((points, trends[0].clone()))
                } else {
                    Probe::NotYet(format!("host {points:?}; trends {trends:?}"))
                })
            },
        )
        .await?;
        eprintln!(
            "stats: Host.statsHistory {} points (last {}), trend {}",
            host_points.len(),
            host_points.last().cloned().unwrap_or_default(),
            trend
        );
        // A container made by hand on h1 is sampled too: its own history and trend, and the host's totals count
        // it; the inventory's view of Berth's replica shows the instance's samples.
        let image = env.registry.reference("tools/busybox:1.35");
        let _ = engine.docker(&["rm", "-f", HAND_MADE]).await;
        engine
            .docker_ok(&[
                "run", "-d", "--name", HAND_MADE, "-m", "64m", &image, "sh", "-c",
                "dd if=/dev/zero of=/dev/shm/x bs=1M count=24 2>/dev/null; sleep 3600",
            ])
            .await?;
        let hand_docker = engine
            .docker_ok(&["inspect", "-f", "{{.Id}}", HAND_MADE])
            .await?
            .trim()
            .to_string();
        let hand = format!("{host_id}:{hand_docker}");
        let (hand_points, hand_trends) = poll(
            "the hand-made container's statsHistory and trend",
            Duration::from_secs(30),
            Duration::from_millis(250),
            || async {
                let body = app
                    .graphql(
                        &format!(
                            "query T($id: ID!, $ids: [ID!]!) {{ dockerContainer(id: $id) {{ statsHistory {{ {FIELDS} }} }} \
                             dockerContainerStatsTrends(ids: $ids) {{ id points {{ at cpuPercent memoryBytes }} }} }}"
                        ),
                        json!({ "id": hand, "ids": [hand, inventory_id, "nope:nope"] }),
                    )
                    .await?;
                let d = data(&body).with_context(|| body.to_string())?;
                let points = d["dockerContainer"]["statsHistory"].as_array().cloned().unwrap_or_default();
                let trends = d["dockerContainerStatsTrends"].as_array().cloned().unwrap_or_default();
                let held = |p: &Value| p["memoryBytes"].as_i64().unwrap_or_default() >= 20 * MIB;
                let line = |n: usize| trends.get(n).and_then(|t| t["points"].as_array()).cloned().unwrap_or_default();
                let ok = points.len() >= 2
                    && points.last().is_some_and(memory_is_held)
                    && trends.len() == 3
                    && trends[0]["id"] == hand.as_str()
                    && trends[1]["id"] == inventory_id.as_str()
                    && !line(0).is_empty()
                    && line(0).iter().all(held)
                    && !line(1).is_empty()
                    && line(1).iter().all(held)
                    && line(2).is_empty();
                Ok(if ok {
                    Probe::Ready((points, trends))
                } else {
                    Probe::NotYet(format!("history {points:?}; trends {trends:?}"))
                })
            },
        )
        .await?;
        eprintln!(
            "stats: hand-made container {} history points, trends {}",
            hand_points.len(),
            Value::Array(hand_trends)
        );
        let body = app
            .graphql(
                "query H($id: ID!) { host(id: $id) { stats { memoryBytes containers } } }",
                json!({ "id": host_id }),
            )
            .await?;
        let stats = &data(&body).with_context(|| body.to_string())?["host"]["stats"];
        ensure!(
            stats["containers"].as_i64().unwrap_or_default() >= 2
                && stats["memoryBytes"].as_i64().unwrap_or_default() >= 40 * MIB,
            "host totals with the hand-made container: {stats}"
        );
        engine.docker_ok(&["rm", "-f", HAND_MADE]).await?;
        let too_many: Vec<String> = (0..501).map(|n| format!("id-{n}")).collect();
        let body = app
            .graphql(
                "query T($ids: [ID!]!) { dockerContainerStatsTrends(ids: $ids) { id } }",
                json!({ "ids": too_many }),
            )
            .await?;
        expect_error_code(&body, "BAD_USER_INPUT")?;
        ensure!(
            body["errors"][0]["extensions"]["field"] == "ids",
            "501 ids refused naming ids: {body}"
        );
        let too_many: Vec<String> = (0..501).map(|n| format!("id-{n}")).collect();
        let body = app
            .graphql(
                "query T($ids: [ID!]!) { statsTrends(instanceIds: $ids) { instanceId } }",
                json!({ "ids": too_many }),
            )
            .await?;
        expect_error_code(&body, "BAD_USER_INPUT")?;
        ensure!(
            body["errors"][0]["extensions"]["field"] == "instanceIds",
            "501 ids refused naming instanceIds: {body}"
        );
        Ok((id, docker_id, points.len()))
    }
    .await;
    let stopped = first.process.stop(Duration::from_secs(20)).await;
    // Gone also when the test failed before removing it.
    let _ = env.host("h1")?.docker(&["rm", "-f", HAND_MADE]).await;
    let (id, docker_id, before) = outcome?;
    stopped?;

    // The history survives a restart.
    let mut second = start(&data_dir).await?;
    let outcome = async {
        let app = &second.app;
        let points = history(app, &id).await?;
        ensure!(
            points.len() >= before,
            "{} points after the restart, {before} before",
            points.len()
        );
        container_action(app, "stopContainer", &id, None).await?;
        wait_container_status(app, &id, "STOPPED", Duration::from_secs(60)).await?;
        let body = app
            .graphql(
                "mutation D($id: ID!) { deleteContainer(id: $id) }",
                json!({ "id": id }),
            )
            .await?;
        data(&body).with_context(|| body.to_string())?;
        let engine = env.host("h1")?;
        poll(
            "the deleted container removed from the engine",
            Duration::from_secs(30),
            Duration::from_millis(200),
            || async {
                let left = engine
                    .docker_ok(&[
                        "ps",
                        "-aq",
                        "--no-trunc",
                        "--filter",
                        &format!("id={docker_id}"),
                    ])
                    .await?;
                Ok(if left.trim().is_empty() {
                    Probe::Ready(())
                } else {
                    Probe::NotYet(left)
                })
            },
        )
        .await
    }
    .await;
    let stopped = second.process.stop(Duration::from_secs(20)).await;
    outcome?;
    stopped
}
