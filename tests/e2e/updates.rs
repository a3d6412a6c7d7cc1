//! Image updates against a real registry (Debian's `docker-registry`) configured to notify Berth of pushes: a
//! replica records the digest it runs; a new image pushed under the same tag (built on another engine) makes
//! `updateAvailable` true through the push hook, opens an UPDATE_AVAILABLE alert, and a wrong secret or a body
//! that is not an envelope is refused (401, 400) without refreshing anything. With the hook's secret removed, the
//! next push is seen by the registry's periodic refresh instead.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{TestApp, data};
use berth_tests::containers::{container_action, create_container, wait_container_status};
use berth_tests::process::{Probe, free_port, poll, require_binary};
use berth_tests::registry::{Notify, spawn_notifying, wait_ready};
use serde_json::{Value, json};

const UPDATE_FIELDS: &str = "query C($id: ID!) { container(id: $id) { id latestDigest updateAvailable \
     instances { id status imageDigest } } }";

async fn gql(app: &TestApp, query: &str, variables: Value) -> Result<Value> {
    let body = app.graphql(query, variables.clone()).await?;
    Ok(data(&body)
        .with_context(|| format!("{query} with {variables}"))?
        .clone())
}

async fn update_state(app: &TestApp, id: &str) -> Result<Value> {
    Ok(gql(app, UPDATE_FIELDS, json!({ "id": id })).await?["container"].clone())
}

/// Polls the container until `check` holds, every 50 ms.
async fn wait_update(
    app: &TestApp,
    id: &str,
    what: &str,
    timeout: Duration,
    check: impl Fn(&Value) -> bool,
) -> Result<Value> {
    poll(what, timeout, Duration::from_millis(50), || async {
        let c = update_state(app, id).await?;
        Ok(if check(&c) {
            Probe::Ready(c)
        } else {
            Probe::NotYet(c.to_string())
        })
    })
    .await
}

/// Builds a new image on `engine` from `base` (a file written into it, so its digest differs) and pushes it as
/// `reference`.
async fn push_new_image(
    engine: &berth_tests::engine::EngineHandle,
    base: &str,
    reference: &str,
    marker: &str,
) -> Result<()> {
    let _ = engine.docker(&["rm", "-f", marker]).await;
    engine.docker_ok(&["pull", base]).await?;
    engine
        .docker_ok(&[
            "run",
            "--name",
            marker,
            base,
            "sh",
            "-c",
            &format!("echo {marker} > /version"),
        ])
        .await?;
    engine.docker_ok(&["commit", marker, reference]).await?;
    engine.docker_ok(&["push", reference]).await?;
    let _ = engine.docker(&["rm", "-f", marker]).await;
    Ok(())
}

pub async fn push_hook_marks_updates(env: &TestEnv) -> Result<()> {
    let registry_bin = require_binary("docker-registry", "apt-get install -y docker-registry")?;
    let (app, _token, [h1, _, _]) = crate::containers::berth_with_hosts(env).await?;
    let h1_engine = env.host("h1")?;
    let h2_engine = env.host("h2")?;
    let base = env.registry.reference("tools/busybox:1.35");
    let outcome = async {
        let port = free_port()?;
        let registry = gql(
            &app,
            "mutation A($i: RegistryInput!) { addRegistry(input: $i) { id hasHook } }",
            json!({ "i": { "name": "hooked", "url": format!("http://127.0.0.1:{port}"), "insecure": true, "refreshIntervalSeconds": 0 } }),
        )
        .await?["addRegistry"]
            .clone();
        ensure!(registry["hasHook"] == false, "{registry}");
        let registry_id = registry["id"].as_str().unwrap_or_default().to_owned();
        let hook_url = app.url(&format!("/hooks/registry/{registry_id}"));
        let client = reqwest::Client::new();
        // No secret yet: refused.
        let answer = client
            .post(&hook_url)
            .bearer_auth("anything")
            .body(r#"{"events":[]}"#)
            .send()
            .await?;
        ensure!(answer.status() == 401, "no hook secret yet: {}", answer.status());
        let secret = gql(
            &app,
            "mutation S($r: ID!) { createRegistryHookSecret(registryId: $r) }",
            json!({ "r": registry_id }),
        )
        .await?["createRegistryHookSecret"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        ensure!(secret.len() >= 32, "a long secret: {secret:?}");
        let listed = gql(&app, "query R($id: ID!) { registry(id: $id) { hasHook } }", json!({ "id": registry_id })).await?;
        ensure!(listed["registry"]["hasHook"] == true, "{listed}");

        let dir = env.run_dir.join("registry-hooked");
        let (handle, mut process) = spawn_notifying(
            "hooked",
            &dir,
            &registry_bin,
            port,
            &Notify { url: &hook_url, bearer: &secret },
        )?;
        let inner = async {
            wait_ready(&handle, &mut process).await?;
            let reference = handle.reference("hook/busybox:1");
            // The first image, pushed from h1 (which then has it cached).
            h1_engine.docker_ok(&["pull", &base]).await?;
            h1_engine.docker_ok(&["tag", &base, &reference]).await?;
            h1_engine.docker_ok(&["push", &reference]).await?;
            let c = create_container(
                &app,
                json!({ "name": "hooked", "image": reference, "command": ["sleep", "100000"], "hostId": h1 }),
            )
            .await?;
            let id = c["id"].as_str().unwrap_or_default().to_owned();
            container_action(&app, "runContainer", &id, None).await?;
            wait_container_status(&app, &id, "RUNNING", Duration::from_secs(60)).await?;
            // The push reached Berth through the hook (no refresh was asked for): the digest the replica runs is the
            // registry's, and nothing is newer.
            let first = wait_update(&app, &id, "the first digest known", Duration::from_secs(30), |c| {
                c["latestDigest"].is_string()
            })
            .await?;
            let running = first["instances"][0]["imageDigest"].clone();
            ensure!(
                running.as_str().is_some_and(|d| d.starts_with("sha256:")) && running == first["latestDigest"],
                "the replica runs the registry's digest: {first}"
            );
            ensure!(first["updateAvailable"] == false, "{first}");
            gql(
                &app,
                "mutation R($i: AlertRuleInput!) { createAlertRule(input: $i) { id } }",
                json!({ "i": { "name": "updates", "condition": "UPDATE_AVAILABLE" } }),
            )
            .await?;

            // Refused notifications change nothing.
            let wrong = client.post(&hook_url).bearer_auth("berth_wrong").body(r#"{"events":[]}"#).send().await?;
            ensure!(wrong.status() == 401, "wrong secret: {}", wrong.status());
            let bad = client.post(&hook_url).bearer_auth(&secret).body("not an envelope").send().await?;
            ensure!(bad.status() == 400, "bad body: {}", bad.status());
            let bad_text = bad.text().await?;
            ensure!(bad_text.contains("envelope"), "the 400 says why: {bad_text}");

            // A new image under the same tag, built and pushed from h2.
            push_new_image(h2_engine, &base, &reference, "hook-v2").await?;
            let pushed = Instant::now();
            let updated = wait_update(&app, &id, "updateAvailable after the push", Duration::from_secs(10), |c| {
                c["updateAvailable"] == true
            })
            .await?;
            eprintln!("updates: push → updateAvailable seen after {:?} (hook)", pushed.elapsed());
            ensure!(
                updated["latestDigest"] != running && updated["instances"][0]["imageDigest"] == running,
                "{updated}"
            );
            poll("the UPDATE_AVAILABLE alert", Duration::from_secs(10), Duration::from_millis(100), || async {
                let a = gql(
                    &app,
                    "{ alerts(filter: { state: [OPEN] }) { edges { node { condition message subject { containerName } } } } }",
                    json!({}),
                )
                .await?;
                let found = a["alerts"]["edges"].as_array().into_iter().flatten().any(|e| {
                    e["node"]["condition"] == "UPDATE_AVAILABLE" && e["node"]["subject"]["containerName"] == "hooked"
                });
                Ok(if found { Probe::Ready(()) } else { Probe::NotYet(a.to_string()) })
            })
            .await?;

            // Without the hook, the periodic refresh sees the next push.
            let removed = gql(
                &app,
                "mutation S($r: ID!) { removeRegistryHookSecret(registryId: $r) { hasHook } }",
                json!({ "r": registry_id }),
            )
            .await?;
            ensure!(removed["removeRegistryHookSecret"]["hasHook"] == false, "{removed}");
            let second = updated["latestDigest"].clone();
            gql(
                &app,
                "mutation U($id: ID!, $i: RegistryInput!) { updateRegistry(id: $id, input: $i) { id } }",
                json!({ "id": registry_id, "i": { "name": "hooked", "url": handle.url, "insecure": true, "refreshIntervalSeconds": 2 } }),
            )
            .await?;
            push_new_image(h2_engine, &base, &reference, "hook-v3").await?;
            let third = wait_update(&app, &id, "the periodic refresh seeing the push", Duration::from_secs(30), |c| {
                c["latestDigest"].is_string() && c["latestDigest"] != second
            })
            .await?;
            ensure!(third["updateAvailable"] == true, "{third}");
            Ok(())
        }
        .await;
        let _ = process.stop(Duration::from_secs(5)).await;
        inner
    }
    .await;
    for marker in ["hook-v2", "hook-v3"] {
        let _ = h2_engine.docker(&["rm", "-f", marker]).await;
    }
    app.finish(outcome).await
}

/// An image on a registry Berth does not list is checked by manifest HEAD in the background
/// (`BERTH_UPDATE_CHECK_SECS`, 1 s here): its digest becomes `latestDigest`, and a push under the same tag makes
/// `updateAvailable` true without the registry being added to Berth.
pub async fn unlisted_registry_is_checked(env: &TestEnv) -> Result<()> {
    let data_dir = env.new_app_dir()?;
    let mut p = berth_tests::app::spawn_berth_process_with_env(
        &data_dir,
        &[("BERTH_UPDATE_CHECK_SECS", "1")],
    )
    .await?;
    let h1 = env.host("h1")?;
    let base = env.registry.reference("tools/busybox:1.35");
    let reference = env
        .registry
        .reference(&format!("unlisted/app-{}:1", std::process::id()));
    let outcome = async {
        p.app
            .login_as(berth_tests::app::ADMIN_USERNAME, berth_tests::app::ADMIN_PASSWORD)
            .await?;
        let host = berth_tests::hosts::add_host(&p.app, berth_tests::hosts::engine_input("h1", h1)).await?;
        push_new_image(h1, &base, &reference, "unlisted-v1").await?;
        let c = create_container(
            &p.app,
            json!({ "name": "unlisted", "image": reference, "command": ["sleep", "100000"], "hostId": host["id"] }),
        )
        .await?;
        let id = c["id"].as_str().unwrap_or_default().to_owned();
        container_action(&p.app, "runContainer", &id, None).await?;
        wait_container_status(&p.app, &id, "RUNNING", Duration::from_secs(60)).await?;
        let first = wait_update(&p.app, &id, "the digest read by HEAD", Duration::from_secs(30), |c| {
            c["latestDigest"].is_string() && c["latestDigest"] == c["instances"][0]["imageDigest"]
        })
        .await?;
        ensure!(first["updateAvailable"] == false, "{first}");
        // A container Berth did not create, from the same image: the inventory judges it the same way.
        let _ = h1.docker(&["rm", "-f", "unlisted-other"]).await;
        let docker_id = h1
            .docker_ok(&["run", "-d", "--name", "unlisted-other", &reference, "sleep", "100000"])
            .await?;
        let inventory_id = format!(
            "{}:{}",
            host["id"].as_str().unwrap_or_default(),
            docker_id.trim()
        );
        let other = |want_update: bool| {
            let app = &p.app;
            let inventory_id = inventory_id.clone();
            async move {
                poll(
                    "the other container's digests",
                    Duration::from_secs(30),
                    Duration::from_millis(100),
                    || async {
                        let d = gql(
                            app,
                            "query D($id: ID!) { dockerContainer(id: $id) { imageDigest latestDigest updateAvailable } }",
                            json!({ "id": inventory_id }),
                        )
                        .await?["dockerContainer"]
                            .clone();
                        Ok(if d["updateAvailable"] == want_update && d["imageDigest"].is_string() {
                            Probe::Ready(d)
                        } else {
                            Probe::NotYet(d.to_string())
                        })
                    },
                )
                .await
            }
        };
        let before = other(false).await?;
        ensure!(
            before["imageDigest"] == first["latestDigest"] && before["latestDigest"] == first["latestDigest"],
            "the other container runs the tag's digest: {before}"
        );
        push_new_image(h1, &base, &reference, "unlisted-v2").await?;
        let pushed = Instant::now();
        let second = wait_update(&p.app, &id, "the push seen by HEAD", Duration::from_secs(30), |c| {
            c["latestDigest"].is_string() && c["latestDigest"] != first["latestDigest"]
        })
        .await?;
        eprintln!("updates: an unlisted registry's push seen after {:?}", pushed.elapsed());
        ensure!(second["updateAvailable"] == true, "{second}");
        let after = other(true).await?;
        ensure!(
            after["imageDigest"] == first["latestDigest"] && after["latestDigest"] == second["latestDigest"],
            "the other container has an update too: {after}"
        );
        Ok(())
    }
    .await;
    for marker in ["unlisted-v1", "unlisted-v2", "unlisted-other"] {
        let _ = h1.docker(&["rm", "-f", marker]).await;
    }
    let _ = p.process.kill().await;
    berth_tests::containers::remove_replicas_named(&env.hosts, "unlisted").await;
    outcome
}
