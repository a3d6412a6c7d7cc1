//! Replication and disks in headless Chromium: a container defined with one replica (the replicas field checked
//! as you type) runs on any host, is scaled to three in the table (− running/desired +), and its detail page
//! shows the three RUNNING instances grouped under h1, h2 and h3 without a reload; a VOLUME disk created on h1 in
//! the Storage tab (a forbidden host path flagged as you type, "Every host" only for host paths, a taken name
//! beside the name) is mounted at /data by a second container through its dialog, is listed as attached to it,
//! and cannot be deleted while mounted.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, data};
use berth_tests::browser::wait_gone;
use berth_tests::containers::{container_action, create_container};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, poll};
use berth_tests::{TestApp, TestEnv, screenshot, spawn_app, wait_for, wait_for_path};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

/// How long the page may take to show what a step waits for.
const PAGE: Duration = Duration::from_secs(20);
/// How long replicas may take to run: placement, a pull from the local registry on each host, create, start.
const RUN: Duration = Duration::from_secs(60);
/// The replicated container's row.
const SPREAD: &str = r#"tr.container-row[data-container-name="spread"]"#;
/// The disk's row on the Storage tab.
const DISK: &str = r#"tr.disk-row[data-disk-name="data"]"#;

/// The scenario; see the module docs.
pub async fn scale_in_table_and_mount_a_disk(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = match env.browser().await {
        Ok(client) => {
            let outcome = journey(&client, &app, env).await;
            if outcome.is_err() {
                let _ = screenshot(&client, "failed-replication-browser.png").await;
            }
            let _ = client.close().await;
            outcome
        }
        Err(e) => Err(e),
    };
    // Leave the engines as they were: the replicas would sleep for ten minutes.
    let _ = kill_all(&app).await;
    app.finish(outcome).await
}

/// Types `text` into the input `css` after clearing it.
async fn fill(client: &Client, css: &str, text: &str) -> Result<()> {
    let input = wait_for(client, css, PAGE).await?;
    input.clear().await?;
    input
        .send_keys(text)
        .await
        .with_context(|| format!("typing {text:?} into {css}"))
}

async fn press(client: &Client, css: &str) -> Result<()> {
    let element = wait_for(client, css, PAGE).await?;
    element
        .click()
        .await
        .with_context(|| format!("clicking {css}"))
}

/// Chooses the option with `value` in the select `css`, once that option is there.
async fn choose(client: &Client, css: &str, value: &str) -> Result<()> {
    wait_for(client, &format!(r#"{css} option[value="{value}"]"#), PAGE).await?;
    let select = wait_for(client, css, PAGE).await?;
    select
        .select_by_value(value)
        .await
        .with_context(|| format!("choosing {value:?} in {css}"))
}

/// Polls until an element matching `css` has `needle` in its text; returns the text.
async fn text_of(client: &Client, css: &str, needle: &str) -> Result<String> {
    poll(
        &format!("`{css}` showing {needle:?}"),
        PAGE,
        Duration::from_millis(100),
        || async {
            let mut texts = Vec::new();
            for element in client.find_all(Locator::Css(css)).await? {
                let text = element.text().await.unwrap_or_default();
                if text.contains(needle) {
                    return Ok(Probe::Ready(text));
                }
                texts.push(text);
            }
            Ok(Probe::NotYet(format!("texts {texts:?}")))
        },
    )
    .await
}

async fn shot(client: &Client, name: &str) -> Result<()> {
    screenshot(client, name).await.map(|_| ())
}

/// A screenshot with the element `css` scrolled to the middle of the window and the toasts closed.
async fn shot_at(client: &Client, css: &str, name: &str) -> Result<()> {
    client
        .execute(
            "document.querySelectorAll('.toast .icon-button').forEach((b) => b.click()); \
             document.querySelector(arguments[0]).scrollIntoView({ block: 'center' }); return true;",
            vec![json!(css)],
        )
        .await
        .with_context(|| format!("scrolling to {css}"))?;
    shot(client, name).await
}

async fn journey(client: &Client, app: &TestApp, env: &TestEnv) -> Result<()> {
    client
        .goto(&app.url("/containers"))
        .await
        .context("opening /containers")?;
    wait_for_path(client, "/login", PAGE).await?;
    fill(client, "input#username", ADMIN_USERNAME).await?;
    fill(client, "input#password", ADMIN_PASSWORD).await?;
    press(client, "button#login-submit").await?;
    wait_for(client, "nav#tabs", PAGE).await?;

    app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    let mut h1_id = String::new();
    for engine in &env.hosts {
        let host = add_host(app, engine_input(&engine.name, engine)).await?;
        ensure!(host["status"] == "UP", "{}: {host}", engine.name);
        if engine.name == "h1" {
            h1_id = host["id"].as_str().unwrap_or_default().to_owned();
        }
    }
    let image = env.registry.reference("tools/busybox:1.35");
    client.refresh().await.context("reloading /containers")?;

    define_spread(client, &image).await?;
    scale_to_three(client).await?;
    create_disk(client, &h1_id).await?;
    mount_the_disk(client, app, &image).await?;
    attached_and_kept(client).await?;
    waiting_for_replacement(client, app, &image).await
}

/// Defines `spread` with one replica (0 is flagged beside the field first) and runs it on any host.
async fn define_spread(client: &Client, image: &str) -> Result<()> {
    press(client, "button#container-new-first").await?;
    wait_for(client, "form#container-dialog", PAGE).await?;
    let replicas = wait_for(client, "#container-replicas", PAGE).await?;
    let value = replicas.prop("value").await?.unwrap_or_default();
    ensure!(
        value == "1",
        "a new container starts with {value:?} replicas"
    );
    fill(client, "#container-name", "spread").await?;
    fill(client, "#container-image", image).await?;
    fill(client, "#container-command", "sleep 600").await?;
    fill(client, "#container-replicas", "0").await?;
    wait_for(client, "#container-replicas.invalid", PAGE).await?;
    text_of(client, "#container-replicas-help", "between 1 and 100").await?;
    let save = wait_for(client, "#container-save", PAGE).await?;
    ensure!(!save.is_enabled().await?, "Save is enabled with 0 replicas");
    shot(client, "replication-dialog-bad-replicas.png").await?;
    fill(client, "#container-replicas", "1").await?;
    wait_gone(client, "#container-replicas.invalid", PAGE).await?;
    press(client, "#container-save").await?;
    wait_gone(client, "form#container-dialog", PAGE).await?;

    text_of(client, &format!("{SPREAD} .scale-count"), "0/1").await?;
    press(client, &format!("{SPREAD} button.container-run")).await?;
    press(client, "button.run-any").await?;
    wait_for(
        client,
        &format!(r#"{SPREAD} span.container-status[data-status="RUNNING"]"#),
        RUN,
    )
    .await?;
    text_of(client, &format!("{SPREAD} .scale-count"), "1/1").await?;
    shot(client, "replication-one-replica.png").await
}

/// Two clicks on + in the table, then the detail page: three RUNNING instances, one group per host, all
/// arriving on the live feed (the page is never reloaded).
async fn scale_to_three(client: &Client) -> Result<()> {
    client
        .execute("window.berthNotReloaded = true; return true;", Vec::new())
        .await
        .context("marking the page")?;
    press(client, &format!("{SPREAD} button.scale-up")).await?;
    press(client, &format!("{SPREAD} button.scale-up")).await?;
    wait_for(
        client,
        &format!(r#"{SPREAD} .scale-count[data-desired="3"]"#),
        PAGE,
    )
    .await?;
    shot_at(client, "#containers-table", "replication-scaling.png").await?;

    press(client, &format!("{SPREAD} a.container-link")).await?;
    wait_for(client, "h1#container-title", PAGE).await?;
    let groups = poll(
        "three RUNNING instances, one per host",
        RUN,
        Duration::from_millis(200),
        || async {
            let mut groups = Vec::new();
            for group in client
                .find_all(Locator::Css("tbody.instance-group"))
                .await?
            {
                let host = group.attr("data-host-name").await?.unwrap_or_default();
                let running = group
                    .find_all(Locator::Css(r#"tr.instance-row[data-status="RUNNING"]"#))
                    .await?
                    .len();
                let rows = group.find_all(Locator::Css("tr.instance-row")).await?.len();
                groups.push((host, running, rows));
            }
            groups.sort();
            let expected: Vec<(String, usize, usize)> = ["h1", "h2", "h3"]
                .iter()
                .map(|h| ((*h).to_owned(), 1, 1))
                .collect();
            Ok(if groups == expected {
                Probe::Ready(groups)
            } else {
                Probe::NotYet(format!("groups (host, running, rows): {groups:?}"))
            })
        },
    )
    .await?;
    let headings = text_of(client, "tbody.instance-group tr.instance-group-head", "h2").await?;
    ensure!(
        headings.contains("1 running"),
        "group heading {headings:?} ({groups:?})"
    );
    text_of(client, "section.instances-section .scale-count", "3/3").await?;
    let kept = client
        .execute("return window.berthNotReloaded === true;", Vec::new())
        .await?;
    ensure!(kept == json!(true), "the page was reloaded");
    shot_at(
        client,
        "#container-instances",
        "replication-detail-by-host.png",
    )
    .await
}

/// Creates the VOLUME disk `data` on h1 in the Storage tab; a forbidden host path is flagged as you type, and a
/// taken name beside the name.
async fn create_disk(client: &Client, h1_id: &str) -> Result<()> {
    press(client, "a#tab-storage").await?;
    wait_for_path(client, "/storage", PAGE).await?;
    wait_for(client, "button#disk-add-first", PAGE).await?;
    shot_at(client, "#disks-section", "disks-empty.png").await?;

    press(client, "button#disk-add").await?;
    wait_for(client, "form#disk-dialog", PAGE).await?;
    fill(client, "#disk-name", "data").await?;
    choose(client, "#disk-kind", "HOST_PATH").await?;
    fill(client, "#disk-path", "/etc/berth").await?;
    wait_for(client, "#disk-path.invalid", PAGE).await?;
    text_of(client, "#disk-path-help", "cannot be mounted").await?;
    let every = wait_for(client, r#"#disk-host option[value=""]"#, PAGE).await?;
    ensure!(
        every.is_enabled().await?,
        "\"Every host\" is disabled for a host path"
    );
    shot(client, "disk-dialog-bad-path.png").await?;

    choose(client, "#disk-kind", "VOLUME").await?;
    wait_gone(client, "#disk-path", PAGE).await?;
    let every = wait_for(client, r#"#disk-host option[value=""]"#, PAGE).await?;
    ensure!(
        !every.is_enabled().await?,
        "\"Every host\" is offered for a volume"
    );
    choose(client, "#disk-host", h1_id).await?;
    fill(client, "#disk-size", "1g").await?;
    text_of(client, "#disk-size-help", "GiB").await?;
    shot(client, "disk-dialog.png").await?;
    press(client, "#disk-save").await?;
    wait_gone(client, "form#disk-dialog", PAGE).await?;
    let kind = text_of(client, &format!("{DISK} td.disk-kind"), "Docker volume").await?;
    let host = text_of(client, &format!("{DISK} td.disk-host"), "h1").await?;
    text_of(client, &format!("{DISK} td.disk-attached"), "no container").await?;
    ensure!(host.trim() == "h1", "disk row: {kind} on {host}");

    // The name is taken: the server's CONFLICT lands beside the name.
    press(client, "button#disk-add").await?;
    fill(client, "#disk-name", "data").await?;
    press(client, "#disk-save").await?;
    text_of(client, "#disk-name-help", "exists already").await?;
    wait_for(client, "#disk-name.invalid", PAGE).await?;
    press(client, "#disk-cancel").await?;
    wait_gone(client, "form#disk-dialog", PAGE).await?;
    shot_at(client, "#disks-section", "disks-table.png").await
}

/// Defines `store` mounting `data` at /data: a relative path is flagged in the row, and two replicas with the
/// host-bound disk read-write are flagged on the replicas field.
async fn mount_the_disk(client: &Client, app: &TestApp, image: &str) -> Result<()> {
    let body = app.graphql("{ disks { id name } }", json!({})).await?;
    let disk_id = data(&body)?["disks"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    press(client, "a#tab-containers").await?;
    wait_for_path(client, "/containers", PAGE).await?;
    press(client, "button#container-new").await?;
    wait_for(client, "form#container-dialog", PAGE).await?;
    fill(client, "#container-name", "store").await?;
    fill(client, "#container-image", image).await?;
    fill(client, "#container-command", "sleep 600").await?;
    press(client, "#container-add-mount").await?;
    choose(client, "div.mount-row select.mount-disk", &disk_id).await?;
    fill(client, "div.mount-row input.mount-path", "data").await?;
    wait_for(client, "div.mount-row input.mount-path.invalid", PAGE).await?;
    text_of(client, "div.mount-row .field-error", "absolute").await?;
    fill(client, "div.mount-row input.mount-path", "/data").await?;
    wait_gone(client, "div.mount-row input.mount-path.invalid", PAGE).await?;
    text_of(client, "div.mount-row .field-hint", "Docker volume on h1").await?;

    fill(client, "#container-replicas", "2").await?;
    text_of(client, "#container-replicas-help", "read-write").await?;
    shot_at(
        client,
        "#container-replicas",
        "container-dialog-mount-replicas.png",
    )
    .await?;
    fill(client, "#container-replicas", "1").await?;
    wait_gone(client, "#container-replicas.invalid", PAGE).await?;
    let read_only = wait_for(client, "div.mount-row input.mount-readonly", PAGE).await?;
    ensure!(
        !read_only.is_selected().await?,
        "a new mount starts read-only"
    );
    shot(client, "container-dialog-mount.png").await?;
    press(client, "#container-save").await?;
    wait_gone(client, "form#container-dialog", PAGE).await?;
    wait_for(
        client,
        r#"tr.container-row[data-container-name="store"]"#,
        PAGE,
    )
    .await
    .map(|_| ())
}

/// The disk row lists `store` (a link to it) and deleting the disk is refused while it is mounted; the
/// container's page lists the mount.
async fn attached_and_kept(client: &Client) -> Result<()> {
    press(client, "a#tab-storage").await?;
    wait_for_path(client, "/storage", PAGE).await?;
    let link = format!("{DISK} td.disk-attached a.disk-container");
    text_of(client, &link, "store").await?;
    let href = wait_for(client, &link, PAGE)
        .await?
        .attr("href")
        .await?
        .unwrap_or_default();
    ensure!(href.starts_with("/containers/"), "attached link {href:?}");
    shot_at(client, "#disks-section", "disk-attached.png").await?;

    press(client, &format!("{DISK} button.disk-delete")).await?;
    press(client, "button#confirm-ok").await?;
    text_of(client, ".modal .alert", "mounted by store").await?;
    shot(client, "disk-delete-refused.png").await?;
    press(client, "button#confirm-cancel").await?;
    wait_gone(client, ".modal", PAGE).await?;
    wait_for(client, DISK, PAGE).await?;

    press(client, &link).await?;
    wait_for_path(client, &href, PAGE).await?;
    let mount = text_of(client, r#"li.mount-item[data-disk-name="data"]"#, "/data").await?;
    ensure!(mount.contains("read-write"), "mount on the page: {mount:?}");
    text_of(
        client,
        r#"div[data-def="host"] dd"#,
        "On h1, where disk data lives",
    )
    .await?;
    shot_at(
        client,
        "#container-definition",
        "container-detail-mount.png",
    )
    .await
}

/// A replica that exits with an error (restart policy NO) waits for its replacement: its row says which attempt
/// comes and when, counting down.
async fn waiting_for_replacement(client: &Client, app: &TestApp, image: &str) -> Result<()> {
    let crashy = create_container(
        app,
        json!({ "name": "crashy", "image": image, "command": ["sh", "-c", "exit 3"] }),
    )
    .await?;
    let id = crashy["id"].as_str().unwrap_or_default().to_owned();
    container_action(app, "runContainer", &id, None).await?;
    client
        .goto(&app.url(&format!("/containers/{id}")))
        .await
        .context("opening the crashing container")?;
    let retry = poll(
        "a FAILED replica waiting for its replacement",
        RUN,
        Duration::from_millis(100),
        || async {
            let rows = client
                .find_all(Locator::Css(
                    r#"tr.instance-row[data-status="FAILED"] .instance-retry"#,
                ))
                .await?;
            for row in rows {
                let text = row.text().await.unwrap_or_default();
                if text.contains("Attempt") && text.contains(" (in ") {
                    return Ok(Probe::Ready(text));
                }
            }
            Ok(Probe::NotYet("no replica waiting".to_owned()))
        },
    )
    .await?;
    let error = text_of(
        client,
        "tr.instance-row td.instance-error",
        "exited with code 3",
    )
    .await?;
    ensure!(
        error.contains("replacing it"),
        "error cell {error:?} ({retry})"
    );
    shot_at(
        client,
        "#container-instances",
        "replication-replacement-pending.png",
    )
    .await
}

/// Kills every container through the API (best effort), so no replica is left sleeping on the engines.
async fn kill_all(app: &TestApp) -> Result<()> {
    let body = app
        .graphql("{ containers { edges { node { id } } } }", json!({}))
        .await?;
    let ids: Vec<String> = data(&body)?["containers"]["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .filter_map(|edge| edge["node"]["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for id in ids {
        let body: Value = app
            .graphql(
                "mutation K($id: ID!) { killContainer(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await?;
        data(&body).with_context(|| format!("killContainer({id})"))?;
    }
    Ok(())
}
