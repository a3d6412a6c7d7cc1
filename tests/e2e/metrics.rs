//! `GET /metrics` of a real `berth` process with `BERTH_METRICS_TOKEN` set, while it runs a container on a real
//! engine: refused without the token (401), then Prometheus text that Debian's `promtool check metrics` accepts,
//! with the host, the running replica and the work done so far in it. Without a token configured: 404.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, spawn_berth_process_with_env};
use berth_tests::containers::{container_action, create_container, wait_container_status};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::require_binary;
use serde_json::json;
use tokio::io::AsyncWriteExt;

const TOKEN: &str = "metrics-token-for-tests";

/// The value of the sample `name` (with its labels as written, e.g. `berth_hosts{status="UP"}`).
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Runs `promtool check metrics` on `text`; its verdict.
async fn promtool_check(promtool: &std::path::Path, text: &str) -> Result<(bool, String)> {
    let mut child = tokio::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting promtool")?;
    let mut stdin = child.stdin.take().context("promtool stdin")?;
    stdin.write_all(text.as_bytes()).await?;
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .context("promtool did not finish")??;
    Ok((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

pub async fn prometheus_metrics_pass_promtool(env: &TestEnv) -> Result<()> {
    let promtool = require_binary("promtool", "apt-get install -y prometheus")?;
    let data_dir = env.new_app_dir()?;
    let mut p = spawn_berth_process_with_env(&data_dir, &[("BERTH_METRICS_TOKEN", TOKEN)]).await?;
    let h1_engine = env.host("h1")?;
    let outcome = async {
        p.app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        let host = add_host(&p.app, engine_input("h1", h1_engine)).await?;
        ensure!(host["status"] == "UP", "{host}");
        let c = create_container(
            &p.app,
            json!({ "name": "measured", "image": env.registry.reference("tools/busybox:1.35"), "command": ["sleep", "100000"], "hostId": host["id"] }),
        )
        .await?;
        let id = c["id"].as_str().unwrap_or_default().to_owned();
        container_action(&p.app, "runContainer", &id, None).await?;
        wait_container_status(&p.app, &id, "RUNNING", Duration::from_secs(60)).await?;

        let url = p.app.url("/metrics");
        let client = reqwest::Client::new();
        let none = client.get(&url).send().await?;
        ensure!(none.status() == 401, "without the token: {}", none.status());
        let wrong = client.get(&url).bearer_auth("metrics-token-for-test").send().await?;
        ensure!(wrong.status() == 401, "a wrong token: {}", wrong.status());
        // The session cookie of a logged-in admin is not the token either.
        let cookie = p.app.client.get(&url).send().await?;
        ensure!(cookie.status() == 401, "a session: {}", cookie.status());

        let answer = client.get(&url).bearer_auth(TOKEN).send().await?;
        ensure!(answer.status() == 200, "with the token: {}", answer.status());
        let kind = answer
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        ensure!(kind.starts_with("text/plain; version=0.0.4"), "content type {kind}");
        let text = answer.text().await?;
        let (ok, said) = promtool_check(&promtool, &text).await?;
        ensure!(ok, "promtool check metrics refused the output: {said}\n{text}");

        for (name, at_least) in [
            ("berth_hosts{status=\"UP\"}", 1.0),
            ("berth_instances{status=\"RUNNING\"}", 1.0),
            ("berth_replicas_desired", 1.0),
            ("berth_replicas_running", 1.0),
            ("berth_leader", 1.0),
            ("berth_reconcile_job_duration_seconds_count", 1.0),
            ("berth_docker_event_lag_seconds_count", 1.0),
            ("berth_graphql_request_duration_seconds_count{kind=\"query\"}", 1.0),
            ("berth_graphql_request_duration_seconds_count{kind=\"mutation\"}", 2.0),
        ] {
            let value = sample(&text, name).with_context(|| format!("no sample {name} in:\n{text}"))?;
            ensure!(value >= at_least, "{name} is {value}, expected at least {at_least}:\n{text}");
        }
        ensure!(sample(&text, "berth_reconcile_queue_depth").is_some(), "{text}");
        Ok(())
    }
    .await;
    let _ = p.process.kill().await;
    outcome?;

    // Metrics are off unless a token is configured.
    let app = berth_tests::spawn_app(env).await?;
    let off = async {
        let answer = reqwest::get(app.url("/metrics")).await?;
        ensure!(
            answer.status() == 404,
            "no token configured: {}",
            answer.status()
        );
        let text = answer.text().await?;
        ensure!(
            text.contains("BERTH_METRICS_TOKEN"),
            "the 404 says how to turn them on: {text}"
        );
        Ok(())
    }
    .await;
    app.finish(off).await
}
