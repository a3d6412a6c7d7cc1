//! Running a command in a container through the API (`execInContainer`, `execInDockerContainer`) on real
//! engines: output and exit codes as the program gave them, the engine's own message for a program that does not
//! exist, output capped, a bounded wait, argv checked, roles enforced, a stopped container refused.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, TestApp, data, error_code};
use berth_tests::containers::{container_action, create_container, wait_container_status};
use berth_tests::process::{Probe, poll};
use serde_json::{Value, json};

use crate::containers::berth_with_hosts;

const EXEC: &str = "mutation E($id: ID!, $argv: [String!]!, $max: Int, $t: Int) { \
     execInContainer(instanceId: $id, argv: $argv, maxOutputBytes: $max, timeoutSecs: $t) { \
     exitCode output truncated timedOut } }";
const EXEC_DOCKER: &str = "mutation E($id: ID!, $argv: [String!]!) { \
     execInDockerContainer(id: $id, argv: $argv) { exitCode output truncated timedOut } }";

async fn exec_raw(
    app: &TestApp,
    token: &str,
    instance: &str,
    argv: &[&str],
    max: Option<i64>,
    timeout: Option<i64>,
) -> Result<Value> {
    app.graphql_with_token(
        token,
        EXEC,
        json!({ "id": instance, "argv": argv, "max": max, "t": timeout }),
    )
    .await
}

async fn exec(app: &TestApp, token: &str, instance: &str, argv: &[&str]) -> Result<Value> {
    let body = exec_raw(app, token, instance, argv, None, None).await?;
    Ok(data(&body).with_context(|| format!("exec {argv:?}: {body}"))?["execInContainer"].clone())
}

fn field_of(body: &Value) -> &str {
    body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or_default()
}

/// A running busybox replica on h1: echo, a shell line with both streams and exit 3, a program that does not
/// exist, 200 KB of output cut at 1,000 bytes, a `sleep 30` given 1 s, bad argv and bounds, a VIEWER, then the
/// stopped container; and a hand-made container on h2 through the inventory.
pub async fn commands_run_in_containers(env: &TestEnv) -> Result<()> {
    let (app, token, [h1, _h2, _]) = berth_with_hosts(env).await?;
    let outcome = async {
        let image = env.registry.reference("tools/busybox:1.35");
        let c = create_container(
            &app,
            json!({ "name": "exec-target", "image": image, "command": ["sleep", "3600"], "hostId": h1 }),
        )
        .await?;
        let id = c["id"].as_str().unwrap_or_default().to_string();
        container_action(&app, "runContainer", &id, None).await?;
        let c = wait_container_status(&app, &id, "RUNNING", Duration::from_secs(60)).await?;
        let instance = c["instances"][0]["id"].as_str().unwrap_or_default().to_string();

        let hi = exec(&app, &token, &instance, &["echo", "hi"]).await?;
        ensure!(hi["exitCode"] == 0 && hi["output"] == "hi\n", "echo hi: {hi}");
        ensure!(hi["truncated"] == false && hi["timedOut"] == false, "{hi}");

        // argv is run as it is: no shell expands `$HOME` unless asked for.
        let literal = exec(&app, &token, &instance, &["echo", "$HOME"]).await?;
        ensure!(literal["output"] == "$HOME\n", "no shell: {literal}");
        let shell = exec(
            &app,
            &token,
            &instance,
            &["sh", "-c", "echo out; echo err >&2; exit 3"],
        )
        .await?;
        let output = shell["output"].as_str().unwrap_or_default();
        ensure!(shell["exitCode"] == 3, "exit 3: {shell}");
        ensure!(output.contains("out\n") && output.contains("err\n"), "both streams: {shell}");

        let missing = exec(&app, &token, &instance, &["no-such-program", "x"]).await?;
        ensure!(
            missing["exitCode"].as_i64().is_some_and(|c| c != 0),
            "a program that does not exist exits non-zero: {missing}"
        );
        ensure!(
            missing["output"].as_str().is_some_and(|o| o.contains("no-such-program")),
            "the engine's message names the program: {missing}"
        );

        let body = exec_raw(
            &app,
            &token,
            &instance,
            &["sh", "-c", "yes | head -c 200000"],
            Some(1000),
            None,
        )
        .await?;
        let big = &data(&body).with_context(|| format!("{body}"))?["execInContainer"];
        ensure!(
            big["exitCode"] == 0
                && big["truncated"] == true
                && big["output"].as_str().map(str::len) == Some(1000),
            "capped at 1,000 bytes: exitCode {} truncated {} length {:?}",
            big["exitCode"],
            big["truncated"],
            big["output"].as_str().map(str::len)
        );

        let started = Instant::now();
        let body = exec_raw(&app, &token, &instance, &["sleep", "30"], None, Some(1)).await?;
        let waited = started.elapsed();
        let slow = &data(&body).with_context(|| format!("{body}"))?["execInContainer"];
        ensure!(slow["timedOut"] == true && slow["exitCode"].is_null(), "{slow}");
        ensure!(waited < Duration::from_secs(10), "gave up after {waited:?}, not after ~1 s");

        for (argv, max, timeout, field) in [
            (vec![], None, None, "argv"),
            (vec!["echo", "a\0b"], None, None, "argv.1"),
            (vec!["echo"], Some(-1), None, "maxOutputBytes"),
            (vec!["echo"], Some(2 * 1024 * 1024), None, "maxOutputBytes"),
            (vec!["echo"], None, Some(0), "timeoutSecs"),
        ] {
            let body = exec_raw(&app, &token, &instance, &argv, max, timeout).await?;
            ensure!(
                error_code(&body) == Some("BAD_USER_INPUT") && field_of(&body) == field,
                "{argv:?} {max:?} {timeout:?} must be BAD_USER_INPUT on {field}: {body}"
            );
        }

        // A VIEWER may not run commands.
        let body = app
            .graphql_with_token(
                &token,
                "mutation C($p: String!) { createUser(username: \"watcher\", password: $p, role: VIEWER) { id } }",
                json!({ "p": "a-long-password" }),
            )
            .await?;
        data(&body).with_context(|| format!("{body}"))?;
        let viewer = app.login_as("watcher", "a-long-password").await?;
        ensure!(viewer["role"] == "VIEWER", "{viewer}");
        let refused = app
            .graphql(EXEC, json!({ "id": instance, "argv": ["echo", "hi"] }))
            .await?;
        ensure!(error_code(&refused) == Some("FORBIDDEN"), "viewer: {refused}");
        app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;

        // The inventory: a container made by hand on h2.
        let h2 = env.host("h2")?;
        h2.docker_ok(&["run", "-d", "--name", "exec-by-hand", &image, "sleep", "3600"])
            .await?;
        let docker_id = h2
            .docker_ok(&["inspect", "-f", "{{.Id}}", "exec-by-hand"])
            .await?
            .trim()
            .to_string();
        let row = poll(
            "exec-by-hand in the inventory",
            Duration::from_secs(10),
            Duration::from_millis(100),
            || async {
                let body = app
                    .graphql_with_token(
                        &token,
                        "query { dockerContainers(filter: { search: \"exec-by-hand\" }, first: 5) { edges { node { id dockerId state } } } }",
                        json!({}),
                    )
                    .await?;
                let edges = data(&body)?["dockerContainers"]["edges"].clone();
                let found = edges.as_array().and_then(|e| {
                    e.iter()
                        .map(|e| e["node"].clone())
                        .find(|n| n["dockerId"] == docker_id.as_str() && n["state"] == "running")
                });
                Ok(match found {
                    Some(row) => Probe::Ready(row),
                    None => Probe::NotYet(format!("not listed running yet: {edges}")),
                })
            },
        )
        .await?;
        let body = app
            .graphql_with_token(
                &token,
                EXEC_DOCKER,
                json!({ "id": row["id"], "argv": ["cat", "/etc/hostname"] }),
            )
            .await?;
        let by_hand = &data(&body).with_context(|| format!("{body}"))?["execInDockerContainer"];
        ensure!(
            by_hand["exitCode"] == 0
                && by_hand["output"]
                    .as_str()
                    .is_some_and(|o| docker_id.starts_with(o.trim())),
            "the hostname is the short Docker id: {by_hand}"
        );
        h2.docker_ok(&["rm", "-f", "exec-by-hand"]).await?;

        // Stopped: CONFLICT with a message saying so.
        container_action(&app, "stopContainer", &id, None).await?;
        wait_container_status(&app, &id, "STOPPED", Duration::from_secs(60)).await?;
        let body = exec_raw(&app, &token, &instance, &["echo", "hi"], None, None).await?;
        ensure!(error_code(&body) == Some("CONFLICT"), "stopped: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        ensure!(
            message.contains("not running") || message.contains("no Docker container"),
            "the message says why: {message}"
        );
        Ok(())
    }
    .await;
    app.finish(outcome).await
}
