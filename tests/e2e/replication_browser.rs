//! Replication and disks in headless Chromium: a container defined with one replica (the replicas field checked
//! as you type) runs on any host, is scaled to three in the table (− running/desired +), and its detail page
//! shows the three RUNNING instances grouped under h1, h2 and h3 without a reload; a VOLUME disk created on h1 in
//! the Storage tab (a forbidden host path flagged as you type, "Every host" only for host paths, a taken name
//! beside the name) is mounted at /data by a second container through its dialog, is listed as attached to it,
//! and cannot be deleted while mounted.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, data};
use berth_tests::browser::{
    choose, click, fill, input_value, submit_login, wait_for_text_containing, wait_gone,
};
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
    screenshot(client, name).await?;
    Ok(())
}

async fn journey(client: &Client, app: &TestApp, env: &TestEnv) -> Result<()> {
    client
        .goto(&app.url("/containers"))
        .await
        .context("opening /containers")?;
    wait_for_path(client, "/login", PAGE).await?;
    submit_login(client, ADMIN_USERNAME, ADMIN_PASSWORD, PAGE).await?;
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
    click(client, "button#container-new-first", PAGE).await?;
    wait_for(client, "form#container-dialog", PAGE).await?;
    let value = input_value(client, "#container-replicas", PAGE).await?;
    ensure!(
        value == "1",
        "a new container starts with {value:?} replicas"
    );
    fill(client, "#container-name", "spread", PAGE).await?;
    fill(client, "#container-image", image, PAGE).await?;
    fill(client, "#container-command", "sleep 600", PAGE).await?;
    fill(client, "#container-replicas", "0", PAGE).await?;
    wait_for(client, "#container-replicas.invalid", PAGE).await?;
    wait_for_text_containing(
        client,
        "#container-replicas-help",
        "between 1 and 100",
        PAGE,
    )
    .await?;
    let save = wait_for(client, "#container-save", PAGE).await?;
    ensure!(!save.is_enabled().await?, "Save is enabled with 0 replicas");
    screenshot(client, "replication-dialog-bad-replicas.png").await?;
    fill(client, "#container-replicas", "1", PAGE).await?;
    wait_gone(client, "#container-replicas.invalid", PAGE).await?;
    click(client, "#container-save", PAGE).await?;
    wait_gone(client, "form#container-dialog", PAGE).await?;

    wait_for_text_containing(client, &format!("{SPREAD} .scale-count"), "0/1", PAGE).await?;
    click(client, &format!("{SPREAD} button.container-run"), PAGE).await?;
    click(client, "button.run-any", PAGE).await?;
    wait_for(
        client,
        &format!(r#"{SPREAD} span.container-status[data-status="RUNNING"]"#),
        RUN,
    )
    .await?;
    wait_for_text_containing(client, &format!("{SPREAD} .scale-count"), "1/1", PAGE).await?;
    screenshot(client, "replication-one-replica.png").await?;
    Ok(())
}

/// Two clicks on + in the table, then the detail page: three RUNNING instances, one group per host, all
/// arriving on the live feed (the page is never reloaded).
async fn scale_to_three(client: &Client) -> Result<()> {
    client
        .execute("window.berthNotReloaded = true; return true;", Vec::new())
        .await
        .context("marking the page")?;
    click(client, &format!("{SPREAD} button.scale-up"), PAGE).await?;
    click(client, &format!("{SPREAD} button.scale-up"), PAGE).await?;
    wait_for(
        client,
        &format!(r#"{SPREAD} .scale-count[data-desired="3"]"#),
        PAGE,
    )
    .await?;
    shot_at(client, "#containers-table", "replication-scaling.png").await?;

    click(client, &format!("{SPREAD} a.container-link"), PAGE).await?;
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
    let headings = wait_for_text_containing(
        client,
        "tbody.instance-group tr.instance-group-head",
        "h2",
        PAGE,
    )
    .await?;
    ensure!(
        headings.contains("1 running"),
        "group heading {headings:?} ({groups:?})"
    );
    wait_for_text_containing(
        client,
        "section.instances-section .scale-count",
        "3/3",
        PAGE,
    )
    .await?;
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
    click(client, "a#tab-storage", PAGE).await?;
    wait_for_path(client, "/storage", PAGE).await?;
    wait_for(client, "button#disk-add-first", PAGE).await?;
    shot_at(client, "#disks-section", "disks-empty.png").await?;

    click(client, "button#disk-add", PAGE).await?;
    wait_for(client, "form#disk-dialog", PAGE).await?;
    fill(client, "#disk-name", "data", PAGE).await?;
    choose(client, "#disk-kind", "HOST_PATH", PAGE).await?;
    fill(client, "#disk-path", "/etc/berth", PAGE).await?;
    wait_for(client, "#disk-path.invalid", PAGE).await?;
    wait_for_text_containing(client, "#disk-path-help", "cannot be mounted", PAGE).await?;
    let every = wait_for(client, r#"#disk-host option[value=""]"#, PAGE).await?;
    ensure!(
        every.is_enabled().await?,
        "\"Every host\" is disabled for a host path"
    );
    screenshot(client, "disk-dialog-bad-path.png").await?;

    choose(client, "#disk-kind", "VOLUME", PAGE).await?;
    wait_gone(client, "#disk-path", PAGE).await?;
    let every = wait_for(client, r#"#disk-host option[value=""]"#, PAGE).await?;
    ensure!(
        !every.is_enabled().await?,
        "\"Every host\" is offered for a volume"
    );
    choose(client, "#disk-host", h1_id, PAGE).await?;
    fill(client, "#disk-size", "1g", PAGE).await?;
    wait_for_text_containing(client, "#disk-size-help", "GiB", PAGE).await?;
    screenshot(client, "disk-dialog.png").await?;
    click(client, "#disk-save", PAGE).await?;
    wait_gone(client, "form#disk-dialog", PAGE).await?;
    let kind = wait_for_text_containing(
        client,
        &format!("{DISK} td.disk-kind"),
        "Docker volume",
        PAGE,
    )
    .await?;
    let host =
        wait_for_text_containing(client, &format!("{DISK} td.disk-host"), "h1", PAGE).await?;
    wait_for_text_containing(
        client,
        &format!("{DISK} td.disk-attached"),
        "no container",
        PAGE,
    )
    .await?;
    ensure!(host.trim() == "h1", "disk row: {kind} on {host}");

    // The name is taken: the server's CONFLICT lands beside the name.
    click(client, "button#disk-add", PAGE).await?;
    fill(client, "#disk-name", "data", PAGE).await?;
    click(client, "#disk-save", PAGE).await?;
    wait_for_text_containing(client, "#disk-name-help", "exists already", PAGE).await?;
    wait_for(client, "#disk-name.invalid", PAGE).await?;
    click(client, "#disk-cancel", PAGE).await?;
    wait_gone(client, "form#disk-dialog", PAGE).await?;

    // The filter hides what does not match (and says so), by host too; clearing it brings the row back.
    fill(client, "#disks-filter", "no-such-disk", PAGE).await?;
    wait_gone(client, DISK, PAGE).await?;
    wait_for_text_containing(client, "#disks-table tr.empty-row", "No disk matches", PAGE).await?;
    fill(client, "#disks-filter", "H1", PAGE).await?;
    wait_for(client, DISK, PAGE).await?;
    wait_gone(client, "#disks-table tr.empty-row", PAGE).await?;
    fill(client, "#disks-filter", "", PAGE).await?;
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

    click(client, "a#tab-containers", PAGE).await?;
    wait_for_path(client, "/containers", PAGE).await?;
    click(client, "button#container-new", PAGE).await?;
    wait_for(client, "form#container-dialog", PAGE).await?;
    fill(client, "#container-name", "store", PAGE).await?;
    fill(client, "#container-image", image, PAGE).await?;
    fill(client, "#container-command", "sleep 600", PAGE).await?;
    click(client, "#container-add-mount", PAGE).await?;
    choose(client, "div.mount-row select.mount-disk", &disk_id, PAGE).await?;
    fill(client, "div.mount-row input.mount-path", "data", PAGE).await?;
    wait_for(client, "div.mount-row input.mount-path.invalid", PAGE).await?;
    wait_for_text_containing(client, "div.mount-row .field-error", "absolute", PAGE).await?;
    fill(client, "div.mount-row input.mount-path", "/data", PAGE).await?;
    wait_gone(client, "div.mount-row input.mount-path.invalid", PAGE).await?;
    wait_for_text_containing(
        client,
        "div.mount-row .field-hint",
        "Docker volume on h1",
        PAGE,
    )
    .await?;

    fill(client, "#container-replicas", "2", PAGE).await?;
    wait_for_text_containing(client, "#container-replicas-help", "read-write", PAGE).await?;
    shot_at(
        client,
        "#container-replicas",
        "container-dialog-mount-replicas.png",
    )
    .await?;
    fill(client, "#container-replicas", "1", PAGE).await?;
    wait_gone(client, "#container-replicas.invalid", PAGE).await?;
    let read_only = wait_for(client, "div.mount-row input.mount-readonly", PAGE).await?;
    ensure!(
        !read_only.is_selected().await?,
        "a new mount starts read-only"
    );
    screenshot(client, "container-dialog-mount.png").await?;
    click(client, "#container-save", PAGE).await?;
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
    click(client, "a#tab-storage", PAGE).await?;
    wait_for_path(client, "/storage", PAGE).await?;
    let link = format!("{DISK} td.disk-attached a.disk-container");
    wait_for_text_containing(client, &link, "store", PAGE).await?;
    let href = wait_for(client, &link, PAGE)
        .await?
        .attr("href")
        .await?
        .unwrap_or_default();
    ensure!(href.starts_with("/containers/"), "attached link {href:?}");
    shot_at(client, "#disks-section", "disk-attached.png").await?;

    click(client, &format!("{DISK} button.disk-delete"), PAGE).await?;
    click(client, "button#confirm-ok", PAGE).await?;
    wait_for_text_containing(client, ".modal .alert", "mounted by store", PAGE).await?;
    screenshot(client, "disk-delete-refused.png").await?;
    click(client, "button#confirm-cancel", PAGE).await?;
    wait_gone(client, ".modal", PAGE).await?;
    wait_for(client, DISK, PAGE).await?;

    click(client, &link, PAGE).await?;
    wait_for_path(client, &href, PAGE).await?;
    let mount = wait_for_text_containing(
        client,
        r#"li.mount-item[data-disk-name="data"]"#,
        "/data",
        PAGE,
    )
    .await?;
    ensure!(mount.contains("read-write"), "mount on the page: {mount:?}");
    wait_for_text_containing(
        client,
        r#"div[data-def="host"] dd"#,
        "On h1, where disk data lives",
        PAGE,
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
    let error = wait_for_text_containing(
        client,
        "tr.instance-row td.instance-error",
        "exited with code 3",
        PAGE,
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
