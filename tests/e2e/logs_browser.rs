//! The log view in headless Chromium on the container page: stdout and stderr lines told apart (stderr red with
//! its `err` label), each line timed and the times hidden by the toggle, the search box narrowing the feed on the
//! server to the matching lines, and the download link fetching the chosen range as a file with both streams.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME};
use berth_tests::browser::{choose, click, fill, submit_login};
use berth_tests::containers::{container_action, create_container, wait_container_status};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, poll};
use berth_tests::{TestApp, TestEnv, screenshot, spawn_app, wait_for, wait_for_path};
use fantoccini::Client;
use serde_json::{Value, json};

/// How long the page may take to show what a step waits for.
const PAGE: Duration = Duration::from_secs(20);

/// The scenario; see the module docs.
pub async fn search_stderr_and_download(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = match env.browser().await {
        Ok(client) => {
            let outcome = journey(&client, &app, env).await;
            if outcome.is_err() {
                let _ = screenshot(&client, "failed-logs-browser.png").await;
            }
            let _ = client.close().await;
            outcome
        }
        Err(e) => Err(e),
    };
    app.finish(outcome).await
}

/// The log view's lines as `[stream, text, time shown]`.
async fn lines(client: &Client) -> Result<Vec<Value>> {
    let found = client
        .execute(
            "return Array.from(document.querySelectorAll('#container-logs .log-line')).map(l => [\
               l.dataset.stream, l.querySelector('.log-text').textContent, \
               getComputedStyle(l.querySelector('.log-time')).display !== 'none']);",
            vec![],
        )
        .await
        .context("reading the log lines")?;
    Ok(found.as_array().cloned().unwrap_or_default())
}

/// Scrolls the log panel into view (for the screenshots).
async fn show_panel(client: &Client) -> Result<()> {
    client
        .execute(
            "document.querySelector('.log-panel').scrollIntoView({ block: 'center' });",
            vec![],
        )
        .await
        .context("scrolling to the logs")?;
    Ok(())
}

async fn journey(client: &Client, app: &TestApp, env: &TestEnv) -> Result<()> {
    app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    let h1 = env.host("h1")?;
    let host = add_host(app, engine_input(&h1.name, h1)).await?;
    ensure!(host["status"] == "UP", "h1: {host}");
    let image = env.registry.reference("tools/busybox:1.35");
    let c = create_container(
        app,
        json!({ "name": "log-viewer", "image": image, "hostId": host["id"], "command": ["sh", "-c",
            "for i in $(seq 1 20); do echo \"out $i apple\"; echo \"err $i banana\" >&2; done; exec sleep 600"] }),
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

    // Both streams, 40 lines, each timed; stderr red and labelled.
    poll("40 log lines", PAGE, Duration::from_millis(200), || async {
        let now = lines(client).await?;
        Ok(if now.len() == 40 {
            Probe::Ready(())
        } else {
            Probe::NotYet(format!("{} lines", now.len()))
        })
    })
    .await?;
    let all = lines(client).await?;
    ensure!(
        all.iter().filter(|l| l[0] == "stderr").count() == 20 && all.iter().all(|l| l[2] == true),
        "20 stderr lines, all timed: {all:?}"
    );
    let style = client
        .execute(
            "const l = document.querySelector('#container-logs .log-line[data-stream=stderr]'); \
             const o = document.querySelector('#container-logs .log-line[data-stream=stdout]'); \
             return [getComputedStyle(l).borderLeftColor, getComputedStyle(o).borderLeftColor, \
                     l.querySelector('.log-stream').textContent, o.querySelector('.log-stream').textContent];",
            vec![],
        )
        .await?;
    ensure!(
        style[0] != style[1] && style[2] == "err" && style[3] == "out",
        "stderr styled apart and labelled: {style}"
    );
    show_panel(client).await?;
    screenshot(client, "logs.png").await?;

    // The search narrows on the server: only the banana (stderr) lines stay.
    fill(client, "#container-logs-search", "BANANA", PAGE).await?;
    poll(
        "only the 20 banana lines",
        PAGE,
        Duration::from_millis(200),
        || async {
            let now = lines(client).await?;
            let narrowed = now.len() == 20
                && now.iter().all(|l| {
                    l[0] == "stderr" && l[1].as_str().is_some_and(|t| t.contains("banana"))
                });
            Ok(if narrowed {
                Probe::Ready(())
            } else {
                Probe::NotYet(format!("{} lines: {now:?}", now.len()))
            })
        },
    )
    .await?;
    wait_for(client, ".log-search-note", PAGE).await?;

    // The download link: the last 15 minutes, fetched as the browser would (the session cookie).
    choose(client, "#container-logs-range", "15m", PAGE).await?;
    let fetched = client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             const a = document.querySelector('#container-logs-download'); \
             const stop = e => e.preventDefault(); \
             document.addEventListener('click', stop, { once: true }); \
             a.click(); \
             fetch(a.getAttribute('href')).then(r => r.text().then(t => \
               done([a.getAttribute('href'), r.status, r.headers.get('content-disposition'), t])));",
            vec![],
        )
        .await
        .context("fetching the download link")?;
    let href = fetched[0].as_str().unwrap_or_default();
    let text = fetched[3].as_str().unwrap_or_default();
    ensure!(
        href.starts_with("/api/logs?instanceId=") && href.contains("&since="),
        "a link to the last 15 minutes: {fetched}"
    );
    ensure!(
        fetched[1] == 200
            && fetched[2]
                .as_str()
                .is_some_and(|d| d.contains("attachment") && d.contains("log-viewer-0_")),
        "an attachment: {fetched}"
    );
    ensure!(
        text.lines().count() == 40
            && text.lines().any(|l| l.ends_with(" stderr err 7 banana"))
            && text.lines().any(|l| l.ends_with(" stdout out 7 apple")),
        "the file holds both streams with times: {text}"
    );

    // Times off.
    click(client, "#container-logs-times", PAGE).await?;
    poll("times hidden", PAGE, Duration::from_millis(200), || async {
        let now = lines(client).await?;
        Ok(if !now.is_empty() && now.iter().all(|l| l[2] == false) {
            Probe::Ready(())
        } else {
            Probe::NotYet(format!("{now:?}"))
        })
    })
    .await?;
    show_panel(client).await?;
    screenshot(client, "logs-searched.png").await?;

    Ok(())
}
