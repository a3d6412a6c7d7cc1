//! Logs benchmark (`cargo xtask bench logs`, i.e. `cargo bench -p berth-tests --bench logs`): a Berth server (in
//! process, SQLite) on loopback and a busybox container on the h1 engine that printed 100,000 lines (half on
//! stderr). Measures `containerLogSearch` over a 5,000-line window (20 runs each: a text in every tenth line, and
//! one in none), and `GET /api/logs` of all 100,000 lines with their times (5 runs), against `docker logs -t` of
//! the same container through the CLI. Prints the table and writes it into BENCHMARKS.md. Needs root. Not run by
//! `cargo test`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, data, http_client};
use berth_tests::bench::{cores, fmt_duration, measure_in_env, median, percentile};
use berth_tests::containers::{container_action, create_container, wait_container_status};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, poll};
use berth_tests::{TestEnv, spawn_app};
use serde_json::json;

const COMMAND: &str = "cargo xtask bench logs";
const LINES: usize = 100_000;
const SEARCH_RUNS: usize = 20;
const DOWNLOAD_RUNS: usize = 5;
const SEARCH: &str = "query S($id: ID!, $s: String!) { containerLogSearch(instanceId: $id, search: $s, tail: 5000) \
     { scanned matched lines { text } } }";

fn main() -> std::process::ExitCode {
    berth_tests::bench::run_main("logs", measure_in_env("logs", measure))
}

fn mb_per_s(bytes: usize, took: Duration) -> String {
    format!("{:.1} MB/s", bytes as f64 / 1e6 / took.as_secs_f64())
}

async fn measure(env: &TestEnv) -> Result<String> {
    let app = spawn_app(env).await?;
    let outcome = async {
        app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        let token = app.admin_token("logs-bench").await?;
        let h1 = env.host("h1")?;
        let host = add_host(&app, engine_input(&h1.name, h1)).await?;
        ensure!(host["status"] == "UP", "h1: {host}");
        let image = env.registry.reference("tools/busybox:1.35");
        // Line n: "request n served in n ms (path /api/items/n)", odd lines on stderr.
        let script = format!(
            "seq 1 {LINES} | while read n; do if [ $((n % 2)) -eq 0 ]; then \
             echo \"request $n served in $((n % 97)) ms (path /api/items/$n)\"; else \
             echo \"request $n served in $((n % 97)) ms (path /api/items/$n)\" >&2; fi; done; \
             echo done-printing; exec sleep 3600"
        );
        let c = create_container(
            &app,
            json!({ "name": "bench-logs", "image": image, "command": ["sh", "-c", script], "hostId": host["id"] }),
        )
        .await?;
        let id = c["id"].as_str().unwrap_or_default().to_owned();
        container_action(&app, "runContainer", &id, None).await?;
        let c = wait_container_status(&app, &id, "RUNNING", Duration::from_secs(60)).await?;
        let instance = c["instances"][0]["id"].as_str().unwrap_or_default().to_owned();
        let docker_id = c["instances"][0]["dockerId"].as_str().unwrap_or_default().to_owned();
        poll(
            "the container printed its lines",
            Duration::from_secs(600),
            Duration::from_millis(500),
            || async {
                let body = app
                    .graphql_with_token(&token, SEARCH, json!({ "id": instance, "s": "done-printing" }))
                    .await?;
                let found = data(&body)?["containerLogSearch"]["matched"].as_i64();
                Ok(if found == Some(1) {
                    Probe::Ready(())
                } else {
                    Probe::NotYet(format!("{body}"))
                })
            },
        )
        .await?;

        // Search over the last 5,000 lines.
        let mut report_rows = Vec::new();
        for (label, text, expect) in [
            ("\"in 7 ms\" (in about 1 line of 97)", "in 7 ms", None),
            ("\"no-such-text\" (no line)", "no-such-text", Some(0)),
            ("\"REQUEST\" (every line, case ignored; 1,000 returned)", "REQUEST", Some(4_999)),
        ] {
            let mut samples = Vec::with_capacity(SEARCH_RUNS);
            let mut matched = 0;
            for _ in 0..SEARCH_RUNS {
                let started = Instant::now();
                let body = app
                    .graphql_with_token(&token, SEARCH, json!({ "id": instance, "s": text }))
                    .await?;
                samples.push(started.elapsed());
                let found = &data(&body).with_context(|| format!("{body}"))?["containerLogSearch"];
                ensure!(found["scanned"] == 5000, "a window of 5,000: {found}");
                matched = found["matched"].as_i64().unwrap_or(-1);
            }
            if let Some(expect) = expect {
                ensure!(matched == expect, "{text}: {matched} matched, expected {expect}");
            }
            samples.sort();
            report_rows.push(format!(
                "| search 5,000 lines for {label}: {matched} matched | {SEARCH_RUNS} | {} | {} | {} |\n",
                fmt_duration(median(&samples)),
                fmt_duration(percentile(&samples, 90.0)),
                fmt_duration(samples.last().copied().unwrap_or_default()),
            ));
        }

        // The whole output as a file, and the CLI's `docker logs -t` for comparison.
        let client = http_client(None)?;
        let mut samples = Vec::with_capacity(DOWNLOAD_RUNS);
        let mut size = 0;
        for _ in 0..DOWNLOAD_RUNS {
            let started = Instant::now();
            let response = client
                .get(app.url(&format!("/api/logs?instanceId={instance}")))
                .bearer_auth(&token)
                .timeout(Duration::from_secs(300))
                .send()
                .await?;
            ensure!(response.status() == 200, "download: {}", response.status());
            let body = response.bytes().await?;
            samples.push(started.elapsed());
            let lines = body.iter().filter(|b| **b == b'\n').count();
            ensure!(lines == LINES + 1, "{lines} lines downloaded");
            size = body.len();
        }
        samples.sort();
        let mut cli = Vec::with_capacity(DOWNLOAD_RUNS);
        let mut cli_size = 0;
        for _ in 0..DOWNLOAD_RUNS {
            let started = Instant::now();
            let out = h1.docker_ok(&["logs", "-t", &docker_id]).await?;
            cli.push(started.elapsed());
            cli_size = out.len();
        }
        cli.sort();
        let mut report = format!(
            "## Logs\n\nMeasured with `{COMMAND}` on a {}-core machine: an in-process Berth (release build, SQLite) \
             on loopback, a busybox container on the h1 engine (unix socket, json-file driver) that printed \
             {LINES} lines of about 50 bytes, every other one on stderr.\n\n\
             | measurement | runs | median | p90 | max |\n|---|---:|---:|---:|---:|\n",
            cores()
        );
        for row in report_rows {
            report.push_str(&row);
        }
        report.push_str(&format!(
            "| `GET /api/logs`, all {LINES} lines with times ({:.1} MB): {} at the median | {DOWNLOAD_RUNS} | {} | {} | {} |\n",
            size as f64 / 1e6,
            mb_per_s(size, median(&samples)),
            fmt_duration(median(&samples)),
            fmt_duration(percentile(&samples, 90.0)),
            fmt_duration(samples.last().copied().unwrap_or_default()),
        ));
        report.push_str(&format!(
            "| `docker logs -t` of the same container through the CLI ({:.1} MB): {} at the median | {DOWNLOAD_RUNS} | {} | {} | {} |\n",
            cli_size as f64 / 1e6,
            mb_per_s(cli_size, median(&cli)),
            fmt_duration(median(&cli)),
            fmt_duration(percentile(&cli, 90.0)),
            fmt_duration(cli.last().copied().unwrap_or_default()),
        ));
        report.push_str(
            "\n- A search is one GraphQL query: the engine reads the last 5,000 lines (`tail=5000`, no follow), Berth \
             parses each line's time and stream and keeps the latest 1,000 matches; the time includes the HTTP \
             round trip and the JSON of the matches.\n\
             - The download streams the engine's answer as it comes (512 lines per chunk), each line rendered as \
             `TIME STREAM TEXT`; the client reads the whole body. Berth's file is larger than the CLI's output by \
             the stream word on each line.\n",
        );
        Ok(report)
    }
    .await;
    app.finish(outcome).await
}
