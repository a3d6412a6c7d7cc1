//! Roles and the admin pages in headless Chromium: a VIEWER sees the containers but no button that would change
//! them, and no Users or Events entry; an admin watches the Events tab receive a mutation made through the API
//! at the top without a reload, creates a user in the Users page's dialog (a short password and a taken name are
//! flagged beside their fields) and is told clearly that the last admin cannot be demoted.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, data};
use berth_tests::browser::{click, fill, submit_login, wait_gone};
use berth_tests::containers::create_container;
use berth_tests::process::{Probe, poll};
use berth_tests::{TestApp, TestEnv, screenshot, spawn_app, wait_for, wait_for_path};
use fantoccini::{Client, Locator};
use serde_json::json;

/// How long the page may take to show what a step waits for (the first load compiles the .wasm).
const PAGE: Duration = Duration::from_secs(20);
const VIEWER: &str = "vera";
const VIEWER_PASSWORD: &str = "vera-reads-only";

/// Types each text into its field (cleared first).
async fn type_into(client: &Client, fields: &[(&str, &str)]) -> Result<()> {
    for (css, text) in fields {
        fill(client, css, text, PAGE).await?;
    }
    Ok(())
}

/// Opens `/containers`, logs in on the login page it leads to, and waits for the tabs.
async fn log_in(client: &Client, app: &TestApp, username: &str, password: &str) -> Result<()> {
    client
        .goto(&app.url("/containers"))
        .await
        .context("opening /containers")?;
    wait_for_path(client, "/login", PAGE).await?;
    submit_login(client, username, password, PAGE).await?;
    wait_for(client, "nav#tabs", PAGE).await.map(|_| ())
}

/// True when no displayed element matches `css`, or every one is disabled.
async fn absent_or_disabled(client: &Client, css: &str) -> Result<bool> {
    for element in client.find_all(Locator::Css(css)).await? {
        if element.is_displayed().await? && element.is_enabled().await? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs `scenario` with a fresh server and browser; a failure leaves a screenshot named after `name`.
async fn with_browser<F>(env: &TestEnv, name: &str, scenario: F) -> Result<()>
where
    F: AsyncFnOnce(&Client, &TestApp) -> Result<()>,
{
    let app = spawn_app(env).await?;
    let client = match env.browser().await {
        Ok(client) => client,
        Err(e) => return app.finish(Err(e)).await,
    };
    let outcome = scenario(&client, &app).await;
    if outcome.is_err() {
        let _ = screenshot(&client, &format!("failed-{name}.png")).await;
    }
    let _ = client.close().await;
    app.finish(outcome).await
}

/// A VIEWER sees the containers but no action that would change them, and no admin entries.
pub async fn viewer_sees_no_actions(env: &TestEnv) -> Result<()> {
    with_browser(env, "browser-viewer", async |client, app| {
        app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        let body = app
            .graphql(
                "mutation C($u: String!, $p: String!) { createUser(username: $u, password: $p, role: VIEWER) { id } }",
                json!({ "u": VIEWER, "p": VIEWER_PASSWORD }),
            )
            .await?;
        data(&body).context("createUser")?;
        let image = env.registry.reference("tools/busybox:1.35");
        create_container(app, json!({ "name": "web", "image": image })).await?;

        log_in(client, app, VIEWER, VIEWER_PASSWORD).await?;
        wait_for(client, r#"tr.container-row[data-container-name="web"]"#, PAGE).await?;
        screenshot(client, "viewer-containers.png").await?;
        for css in [
            "button.container-run",
            "button.container-stop",
            "button.container-edit",
            "button.container-delete",
            "button#container-new",
            "button.scale-up",
        ] {
            ensure!(
                absent_or_disabled(client, css).await?,
                "a viewer can press {css}"
            );
        }
        let new = wait_for(client, "button#container-new", PAGE).await?;
        let title = new.attr("title").await?.unwrap_or_default();
        ensure!(title.contains("Operator"), "New container's title: {title:?}");
        for css in ["a#tab-users", "a#tab-events"] {
            ensure!(
                client.find_all(Locator::Css(css)).await?.is_empty(),
                "a viewer sees {css}"
            );
        }
        click(client, "button#user-menu", PAGE).await?;
        wait_for(client, "#menu-change-password", PAGE).await?;
        ensure!(
            client.find_all(Locator::Css("#menu-users")).await?.is_empty(),
            "a viewer sees the Users menu entry"
        );
        screenshot(client, "viewer-user-menu.png").await?;

        // Hosts: Add is disabled and says why.
        click(client, "a#tab-hosts", PAGE).await?;
        wait_for_path(client, "/hosts", PAGE).await?;
        let add = wait_for(client, "button#host-add", PAGE).await?;
        ensure!(!add.is_enabled().await?, "a viewer can add a host");
        screenshot(client, "viewer-hosts.png").await?;

        // The admin pages themselves say they are for admins.
        client.goto(&app.url("/events")).await?;
        wait_for(client, ".empty-state", PAGE).await?;
        ensure!(
            client.find_all(Locator::Css("table#events-table")).await?.is_empty(),
            "a viewer sees the audit log"
        );
        screenshot(client, "viewer-events-refused.png").await?;
        Ok(())
    })
    .await
}

/// Events arrive live and come 50 at a time with "Load more"; users are created in the dialog; the last admin
/// stays an admin.
pub async fn events_live_and_users_page(env: &TestEnv) -> Result<()> {
    with_browser(env, "browser-admin", async |client, app| {
        log_in(client, app, ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        click(client, "a#tab-events", PAGE).await?;
        wait_for_path(client, "/events", PAGE).await?;
        wait_for(client, "table#events-table", PAGE).await?;
        // Subscribed before the mutation, so its entry can only arrive live.
        wait_for(client, ".live-indicator.on", PAGE).await?;
        client
            .execute("window.berthNoReload = true;", vec![])
            .await
            .context("marking the page")?;
        screenshot(client, "events-before.png").await?;

        app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        let image = env.registry.reference("tools/busybox:1.35");
        create_container(app, json!({ "name": "audited", "image": image })).await?;
        let first = "table#events-table tbody tr.event-row:first-child";
        poll(
            "the createContainer entry at the top",
            PAGE,
            Duration::from_millis(100),
            || async {
                let rows = client.find_all(Locator::Css(first)).await?;
                let Some(row) = rows.first() else {
                    return Ok(Probe::NotYet("no rows".to_owned()));
                };
                let action = row.attr("data-action").await?.unwrap_or_default();
                let text = row.text().await.unwrap_or_default();
                Ok(
                    if action == "createContainer" && text.contains(ADMIN_USERNAME) {
                        Probe::Ready(())
                    } else {
                        Probe::NotYet(format!("top row {action:?}: {text}"))
                    },
                )
            },
        )
        .await?;
        let marked = client
            .execute("return window.berthNoReload === true;", vec![])
            .await?;
        ensure!(marked == json!(true), "the page reloaded");
        wait_for(client, &format!("{first} td.event-result .badge.up"), PAGE).await?;
        screenshot(client, "events-live.png").await?;

        // A filter that excludes it keeps it out.
        type_into(client, &[("#events-action", "deleteContainer")]).await?;
        wait_gone(
            client,
            r#"tr.event-row[data-action="createContainer"]"#,
            PAGE,
        )
        .await?;
        screenshot(client, "events-filtered.png").await?;

        // Paging: 55 entries under a filter come 50 at a time, the rest with "Load more", none twice.
        for n in 0..55 {
            app.graphql(
                "mutation D($id: ID!) { deleteContainer(id: $id) }",
                json!({ "id": format!("paging-probe-{n}") }),
            )
            .await?;
        }
        type_into(client, &[("#events-target", "paging-probe")]).await?;
        let probes = r#"tr.event-row[data-action="deleteContainer"]"#;
        let count_is = |want: &'static str| async move {
            poll(
                &format!("the count {want:?}"),
                PAGE,
                Duration::from_millis(100),
                || async {
                    let text = wait_for(client, "#events-count", PAGE)
                        .await?
                        .text()
                        .await?;
                    Ok(if text == want {
                        Probe::Ready(())
                    } else {
                        Probe::NotYet(text)
                    })
                },
            )
            .await
        };
        count_is("50 of 55 entries").await?;
        let shown = client.find_all(Locator::Css(probes)).await?.len();
        ensure!(shown == 50, "{shown} rows on the first page");
        click(client, "button#events-more", PAGE).await?;
        count_is("55 entries").await?;
        wait_gone(client, "button#events-more", PAGE).await?;
        let shown = client.find_all(Locator::Css(probes)).await?.len();
        ensure!(shown == 55, "{shown} rows after Load more");
        screenshot(client, "events-paged.png").await?;

        // Users: a new operator from the dialog.
        click(client, "a#tab-users", PAGE).await?;
        wait_for_path(client, "/users", PAGE).await?;
        wait_for(
            client,
            &format!(r#"tr.user-row[data-username="{ADMIN_USERNAME}"]"#),
            PAGE,
        )
        .await?;
        click(client, "button#user-add", PAGE).await?;
        wait_for(client, "form#user-dialog", PAGE).await?;
        type_into(
            client,
            &[("#user-name", "carol"), ("#user-password", "short")],
        )
        .await?;
        wait_for(client, "#user-password.invalid", PAGE).await?;
        ensure!(
            !wait_for(client, "#user-save", PAGE)
                .await?
                .is_enabled()
                .await?,
            "Create user is enabled with a short password"
        );
        screenshot(client, "user-dialog-short-password.png").await?;
        type_into(client, &[("#user-password", "carol-operates")]).await?;
        wait_gone(client, "#user-password.invalid", PAGE).await?;
        wait_for(client, "#user-role", PAGE)
            .await?
            .select_by_value("OPERATOR")
            .await?;
        click(client, "#user-save", PAGE).await?;
        wait_gone(client, "form#user-dialog", PAGE).await?;
        wait_for(
            client,
            r#"tr.user-row[data-username="carol"][data-role="OPERATOR"]"#,
            PAGE,
        )
        .await?;
        screenshot(client, "users-created.png").await?;

        // The same name again: the server's CONFLICT lands beside the name.
        click(client, "button#user-add", PAGE).await?;
        type_into(
            client,
            &[
                ("#user-name", "carol"),
                ("#user-password", "another-password"),
            ],
        )
        .await?;
        click(client, "#user-save", PAGE).await?;
        wait_for(client, "#user-name.invalid", PAGE).await?;
        screenshot(client, "user-dialog-name-taken.png").await?;
        click(client, "#user-cancel", PAGE).await?;
        wait_gone(client, "form#user-dialog", PAGE).await?;

        // The only admin cannot become a viewer: said above the table, and the select stays on Admin.
        let admin_row = format!(r#"tr.user-row[data-username="{ADMIN_USERNAME}"]"#);
        wait_for(client, &format!("{admin_row} select.user-role"), PAGE)
            .await?
            .select_by_value("VIEWER")
            .await?;
        let error = berth_tests::browser::wait_for_text(client, "#users-error", PAGE).await?;
        ensure!(error.contains("admin"), "last-admin message: {error}");
        screenshot(client, "users-last-admin.png").await?;
        let body = app.graphql("{ me { role } }", json!({})).await?;
        ensure!(
            data(&body)?["me"]["role"] == "ADMIN",
            "admin demoted: {body}"
        );
        Ok(())
    })
    .await
}
