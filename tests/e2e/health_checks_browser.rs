//! The container dialog's Health check section in headless Chromium: a custom shell check whose interval 0 is
//! flagged beside the field as you type (nothing sent), saved with interval 1 s and 2 retries; once it runs, the
//! container page shows the instance HEALTHY, then UNHEALTHY (with the container's badge) after `docker exec rm`
//! behind Berth's back, live; the list shows the instance's health badge too.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, data};
use berth_tests::browser::{
    choose, click, fill, submit_login, wait_for_text_containing, wait_gone,
};
use berth_tests::containers::container_action;
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::{TestApp, TestEnv, screenshot, spawn_app, wait_for, wait_for_path};
use fantoccini::Client;
use serde_json::json;

/// How long the page may take to show what a step waits for (the first load compiles the .wasm).
const PAGE: Duration = Duration::from_secs(20);
/// Pull, create, start and the first probes.
const RUN: Duration = Duration::from_secs(60);
const ROW: &str = r#"tr.container-row[data-container-name="probe-ui"]"#;

/// See the module docs.
pub async fn health_check_form_and_badges(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let client = match env.browser().await {
        Ok(client) => client,
        Err(e) => return app.finish(Err(e)).await,
    };
    let outcome = journey(&client, &app, env).await;
    if outcome.is_err() {
        let _ = screenshot(&client, "failed-browser-health-checks.png").await;
    }
    let _ = client.close().await;
    app.finish(outcome).await
}

async fn journey(client: &Client, app: &TestApp, env: &TestEnv) -> Result<()> {
    app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    add_host(app, engine_input("h1", env.host("h1")?)).await?;
    client
        .goto(&app.url("/containers"))
        .await
        .context("opening /containers")?;
    wait_for_path(client, "/login", PAGE).await?;
    submit_login(client, ADMIN_USERNAME, ADMIN_PASSWORD, PAGE).await?;
    wait_for(client, "nav#tabs", PAGE).await?;
    click(client, "a#tab-containers", PAGE).await?;
    wait_for_path(client, "/containers", PAGE).await?;

    click(client, "button#container-new-first", PAGE).await?;
    wait_for(client, "form#container-dialog", PAGE).await?;
    fill(client, "#container-name", "probe-ui", PAGE).await?;
    fill(
        client,
        "#container-image",
        &env.registry.reference("tools/busybox:1.35"),
        PAGE,
    )
    .await?;
    fill(
        client,
        "#container-command",
        "sh -c 'mkdir -p /tmp && touch /tmp/ok; trap \"exit 0\" TERM; while true; do sleep 1; done'",
        PAGE,
    )
    .await?;
    // The image's own check by default: no timing fields.
    wait_for(client, "#container-health-mode", PAGE).await?;
    ensure!(
        client
            .find_all(fantoccini::Locator::Css("#container-health-interval"))
            .await?
            .is_empty(),
        "no interval field while the image's check is kept"
    );
    choose(client, "#container-health-mode", "shell", PAGE).await?;
    fill(client, "#container-health-command", "test -f /tmp/ok", PAGE).await?;
    fill(client, "#container-health-interval", "0", PAGE).await?;
    wait_for(client, "#container-health-interval.invalid", PAGE).await?;
    wait_for_text_containing(
        client,
        "#container-health-interval-help",
        "whole number of seconds from 1",
        PAGE,
    )
    .await?;
    screenshot(client, "container-dialog-health-check-invalid.png").await?;
    fill(client, "#container-health-interval", "1", PAGE).await?;
    wait_gone(client, "#container-health-interval.invalid", PAGE).await?;
    fill(client, "#container-health-retries", "2", PAGE).await?;
    fill(client, "#container-health-timeout", "1", PAGE).await?;
    click(client, "#container-save", PAGE).await?;
    wait_gone(client, "form#container-dialog", PAGE).await?;

    // Saved as typed.
    let body = app
        .graphql(
            "{ containers { edges { node { id healthCheck { test intervalSecs timeoutSecs retries startPeriodSecs } } } } }",
            json!({}),
        )
        .await?;
    let node = data(&body)?["containers"]["edges"][0]["node"].clone();
    ensure!(
        node["healthCheck"]
            == json!({ "test": ["CMD-SHELL", "test -f /tmp/ok"], "intervalSecs": 1, "timeoutSecs": 1,
                       "retries": 2, "startPeriodSecs": null }),
        "saved check: {body}"
    );
    let id = node["id"].as_str().unwrap_or_default().to_string();
    let running = container_action(app, "runContainer", &id, None).await?;
    let docker_id = async {
        // The Docker id arrives with RUNNING; read it once the page shows the instance healthy.
        client
            .goto(&app.url(&format!("/containers/{id}")))
            .await
            .context("opening the container page")?;
        wait_for(
            client,
            r#"tr.instance-row span.health-badge[data-health="HEALTHY"]"#,
            RUN,
        )
        .await?;
        let c = berth_tests::containers::get_container(app, &id).await?;
        anyhow::Ok(
            c["instances"][0]["dockerId"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    }
    .await
    .with_context(|| format!("running {running}"))?;
    screenshot(client, "container-detail-healthy.png").await?;

    env.host("h1")?
        .docker_ok(&["exec", &docker_id, "rm", "/tmp/ok"])
        .await?;
    wait_for(
        client,
        r#"tr.instance-row span.health-badge[data-health="UNHEALTHY"]"#,
        PAGE,
    )
    .await?;
    wait_for(
        client,
        r#"header.container-header span.container-status[data-status="UNHEALTHY"]"#,
        PAGE,
    )
    .await?;
    screenshot(client, "container-detail-unhealthy.png").await?;

    click(client, "a.back-link", PAGE).await?;
    wait_for(
        client,
        &format!(r#"{ROW} span.health-badge[data-health="UNHEALTHY"]"#),
        PAGE,
    )
    .await?;
    wait_for(
        client,
        &format!(r#"{ROW} span.container-status[data-status="UNHEALTHY"]"#),
        PAGE,
    )
    .await?;
    screenshot(client, "containers-unhealthy.png").await?;
    container_action(app, "killContainer", &id, None).await?;
    Ok(())
}
