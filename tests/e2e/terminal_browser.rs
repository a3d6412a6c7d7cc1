//! The terminal in headless Chromium: from a running instance's row on the container page, the dialog connects,
//! `echo $((6*7))` typed into xterm.js shows 42 in its rows (`.xterm-rows`), a smaller window gives the process
//! a smaller terminal (the fit addon's resize reaches the engine), `exit 3` ends the session with "Session ended
//! (exit code 3)", and closing the dialog leaves the page as it was.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME};
use berth_tests::browser::{click, submit_login, wait_for_text_containing, wait_gone};
use berth_tests::containers::{container_action, create_container, wait_container_status};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, poll};
use berth_tests::{TestApp, TestEnv, screenshot, spawn_app, wait_for, wait_for_path};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, Locator};
use serde_json::json;

/// How long the page may take to show what a step waits for.
const PAGE: Duration = Duration::from_secs(20);

/// The scenario; see the module docs.
pub async fn terminal_from_the_container_page(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = match env.browser().await {
        Ok(client) => {
            let outcome = journey(&client, &app, env).await;
            if outcome.is_err() {
                let _ = screenshot(&client, "failed-terminal-browser.png").await;
            }
            let _ = client.close().await;
            outcome
        }
        Err(e) => Err(e),
    };
    app.finish(outcome).await
}

async fn journey(client: &Client, app: &TestApp, env: &TestEnv) -> Result<()> {
    app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    let h1 = env.host("h1")?;
    let host = add_host(app, engine_input(&h1.name, h1)).await?;
    ensure!(host["status"] == "UP", "h1: {host}");
    let image = env.registry.reference("tools/busybox:1.35");
    let c = create_container(
        app,
        json!({ "name": "shell", "image": image, "command": ["sleep", "600"], "hostId": host["id"] }),
    )
    .await?;
    let id = c["id"].as_str().unwrap_or_default().to_owned();
    container_action(app, "runContainer", &id, None).await?;
    wait_container_status(app, &id, "RUNNING", Duration::from_secs(60)).await?;

    client
        .goto(&app.url(&format!("/containers/{id}")))
        .await
        .context("opening the container page")?;
    wait_for_path(client, "/login", PAGE).await?;
    submit_login(client, ADMIN_USERNAME, ADMIN_PASSWORD, PAGE).await?;
    wait_for_path(client, &format!("/containers/{id}"), PAGE).await?;

    click(
        client,
        "tr.instance-row button.instance-terminal:not([disabled])",
        PAGE,
    )
    .await?;
    wait_for(client, "#terminal-dialog .xterm-rows", PAGE).await?;
    wait_for_text_containing(client, "#terminal-status", "Connected", PAGE).await?;
    type_line(client, "echo $((6*7))").await?;
    row_with(client, "42").await?;
    screenshot(client, "terminal.png").await?;

    // The size the process sees follows the window (fit addon → resize message → the engine).
    let before = stty_size(client).await?;
    client
        .set_window_size(900, 640)
        .await
        .context("resizing the window")?;
    let after = poll(
        "a smaller terminal after the window shrank",
        PAGE,
        Duration::from_millis(300),
        || {
            let before = before.clone();
            async move {
                let now = stty_size(client).await?;
                Ok(if now != before {
                    Probe::Ready(now)
                } else {
                    Probe::NotYet(format!("still {now}"))
                })
            }
        },
    )
    .await?;
    let cols = |size: &str| -> u32 {
        size.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    };
    ensure!(
        cols(&after) < cols(&before),
        "fewer columns in a narrower window: {before} → {after}"
    );
    screenshot(client, "terminal-resized.png").await?;

    type_line(client, "exit 3").await?;
    wait_for_text_containing(
        client,
        "#terminal-status",
        "Session ended (exit code 3)",
        PAGE,
    )
    .await?;
    click(client, "#terminal-close", PAGE).await?;
    wait_gone(client, "#terminal-dialog", PAGE).await?;
    wait_for(client, "table#container-instances", PAGE).await?;
    Ok(())
}

/// Types `line` and Enter into xterm.js: a click on its screen focuses its hidden textarea (which WebDriver does
/// not count as interactable), then the keys go to the focused element as real key presses.
async fn type_line(client: &Client, line: &str) -> Result<()> {
    click(client, "#terminal-dialog .xterm-screen", PAGE).await?;
    let mut keys = KeyActions::new("keyboard".to_owned());
    for key in line.chars().chain(['\u{E007}']) {
        keys = keys
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
    }
    client
        .perform_actions(keys)
        .await
        .with_context(|| format!("typing {line:?}"))
}

/// Waits for a row of the terminal whose text is exactly `text` (trimmed); returns how many rows say it.
async fn row_with(client: &Client, text: &str) -> Result<usize> {
    poll(
        &format!("a terminal row saying {text:?}"),
        PAGE,
        Duration::from_millis(100),
        || async move {
            let rows = client
                .find_all(Locator::Css("#terminal-dialog .xterm-rows > div"))
                .await
                .context("reading the terminal's rows")?;
            let mut seen = Vec::new();
            for row in rows {
                let t = row.text().await.unwrap_or_default();
                if !t.trim().is_empty() {
                    seen.push(t.trim().to_owned());
                }
            }
            let count = seen.iter().filter(|t| *t == text).count();
            Ok(if count > 0 {
                Probe::Ready(count)
            } else {
                Probe::NotYet(format!("rows {seen:?}"))
            })
        },
    )
    .await
}

/// Runs `stty size` in the terminal and reads its answer ("<rows> <cols>") from the newest row that looks like it.
async fn stty_size(client: &Client) -> Result<String> {
    let marker = "size:";
    type_line(client, &format!("echo {marker}$(stty size)")).await?;
    poll(
        "stty size's answer",
        PAGE,
        Duration::from_millis(100),
        || async move {
            let rows = client
                .find_all(Locator::Css("#terminal-dialog .xterm-rows > div"))
                .await
                .context("reading the terminal's rows")?;
            let mut last = None;
            for row in rows {
                let t = row.text().await.unwrap_or_default();
                let t = t.trim();
                if let Some(size) = t.strip_prefix(marker) {
                    last = Some(size.trim().to_owned());
                }
            }
            Ok(match last {
                Some(size) if !size.is_empty() => Probe::Ready(size),
                _ => Probe::NotYet("no answer yet".to_owned()),
            })
        },
    )
    .await
}
