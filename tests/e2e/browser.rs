//! The web app in headless Chromium: login, the three tabs, API tokens and logout.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, data};
use berth_tests::browser::wait_gone;
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

async fn type_into(client: &Client, css: &str, text: &str) -> Result<()> {
    let input = wait_for(client, css, PAGE).await?;
    input
        .clear()
        .await
        .with_context(|| format!("clearing {css}"))?;
    input
        .send_keys(text)
        .await
        .with_context(|| format!("typing into {css}"))?;
    Ok(())
}

async fn click(client: &Client, css: &str) -> Result<()> {
    wait_for(client, css, PAGE)
        .await?
        .click()
        .await
        .with_context(|| format!("clicking {css}"))
}

async fn log_in(client: &Client, password: &str) -> Result<()> {
    type_into(client, "input#username", ADMIN_USERNAME).await?;
    type_into(client, "input#password", password).await?;
    click(client, "button#login-submit").await
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

    click(client, "button#user-menu").await?;
    click(client, "a#menu-tokens").await?;
    type_into(client, "input#token-name", "browser-token").await?;
    click(client, "button#token-create").await?;
    let secret = wait_for_text(client, "code#token-secret", PAGE).await?;
    screenshot(client, "tokens.png").await?;
    let me = app
        .graphql_with_token(&secret, "{ me { username } }", json!({}))
        .await?;
    ensure!(
        data(&me)?["me"]["username"] == ADMIN_USERNAME,
        "the token from the page does not work: {me}"
    );

    click(client, "button#user-menu").await?;
    click(client, "button#logout").await?;
    wait_for_path(client, "/login", PAGE).await?;
    wait_for(client, "input#username", PAGE).await?;
    wait_gone(client, "nav#tabs", PAGE).await?;
    // The session is gone on the server too: a reload lands on the login page again.
    client.goto(&app.url("/")).await.context("reopening /")?;
    wait_for_path(client, "/login", PAGE).await?;
    Ok(())
}
