//! Rolling updates against real engines and a real registry: three replicas spread over the hosts roll to a
//! new image pushed under the same tag one at a time (a sampler reading the engines every 100 ms never sees
//! fewer than two running); an image that breaks at start is rolled back by itself with the reason; a roll back
//! to the first revision runs its digest although the tag now names another image; "apply now" of an edit rolls
//! in place on that digest; bad revisions are refused before anything stops. A Berth SIGKILLed in the middle of
//! a rollout finishes it after its restart, with exactly the desired replicas and none twice. A deploy hook's
//! URL rolls the container out; a wrong or revoked token answers 404 and changes nothing. Update policy AUTO
//! rolls a definition out when the registry's index sees a new image of its tag; OFF shows no update.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, BerthProcess, TestApp, data};
use berth_tests::containers::{
    container_action, create_container, sample_running, wait_container_status,
};
use berth_tests::engine::EngineHandle;
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, poll};
use serde_json::{Value, json};

const ROLLOUT_FIELDS: &str = "query C($id: ID!) { container(id: $id) { id status \
     rollout { state reason fromRevision toRevision } \
     revisions { number version image imageDigest createdBy } \
     instances { id replica status imageDigest revision dockerId } } }";

/// The shell loop the replicas run: it refuses to start in an image that carries `/broken`, and ends at once on
/// SIGTERM (so a replaced replica goes without waiting for the stop timeout).
const COMMAND: &str = "[ -e /broken ] && { echo broken image >&2; exit 3; }; \
     trap 'exit 0' TERM; while true; do sleep 1; done";

async fn gql(app: &TestApp, query: &str, variables: Value) -> Result<Value> {
    let body = app.graphql(query, variables.clone()).await?;
    Ok(data(&body)
        .with_context(|| format!("{query} with {variables}"))?
        .clone())
}

async fn state(app: &TestApp, id: &str) -> Result<Value> {
    Ok(gql(app, ROLLOUT_FIELDS, json!({ "id": id })).await?["container"].clone())
}

async fn wait_rollout(app: &TestApp, id: &str, want: &str, timeout: Duration) -> Result<Value> {
    poll(
        &format!("rollout {want}"),
        timeout,
        Duration::from_millis(100),
        || async {
            let c = state(app, id).await?;
            let settled = c["rollout"]["state"] == want
                && c["status"] == "RUNNING"
                && c["instances"]
                    .as_array()
                    .is_some_and(|l| l.iter().all(|i| i["status"] == "RUNNING"));
            Ok(if settled {
                Probe::Ready(c)
            } else {
                Probe::NotYet(c.to_string())
            })
        },
    )
    .await
}

/// Builds an image on `engine` from `base` with `file` written into it and pushes it as `reference`; returns
/// nothing (the digest is read from Berth).
pub(crate) async fn push_variant(
    engine: &EngineHandle,
    base: &str,
    reference: &str,
    file: &str,
) -> Result<()> {
    let marker = format!("rollout-build-{}", file.trim_start_matches('/'));
    let _ = engine.docker(&["rm", "-f", &marker]).await;
    engine.docker_ok(&["pull", base]).await?;
    engine
        .docker_ok(&[
            "run",
            "--name",
            &marker,
            base,
            "sh",
            "-c",
            &format!("echo x > {file}"),
        ])
        .await?;
    engine.docker_ok(&["commit", &marker, reference]).await?;
    engine.docker_ok(&["push", reference]).await?;
    let _ = engine.docker(&["rm", "-f", &marker]).await;
    Ok(())
}

/// `redeployContainer(id)` (pulling); the container with its rollout.
async fn redeploy(app: &TestApp, id: &str) -> Result<Value> {
    Ok(gql(
        app,
        "mutation R($id: ID!) { redeployContainer(id: $id) { id rollout { state reason fromRevision toRevision } } }",
        json!({ "id": id }),
    )
    .await?["redeployContainer"]
        .clone())
}

fn digests(c: &Value) -> Vec<String> {
    c["instances"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|i| i["imageDigest"].as_str().unwrap_or("none").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn revisions_of(c: &Value) -> Vec<i64> {
    c["instances"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|i| i["revision"].as_i64().unwrap_or(-1))
                .collect()
        })
        .unwrap_or_default()
}

pub async fn roll_out_roll_back_and_pin(env: &TestEnv) -> Result<()> {
    let (app, _token, _hosts) = crate::containers::berth_with_hosts(env).await?;
    let h1 = env.host("h1")?;
    let base = env.registry.reference("tools/busybox:1.35");
    let reference = env
        .registry
        .reference(&format!("rollout/app-{}:1", std::process::id()));
    let outcome = async {
        push_variant(h1, &base, &reference, "/v1").await?;
        let c = create_container(
            &app,
            json!({
                "name": "rolling",
                "image": reference,
                "command": ["sh", "-c", COMMAND],
                "replicas": 3,
                "maxParallel": 1,
                "minHealthySecs": 1,
            }),
        )
        .await?;
        let id = c["id"].as_str().unwrap_or_default().to_owned();
        let pace = gql(
            &app,
            "query C($id: ID!) { container(id: $id) { maxParallel minHealthySecs } }",
            json!({ "id": id }),
        )
        .await?;
        ensure!(
            pace["container"]["maxParallel"] == 1 && pace["container"]["minHealthySecs"] == 1,
            "the pace as given: {pace}"
        );
        container_action(&app, "runContainer", &id, None).await?;
        wait_container_status(&app, &id, "RUNNING", Duration::from_secs(90)).await?;
        let first = state(&app, &id).await?;
        let v1 = digests(&first);
        ensure!(
            v1.len() == 3 && v1.iter().all(|d| d.starts_with("sha256:") && *d == v1[0]),
            "three replicas on one digest: {first}"
        );
        ensure!(revisions_of(&first) == vec![1, 1, 1], "revision 1 everywhere: {first}");
        ensure!(first["rollout"].is_null(), "never rolled: {first}");

        // Nothing new: a redeploy changes nothing.
        let same = redeploy(&app, &id).await?;
        ensure!(
            same["id"] == id.as_str() && same["rollout"].is_null(),
            "nothing to roll: {same}"
        );

        // Bad revisions are refused before anything stops.
        let bad = app
            .graphql(
                "mutation R($id: ID!) { rollbackContainer(id: $id, revision: 99) { id } }",
                json!({ "id": id }),
            )
            .await?;
        ensure!(
            bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
                && bad["errors"][0]["extensions"]["field"] == "revision"
                && bad["errors"][0]["message"].as_str().is_some_and(|m| m.contains("no revision 99")),
            "rollback to a revision that does not exist: {bad}"
        );

        let stop = AtomicBool::new(false);
        let filter = format!("label=berth.container={id}");
        let sampler = sample_running(&env.hosts, &filter, &stop);
        let rolled = async {
            // A new image under the same tag, rolled out one replica at a time.
            push_variant(h1, &base, &reference, "/v2").await?;
            let started = redeploy(&app, &id).await?;
            ensure!(
                started["rollout"]["state"] == "ROLLING"
                    && started["rollout"]["fromRevision"] == 1
                    && started["rollout"]["toRevision"] == 2,
                "the redeploy answers with the rollout under way: {started}"
            );
            let second = wait_rollout(&app, &id, "SUCCEEDED", Duration::from_secs(120)).await?;
            let v2 = digests(&second);
            ensure!(
                v2.len() == 3 && v2.iter().all(|d| *d == v2[0]) && v2[0] != v1[0],
                "every replica on the new digest: {second}"
            );
            ensure!(revisions_of(&second) == vec![2, 2, 2], "revision 2 everywhere: {second}");
            ensure!(
                second["revisions"][0]["number"] == 2
                    && second["revisions"][0]["createdBy"] == "admin"
                    && second["revisions"][0]["imageDigest"] == v2[0].as_str(),
                "revision 2 recorded with who asked: {second}"
            );

            // An image that breaks at start: the first new replica fails its gate, nothing else is touched.
            push_variant(h1, &base, &reference, "/broken").await?;
            redeploy(&app, &id).await?;
            let third = wait_rollout(&app, &id, "ROLLED_BACK", Duration::from_secs(120)).await?;
            ensure!(
                third["rollout"]["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("exited with code 3")),
                "rolled back with the reason: {third}"
            );
            ensure!(
                digests(&third) == v2 && revisions_of(&third) == vec![2, 2, 2],
                "all replicas still on revision 2: {third}"
            );

            // Back to revision 1: its digest, although the tag names the broken image now.
            let back = app
                .graphql(
                    "mutation R($id: ID!) { rollbackContainer(id: $id, revision: 1) { rollout { state toRevision } } }",
                    json!({ "id": id }),
                )
                .await?;
            ensure!(
                data(&back)?["rollbackContainer"]["rollout"]["state"] == "ROLLING",
                "{back}"
            );
            let fourth = wait_rollout(&app, &id, "SUCCEEDED", Duration::from_secs(120)).await?;
            ensure!(
                digests(&fourth) == v1 && revisions_of(&fourth) == vec![1, 1, 1],
                "every replica back on the first digest: {fourth}"
            );

            // "Apply now" of an edit rolls in place too, and keeps the digest (the tag names the broken image).
            let edited = gql(
                &app,
                "mutation U($id: ID!, $i: ContainerInput!) { updateContainer(id: $id, version: 1, input: $i) { version changedSinceStart } }",
                json!({ "id": id, "i": { "name": "rolling", "image": reference, "command": ["sh", "-c", COMMAND],
                                         "replicas": 3, "maxParallel": 1, "minHealthySecs": 1,
                                         "env": [{ "name": "EDITED", "value": "yes" }] } }),
            )
            .await?;
            ensure!(
                edited["updateContainer"]["version"] == 2 && edited["updateContainer"]["changedSinceStart"] == true,
                "{edited}"
            );
            container_action(&app, "runContainer", &id, None).await?;
            let fifth = poll(
                "the edit rolled out",
                Duration::from_secs(120),
                Duration::from_millis(100),
                || async {
                    let c = state(&app, &id).await?;
                    Ok(if c["rollout"]["toRevision"] == 4 && c["rollout"]["state"] == "SUCCEEDED" {
                        Probe::Ready(c)
                    } else {
                        Probe::NotYet(c.to_string())
                    })
                },
            )
            .await?;
            ensure!(
                digests(&fifth) == v1
                    && revisions_of(&fifth) == vec![4, 4, 4]
                    && fifth["revisions"][0]["version"] == 2,
                "the edit applied on the same digest: {fifth}"
            );
            Ok::<_, anyhow::Error>(())
        };
        let (sampled, rolled) = futures::join!(sampler, async {
            let r = rolled.await;
            stop.store(true, Ordering::Release);
            r
        });
        rolled?;
        let sampled = sampled.context("the sampler")?;
        let (low, high, samples) = sampled;
        eprintln!("rollouts: {samples} samples, {low} to {high} replicas running");
        ensure!(samples >= 20, "the sampler ran ({samples} samples)");
        ensure!(
            low >= 2,
            "at least 2 of 3 replicas ran at every sample (lowest {low})"
        );
        ensure!(high <= 4, "never more than one extra replica (highest {high})");
        // The engines run exactly the three replicas, on the first digest.
        let filter = format!("label=berth.container={id}");
        let mut images = Vec::new();
        for e in &env.hosts {
            let ids = e.docker_ok(&["ps", "-aq", "--filter", &filter]).await?;
            for docker_id in ids.lines().filter(|l| !l.trim().is_empty()) {
                let image = e
                    .docker_ok(&["inspect", "--format", "{{.Config.Image}}", docker_id.trim()])
                    .await?;
                images.push(image.trim().to_owned());
            }
        }
        ensure!(
            images.len() == 3 && images.iter().all(|i| i.ends_with(&v1[0])),
            "three Docker containers, pinned to the first digest: {images:?}"
        );
        Ok(())
    }
    .await;
    for file in ["v1", "v2", "broken"] {
        let _ = h1
            .docker(&["rm", "-f", &format!("rollout-build-{file}")])
            .await;
    }
    // After the server stopped: it would replace what goes while it runs.
    let finished = app.finish(outcome).await;
    berth_tests::containers::remove_replicas_named(&env.hosts, "rolling").await;
    finished
}

async fn start_berth(data_dir: &std::path::Path) -> Result<BerthProcess> {
    let p = berth_tests::app::spawn_berth_process_with_env(data_dir, &[]).await?;
    p.app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    Ok(p)
}

pub async fn rollout_survives_sigkill(env: &TestEnv) -> Result<()> {
    let data_dir = env.new_app_dir()?;
    let h2 = env.host("h2")?;
    let base = env.registry.reference("tools/busybox:1.35");
    let reference = env
        .registry
        .reference(&format!("rollout/crash-{}:1", std::process::id()));
    let mut p = start_berth(&data_dir).await?;
    let created = std::sync::Mutex::new(None::<String>);
    let outcome = async {
        let host = add_host(&p.app, engine_input("h2", h2)).await?;
        let host_id = host["id"].as_str().unwrap_or_default().to_owned();
        push_variant(h2, &base, &reference, "/c1").await?;
        let c = create_container(
            &p.app,
            json!({
                "name": "crashing",
                "image": reference,
                "command": ["sh", "-c", COMMAND],
                "replicas": 3,
                "hostId": host_id,
                "minHealthySecs": 2,
            }),
        )
        .await?;
        let id = c["id"].as_str().unwrap_or_default().to_owned();
        if let Ok(mut slot) = created.lock() {
            *slot = Some(id.clone());
        }
        container_action(&p.app, "runContainer", &id, None).await?;
        wait_container_status(&p.app, &id, "RUNNING", Duration::from_secs(90)).await?;
        push_variant(h2, &base, &reference, "/c2").await?;

        let stop = AtomicBool::new(false);
        let label = format!("label=berth.container={id}");
        let sampler = sample_running(std::slice::from_ref(h2), &label, &stop);
        let crashed = async {
            redeploy(&p.app, &id).await?;
            // One replica replaced, the next one proving itself: kill Berth there.
            poll(
                "the first replica replaced",
                Duration::from_secs(60),
                Duration::from_millis(50),
                || async {
                    let c = state(&p.app, &id).await?;
                    let on_new = revisions_of(&c).iter().filter(|r| **r == 2).count();
                    Ok(if on_new == 1 {
                        Probe::Ready(())
                    } else {
                        Probe::NotYet(c.to_string())
                    })
                },
            )
            .await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            p.process.kill().await?;
            p = start_berth(&data_dir).await?;
            let done = wait_rollout(&p.app, &id, "SUCCEEDED", Duration::from_secs(120)).await?;
            ensure!(
                revisions_of(&done) == vec![2, 2, 2],
                "every replica on revision 2 after the restart: {done}"
            );
            // Exactly three Docker containers are left, all running the new revision's digest.
            let filter = format!("label=berth.container={id}");
            let digest = digests(&done)[0].clone();
            poll(
                "exactly the three replicas on the engine",
                Duration::from_secs(30),
                Duration::from_millis(200),
                || async {
                    let all = h2.docker_ok(&["ps", "-aq", "--filter", &filter]).await?;
                    let ids: Vec<&str> = all.lines().filter(|l| !l.trim().is_empty()).collect();
                    let mut images = Vec::new();
                    for docker_id in &ids {
                        images.push(
                            h2.docker_ok(&[
                                "inspect",
                                "--format",
                                "{{.State.Status}} {{.Config.Image}}",
                                docker_id,
                            ])
                            .await?
                            .trim()
                            .to_owned(),
                        );
                    }
                    let right = images.len() == 3
                        && images
                            .iter()
                            .all(|i| i.starts_with("running ") && i.ends_with(&digest));
                    Ok(if right {
                        Probe::Ready(())
                    } else {
                        Probe::NotYet(format!("{images:?}"))
                    })
                },
            )
            .await?;
            Ok::<_, anyhow::Error>(())
        };
        let (sampled, crashed) = futures::join!(sampler, async {
            let r = crashed.await;
            stop.store(true, Ordering::Release);
            r
        });
        crashed?;
        let (low, high, samples) = sampled.context("the sampler")?;
        eprintln!("rollouts (SIGKILL): {samples} samples, {low} to {high} replicas running");
        ensure!(
            low >= 2,
            "at least 2 of 3 replicas ran at every sample (lowest {low})"
        );
        ensure!(
            high <= 4,
            "never more than one extra replica (highest {high})"
        );
        Ok(())
    }
    .await;
    for file in ["c1", "c2"] {
        let _ = h2
            .docker(&["rm", "-f", &format!("rollout-build-{file}")])
            .await;
    }
    let _ = p.process.kill().await;
    // The killed server's replicas stay on the engine: they go with the test.
    let leftover = created.lock().ok().and_then(|slot| slot.clone());
    if let Some(id) = leftover
        && let Ok(all) = h2
            .docker_ok(&[
                "ps",
                "-aq",
                "--filter",
                &format!("label=berth.container={id}"),
            ])
            .await
    {
        for docker_id in all.lines().filter(|l| !l.trim().is_empty()) {
            let _ = h2.docker(&["rm", "-f", docker_id.trim()]).await;
        }
    }
    outcome
}

pub async fn deploy_hook_rolls_out(env: &TestEnv) -> Result<()> {
    let (app, _token, hosts) = crate::containers::berth_with_hosts(env).await?;
    let h1 = env.host("h1")?;
    let base = env.registry.reference("tools/busybox:1.35");
    let reference = env
        .registry
        .reference(&format!("rollout/hook-{}:1", std::process::id()));
    let outcome = async {
        push_variant(h1, &base, &reference, "/d1").await?;
        let c = create_container(
            &app,
            json!({ "name": "hooked-deploy", "image": reference, "command": ["sh", "-c", COMMAND],
                    "hostId": hosts[0], "minHealthySecs": 1 }),
        )
        .await?;
        let id = c["id"].as_str().unwrap_or_default().to_owned();
        container_action(&app, "runContainer", &id, None).await?;
        wait_container_status(&app, &id, "RUNNING", Duration::from_secs(90)).await?;
        let token = gql(
            &app,
            "mutation H($id: ID!) { createDeployHook(containerId: $id) }",
            json!({ "id": id }),
        )
        .await?["createDeployHook"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        ensure!(token.len() >= 32, "a long token: {token:?}");
        let has = gql(&app, "query C($id: ID!) { container(id: $id) { hasDeployHook } }", json!({ "id": id })).await?;
        ensure!(has["container"]["hasDeployHook"] == true, "{has}");
        push_variant(h1, &base, &reference, "/d2").await?;
        let client = reqwest::Client::new();

        // A wrong token: 404, nothing pulled or rolled.
        let wrong = client
            .post(app.url(&format!("/hooks/deploy/{token}x")))
            .send()
            .await?;
        ensure!(wrong.status() == 404, "a wrong token: {}", wrong.status());
        let after_wrong = state(&app, &id).await?;
        ensure!(
            after_wrong["rollout"].is_null() && after_wrong["revisions"].as_array().map(Vec::len) == Some(1),
            "nothing happened: {after_wrong}"
        );

        // The right one: a pull and a rollout, answered 202.
        let right = client
            .post(app.url(&format!("/hooks/deploy/{token}")))
            .send()
            .await?;
        let status = right.status();
        let body: Value = right.json().await?;
        ensure!(
            status == 202 && body["rollout"]["state"] == "ROLLING" && body["rollout"]["toRevision"] == 2,
            "the hook starts a rollout: {status} {body}"
        );
        let done = wait_rollout(&app, &id, "SUCCEEDED", Duration::from_secs(90)).await?;
        ensure!(
            revisions_of(&done) == vec![2] && done["revisions"][0]["createdBy"] == "deploy hook",
            "rolled to revision 2 by the hook: {done}"
        );
        let audit = gql(
            &app,
            "{ auditLog(filter: { action: \"deployHook\" }) { edges { node { user target result } } } }",
            json!({}),
        )
        .await?;
        ensure!(
            audit["auditLog"]["edges"][0]["node"]["target"] == "hooked-deploy"
                && audit["auditLog"]["edges"][0]["node"]["result"] == "ok",
            "the call is audited: {audit}"
        );

        // Revoked: the same URL answers 404.
        let revoked = gql(
            &app,
            "mutation R($id: ID!) { revokeDeployHook(containerId: $id) { hasDeployHook } }",
            json!({ "id": id }),
        )
        .await?;
        ensure!(revoked["revokeDeployHook"]["hasDeployHook"] == false, "{revoked}");
        let gone = client
            .post(app.url(&format!("/hooks/deploy/{token}")))
            .send()
            .await?;
        ensure!(gone.status() == 404, "a revoked token: {}", gone.status());
        Ok(())
    }
    .await;
    for file in ["d1", "d2"] {
        let _ = h1
            .docker(&["rm", "-f", &format!("rollout-build-{file}")])
            .await;
    }
    // After the server stopped: it would replace what goes while it runs.
    let finished = app.finish(outcome).await;
    berth_tests::containers::remove_replicas_named(&env.hosts, "hooked-deploy").await;
    finished
}

pub async fn auto_policy_rolls_out_new_images(env: &TestEnv) -> Result<()> {
    let (app, _token, hosts) = crate::containers::berth_with_hosts(env).await?;
    let h1 = env.host("h1")?;
    let base = env.registry.reference("tools/busybox:1.35");
    let repository = format!("rollout/auto-{}", std::process::id());
    let reference = env.registry.reference(&format!("{repository}:1"));
    let outcome = async {
        push_variant(h1, &base, &reference, "/a1").await?;
        let registry = gql(
            &app,
            "mutation A($i: RegistryInput!) { addRegistry(input: $i) { id } }",
            json!({ "i": { "name": "open", "url": env.registry.url, "insecure": true, "refreshIntervalSeconds": 0 } }),
        )
        .await?;
        let registry_id = registry["addRegistry"]["id"].as_str().unwrap_or_default().to_owned();
        // A window that is shut now (it opens in three hours, UTC), one that is open, and one written wrong.
        let now = {
            use chrono::Timelike;
            let t = chrono::Utc::now();
            i64::from(t.hour() * 60 + t.minute())
        };
        let hhmm = |m: i64| format!("{:02}:{:02}", m.rem_euclid(1440) / 60, m.rem_euclid(1440) % 60);
        let shut = format!("{}-{}", hhmm(now + 180), hhmm(now + 240));
        let open = format!("{}-{}", hhmm(now - 60), hhmm(now + 120));
        let input = |name: &str, policy: &str, window: Option<&str>| {
            json!({ "name": name, "image": reference, "command": ["sh", "-c", COMMAND],
                    "hostId": hosts[0], "minHealthySecs": 1, "updatePolicy": policy, "updateWindow": window })
        };
        let wrong = app
            .graphql(
                "mutation C($i: ContainerInput!) { createContainer(input: $i) { id } }",
                json!({ "i": input("auto-wrong", "AUTO", Some("2:00-25:00")) }),
            )
            .await?;
        ensure!(
            berth_tests::app::error_code(&wrong) == Some("BAD_USER_INPUT")
                && wrong.pointer("/errors/0/extensions/field") == Some(&json!("updateWindow")),
            "a window written wrong is refused on its field: {wrong}"
        );
        let mut ids = Vec::new();
        for (name, policy, window) in [
            ("auto-rolled", "AUTO", None),
            ("never-told", "OFF", None),
            ("auto-waits", "AUTO", Some(shut.as_str())),
        ] {
            let c = create_container(&app, input(name, policy, window)).await?;
            let id = c["id"].as_str().unwrap_or_default().to_owned();
            container_action(&app, "runContainer", &id, None).await?;
            wait_container_status(&app, &id, "RUNNING", Duration::from_secs(90)).await?;
            ids.push(id);
        }
        let policies = gql(
            &app,
            "query C($a: ID!, $b: ID!) { a: container(id: $a) { updatePolicy } b: container(id: $b) { updatePolicy } }",
            json!({ "a": ids[0], "b": ids[1] }),
        )
        .await?;
        ensure!(
            policies["a"]["updatePolicy"] == "AUTO" && policies["b"]["updatePolicy"] == "OFF",
            "{policies}"
        );

        push_variant(h1, &base, &reference, "/a2").await?;
        gql(
            &app,
            "mutation R($id: ID!) { refreshRegistry(id: $id) { id } }",
            json!({ "id": registry_id }),
        )
        .await?;
        let rolled = wait_rollout(&app, &ids[0], "SUCCEEDED", Duration::from_secs(90)).await?;
        ensure!(
            revisions_of(&rolled) == vec![2] && rolled["revisions"][0]["createdBy"] == "berth",
            "AUTO rolled out by itself: {rolled}"
        );
        // Judged in the same pass as the one that rolled: outside its window it waits, the update shown.
        let waits = gql(
            &app,
            "query C($id: ID!) { container(id: $id) { version updateWindow updateAvailable rollout { state } instances { revision } } }",
            json!({ "id": ids[2] }),
        )
        .await?;
        ensure!(
            waits["container"]["updateWindow"] == json!(shut)
                && waits["container"]["updateAvailable"] == true
                && waits["container"]["rollout"].is_null()
                && waits["container"]["instances"][0]["revision"] == 1,
            "AUTO outside its window waits: {waits}"
        );
        // Its window edited to one open now: rolled out at once.
        gql(
            &app,
            "mutation U($id: ID!, $v: Int!, $i: ContainerInput!) { updateContainer(id: $id, version: $v, input: $i) { id } }",
            json!({ "id": ids[2], "v": waits["container"]["version"], "i": input("auto-waits", "AUTO", Some(&open)) }),
        )
        .await?;
        let opened = wait_rollout(&app, &ids[2], "SUCCEEDED", Duration::from_secs(90)).await?;
        ensure!(
            revisions_of(&opened) == vec![2] && opened["revisions"][0]["createdBy"] == "berth",
            "AUTO rolled out when its window opened: {opened}"
        );
        let off = gql(
            &app,
            "query C($id: ID!) { container(id: $id) { updateAvailable latestDigest rollout { state } instances { revision } } }",
            json!({ "id": ids[1] }),
        )
        .await?;
        ensure!(
            off["container"]["latestDigest"].is_string()
                && off["container"]["updateAvailable"] == false
                && off["container"]["rollout"].is_null()
                && off["container"]["instances"][0]["revision"] == 1,
            "OFF: no update shown, nothing rolled: {off}"
        );
        Ok(())
    }
    .await;
    for file in ["a1", "a2"] {
        let _ = h1
            .docker(&["rm", "-f", &format!("rollout-build-{file}")])
            .await;
    }
    // After the server stopped: it would replace what goes while it runs.
    let finished = app.finish(outcome).await;
    berth_tests::containers::remove_replicas_named(&env.hosts, "auto-rolled").await;
    berth_tests::containers::remove_replicas_named(&env.hosts, "never-told").await;
    berth_tests::containers::remove_replicas_named(&env.hosts, "auto-waits").await;
    finished
}

/// A rollback to a revision whose image is gone from the registry (its manifest deleted) and from every host is
/// refused before anything stops: BAD_USER_INPUT on `revision`, saying why, and the replica keeps running.
pub async fn rollback_to_a_gone_image_is_refused(env: &TestEnv) -> Result<()> {
    let (app, _token, hosts) = crate::containers::berth_with_hosts(env).await?;
    let h1 = env.host("h1")?;
    let base = env.registry.reference("tools/busybox:1.35");
    let repository = format!("rollout/gone-{}", std::process::id());
    let reference = env.registry.reference(&format!("{repository}:1"));
    let outcome = async {
        push_variant(h1, &base, &reference, "/g1").await?;
        let c = create_container(
            &app,
            json!({ "name": "gone-back", "image": reference, "command": ["sh", "-c", COMMAND],
                    "hostId": hosts[0], "minHealthySecs": 1 }),
        )
        .await?;
        let id = c["id"].as_str().unwrap_or_default().to_owned();
        container_action(&app, "runContainer", &id, None).await?;
        wait_container_status(&app, &id, "RUNNING", Duration::from_secs(90)).await?;
        let first = digests(&state(&app, &id).await?);
        push_variant(h1, &base, &reference, "/g2").await?;
        redeploy(&app, &id).await?;
        let second = wait_rollout(&app, &id, "SUCCEEDED", Duration::from_secs(90)).await?;
        ensure!(revisions_of(&second) == vec![2], "{second}");
        let running_before = second["instances"][0]["dockerId"].clone();

        // Revision 1's image: its manifest deleted from the registry, its image removed from every engine.
        let gone = first.first().cloned().unwrap_or_default();
        let deleted = reqwest::Client::new()
            .delete(format!(
                "{}/v2/{repository}/manifests/{gone}",
                env.registry.url
            ))
            .send()
            .await?;
        ensure!(
            deleted.status().as_u16() == 202,
            "manifest delete: {}",
            deleted.status()
        );
        let by_digest = format!("{}/{repository}@{gone}", env.registry.host_port);
        for engine in &env.hosts {
            if let Ok(image_id) = engine
                .docker_ok(&["image", "inspect", "--format", "{{.Id}}", &by_digest])
                .await
            {
                engine.docker_ok(&["rmi", "-f", image_id.trim()]).await?;
            }
        }

        let refused = app
            .graphql(
                "mutation R($id: ID!) { rollbackContainer(id: $id, revision: 1) { id } }",
                json!({ "id": id }),
            )
            .await?;
        ensure!(
            refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
                && refused["errors"][0]["extensions"]["field"] == "revision"
                && refused["errors"][0]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("cannot be had")),
            "a rollback to an image that is gone everywhere: {refused}"
        );
        let after = state(&app, &id).await?;
        ensure!(
            after["rollout"]["state"] == "SUCCEEDED"
                && after["rollout"]["toRevision"] == 2
                && revisions_of(&after) == vec![2]
                && after["instances"][0]["dockerId"] == running_before
                && after["instances"][0]["status"] == "RUNNING",
            "nothing stopped or changed: {after}"
        );
        Ok(())
    }
    .await;
    for file in ["g1", "g2"] {
        let _ = h1
            .docker(&["rm", "-f", &format!("rollout-build-{file}")])
            .await;
    }
    let finished = app.finish(outcome).await;
    berth_tests::containers::remove_replicas_named(&env.hosts, "gone-back").await;
    finished
}
