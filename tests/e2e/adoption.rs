//! Adoption against real engines: a container made with plain `docker run` (env, published port, memory limit,
//! a host directory) is previewed exactly, adopted as a STOPPED definition pinned to its host while it keeps
//! running, and replaced by one labelled Docker container at the first run, serving on the same port from the
//! same directory; settings a definition cannot hold (privileged) must be confirmed, names are checked, and
//! Berth's own containers are refused.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{TestApp, data, error_code, http_client};
use berth_tests::containers::{container_action, create_container};
use berth_tests::process::{Probe, free_port, poll};
use serde_json::{Value, json};

use crate::containers::berth_with_hosts;
use crate::replication::wait_running;

const TIMEOUT: Duration = Duration::from_secs(60);
const PREVIEW: &str = "query P($id: ID!) { dockerContainerAdoption(id: $id) { input unsupported composeProject composeService effect } }";
const ADOPT: &str = "mutation A($id: ID!, $name: String, $confirm: Boolean!) { adoptDockerContainer(id: $id, name: $name, confirmUnsupported: $confirm) { id name desiredState status host { id name } mounts { containerPath readOnly disk { id name kind path host { id } } } } }";

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Waits until the inventory lists the container named `name` on `host_id` in `state`; returns its row.
async fn listed(
    app: &TestApp,
    token: &str,
    host_id: &str,
    name: &str,
    state: &str,
) -> Result<Value> {
    poll(
        &format!("{name} {state} in the inventory"),
        Duration::from_secs(20),
        Duration::from_millis(100),
        || async {
            let body = app
                .graphql_with_token(
                    token,
                    "query Q($f: DockerContainerFilter) { dockerContainers(filter: $f, first: 50) { edges { node { id name state managed hostId dockerId composeProject } } } }",
                    json!({ "f": { "search": name, "hostId": host_id } }),
                )
                .await?;
            let rows: Vec<Value> = data(&body)?["dockerContainers"]["edges"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| e["node"].clone())
                .collect();
            Ok(match rows.iter().find(|r| r["name"] == name && r["state"] == state) {
                Some(r) => Probe::Ready(r.clone()),
                None => Probe::NotYet(format!("{rows:?}")),
            })
        },
    )
    .await
}

async fn adopt_raw(
    app: &TestApp,
    token: &str,
    id: &str,
    name: Option<&str>,
    confirm: bool,
) -> Result<Value> {
    app.graphql_with_token(
        token,
        ADOPT,
        json!({ "id": id, "name": name, "confirm": confirm }),
    )
    .await
}

/// `docker run` on h1 with env, a port, a memory limit and a host directory: the preview says exactly that,
/// adoption leaves it running and saves a STOPPED definition pinned to h1 with a HOST_PATH disk, and the first
/// run replaces it with one labelled container serving the same directory on the same port.
pub async fn hand_made_container_is_adopted_and_replaced(env: &TestEnv) -> Result<()> {
    let (app, token, [h1, _, _]) = berth_with_hosts(env).await?;
    let outcome = async {
        let image = env.registry.reference("tools/busybox:1.35");
        let engine = env.host("h1")?;
        engine.docker_ok(&["pull", &image]).await?;
        let dir = env.scratch_dir("adopt-data")?;
        std::fs::write(dir.join("hello.txt"), "hello-from-the-host-dir\n").context("writing the page")?;
        let path = dir.to_string_lossy().into_owned();
        let port = free_port()?;
        let publish = format!("{port}:8080");
        let volume = format!("{path}:/data");
        let _ = engine.docker(&["rm", "-f", "hand-made"]).await;
        engine
            .docker_ok(&[
                "run", "-d", "--name", "hand-made", "-e", "GREETING=hi", "-p", &publish, "-m", "64m", "-v",
                &volume, &image, "httpd", "-f", "-p", "8080",
            ])
            .await?;
        let row = listed(&app, &token, &h1, "hand-made", "running").await?;
        ensure!(row["managed"] == false && row["composeProject"].is_null(), "{row}");
        let id = s(&row["id"]);

        // The preview: exactly what docker run was given, nothing unsupported.
        let body = app.graphql_with_token(&token, PREVIEW, json!({ "id": id })).await?;
        let preview = data(&body).with_context(|| format!("preview: {body}"))?["dockerContainerAdoption"].clone();
        let input = &preview["input"];
        ensure!(preview["unsupported"] == json!([]), "unsupported: {preview}");
        ensure!(preview["composeProject"].is_null(), "{preview}");
        ensure!(input["name"] == "hand-made" && input["hostId"] == h1.as_str(), "{input}");
        ensure!(input["env"] == json!([{ "name": "GREETING", "value": "hi" }]), "env: {input}");
        ensure!(
            input["ports"] == json!([{ "containerPort": 8080, "hostPort": port, "hostIp": null, "protocol": "TCP" }]),
            "ports: {input}"
        );
        let memory = berth_shared::parse_bytes(input["resources"]["memory"].as_str().unwrap_or_default()).ok();
        ensure!(memory == Some(64 * 1024 * 1024), "memory: {input}");
        ensure!(input["command"] == json!(["httpd", "-f", "-p", "8080"]) && input["entrypoint"].is_null(), "{input}");
        ensure!(input["restartPolicy"] == "NO", "{input}");
        let mounts = input["mounts"].as_array().cloned().unwrap_or_default();
        ensure!(mounts.len() == 1, "mounts: {input}");
        let disk = &mounts[0]["disk"];
        ensure!(
            mounts[0]["containerPath"] == "/data"
                && mounts[0]["readOnly"] == false
                && disk["kind"] == "HOST_PATH"
                && disk["path"] == path.as_str()
                && disk["hostId"] == h1.as_str()
                && disk["create"] == true,
            "mount: {}",
            mounts[0]
        );
        let effect = s(&preview["effect"]);
        ensure!(effect.contains("keeps running") && effect.contains("same ports"), "{effect}");

        // A name that is not one, or one that is taken, is refused on `name`.
        let body = adopt_raw(&app, &token, &id, Some("no spaces please"), false).await?;
        ensure!(
            error_code(&body) == Some("BAD_USER_INPUT") && body["errors"][0]["extensions"]["field"] == "name",
            "{body}"
        );
        create_container(&app, json!({ "name": "taken", "image": image })).await?;
        let body = adopt_raw(&app, &token, &id, Some("taken"), false).await?;
        ensure!(
            error_code(&body) == Some("CONFLICT") && body["errors"][0]["extensions"]["field"] == "name",
            "{body}"
        );

        // Adopt: STOPPED, pinned to h1, the host directory as a HOST_PATH disk; the original still runs.
        let body = adopt_raw(&app, &token, &id, None, false).await?;
        let adopted = data(&body).with_context(|| format!("adopt: {body}"))?["adoptDockerContainer"].clone();
        ensure!(
            adopted["name"] == "hand-made" && adopted["desiredState"] == "STOPPED" && adopted["status"] == "STOPPED",
            "{adopted}"
        );
        ensure!(adopted["host"]["id"] == h1.as_str(), "pinned: {adopted}");
        let disk = &adopted["mounts"][0]["disk"];
        ensure!(
            adopted["mounts"][0]["containerPath"] == "/data"
                && disk["kind"] == "HOST_PATH"
                && disk["path"] == path.as_str()
                && disk["host"]["id"] == h1.as_str(),
            "{adopted}"
        );
        let cid = s(&adopted["id"]);
        let running = engine
            .docker_ok(&["inspect", "-f", "{{.State.Running}}", "hand-made"])
            .await?;
        ensure!(running.trim() == "true", "the original keeps running until the first run: {running}");
        // Adopted once: again is CONFLICT, and so is the preview.
        let body = adopt_raw(&app, &token, &id, Some("hand-made-2"), true).await?;
        ensure!(error_code(&body) == Some("CONFLICT"), "adopting twice: {body}");
        let body = app.graphql_with_token(&token, PREVIEW, json!({ "id": id })).await?;
        ensure!(error_code(&body) == Some("CONFLICT"), "preview of an adopted container: {body}");

        // The first run replaces it: one labelled container on h1, the original gone, the page served.
        container_action(&app, "runContainer", &cid, None).await?;
        let c = wait_running(&app, &cid, 1, TIMEOUT).await?;
        ensure!(c["instances"][0]["host"]["id"] == h1.as_str(), "on h1: {}", c["instances"]);
        let label = format!("label=berth.container={cid}");
        let ours = engine
            .docker_ok(&["ps", "--filter", &label, "--format", "{{.ID}} {{.Names}}"])
            .await?;
        ensure!(ours.lines().filter(|l| !l.trim().is_empty()).count() == 1, "one replacement on h1: {ours:?}");
        let original = engine
            .docker_ok(&["ps", "-a", "--filter", "name=^hand-made$", "--format", "{{.ID}}"])
            .await?;
        ensure!(original.trim().is_empty(), "the original is removed: {original:?}");
        for other in ["h2", "h3"] {
            let there = env.host(other)?.docker_ok(&["ps", "-a", "--filter", &label, "--format", "{{.ID}}"]).await?;
            ensure!(there.trim().is_empty(), "nothing on {other}: {there:?}");
        }
        let url = format!("http://127.0.0.1:{port}/data/hello.txt");
        let client = http_client(None)?;
        let page = poll("the replacement to serve on the same port", Duration::from_secs(20), Duration::from_millis(100), || async {
            match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => Ok(Probe::Ready(r.text().await?)),
                Ok(r) => Ok(Probe::NotYet(format!("status {}", r.status()))),
                Err(e) => Ok(Probe::NotYet(e.to_string())),
            }
        })
        .await?;
        ensure!(page.trim() == "hello-from-the-host-dir", "GET {url}: {page:?}");

        // The replacement is Berth's own: listed as managed and refused for adoption.
        let replacement = poll("the replacement in the inventory", Duration::from_secs(20), Duration::from_millis(100), || async {
            let body = app
                .graphql_with_token(
                    &token,
                    "query Q($f: DockerContainerFilter) { dockerContainers(filter: $f) { edges { node { id state } } } }",
                    json!({ "f": { "managed": true, "hostId": h1, "search": cid } }),
                )
                .await?;
            let edges = data(&body)?["dockerContainers"]["edges"].clone();
            Ok(match edges.as_array().and_then(|e| e.first()) {
                Some(e) if e["node"]["state"] == "running" => Probe::Ready(s(&e["node"]["id"])),
                _ => Probe::NotYet(format!("{edges}")),
            })
        })
        .await?;
        let body = adopt_raw(&app, &token, &replacement, Some("again"), true).await?;
        ensure!(error_code(&body) == Some("CONFLICT"), "adopting Berth's own: {body}");
        // A container that is gone is NOT_FOUND.
        let body = app.graphql_with_token(&token, PREVIEW, json!({ "id": format!("{h1}:{}", "0".repeat(64)) })).await?;
        ensure!(error_code(&body) == Some("NOT_FOUND"), "{body}");

        container_action(&app, "killContainer", &cid, None).await?;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// A privileged container (created, not started): the preview lists it, adopting without confirming is CONFLICT
/// naming it and saves nothing, with confirmation it is adopted and the container left as it was.
pub async fn unsupported_settings_need_confirmation(env: &TestEnv) -> Result<()> {
    let (app, token, [_, h2, _]) = berth_with_hosts(env).await?;
    let outcome = async {
        let image = env.registry.reference("tools/busybox:1.35");
        let engine = env.host("h2")?;
        engine.docker_ok(&["pull", &image]).await?;
        let _ = engine.docker(&["rm", "-f", "adopt-priv"]).await;
        // Created, not started: the harness's engines run nested and may not grant a privileged container its
        // capabilities; adoption reads the settings all the same.
        engine
            .docker_ok(&[
                "create",
                "--name",
                "adopt-priv",
                "--privileged",
                &image,
                "sleep",
                "3600",
            ])
            .await?;
        let row = listed(&app, &token, &h2, "adopt-priv", "created").await?;
        let id = s(&row["id"]);
        let body = app
            .graphql_with_token(&token, PREVIEW, json!({ "id": id }))
            .await?;
        let preview =
            data(&body).with_context(|| format!("preview: {body}"))?["dockerContainerAdoption"]
                .clone();
        let unsupported: Vec<String> = preview["unsupported"]
            .as_array()
            .into_iter()
            .flatten()
            .map(s)
            .collect();
        ensure!(
            unsupported.len() == 1 && unsupported[0].contains("privileged"),
            "unsupported: {unsupported:?}"
        );
        ensure!(
            preview["input"]["command"] == json!(["sleep", "3600"]),
            "{preview}"
        );
        let effect = s(&preview["effect"]);
        ensure!(effect.contains("stays as it is (created)"), "{effect}");

        let body = adopt_raw(&app, &token, &id, None, false).await?;
        ensure!(
            error_code(&body) == Some("CONFLICT"),
            "without confirming: {body}"
        );
        let message = s(&body["errors"][0]["message"]);
        ensure!(
            message.contains("privileged"),
            "the refusal lists what is dropped: {message}"
        );
        ensure!(
            body["errors"][0]["extensions"]["field"] == "confirmUnsupported",
            "{body}"
        );
        let listed_defs = app
            .graphql_with_token(&token, "{ containers { totalCount } }", json!({}))
            .await?;
        ensure!(
            data(&listed_defs)?["containers"]["totalCount"] == 0,
            "nothing saved: {listed_defs}"
        );

        let body = adopt_raw(&app, &token, &id, None, true).await?;
        let adopted =
            data(&body).with_context(|| format!("adopt: {body}"))?["adoptDockerContainer"].clone();
        ensure!(
            adopted["name"] == "adopt-priv"
                && adopted["desiredState"] == "STOPPED"
                && adopted["host"]["id"] == h2.as_str(),
            "{adopted}"
        );
        let state = engine
            .docker_ok(&["inspect", "-f", "{{.State.Status}}", "adopt-priv"])
            .await?;
        ensure!(state.trim() == "created", "left as it was: {state}");
        engine.docker_ok(&["rm", "-f", "adopt-priv"]).await?;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}
