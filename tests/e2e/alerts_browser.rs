//! The Alerts page in headless Chromium, against a real engine and a real HTTP receiver in the test process: an
//! admin creates a webhook channel in the dialog (its fields follow the kind; addresses and the URL are checked
//! as typed), "Send test" shows the delivery in the row and the receiver gets the TEST message; a CONTAINER_EXITED rule with that channel is created in its
//! dialog; a container killed behind Berth's back appears as an Open alert at the top of the open page with the
//! top bar's count at 1, its details show the delivered notification, and `docker start` turns the row Resolved
//! and the count away, all without a reload.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, TestApp, data};
use berth_tests::browser::{
    choose, click, fill, submit_login, wait_for_text_containing, wait_gone,
};
use berth_tests::process::{Probe, poll};
use berth_tests::receiver::Receiver;
use berth_tests::{TestEnv, screenshot, wait_for, wait_for_path, wait_for_text};
use fantoccini::Client;
use serde_json::{Value, json};

use crate::containers::berth_with_hosts;

/// How long the page may take to show what a step waits for (the first load compiles the .wasm).
const PAGE: Duration = Duration::from_secs(20);
/// How long a change behind Berth's back may take to show in the open page.
const LIVE: Duration = Duration::from_secs(10);
/// The container killed and started again on h2.
const VICTIM: &str = "alerts-ui-victim";
const CHANNEL: &str = "ui-hook";
const RULE: &str = "ui exits";

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn alert_row(state: &str) -> String {
    format!(r#"#alerts-table tr.alert-row[data-docker-name="{VICTIM}"][data-state="{state}"]"#)
}

/// The scenario; see the module docs.
pub async fn channel_rule_test_and_live_alert(env: &TestEnv) -> Result<()> {
    let receiver = Receiver::start().await?;
    let (app, _token, [_, h2, _]) = berth_with_hosts(env).await?;
    let outcome = match env.browser().await {
        Ok(client) => {
            let outcome = journey(&client, &app, env, &h2, &receiver).await;
            if outcome.is_err() {
                let _ = screenshot(&client, "failed-alerts-browser.png").await;
            }
            let _ = client.close().await;
            outcome
        }
        Err(e) => Err(e),
    };
    // The engines are shared with the other tests: leave no hand-made container behind.
    let cleanup = match env.host("h2") {
        Ok(engine) => engine
            .docker_ok(&["rm", "-f", VICTIM])
            .await
            .map(|_| ())
            .with_context(|| format!("removing {VICTIM} on h2")),
        Err(e) => Err(e),
    };
    app.finish(outcome.and(cleanup)).await
}

async fn gql(app: &TestApp, query: &str, variables: Value) -> Result<Value> {
    let body = app.graphql(query, variables.clone()).await?;
    Ok(data(&body)
        .with_context(|| format!("{query} {variables}: {body}"))?
        .clone())
}

/// Polls the inventory until `name` on `host_id` is in `state`.
async fn wait_state(app: &TestApp, host_id: &str, name: &str, state: &str) -> Result<()> {
    poll(
        &format!("{name} {state} in the inventory"),
        Duration::from_secs(15),
        Duration::from_millis(50),
        || async {
            let d = gql(
                app,
                "query Q($f: DockerContainerFilter) { dockerContainers(filter: $f, first: 50) { edges { node { name state } } } }",
                json!({ "f": { "hostId": host_id, "search": name } }),
            )
            .await?;
            let now = d["dockerContainers"]["edges"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["node"]["name"] == name)
                .map(|e| s(&e["node"]["state"]));
            Ok(match now {
                Some(s) if s == state => Probe::Ready(()),
                other => Probe::NotYet(format!("{other:?}")),
            })
        },
    )
    .await
}

/// Whether the page is still the one loaded before (a marker set in `window` survives only without a reload).
async fn not_reloaded(client: &Client) -> Result<()> {
    let kept = client
        .execute("return window.__alertsMarker === 'kept';", vec![])
        .await
        .context("reading the page marker")?;
    ensure!(kept == json!(true), "the page was reloaded");
    Ok(())
}

async fn journey(
    client: &Client,
    app: &TestApp,
    env: &TestEnv,
    h2: &str,
    receiver: &Receiver,
) -> Result<()> {
    let engine = env.host("h2")?;
    let image = env.registry.reference("tools/busybox:1.35");
    engine.docker_ok(&["pull", &image]).await?;
    let _ = engine.docker(&["rm", "-f", VICTIM]).await;

    // Log in and open the page: no alerts yet, and it says what to do.
    client
        .goto(&app.url("/alerts"))
        .await
        .context("opening /alerts")?;
    wait_for_path(client, "/login", PAGE).await?;
    submit_login(client, ADMIN_USERNAME, ADMIN_PASSWORD, PAGE).await?;
    wait_for(client, "nav#tabs a#tab-alerts", PAGE).await?;
    client
        .goto(&app.url("/alerts"))
        .await
        .context("opening /alerts after the login")?;
    let empty = wait_for_text(client, "#alerts-empty", PAGE).await?;
    ensure!(
        empty.contains("Create a channel and a rule"),
        "empty state: {empty:?}"
    );
    wait_gone(client, "#tab-alerts-count", PAGE).await?;

    // A webhook channel through the dialog; the URL is checked as it is typed.
    click(client, "#alerts-subtab-channels", PAGE).await?;
    click(client, "#channel-add", PAGE).await?;
    wait_for(client, "form#channel-dialog", PAGE).await?;
    fill(client, "#channel-name", CHANNEL, PAGE).await?;
    // The fields follow the kind: an email channel asks for its SMTP server and addresses, checked as typed.
    choose(client, "#channel-kind", "EMAIL", PAGE).await?;
    wait_for(client, "#channel-smtp-host", PAGE).await?;
    wait_gone(client, "#channel-url", PAGE).await?;
    fill(
        client,
        "#channel-email-to",
        "ops@example.com, oncall@",
        PAGE,
    )
    .await?;
    wait_for_text_containing(
        client,
        "#channel-email-to-help.field-error",
        "oncall@",
        PAGE,
    )
    .await?;
    screenshot(client, "alerts-channel-email.png").await?;
    choose(client, "#channel-kind", "WEBHOOK", PAGE).await?;
    wait_gone(client, "#channel-smtp-host", PAGE).await?;
    fill(client, "#channel-url", "ftp://example.com/hook", PAGE).await?;
    wait_for_text_containing(client, "#channel-url-help.field-error", "http://", PAGE).await?;
    fill(client, "#channel-url", &receiver.url("/hook"), PAGE).await?;
    wait_for_text_containing(
        client,
        "#channel-url-help.field-hint",
        &format!("http://{}/", receiver.addr),
        PAGE,
    )
    .await?;
    fill(client, "#channel-secret", "ui-signing-key", PAGE).await?;
    screenshot(client, "alerts-channel-dialog.png").await?;
    click(client, "#channel-save", PAGE).await?;
    wait_gone(client, "form#channel-dialog", PAGE).await?;
    let row = format!(r#"#channels-table tr.channel-row[data-name="{CHANNEL}"]"#);
    let secret = wait_for_text(client, &format!("{row} td.channel-secret"), PAGE).await?;
    ensure!(secret.contains("stored"), "secret cell: {secret:?}");
    let shown = wait_for_text(client, &format!("{row} td.channel-destination"), PAGE).await?;
    ensure!(
        !shown.contains("/hook"),
        "the URL's path is never shown: {shown:?}"
    );

    // "Send test": delivered, said in the row, and the receiver has it.
    click(client, &format!("{row} button.channel-test-button"), PAGE).await?;
    let result = wait_for_text(
        client,
        &format!(r#"{row} .channel-test-result[data-state="DELIVERED"]"#),
        PAGE,
    )
    .await?;
    ensure!(
        result.contains("Delivered") && result.contains("HTTP 200"),
        "test result: {result:?}"
    );
    let test = receiver
        .wait_for("the test message", Duration::from_secs(5), |r| {
            r.json()["event"] == "TEST"
        })
        .await?;
    ensure!(test.path == "/hook", "test sent to {}", test.path);
    screenshot(client, "alerts-channels.png").await?;

    // A rule: containers that exit on h2, told to the channel; the repeat interval is checked as typed.
    click(client, "#alerts-subtab-rules", PAGE).await?;
    click(client, "#rule-add", PAGE).await?;
    wait_for(client, "form#rule-dialog", PAGE).await?;
    fill(client, "#rule-name", RULE, PAGE).await?;
    choose(client, "#rule-condition", "CONTAINER_EXITED", PAGE).await?;
    choose(client, "#rule-host", h2, PAGE).await?;
    click(
        client,
        &format!(r#"input.rule-channel[data-name="{CHANNEL}"]"#),
        PAGE,
    )
    .await?;
    fill(client, "#rule-repeat", "5", PAGE).await?;
    wait_for_text_containing(client, "#rule-repeat-help.field-error", "60", PAGE).await?;
    fill(client, "#rule-repeat", "0", PAGE).await?;
    wait_gone(client, "#rule-repeat-help.field-error", PAGE).await?;
    screenshot(client, "alerts-rule-dialog.png").await?;
    click(client, "#rule-save", PAGE).await?;
    wait_gone(client, "form#rule-dialog", PAGE).await?;
    let rule_row = format!(r#"#rules-table tr.rule-row[data-name="{RULE}"]"#);
    wait_for_text_containing(
        client,
        &format!("{rule_row} td.rule-channels"),
        CHANNEL,
        PAGE,
    )
    .await?;
    wait_for_text_containing(client, &format!("{rule_row} td.rule-scope"), "h2", PAGE).await?;
    let rules = gql(
        app,
        "{ alertRules { name condition hostId channelIds repeatSecs } alertChannels { id name } }",
        json!({}),
    )
    .await?;
    let channel_id = rules["alertChannels"][0]["id"].clone();
    let rule = &rules["alertRules"][0];
    ensure!(
        rule["name"] == RULE
            && rule["condition"] == "CONTAINER_EXITED"
            && rule["hostId"] == h2
            && rule["channelIds"] == json!([channel_id])
            && rule["repeatSecs"] == 0,
        "rule as saved: {rules}"
    );

    // Back to the alerts, marked to prove that what follows arrives without a reload.
    click(client, "#alerts-subtab-alerts", PAGE).await?;
    wait_for(client, "#alerts-empty", PAGE).await?;
    wait_for(client, "#alerts-count .live-indicator.on", PAGE).await?;
    client
        .execute("window.__alertsMarker = 'kept'; return true;", vec![])
        .await
        .context("marking the page")?;

    // Killed behind Berth's back: an Open alert at the top, and the count in the top bar.
    engine
        .docker_ok(&["run", "-d", "--name", VICTIM, &image, "sleep", "100000"])
        .await?;
    wait_state(app, h2, VICTIM, "running").await?;
    engine.docker_ok(&["kill", VICTIM]).await?;
    wait_for(client, &alert_row("OPEN"), LIVE).await?;
    let badge = wait_for_text(
        client,
        &format!("{} td.alert-state", alert_row("OPEN")),
        PAGE,
    )
    .await?;
    ensure!(badge.contains("Open"), "state cell: {badge:?}");
    let subject = wait_for_text(
        client,
        &format!("{} td.alert-subject", alert_row("OPEN")),
        PAGE,
    )
    .await?;
    ensure!(
        subject.contains(VICTIM) && subject.contains("h2"),
        "subject cell: {subject:?}"
    );
    let count = wait_for_text(client, "#tab-alerts-count", LIVE).await?;
    ensure!(count == "1", "top bar count {count:?}");
    wait_for(
        client,
        &format!("{} button.alert-acknowledge", alert_row("OPEN")),
        PAGE,
    )
    .await?;
    not_reloaded(client).await?;

    // The details: the OPENED notification, delivered with the receiver's 200.
    click(
        client,
        &format!("{} button.alert-toggle", alert_row("OPEN")),
        PAGE,
    )
    .await?;
    wait_for(
        client,
        r#".alert-detail-row .delivery[data-event="OPENED"][data-state="DELIVERED"] .delivery-attempt[data-status="200"]"#,
        PAGE,
    )
    .await?;
    receiver
        .wait_for("the open alert", Duration::from_secs(5), |r| {
            r.json()["event"] == "OPENED" && r.json()["subject"]["dockerName"] == VICTIM
        })
        .await?;
    screenshot(client, "alerts-open.png").await?;

    // Started again: the row turns Resolved in place and the count goes away.
    engine.docker_ok(&["start", VICTIM]).await?;
    wait_for(client, &alert_row("RESOLVED"), LIVE).await?;
    let badge = wait_for_text(
        client,
        &format!("{} td.alert-state", alert_row("RESOLVED")),
        PAGE,
    )
    .await?;
    ensure!(badge.contains("Resolved"), "state cell: {badge:?}");
    wait_gone(client, "#tab-alerts-count", LIVE).await?;
    wait_for(
        client,
        r#".alert-detail-row .delivery[data-event="RESOLVED"][data-state="DELIVERED"]"#,
        PAGE,
    )
    .await?;
    let rows = client
        .execute(
            "return document.querySelectorAll('#alerts-table tr.alert-row').length;",
            vec![],
        )
        .await
        .context("counting the rows")?;
    ensure!(rows == json!(1), "one alert row, got {rows}");
    not_reloaded(client).await?;
    screenshot(client, "alerts-resolved.png").await?;
    Ok(())
}
