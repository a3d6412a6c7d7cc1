//! The terminal WebSocket (`/api/terminal`) on a real engine: a shell that answers, a resize the process sees,
//! the exit code sent before the close, a VIEWER refused, a stopped container refused with a clear message, and
//! each session in the audit log with its duration and without what was typed.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, data};
use berth_tests::containers::{container_action, create_container, wait_container_status};
use berth_tests::process::{Probe, poll};
use berth_tests::terminal::TerminalClient;
use serde_json::{Value, json};

use crate::containers::berth_with_hosts;

const WAIT: Duration = Duration::from_secs(15);

/// A running busybox replica on h1 driven through a terminal: `echo $((6*7))` prints 42, 100x30 is what `stty size`
/// says, `exit 3` gives `{"type":"exit","code":3}` and a close 1000; a VIEWER's token is refused (FORBIDDEN,
/// 4403); the audit log has the session with its duration and not the typed text; a stopped container's terminal
/// is refused with CONFLICT saying it is not running.
pub async fn shell_in_a_container(env: &TestEnv) -> Result<()> {
    let (app, token, [h1, _h2, _]) = berth_with_hosts(env).await?;
    let outcome = async {
        let image = env.registry.reference("tools/busybox:1.35");
        let c = create_container(
            &app,
            json!({ "name": "terminal-target", "image": image, "command": ["sleep", "3600"], "hostId": h1 }),
        )
        .await?;
        let id = c["id"].as_str().unwrap_or_default().to_string();
        container_action(&app, "runContainer", &id, None).await?;
        let c = wait_container_status(&app, &id, "RUNNING", Duration::from_secs(60)).await?;
        let instance = c["instances"][0]["id"].as_str().unwrap_or_default().to_string();
        let query = format!("instanceId={instance}");

        let opened = Instant::now();
        let mut term = TerminalClient::open(&app, &query, &token, 80, 24).await?;
        let started = term.wait_control("started", WAIT).await?;
        ensure!(started["host"] == "h1", "started on h1: {started}");
        let ready = opened.elapsed();
        term.type_text("echo $((6*7))\n").await?;
        term.wait_for(0, "42", WAIT).await?;
        let answered = opened.elapsed();

        term.resize(100, 30).await?;
        // The resize and the command travel separately (an engine call and the input stream): ask until the
        // process sees the new size.
        let deadline = Instant::now() + WAIT;
        loop {
            let from = term.screen.len();
            term.type_text("stty size\n").await?;
            match term.wait_for(from, "30 100", Duration::from_millis(1500)).await {
                Ok(()) => break,
                Err(e) if Instant::now() >= deadline => {
                    return Err(e.context("stty size never said 30 100 after the resize"));
                }
                Err(_) => {}
            }
        }

        term.type_text("exit 3\n").await?;
        let exit = term.wait_control("exit", WAIT).await?;
        ensure!(exit["code"] == 3, "exit code 3: {exit}");
        let (code, _) = term.wait_closed(WAIT).await?;
        ensure!(code == Some(1000), "closed normally after the exit: {code:?}");
        println!(
            "    terminal: started in {} ms, 42 after {} ms",
            ready.as_millis(),
            answered.as_millis()
        );

        // The audit log: one session with its duration, never the keystrokes.
        let entry = poll(
            "the terminal session in the audit log",
            WAIT,
            Duration::from_millis(100),
            || async {
                let body = app
                    .graphql_with_token(
                        &token,
                        "query { auditLog(filter: { action: \"terminal.session\" }, first: 5) { edges { node { user action target result detail } } } }",
                        json!({}),
                    )
                    .await?;
                let edges = data(&body)?["auditLog"]["edges"].clone();
                let node = edges
                    .as_array()
                    .and_then(|e| e.first())
                    .map(|e| e["node"].clone());
                Ok(match node {
                    Some(n) => Probe::Ready(n),
                    None => Probe::NotYet(format!("no entry yet: {body}")),
                })
            },
        )
        .await?;
        let detail = entry["detail"].as_str().unwrap_or_default();
        ensure!(
            entry["user"] == ADMIN_USERNAME
                && entry["target"] == format!("instance {instance}")
                && detail.contains("/bin/sh")
                && detail.contains("lasted")
                && detail.contains("exit code 3"),
            "who, which container, how long, how it ended: {entry}"
        );
        let log = app
            .graphql_with_token(
                &token,
                "query { auditLog(first: 200) { edges { node { action detail } } } }",
                json!({}),
            )
            .await?;
        let text = log.to_string();
        ensure!(
            !text.contains("6*7") && !text.contains("stty"),
            "keystrokes never reach the audit log: {text}"
        );

        // A VIEWER's token is refused.
        let viewer_token = viewer_token(&app, &token).await?;
        let mut refused = TerminalClient::open(&app, &query, &viewer_token, 80, 24).await?;
        let error = refused.wait_control("error", WAIT).await?;
        ensure!(error["code"] == "FORBIDDEN", "viewer: {error}");
        let (code, _) = refused.wait_closed(WAIT).await?;
        ensure!(code == Some(4403), "viewer closed with 4403: {code:?}");

        // A stopped container: CONFLICT, the message says it is not running.
        container_action(&app, "stopContainer", &id, None).await?;
        wait_container_status(&app, &id, "STOPPED", Duration::from_secs(60)).await?;
        let mut stopped = TerminalClient::open(&app, &query, &token, 80, 24).await?;
        let error = stopped.wait_control("error", WAIT).await?;
        let message = error["message"].as_str().unwrap_or_default();
        ensure!(
            error["code"] == "CONFLICT"
                && (message.contains("not running") || message.contains("no Docker container")),
            "stopped: {error}"
        );
        let (code, _) = stopped.wait_closed(WAIT).await?;
        ensure!(code == Some(4409), "stopped closed with 4409: {code:?}");
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// An API token of a new VIEWER (the app's cookie client logs in as it to create the token, then back as admin).
async fn viewer_token(app: &berth_tests::app::TestApp, token: &str) -> Result<String> {
    let body = app
        .graphql_with_token(
            token,
            "mutation C($p: String!) { createUser(username: \"terminal-viewer\", password: $p, role: VIEWER) { id } }",
            json!({ "p": "a-long-password" }),
        )
        .await?;
    data(&body).with_context(|| format!("{body}"))?;
    app.login_as("terminal-viewer", "a-long-password").await?;
    let body = app
        .graphql(
            "mutation { createApiToken(name: \"viewer terminal\") { secret } }",
            json!({}),
        )
        .await?;
    let secret: Value =
        data(&body).with_context(|| format!("{body}"))?["createApiToken"]["secret"].clone();
    app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    secret
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("a token secret: {body}"))
}
