//! The container page's Revisions section in headless Chromium: with the registry indexed by Berth, a new image
//! pushed under the running tag shows the Update tag; Redeploy rolls the replicas to it (the rollout's badge
//! goes live to "Rolled out" and revision 2 appears), "Roll back" on revision 1 returns them to its digest, and
//! "Create deploy hook" shows the hook's URL once.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, data};
use berth_tests::browser::{click, submit_login, wait_for_text_containing};
use berth_tests::containers::{container_action, create_container, wait_container_status};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::{TestApp, TestEnv, screenshot, spawn_app, wait_for, wait_for_path};
use fantoccini::Client;
use serde_json::json;

/// How long the page may take to show what a step waits for (the first load compiles the .wasm).
const PAGE: Duration = Duration::from_secs(20);
/// A pull and a rollout of two replicas.
const ROLL: Duration = Duration::from_secs(90);

/// See the module docs.
pub async fn redeploy_and_roll_back_from_the_page(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let client = match env.browser().await {
        Ok(client) => client,
        Err(e) => return app.finish(Err(e)).await,
    };
    let outcome = journey(&client, &app, env).await;
    if outcome.is_err() {
        let _ = screenshot(&client, "failed-browser-rollouts.png").await;
    }
    let _ = client.close().await;
    for file in ["u1", "u2"] {
        if let Ok(h1) = env.host("h1") {
            let _ = h1
                .docker(&["rm", "-f", &format!("rollout-build-{file}")])
                .await;
        }
    }
    // After the server stopped: it would replace what goes while it runs.
    let finished = app.finish(outcome).await;
    berth_tests::containers::remove_replicas_named(&env.hosts, "rolling-ui").await;
    finished
}

async fn revisions(app: &TestApp, id: &str) -> Result<Vec<i64>> {
    let body = app
        .graphql(
            "query C($id: ID!) { container(id: $id) { instances { revision } } }",
            json!({ "id": id }),
        )
        .await?;
    let mut list: Vec<i64> = data(&body)?["container"]["instances"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|i| i["revision"].as_i64().unwrap_or(-1))
                .collect()
        })
        .unwrap_or_default();
    list.sort_unstable();
    Ok(list)
}

/// Scrolls the Revisions section into view (it sits under the instances and their log) for a screenshot.
async fn show_revisions(client: &Client) -> Result<()> {
    client
        .execute(
            "document.querySelector('#container-revisions').scrollIntoView({block: 'center'})",
            vec![],
        )
        .await
        .context("scrolling to the revisions")?;
    Ok(())
}

async fn journey(client: &Client, app: &TestApp, env: &TestEnv) -> Result<()> {
    app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    let h1 = env.host("h1")?;
    let host = add_host(app, engine_input("h1", h1)).await?;
    let base = env.registry.reference("tools/busybox:1.35");
    let repository = format!("rollout/ui-{}", std::process::id());
    let reference = env.registry.reference(&format!("{repository}:1"));
    crate::rollouts::push_variant(h1, &base, &reference, "/u1").await?;
    let registry = app
        .graphql(
            "mutation A($i: RegistryInput!) { addRegistry(input: $i) { id } }",
            json!({ "i": { "name": "open", "url": env.registry.url, "insecure": true, "refreshIntervalSeconds": 0 } }),
        )
        .await?;
    let registry_id = data(&registry)?["addRegistry"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let c = create_container(
        app,
        json!({
            "name": "rolling-ui",
            "image": reference,
            "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
            "replicas": 2,
            "hostId": host["id"],
            "minHealthySecs": 1,
        }),
    )
    .await?;
    let id = c["id"].as_str().unwrap_or_default().to_owned();
    container_action(app, "runContainer", &id, None).await?;
    wait_container_status(app, &id, "RUNNING", ROLL).await?;
    ensure!(
        revisions(app, &id).await? == vec![1, 1],
        "both replicas on revision 1"
    );

    client
        .goto(&app.url(&format!("/containers/{id}")))
        .await
        .context("opening the container page")?;
    wait_for_path(client, "/login", PAGE).await?;
    submit_login(client, ADMIN_USERNAME, ADMIN_PASSWORD, PAGE).await?;
    wait_for(
        client,
        r#"#container-revisions tr.revision-row[data-revision="1"]"#,
        PAGE,
    )
    .await?;

    // A new image under the same tag: the registry's index sees it, the page shows the Update tag.
    crate::rollouts::push_variant(h1, &base, &reference, "/u2").await?;
    let refreshed = app
        .graphql(
            "mutation R($id: ID!) { refreshRegistry(id: $id) { id } }",
            json!({ "id": registry_id }),
        )
        .await?;
    data(&refreshed)?;
    wait_for(client, "span.update-marker", ROLL).await?;
    screenshot(client, "container-update-available.png").await?;

    click(client, "#container-revisions button.redeploy-button", PAGE).await?;
    wait_for(client, r#".rollout-status[data-state="SUCCEEDED"]"#, ROLL).await?;
    wait_for(
        client,
        r#"#container-revisions tr.revision-row[data-revision="2"]"#,
        PAGE,
    )
    .await?;
    ensure!(
        revisions(app, &id).await? == vec![2, 2],
        "both replicas on revision 2"
    );
    // Each instance row says which revision it runs.
    wait_for(
        client,
        r#"tr.instance-row .instance-digest[data-revision="2"]"#,
        PAGE,
    )
    .await?;
    show_revisions(client).await?;
    screenshot(client, "container-revisions.png").await?;

    click(
        client,
        r#"#container-revisions tr.revision-row[data-revision="1"] button.rollback-button"#,
        PAGE,
    )
    .await?;
    wait_for_text_containing(
        client,
        r#".rollout-status[data-state="SUCCEEDED"]"#,
        "revision 2 → 1",
        ROLL,
    )
    .await?;
    ensure!(
        revisions(app, &id).await? == vec![1, 1],
        "both replicas back on revision 1"
    );
    wait_for(
        client,
        r#"tr.instance-row .instance-digest[data-revision="1"]"#,
        PAGE,
    )
    .await?;
    show_revisions(client).await?;
    screenshot(client, "container-rolled-back.png").await?;

    // A deploy hook: its URL shown once.
    click(client, "#deploy-hook-create", PAGE).await?;
    wait_for_text_containing(client, "#deploy-hook-snippet", "/hooks/deploy/berth_", PAGE).await?;
    wait_for_text_containing(client, "#deploy-hook .deploy-hook-state", "On", PAGE).await?;
    client
        .execute(
            "document.querySelector('#deploy-hook').scrollIntoView({block: 'center'})",
            vec![],
        )
        .await
        .context("scrolling to the deploy hook")?;
    screenshot(client, "container-deploy-hook.png").await?;
    let has = app
        .graphql(
            "query C($id: ID!) { container(id: $id) { hasDeployHook } }",
            json!({ "id": id }),
        )
        .await?;
    ensure!(data(&has)?["container"]["hasDeployHook"] == true, "{has}");
    Ok(())
}
