//! The Containers tab in headless Chromium: the empty state points to Hosts; a container defined in the dialog
//! (a bad port is flagged beside its field as you type, a taken name beside the name) runs on "any host" and its
//! badge turns RUNNING by itself; an edit marks it "changed since start" until Apply now; an edit that lost a race
//! offers to reload; the detail page streams its log; Stop turns it STOPPED; Delete removes it.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, data};
use berth_tests::browser::wait_gone;
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

/// The browser, with the few gestures the scenario needs.
struct Page<'a> {
    client: &'a Client,
}

impl Page<'_> {
    async fn fill(&self, css: &str, text: &str) -> Result<()> {
        let input = wait_for(self.client, css, PAGE).await?;
        input
            .clear()
            .await
            .with_context(|| format!("clearing {css}"))?;
        input
            .send_keys(text)
            .await
            .with_context(|| format!("typing into {css}"))
    }

    async fn press(&self, css: &str) -> Result<()> {
        let button = wait_for(self.client, css, PAGE).await?;
        button
            .click()
            .await
            .with_context(|| format!("clicking {css}"))
    }

    /// The current value of an input.
    async fn value(&self, css: &str) -> Result<String> {
        let input = wait_for(self.client, css, PAGE).await?;
        Ok(input.prop("value").await?.unwrap_or_default())
    }

    /// Polls until an element matching `css` has `needle` in its text.
    async fn text_with(&self, css: &str, needle: &str) -> Result<String> {
        poll(
            &format!("`{css}` containing {needle:?}"),
            PAGE,
            Duration::from_millis(100),
            || async {
                let mut seen = Vec::new();
                for element in self.client.find_all(Locator::Css(css)).await? {
                    let text = element.text().await.unwrap_or_default();
                    if text.contains(needle) {
                        return Ok(Probe::Ready(text));
                    }
                    seen.push(text);
                }
                Ok(Probe::NotYet(format!("saw {seen:?}")))
            },
        )
        .await
    }

    /// Waits until the status badge under `scope` shows `status` (the wire name), within `timeout`.
    async fn badge(&self, scope: &str, status: &str, timeout: Duration) -> Result<()> {
        let css = format!(r#"{scope} span.container-status[data-status="{status}"]"#);
        wait_for(self.client, &css, timeout).await.map(|_| ())
    }

    async fn shot(&self, name: &str) -> Result<()> {
        screenshot(self.client, name).await.map(|_| ())
    }
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
    let page = Page { client };
    client
        .goto(&app.url("/containers"))
        .await
        .context("opening /containers")?;
    wait_for_path(client, "/login", PAGE).await?;
    page.fill("input#username", ADMIN_USERNAME).await?;
    page.fill("input#password", ADMIN_PASSWORD).await?;
    page.press("button#login-submit").await?;
    wait_for(client, "nav#tabs", PAGE).await?;
    page.press("a#tab-containers").await?;
    wait_for_path(client, "/containers", PAGE).await?;

    // No host yet: the empty state sends the user to Hosts.
    wait_for(client, "a#container-add-host", PAGE).await?;
    page.shot("containers-empty-no-host.png").await?;

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
    page.shot("containers-empty.png").await?;

    let image = env.registry.reference("tools/busybox:1.35");
    let port = free_port()?;
    define(&page, &image, port).await?;

    page.badge(ROW, "STOPPED", PAGE).await?;
    let limits = page
        .text_with(&format!("{ROW} td.container-limits"), "64 MiB")
        .await?;
    ensure!(limits.contains("0.5 CPU"), "limits cell: {limits}");

    // The name is taken: the server's CONFLICT lands beside the name.
    page.press("button#container-new").await?;
    page.fill("#container-name", "web").await?;
    page.fill("#container-image", &image).await?;
    page.press("#container-save").await?;
    wait_for(client, "#container-name.invalid", PAGE).await?;
    page.text_with("#container-name-help", "exists already")
        .await?;
    page.shot("container-dialog-name-taken.png").await?;
    page.press("#container-cancel").await?;
    wait_gone(client, "form#container-dialog", PAGE).await?;

    // Run on any host: the badge turns RUNNING by itself (live feed, no reload).
    page.press(&format!("{ROW} button.container-run")).await?;
    wait_for(client, "button.run-on[data-host-name=\"h1\"]", PAGE).await?;
    page.shot("container-run-menu.png").await?;
    page.press("button.run-any").await?;
    page.badge(ROW, "RUNNING", RUN).await?;
    let link = wait_for(client, &format!("{ROW} a.port-link"), PAGE).await?;
    let href = link.attr("href").await?.unwrap_or_default();
    ensure!(
        href == format!("http://127.0.0.1:{port}/"),
        "port link {href:?}, expected the page's host and port {port}"
    );
    let hosts = page
        .text_with(&format!("{ROW} td.container-hosts"), "h1")
        .await?;
    ensure!(hosts.trim() == "h1", "hosts cell: {hosts}");
    page.shot("containers-running.png").await?;
    // The published port answers (httpd; any HTTP status will do).
    let reached = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?
        .get(&href)
        .send()
        .await;
    ensure!(reached.is_ok(), "GET {href}: {reached:?}");

    edit_and_apply(&page, &image, port).await?;
    lost_race(&page, app, &image, port).await?;

    // The detail page: the instance and its live log.
    page.press(&format!("{ROW} a.container-link")).await?;
    wait_for(client, "h1#container-title", PAGE).await?;
    wait_for(client, r#"tr.instance-row[data-status="RUNNING"]"#, PAGE).await?;
    page.text_with(
        r#"#container-logs div.log-line[data-stream="stdout"]"#,
        GREETING,
    )
    .await?;
    page.shot("container-detail.png").await?;

    // Stop: STOPPED arrives on the feed.
    page.press("header.container-header button.container-stop")
        .await?;
    page.badge("header.container-header", "STOPPED", RUN)
        .await?;
    wait_for(client, r#"tr.instance-row[data-status="STOPPED"]"#, PAGE).await?;
    page.shot("container-stopped.png").await?;

    // Back to the list: stopped there too; then delete it (confirmed).
    page.press("a.back-link").await?;
    page.badge(ROW, "STOPPED", PAGE).await?;
    page.press(&format!("{ROW} button.container-delete"))
        .await?;
    page.press("button#confirm-ok").await?;
    wait_gone(client, ROW, PAGE).await?;
    wait_for(client, "button#container-new-first", PAGE).await?;
    page.shot("containers-deleted.png").await?;

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
async fn define(page: &Page<'_>, image: &str, port: u16) -> Result<()> {
    let client = page.client;
    page.press("button#container-new").await?;
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
    page.fill("#container-name", "web").await?;
    page.fill("#container-image", image).await?;
    page.fill(
        "#container-command",
        &format!("sh -c 'echo {GREETING}; exec httpd -f -p 80'"),
    )
    .await?;
    page.press("#container-add-env").await?;
    page.fill("input.env-name", "GREETING").await?;
    page.fill("input.env-value", "hello world").await?;
    page.press("#container-add-port").await?;
    page.fill("input.port-input", "99999:80").await?;
    wait_for(client, "input.port-input.invalid", PAGE).await?;
    let error = page
        .text_with(".port-row .field-error", "out of range")
        .await?;
    ensure!(error.contains("99999"), "port error: {error}");
    let save = wait_for(client, "#container-save", PAGE).await?;
    ensure!(!save.is_enabled().await?, "Save is enabled with a bad port");
    page.shot("container-dialog-bad-port.png").await?;
    page.fill("input.port-input", &format!("{port}:80")).await?;
    wait_gone(client, "input.port-input.invalid", PAGE).await?;
    page.text_with(".port-row .field-hint", "container port 80/tcp")
        .await?;
    page.fill("#container-cpus", "0.5").await?;
    page.fill("#container-memory", "64m").await?;
    page.text_with("#container-memory-help", "64 MiB").await?;
    page.shot("container-dialog.png").await?;
    page.press("#container-save").await?;
    wait_gone(client, "form#container-dialog", PAGE).await
}

/// Edit shows the saved definition; saving a change while it runs marks the row "changed since start" until
/// Apply now runs it again.
async fn edit_and_apply(page: &Page<'_>, image: &str, port: u16) -> Result<()> {
    let client = page.client;
    page.press(&format!("{ROW} button.container-edit")).await?;
    wait_for(client, "form#container-dialog", PAGE).await?;
    let shown = [
        page.value("#container-name").await?,
        page.value("#container-image").await?,
        page.value("#container-memory").await?,
        page.value("#container-cpus").await?,
        page.value("input.port-input").await?,
        page.value("input.env-value").await?,
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
    let command = page.value("#container-command").await?;
    ensure!(
        command == format!("sh -c 'echo {GREETING}; exec httpd -f -p 80'"),
        "command shown as {command:?}"
    );
    page.fill("input.env-value", "hello again").await?;
    page.press("#container-save").await?;
    wait_gone(client, "form#container-dialog", PAGE).await?;
    wait_for(client, &format!("{ROW} button.container-apply"), PAGE).await?;
    page.shot("container-changed.png").await?;
    page.press(&format!("{ROW} button.container-apply")).await?;
    wait_gone(client, &format!("{ROW} .changed-marker"), RUN).await?;
    page.badge(ROW, "RUNNING", RUN).await
}

/// Someone else saves while the dialog is open: saving answers CONFLICT, the dialog says so and Reload shows
/// their version.
async fn lost_race(page: &Page<'_>, app: &TestApp, image: &str, port: u16) -> Result<()> {
    let client = page.client;
    page.press(&format!("{ROW} button.container-edit")).await?;
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
    page.fill("#container-cpus", "1").await?;
    page.press("#container-save").await?;
    page.text_with("#container-conflict", "Someone saved")
        .await?;
    page.shot("container-dialog-conflict.png").await?;
    page.press("#container-reload").await?;
    wait_gone(client, "#container-conflict", PAGE).await?;
    let memory = page.value("#container-memory").await?;
    ensure!(memory == "128m", "memory after reload: {memory:?}");
    page.press("#container-cancel").await?;
    wait_gone(client, "form#container-dialog", PAGE).await
}
