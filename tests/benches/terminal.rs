//! Terminal round trip benchmark (`cargo xtask bench terminal`, i.e. `cargo bench -p berth-tests --bench
//! terminal`): a Berth server (in process, SQLite) on loopback, a busybox container on the h1 engine, one terminal
//! WebSocket with `/bin/sh`; 500 keystrokes typed one at a time, each timed from the binary frame sent until its
//! echo comes back through Berth and the engine's TTY (the line is cleared with Ctrl-U every 50 keys). Goal: p99
//! ≤ 50 ms. Prints the table and writes it into BENCHMARKS.md. Needs root. Not run by `cargo test`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME};
use berth_tests::bench::{cores, fmt_duration, measure_in_env, median, percentile};
use berth_tests::containers::{container_action, create_container, wait_container_status};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::terminal::{TermEvent, TerminalClient};
use berth_tests::{TestEnv, spawn_app};
use serde_json::json;

const COMMAND: &str = "cargo xtask bench terminal";
const KEYS: usize = 500;
const GOAL: Duration = Duration::from_millis(50);

fn main() -> std::process::ExitCode {
    berth_tests::bench::run_main("terminal", measure_in_env("terminal", measure))
}

async fn measure(env: &TestEnv) -> Result<String> {
    let app = spawn_app(env).await?;
    let outcome = async {
        app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        let token = app.admin_token("terminal-bench").await?;
        let h1 = env.host("h1")?;
        let host = add_host(&app, engine_input(&h1.name, h1)).await?;
        ensure!(host["status"] == "UP", "h1: {host}");
        let image = env.registry.reference("tools/busybox:1.35");
        let c = create_container(
            &app,
            json!({ "name": "bench-shell", "image": image, "command": ["sleep", "3600"], "hostId": host["id"] }),
        )
        .await?;
        let id = c["id"].as_str().unwrap_or_default().to_owned();
        container_action(&app, "runContainer", &id, None).await?;
        let c = wait_container_status(&app, &id, "RUNNING", Duration::from_secs(60)).await?;
        let instance = c["instances"][0]["id"].as_str().unwrap_or_default().to_owned();

        let opened = Instant::now();
        let mut term =
            TerminalClient::open(&app, &format!("instanceId={instance}"), &token, 120, 40).await?;
        term.wait_control("started", Duration::from_secs(15)).await?;
        term.type_text("echo ready\n").await?;
        term.wait_for(0, "ready\r\n", Duration::from_secs(15)).await?;
        let open_time = opened.elapsed();

        let mut samples = Vec::with_capacity(KEYS);
        for n in 0..KEYS {
            if n > 0 && n % 50 == 0 {
                // Ctrl-U clears the line; wait for the shell's redraw to pass.
                term.type_text("\x15").await?;
                settle(&mut term).await?;
            }
            let key = (b'a' + (n % 26) as u8) as char;
            let sent = Instant::now();
            term.type_text(&key.to_string()).await?;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                match term.next(deadline).await? {
                    TermEvent::Output(bytes) if bytes.contains(&(key as u8)) => break,
                    TermEvent::Closed(code, reason) => bail!("closed ({code:?} {reason})"),
                    _ => {}
                }
            }
            samples.push(sent.elapsed());
        }
        term.type_text("\x15exit 0\n").await?;
        let exit = term.wait_control("exit", Duration::from_secs(15)).await?;
        ensure!(exit["code"] == 0, "exit 0: {exit}");

        samples.sort();
        let p99 = percentile(&samples, 99.0);
        let row = |label: &str, value: String| format!("| {label} | {value} |\n");
        let mut report = format!(
            "## Terminal\n\nMeasured with `{COMMAND}` on a {}-core machine: an in-process Berth on loopback, busybox \
             `/bin/sh` on the h1 engine (unix socket), one WebSocket; {KEYS} keystrokes typed one at a time, each \
             timed from the binary frame sent to its echo back.\n\n| What | Time |\n| --- | --- |\n",
            cores()
        );
        report.push_str(&row(
            "open (handshake, start, exec create + start, first prompt)",
            fmt_duration(open_time),
        ));
        report.push_str(&row("keystroke → echo, median", fmt_duration(median(&samples))));
        report.push_str(&row("keystroke → echo, p90", fmt_duration(percentile(&samples, 90.0))));
        report.push_str(&row(
            &format!("keystroke → echo, p99 (goal ≤ {})", fmt_duration(GOAL)),
            format!("{} ({:.2}× the goal)", fmt_duration(p99), p99.as_secs_f64() / GOAL.as_secs_f64()),
        ));
        report.push_str(&row(
            "keystroke → echo, max",
            fmt_duration(samples.last().copied().unwrap_or_default()),
        ));
        if p99 > GOAL {
            report.push_str(&format!("\np99 is over the goal of {}.\n", fmt_duration(GOAL)));
        }
        Ok(report)
    }
    .await;
    app.finish(outcome).await
}

/// Reads output until nothing comes for 100 ms.
async fn settle(term: &mut TerminalClient) -> Result<()> {
    loop {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(100);
        match tokio::time::timeout_at(deadline, term.next(deadline + Duration::from_secs(1))).await
        {
            Err(_) => return Ok(()),
            Ok(Ok(TermEvent::Closed(code, reason))) => bail!("closed ({code:?} {reason})"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e).context("reading the terminal"),
        }
    }
}
