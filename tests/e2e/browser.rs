//! The web app in headless Chromium: login, the three tabs, API tokens and logout.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, data};
use berth_tests::browser::{
    click, fill, input_value, submit_login, wait_for_text_containing, wait_gone,
};
use berth_tests::{
    TestApp, TestEnv, screenshot, spawn_app, wait_for, wait_for_path, wait_for_text,
};
use fantoccini::{Client, Locator};
use serde_json::json;

/// How long the page may take to show what a step waits for (the first load compiles the .wasm).
const PAGE: Duration = Duration::from_secs(20);

/// A fresh app and a browser session for it.
async fn open(env: &TestEnv) -> Result<(TestApp, Client)> {
    let app = spawn_app(env).await?;
    match env.browser().await {
        Ok(client) => Ok((app, client)),
        Err(e) => app.finish(Err(e)).await,
    }
}

/// Closes the browser and the app whatever happened, with a screenshot of the page on failure.
async fn close(app: TestApp, client: Client, name: &str, outcome: Result<()>) -> Result<()> {
    if outcome.is_err() {
        let _ = screenshot(&client, &format!("failed-{name}.png")).await;
    }
    let _ = client.close().await;
    app.finish(outcome).await
}

async fn log_in(client: &Client, password: &str) -> Result<()> {
    submit_login(client, ADMIN_USERNAME, password, PAGE).await
}

/// The whole browser journey: `/` sends a visitor to `/login`; a wrong password shows an error; the
/// right one shows the tabs with their empty states; an API token created on the tokens page works as
/// a bearer; logout leads back to the login page.
pub async fn login_tabs_tokens_logout(env: &TestEnv) -> Result<()> {
    let (app, client) = open(env).await?;
    let outcome = journey(&client, &app).await;
    close(app, client, "browser", outcome).await
}

async fn journey(client: &Client, app: &TestApp) -> Result<()> {
    client.goto(&app.url("/")).await.context("opening /")?;
    wait_for_path(client, "/login", PAGE).await?;

    log_in(client, "wrong-password").await?;
    let error = wait_for_text(client, "#login-error", PAGE).await?;
    ensure!(!error.is_empty(), "empty login error");
    screenshot(client, "login-error.png").await?;
    ensure!(
        client.current_url().await?.path() == "/login",
        "left the login page after a failed login"
    );
    ensure!(
        client.find(Locator::Css("nav#tabs")).await.is_err(),
        "the tabs are shown after a failed login"
    );

    log_in(client, ADMIN_PASSWORD).await?;
    wait_for(client, "nav#tabs", PAGE).await?;
    for tab in ["a#tab-containers", "a#tab-storage", "a#tab-hosts"] {
        wait_for(client, &format!("nav#tabs {tab}"), PAGE).await?;
    }

    for (tab, shot) in [
        ("a#tab-containers", "containers.png"),
        ("a#tab-storage", "storage.png"),
        ("a#tab-hosts", "hosts.png"),
    ] {
        let link = wait_for(client, tab, PAGE).await?;
        let href = link
            .attr("href")
            .await?
            .with_context(|| format!("{tab} has no href"))?;
        link.click()
            .await
            .with_context(|| format!("clicking {tab}"))?;
        // The route must change before the empty state counts (it could be the previous tab's).
        let path = href
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .to_string();
        wait_for_path(client, &path, PAGE).await?;
        let empty = wait_for_text(client, ".empty-state", PAGE).await?;
        ensure!(!empty.is_empty(), "{tab}: empty .empty-state");
        screenshot(client, shot).await?;
    }

    click(client, "button#user-menu", PAGE).await?;
    click(client, "a#menu-tokens", PAGE).await?;
    fill(client, "input#token-name", "browser-token", PAGE).await?;
    click(client, "button#token-create", PAGE).await?;
    let secret = wait_for_text(client, "code#token-secret", PAGE).await?;
    screenshot(client, "tokens.png").await?;
    let me = app
        .graphql_with_token(&secret, "{ me { username } }", json!({}))
        .await?;
    ensure!(
        data(&me)?["me"]["username"] == ADMIN_USERNAME,
        "the token from the page does not work: {me}"
    );

    click(client, "button#user-menu", PAGE).await?;
    click(client, "button#logout", PAGE).await?;
    wait_for_path(client, "/login", PAGE).await?;
    wait_for(client, "input#username", PAGE).await?;
    wait_gone(client, "nav#tabs", PAGE).await?;
    // The session is gone on the server too: a reload lands on the login page again.
    client.goto(&app.url("/")).await.context("reopening /")?;
    wait_for_path(client, "/login", PAGE).await?;
    Ok(())
}

/// The Hosts tab: add a host in the dialog and see it turn UP by itself, open it, pull an image and watch the
/// progress bar reach 100 %, then see the image listed.
pub async fn hosts_add_and_pull(env: &TestEnv) -> Result<()> {
    let (app, client) = open(env).await?;
    let outcome = hosts_journey(&client, &app, env).await;
    close(app, client, "browser-hosts", outcome).await
}

async fn hosts_journey(client: &Client, app: &TestApp, env: &TestEnv) -> Result<()> {
    client
        .goto(&app.url("/hosts"))
        .await
        .context("opening /hosts")?;
    wait_for_path(client, "/login", PAGE).await?;
    log_in(client, ADMIN_PASSWORD).await?;
    wait_for(client, "nav#tabs", PAGE).await?;
    client
        .goto(&app.url("/hosts"))
        .await
        .context("opening /hosts")?;
    wait_for(client, ".empty-state", PAGE).await?;

    let h2 = env.host("h2")?;
    click(client, "#host-add", PAGE).await?;
    fill(client, "#host-name", "h2", PAGE).await?;
    // Validation as you type: a bad endpoint marks the field before anything is sent.
    fill(client, "#host-endpoint", "ftp://x", PAGE).await?;
    wait_for(client, "#host-endpoint.invalid", PAGE).await?;
    fill(client, "#host-endpoint", &h2.endpoint, PAGE).await?;
    wait_gone(client, "#host-endpoint.invalid", PAGE).await?;
    click(client, "#host-save", PAGE).await?;
    let row = r#"tr.host-row[data-host-name="h2"]"#;
    wait_for(
        client,
        &format!(r#"{row} span.host-status[data-status="UP"]"#),
        PAGE,
    )
    .await?;
    screenshot(client, "hosts-list.png").await?;

    wait_for(client, &format!("{row} a.host-link"), PAGE)
        .await?
        .click()
        .await
        .context("opening the host")?;
    let caps = wait_for_text(client, "#host-capabilities", PAGE).await?;
    ensure!(
        caps.contains("overlay2") || caps.contains("vfs") || caps.contains("Storage"),
        "capabilities panel: {caps}"
    );

    let reference = env
        .images
        .iter()
        .find(|r| r.contains("apps/worker"))
        .context("the harness pushes apps/worker")?
        .clone();
    fill(client, "#pull-reference", &reference, PAGE).await?;
    click(client, "#pull-submit", PAGE).await?;
    wait_for_text_containing(client, "#pull-progress-text", "100", PAGE).await?;
    wait_for(
        client,
        &format!(r#"tr.image-row[data-reference="{reference}"]"#),
        PAGE,
    )
    .await?;
    screenshot(client, "host-images.png").await?;

    // The API agrees with the page.
    app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    let body = app
        .graphql(
            "{ hosts { name status images { reference sizeBytes } } }",
            json!({}),
        )
        .await?;
    let hosts = data(&body)?["hosts"].clone();
    let images = hosts[0]["images"].as_array().cloned().unwrap_or_default();
    ensure!(
        hosts[0]["status"] == "UP" && images.iter().any(|i| i["reference"] == reference.as_str()),
        "API shows {hosts}"
    );
    Ok(())
}

/// The Storage tab: add a registry (the URL is checked as you type), see it refreshed with its counts, open
/// its images, filter them and open a repository's tags; a registry with a wrong password shows its error.
pub async fn storage_registries(env: &TestEnv) -> Result<()> {
    let (app, client) = open(env).await?;
    let outcome = storage_journey(&client, &app, env).await;
    close(app, client, "browser-storage", outcome).await
}

async fn storage_journey(client: &Client, app: &TestApp, env: &TestEnv) -> Result<()> {
    client
        .goto(&app.url("/storage"))
        .await
        .context("opening /storage")?;
    wait_for_path(client, "/login", PAGE).await?;
    log_in(client, ADMIN_PASSWORD).await?;
    wait_for(client, "nav#tabs", PAGE).await?;
    client
        .goto(&app.url("/storage"))
        .await
        .context("opening /storage")?;
    wait_for(client, ".empty-state", PAGE).await?;

    click(client, "#registry-add", PAGE).await?;
    wait_for(client, "#registry-dialog", PAGE).await?;
    fill(client, "#registry-name", "local", PAGE).await?;
    // Plain http is refused until "insecure" is ticked: the field says so before anything is sent.
    fill(client, "#registry-url", &env.registry.url, PAGE).await?;
    wait_for(client, "#registry-url.invalid", PAGE).await?;
    click(client, "#registry-insecure", PAGE).await?;
    wait_gone(client, "#registry-url.invalid", PAGE).await?;
    click(client, "#registry-save", PAGE).await?;
    let row = r#"tr.registry-row[data-registry-name="local"]"#;
    wait_for(
        client,
        &format!(r#"{row} span.registry-status[data-status="OK"]"#),
        PAGE,
    )
    .await?;
    screenshot(client, "storage-registries.png").await?;

    wait_for(client, &format!("{row} a.registry-link"), PAGE)
        .await?
        .click()
        .await
        .context("opening the registry")?;
    wait_for(client, r#"div.repo[data-repo="apps/web"]"#, PAGE).await?;
    fill(client, "#repo-filter", "tools", PAGE).await?;
    wait_gone(client, r#"div.repo[data-repo="apps/web"]"#, PAGE).await?;
    let busybox = r#"div.repo[data-repo="tools/busybox"]"#;
    wait_for(client, &format!("{busybox} button.repo-toggle"), PAGE)
        .await?
        .click()
        .await
        .context("opening tools/busybox")?;
    wait_for(
        client,
        &format!(r#"{busybox} tr.tag-row[data-tag="1.35"]"#),
        PAGE,
    )
    .await?;
    screenshot(client, "registry-images.png").await?;

    // "Run…" on a tag opens the new-container dialog with that image and a name taken from it.
    let tag = format!(r#"{busybox} tr.tag-row[data-tag="1.35"]"#);
    let reference = wait_for(client, &tag, PAGE)
        .await?
        .attr("data-reference")
        .await?
        .context("the tag row has no data-reference")?;
    click(client, &format!("{tag} a.tag-run"), PAGE).await?;
    wait_for(client, "form#container-dialog", PAGE).await?;
    wait_for_path(client, "/containers", PAGE).await?;
    ensure!(
        input_value(client, "#container-image", PAGE).await? == reference,
        "image field is not {reference}"
    );
    ensure!(
        input_value(client, "#container-name", PAGE).await? == "busybox",
        "name field is not the suggested busybox"
    );
    screenshot(client, "registry-run-dialog.png").await?;
    click(client, "#container-save", PAGE).await?;
    wait_gone(client, "form#container-dialog", PAGE).await?;
    wait_for(
        client,
        r#"tr.container-row[data-container-name="busybox"]"#,
        PAGE,
    )
    .await?;
    app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    let saved = app
        .graphql(
            "query { containers { edges { node { name image } } } }",
            json!({}),
        )
        .await?;
    ensure!(
        saved["data"]["containers"]["edges"]
            .as_array()
            .is_some_and(|edges| edges.iter().any(
                |e| e["node"]["name"] == "busybox" && e["node"]["image"] == reference.as_str()
            )),
        "the container was not saved with {reference}: {saved}"
    );

    // A registry that refuses the credentials shows ERROR with the reason.
    client
        .goto(&app.url("/storage"))
        .await
        .context("opening /storage")?;
    click(client, "#registry-add", PAGE).await?;
    wait_for(client, "#registry-dialog", PAGE).await?;
    fill(client, "#registry-name", "private", PAGE).await?;
    click(client, "#registry-insecure", PAGE).await?;
    fill(client, "#registry-url", &env.auth_registry.url, PAGE).await?;
    fill(client, "#registry-username", "berth", PAGE).await?;
    fill(client, "#registry-password", "not-the-password", PAGE).await?;
    click(client, "#registry-save", PAGE).await?;
    let bad = r#"tr.registry-row[data-registry-name="private"]"#;
    wait_for(
        client,
        &format!(r#"{bad} span.registry-status[data-status="ERROR"]"#),
        PAGE,
    )
    .await?;
    let text = wait_for_text(client, bad, PAGE).await?;
    ensure!(
        text.to_lowercase().contains("authentication"),
        "error row: {text}"
    );
    screenshot(client, "storage-error.png").await?;
    Ok(())
}
