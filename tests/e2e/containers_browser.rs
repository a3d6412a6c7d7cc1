//! The Containers tab in headless Chromium: the empty state points to Hosts; a container defined in the dialog
//! (a bad port is flagged beside its field as you type, a taken name beside the name) runs on "any host" and its
//! badge turns RUNNING by itself; an edit marks it "changed since start" until Apply now; an edit that lost a race
//! offers to reload; the detail page streams its log; Stop turns it STOPPED; Delete removes it.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, data};
use berth_tests::browser::{
    click, fill, input_value, submit_login, wait_for_text_containing, wait_gone,
};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, free_port, poll};
use berth_tests::{TestApp, TestEnv, screenshot, spawn_app, wait_for, wait_for_path};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

/// How long the page may take to show what a step waits for (the first load compiles the .wasm).
const PAGE: Duration = Duration::from_secs(20);
/// How long a container may take to run: placement, a pull from the local registry, create and start.
const RUN: Duration = Duration::from_secs(60);
/// What the container prints first, to be found in the log view.
const GREETING: &str = "hello-from-berth-e2e";
/// The row of the container the scenario defines.
const ROW: &str = r#"tr.container-row[data-container-name="web"]"#;

/// Waits until the status badge under `scope` shows `status` (the wire name), within `timeout`.
async fn badge(client: &Client, scope: &str, status: &str, timeout: Duration) -> Result<()> {
    let css = format!(r#"{scope} span.container-status[data-status="{status}"]"#);
    wait_for(client, &css, timeout).await.map(|_| ())
}

/// The scenario from the empty page to a deleted container; see the module docs.
pub async fn containers_run_logs_stop(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let client = match env.browser().await {
        Ok(client) => client,
        Err(e) => return app.finish(Err(e)).await,
    };
    let outcome = journey(&client, &app, env).await;
    if outcome.is_err() {
        let _ = screenshot(&client, "failed-browser-containers.png").await;
    }
    let _ = client.close().await;
    app.finish(outcome).await
}

async fn journey(client: &Client, app: &TestApp, env: &TestEnv) -> Result<()> {
    client
        .goto(&app.url("/containers"))
        .await
        .context("opening /containers")?;
    wait_for_path(client, "/login", PAGE).await?;
    submit_login(client, ADMIN_USERNAME, ADMIN_PASSWORD, PAGE).await?;
    wait_for(client, "nav#tabs", PAGE).await?;
    click(client, "a#tab-containers", PAGE).await?;
    wait_for_path(client, "/containers", PAGE).await?;

    // No host yet: the empty state sends the user to Hosts.
    wait_for(client, "a#container-add-host", PAGE).await?;
    screenshot(client, "containers-empty-no-host.png").await?;

    // A host (h1, a unix socket: its ports are reached on the page's own host name) and the open registry,
    // whose images the dialog suggests.
    app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    add_host(app, engine_input("h1", env.host("h1")?)).await?;
    let body = app
        .graphql(
            "mutation Add($input: RegistryInput!) { addRegistry(input: $input) { id } }",
            json!({ "input": {
                "name": "local", "url": env.registry.url, "kind": "V2", "insecure": true,
                "refreshIntervalSeconds": 0,
            } }),
        )
        .await?;
    data(&body).context("addRegistry")?;
    poll(
        "the registry to be listed",
        PAGE,
        Duration::from_millis(100),
        || async {
            let body = app.graphql("{ registries { status } }", json!({})).await?;
            let status = data(&body)?["registries"][0]["status"].clone();
            Ok(if status == "OK" {
                Probe::Ready(())
            } else {
                Probe::NotYet(format!("status {status}"))
            })
        },
    )
    .await?;
    client.refresh().await.context("reloading /containers")?;
    wait_for(client, "button#container-new-first", PAGE).await?;
    screenshot(client, "containers-empty.png").await?;

    let image = env.registry.reference("tools/busybox:1.35");
    let port = free_port()?;
    define(client, &image, port).await?;

    badge(client, ROW, "STOPPED", PAGE).await?;
    let limits = wait_for_text_containing(
        client,
        &format!("{ROW} td.container-limits"),
        "64 MiB",
        PAGE,
    )
    .await?;
    ensure!(limits.contains("0.5 CPU"), "limits cell: {limits}");

    // The name is taken: the server's CONFLICT lands beside the name.
    click(client, "button#container-new", PAGE).await?;
    fill(client, "#container-name", "web", PAGE).await?;
    fill(client, "#container-image", &image, PAGE).await?;
    click(client, "#container-save", PAGE).await?;
    wait_for(client, "#container-name.invalid", PAGE).await?;
    wait_for_text_containing(client, "#container-name-help", "exists already", PAGE).await?;
    screenshot(client, "container-dialog-name-taken.png").await?;
    click(client, "#container-cancel", PAGE).await?;
    wait_gone(client, "form#container-dialog", PAGE).await?;

    // Run on any host: the badge turns RUNNING by itself (live feed, no reload).
    click(client, &format!("{ROW} button.container-run"), PAGE).await?;
    wait_for(client, "button.run-on[data-host-name=\"h1\"]", PAGE).await?;
    screenshot(client, "container-run-menu.png").await?;
    click(client, "button.run-any", PAGE).await?;
    badge(client, ROW, "RUNNING", RUN).await?;
    let link = wait_for(client, &format!("{ROW} a.port-link"), PAGE).await?;
    let href = link.attr("href").await?.unwrap_or_default();
    ensure!(
        href == format!("http://127.0.0.1:{port}/"),
        "port link {href:?}, expected the page's host and port {port}"
    );
    let hosts =
        wait_for_text_containing(client, &format!("{ROW} td.container-hosts"), "h1", PAGE).await?;
    ensure!(hosts.trim() == "h1", "hosts cell: {hosts}");
    screenshot(client, "containers-running.png").await?;
    // The published port answers (httpd; any HTTP status will do).
    let reached = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?
        .get(&href)
        .send()
        .await;
    ensure!(reached.is_ok(), "GET {href}: {reached:?}");

    edit_and_apply(client, &image, port).await?;
    lost_race(client, app, &image, port).await?;

    // The detail page: the instance and its live log.
    click(client, &format!("{ROW} a.container-link"), PAGE).await?;
    wait_for(client, "h1#container-title", PAGE).await?;
    wait_for(client, r#"tr.instance-row[data-status="RUNNING"]"#, PAGE).await?;
    wait_for_text_containing(
        client,
        r#"#container-logs div.log-line[data-stream="stdout"]"#,
        GREETING,
        PAGE,
    )
    .await?;
    screenshot(client, "container-detail.png").await?;

    // Stop: STOPPED arrives on the feed.
    click(
        client,
        "header.container-header button.container-stop",
        PAGE,
    )
    .await?;
    badge(client, "header.container-header", "STOPPED", RUN).await?;
    wait_for(client, r#"tr.instance-row[data-status="STOPPED"]"#, PAGE).await?;
    screenshot(client, "container-stopped.png").await?;

    // Back to the list: stopped there too; then delete it (confirmed).
    click(client, "a.back-link", PAGE).await?;
    badge(client, ROW, "STOPPED", PAGE).await?;
    click(client, &format!("{ROW} button.container-delete"), PAGE).await?;
    click(client, "button#confirm-ok", PAGE).await?;
    wait_gone(client, ROW, PAGE).await?;
    wait_for(client, "button#container-new-first", PAGE).await?;
    screenshot(client, "containers-deleted.png").await?;

    // The API agrees with the page.
    let body = app
        .graphql("{ containers { totalCount } }", json!({}))
        .await?;
    ensure!(
        data(&body)?["containers"]["totalCount"] == 0,
        "containers left: {body}"
    );
    Ok(())
}

/// Defines `web` in the dialog: a bad port is flagged beside its field before anything is sent.
async fn define(client: &Client, image: &str, port: u16) -> Result<()> {
    click(client, "button#container-new", PAGE).await?;
    wait_for(client, "form#container-dialog", PAGE).await?;
    // The registries' images are suggested for the image field.
    let suggestion = format!(r#"datalist#container-image-options option[value="{image}"]"#);
    poll(
        "the image suggestion",
        PAGE,
        Duration::from_millis(100),
        || async {
            let found = client.find_all(Locator::Css(&suggestion)).await?;
            Ok(if found.is_empty() {
                Probe::NotYet("not in the datalist".to_owned())
            } else {
                Probe::Ready(())
            })
        },
    )
    .await?;
    fill(client, "#container-name", "web", PAGE).await?;
    fill(client, "#container-image", image, PAGE).await?;
    fill(
        client,
        "#container-command",
        &format!("sh -c 'echo {GREETING}; exec httpd -f -p 80'"),
        PAGE,
    )
    .await?;
    click(client, "#container-add-env", PAGE).await?;
    fill(client, "input.env-name", "GREETING", PAGE).await?;
    fill(client, "input.env-value", "hello world", PAGE).await?;
    click(client, "#container-add-port", PAGE).await?;
    fill(client, "input.port-input", "99999:80", PAGE).await?;
    wait_for(client, "input.port-input.invalid", PAGE).await?;
    let error =
        wait_for_text_containing(client, ".port-row .field-error", "out of range", PAGE).await?;
    ensure!(error.contains("99999"), "port error: {error}");
    let save = wait_for(client, "#container-save", PAGE).await?;
    ensure!(!save.is_enabled().await?, "Save is enabled with a bad port");
    screenshot(client, "container-dialog-bad-port.png").await?;
    fill(client, "input.port-input", &format!("{port}:80"), PAGE).await?;
    wait_gone(client, "input.port-input.invalid", PAGE).await?;
    wait_for_text_containing(
        client,
        ".port-row .field-hint",
        "container port 80/tcp",
        PAGE,
    )
    .await?;
    fill(client, "#container-cpus", "0.5", PAGE).await?;
    fill(client, "#container-memory", "64m", PAGE).await?;
    wait_for_text_containing(client, "#container-memory-help", "64 MiB", PAGE).await?;
    screenshot(client, "container-dialog.png").await?;
    click(client, "#container-save", PAGE).await?;
    wait_gone(client, "form#container-dialog", PAGE).await
}

/// Edit shows the saved definition; saving a change while it runs marks the row "changed since start" until
/// Apply now runs it again.
async fn edit_and_apply(client: &Client, image: &str, port: u16) -> Result<()> {
    click(client, &format!("{ROW} button.container-edit"), PAGE).await?;
    wait_for(client, "form#container-dialog", PAGE).await?;
    let shown = [
        input_value(client, "#container-name", PAGE).await?,
        input_value(client, "#container-image", PAGE).await?,
        input_value(client, "#container-memory", PAGE).await?,
        input_value(client, "#container-cpus", PAGE).await?,
        input_value(client, "input.port-input", PAGE).await?,
        input_value(client, "input.env-value", PAGE).await?,
    ];
    let expected = [
        "web".to_owned(),
        image.to_owned(),
        "64m".to_owned(),
        "0.5".to_owned(),
        format!("{port}:80"),
        "hello world".to_owned(),
    ];
    ensure!(shown == expected, "the edit dialog shows {shown:?}");
    let command = input_value(client, "#container-command", PAGE).await?;
    ensure!(
        command == format!("sh -c 'echo {GREETING}; exec httpd -f -p 80'"),
        "command shown as {command:?}"
    );
    fill(client, "input.env-value", "hello again", PAGE).await?;
    click(client, "#container-save", PAGE).await?;
    wait_gone(client, "form#container-dialog", PAGE).await?;
    wait_for(client, &format!("{ROW} button.container-apply"), PAGE).await?;
    screenshot(client, "container-changed.png").await?;
    click(client, &format!("{ROW} button.container-apply"), PAGE).await?;
    wait_gone(client, &format!("{ROW} .changed-marker"), RUN).await?;
    badge(client, ROW, "RUNNING", RUN).await
}

/// Someone else saves while the dialog is open: saving answers CONFLICT, the dialog says so and Reload shows
/// their version.
async fn lost_race(client: &Client, app: &TestApp, image: &str, port: u16) -> Result<()> {
    click(client, &format!("{ROW} button.container-edit"), PAGE).await?;
    wait_for(client, "form#container-dialog", PAGE).await?;
    let body = app
        .graphql(
            "{ containers { edges { node { id version } } } }",
            json!({}),
        )
        .await?;
    let node: Value = data(&body)?["containers"]["edges"][0]["node"].clone();
    let body = app
        .graphql(
            "mutation U($id: ID!, $version: Int!, $input: ContainerInput!) { \
             updateContainer(id: $id, version: $version, input: $input) { version } }",
            json!({ "id": node["id"], "version": node["version"], "input": {
                "name": "web", "image": image,
                "command": ["sh", "-c", format!("echo {GREETING}; exec httpd -f -p 80")],
                "env": [{ "name": "GREETING", "value": "hello again" }],
                "ports": [{ "containerPort": 80, "hostPort": port }],
                "resources": { "cpus": 0.5, "memory": "128m" },
            } }),
        )
        .await?;
    data(&body).context("updateContainer from the side")?;
    fill(client, "#container-cpus", "1", PAGE).await?;
    click(client, "#container-save", PAGE).await?;
    wait_for_text_containing(client, "#container-conflict", "Someone saved", PAGE).await?;
    screenshot(client, "container-dialog-conflict.png").await?;
    click(client, "#container-reload", PAGE).await?;
    wait_gone(client, "#container-conflict", PAGE).await?;
    let memory = input_value(client, "#container-memory", PAGE).await?;
    ensure!(memory == "128m", "memory after reload: {memory:?}");
    click(client, "#container-cancel", PAGE).await?;
    wait_gone(client, "form#container-dialog", PAGE).await
}
