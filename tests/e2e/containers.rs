//! Containers against the real engines and registries: run on any or a pinned host, pull before run with
//! credentials, live status from Docker events, validation and optimistic locking, logs, and adoption after
//! Berth is killed.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{TestApp, data, error_code, http_client, spawn_app, spawn_berth_process};
use berth_tests::containers::{
    container_action, container_action_raw, create_container, create_container_raw, first_instance,
    get_container, subscribe_status, wait_container_status, wait_instance_status,
};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, free_port, poll};
use berth_tests::registry::{AUTH_PASSWORD, AUTH_USERNAME};
use serde_json::{Value, json};

const STATUS_TIMEOUT: Duration = Duration::from_secs(60);

/// A Berth with the three harness engines added as h1, h2, h3; returns the app, an admin token and the host ids.
pub async fn berth_with_hosts(env: &TestEnv) -> Result<(TestApp, String, [String; 3])> {
    let app = spawn_app(env).await?;
    let setup = async {
        let token = app.admin_token("containers-e2e").await?;
        let mut ids = Vec::new();
        for engine in &env.hosts {
            let host = add_host(&app, engine_input(&engine.name, engine)).await?;
            ensure!(host["status"] == "UP", "{}: {host}", engine.name);
            ids.push(str_of(&host["id"]));
        }
        let ids: [String; 3] = ids.try_into().map_err(|_| anyhow::anyhow!("three hosts"))?;
        Ok((token, ids))
    }
    .await;
    match setup {
        Ok((token, ids)) => Ok((app, token, ids)),
        Err(e) => app.finish(Err(e)).await,
    }
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// `docker inspect` of an instance's Docker container on the harness engine named like its host.
async fn inspect(env: &TestEnv, instance: &Value) -> Result<Value> {
    let host = str_of(&instance["host"]["name"]);
    let docker_id = str_of(&instance["dockerId"]);
    let out = env.host(&host)?.docker_ok(&["inspect", &docker_id]).await?;
    let list: Value = serde_json::from_str(&out).context("docker inspect JSON")?;
    Ok(list[0].clone())
}

/// Berth's Docker containers of one container on every engine: (engine, replica label, running). One `docker
/// ps` per engine, so a container removed meanwhile (a stray Berth cleans up) cannot fail a second call.
pub async fn docker_containers_of(
    env: &TestEnv,
    container_id: &str,
    all: bool,
) -> Result<Vec<(String, String, bool)>> {
    let mut out = Vec::new();
    for engine in &env.hosts {
        let filter = format!("label=berth.container={container_id}");
        let mut args = vec![
            "ps",
            "--filter",
            filter.as_str(),
            "--format",
            "{{.Label \"berth.replica\"}} {{.State}}",
        ];
        if all {
            args.push("-a");
        }
        let listed = engine.docker_ok(&args).await?;
        for line in listed.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (replica, state) = line.split_once(' ').unwrap_or((line, ""));
            out.push((engine.name.clone(), replica.to_string(), state == "running"));
        }
    }
    Ok(out)
}

fn busybox(env: &TestEnv) -> String {
    env.registry.reference("tools/busybox:1.35")
}

/// httpd from the test image with a published port, run on any host: RUNNING arrives on the subscription, the
/// port serves the file, and the engine applied the memory and CPU limits.
pub async fn httpd_runs_on_any_host_and_serves(env: &TestEnv) -> Result<()> {
    let (app, token, _) = berth_with_hosts(env).await?;
    let outcome = async {
        let port = free_port()?;
        let c = create_container(
            &app,
            json!({
                "name": "web",
                "image": busybox(env),
                "command": ["sh", "-c", "mkdir -p /www && echo hello-from-berth > /www/index.html && exec httpd -f -p 80 -h /www"],
                "ports": [{ "containerPort": 80, "hostPort": port }],
                "resources": { "cpus": 0.5, "memory": "64m" },
                "env": [{ "name": "GREETING", "value": "hi" }],
            }),
        )
        .await?;
        ensure!(c["status"] == "STOPPED" && c["version"] == 1, "new container: {c}");
        let id = str_of(&c["id"]);
        let mut ws = subscribe_status(&app, &token, Some(&id)).await?;
        let placed = container_action(&app, "runContainer", &id, None).await?;
        let first = first_instance(&placed)?;
        ensure!(
            ["PENDING", "PULLING", "CREATING", "RUNNING"].contains(&first["status"].as_str().unwrap_or_default()),
            "runContainer answers once placed: {placed}"
        );
        let running = wait_instance_status(&mut ws, "RUNNING", STATUS_TIMEOUT).await?;
        ensure!(running["container"]["status"] == "RUNNING", "summary: {running}");
        let c = get_container(&app, &id).await?;
        let instance = first_instance(&c)?;
        ensure!(instance["dockerId"].is_string(), "docker id recorded: {c}");

        let url = format!("http://127.0.0.1:{port}/index.html");
        let client = http_client(None)?;
        let body = poll("the published port to serve", Duration::from_secs(20), Duration::from_millis(100), || async {
            match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => Ok(Probe::Ready(r.text().await?)),
                Ok(r) => Ok(Probe::NotYet(format!("status {}", r.status()))),
                Err(e) => Ok(Probe::NotYet(e.to_string())),
            }
        })
        .await?;
        ensure!(body.trim() == "hello-from-berth", "GET {url}: {body:?}");

        let inspected = inspect(env, instance).await?;
        ensure!(inspected["HostConfig"]["Memory"] == 64 * 1024 * 1024, "memory limit: {}", inspected["HostConfig"]);
        ensure!(inspected["HostConfig"]["NanoCpus"] == 500_000_000, "CPU limit: {}", inspected["HostConfig"]);
        let labels = &inspected["Config"]["Labels"];
        ensure!(
            labels["berth.container"] == id.as_str()
                && labels["berth.instance"] == instance["id"]
                && labels["berth.replica"] == "0"
                && labels["berth.managed"] == "true",
            "labels: {labels}"
        );
        ensure!(
            inspected["Config"]["Env"].as_array().is_some_and(|e| e.iter().any(|v| v == "GREETING=hi")),
            "env: {}",
            inspected["Config"]["Env"]
        );

        // Stop: STOPPED on the subscription, the Docker container kept for its logs.
        let stopping = container_action(&app, "stopContainer", &id, None).await?;
        ensure!(stopping["desiredState"] == "STOPPED", "{stopping}");
        wait_instance_status(&mut ws, "STOPPED", STATUS_TIMEOUT).await?;
        let after = inspect(env, instance).await?;
        ensure!(after["State"]["Running"] == false, "stopped container: {}", after["State"]);
        ws.close().await;

        // Delete removes the Docker container too.
        let body = app
            .graphql("mutation D($id: ID!) { deleteContainer(id: $id) }", json!({ "id": id }))
            .await?;
        ensure!(data(&body)?["deleteContainer"] == true, "{body}");
        let host = env.host(instance["host"]["name"].as_str().unwrap_or_default())?;
        let gone = host.docker(&["inspect", instance["dockerId"].as_str().unwrap_or_default()]).await?;
        ensure!(!gone.status.success(), "the Docker container must be removed with the definition");
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// A pinned host is used; a host in maintenance is refused; with no pin the scheduler picks the host that
/// has the image cached.
pub async fn pinned_maintenance_and_cached_image(env: &TestEnv) -> Result<()> {
    let (app, _token, [h1, h2, h3]) = berth_with_hosts(env).await?;
    let outcome = async {
        let sleeper = |name: &str, image: &str, host: Option<&str>| {
            json!({ "name": name, "image": image, "command": ["sleep", "600"], "hostId": host })
        };
        let pinned = create_container(&app, sleeper("pinned", &busybox(env), Some(&h2))).await?;
        let pid = str_of(&pinned["id"]);
        container_action(&app, "runContainer", &pid, None).await?;
        let c = wait_container_status(&app, &pid, "RUNNING", STATUS_TIMEOUT).await?;
        ensure!(first_instance(&c)?["host"]["id"] == h2.as_str(), "pinned to h2: {c}");
        ensure!(c["host"]["name"] == "h2", "pinned host shown: {c}");

        let body = app
            .graphql(
                "mutation M($id: ID!) { setHostMaintenance(id: $id, maintenance: true) { status } }",
                json!({ "id": h3 }),
            )
            .await?;
        ensure!(data(&body)?["setHostMaintenance"]["status"] == "MAINTENANCE", "{body}");
        let on_h3 = create_container(&app, sleeper("on-h3", &busybox(env), Some(&h3))).await?;
        let refused = container_action_raw(&app, "runContainer", &str_of(&on_h3["id"]), None).await?;
        ensure!(error_code(&refused) == Some("UNAVAILABLE"), "maintenance host must be refused: {refused}");
        let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
        ensure!(message.contains("maintenance"), "message names the reason: {message}");
        let override_refused =
            container_action_raw(&app, "runContainer", &pid, Some(&h3)).await?;
        ensure!(error_code(&override_refused) == Some("UNAVAILABLE"), "{override_refused}");
        let c = get_container(&app, &id_of(&on_h3)).await?;
        ensure!(c["instances"].as_array().is_some_and(Vec::is_empty), "nothing placed: {c}");

        // An image only h1 has (tagged under a name of its own and pulled there through Berth).
        let unique = env.registry.reference(&format!("apps/cached-{}:1", std::process::id()));
        let builder = env.host("h2")?;
        builder.docker_ok(&["pull", &busybox(env)]).await?;
        builder.docker_ok(&["tag", &busybox(env), &unique]).await?;
        builder.docker_ok(&["push", &unique]).await?;
        builder.docker_ok(&["rmi", &unique]).await?;
        let pull = app
            .graphql(
                "mutation P($h: ID!, $r: String!) { pullImage(hostId: $h, reference: $r) { reference } }",
                json!({ "h": h1, "r": unique }),
            )
            .await?;
        data(&pull).with_context(|| format!("pull on h1: {pull}"))?;
        let any = create_container(&app, sleeper("anywhere", &unique, None)).await?;
        let aid = str_of(&any["id"]);
        let placed = container_action(&app, "runContainer", &aid, None).await?;
        ensure!(
            first_instance(&placed)?["host"]["id"] == h1.as_str(),
            "the scheduler prefers the host with the image (h1): {placed}"
        );
        wait_container_status(&app, &aid, "RUNNING", STATUS_TIMEOUT).await?;

        // An image with an id of its own, built on h1: Docker refuses to remove it while a container uses it,
        // and Berth says which container.
        let own = env.registry.reference(&format!("apps/in-use-{}:1", std::process::id()));
        let context = std::env::temp_dir().join(format!("berth-in-use-{}", std::process::id()));
        std::fs::create_dir_all(&context)?;
        std::fs::write(
            context.join("Dockerfile"),
            format!("FROM {}\nLABEL berth-test-in-use={}\n", busybox(env), std::process::id()),
        )?;
        let h1_engine = env.host("h1")?;
        h1_engine.docker_ok(&["pull", &busybox(env)]).await?;
        h1_engine
            .docker_ok(&["build", "--quiet", "--tag", &own, &context.to_string_lossy()])
            .await?;
        let _ = std::fs::remove_dir_all(&context);
        berth_tests::hosts::wait_for_image(
            &app,
            &h1,
            &own,
            true,
            STATUS_TIMEOUT,
            Duration::from_millis(100),
        )
        .await?;
        let user = create_container(&app, sleeper("in-use", &own, Some(&h1))).await?;
        let uid = str_of(&user["id"]);
        container_action(&app, "runContainer", &uid, None).await?;
        wait_container_status(&app, &uid, "RUNNING", STATUS_TIMEOUT).await?;
        let remove = app
            .graphql(
                "mutation R($h: ID!, $r: String!) { removeHostImage(hostId: $h, reference: $r) }",
                json!({ "h": h1, "r": own }),
            )
            .await?;
        ensure!(error_code(&remove) == Some("CONFLICT"), "image in use: {remove}");
        let message = remove["errors"][0]["message"].as_str().unwrap_or_default();
        ensure!(
            message.contains("“in-use”") && message.contains("h1"),
            "the message names the container and host: {message}"
        );
        for id in [&pid, &aid, &uid] {
            container_action(&app, "killContainer", id, None).await?;
        }
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

fn id_of(v: &Value) -> String {
    str_of(&v["id"])
}

/// An image the host lacks is pulled first from the registry that needs credentials (PULLING is seen).
pub async fn pull_with_credentials_before_run(env: &TestEnv) -> Result<()> {
    let (app, token, [h1, _, _]) = berth_with_hosts(env).await?;
    let outcome = async {
        let reference = env.auth_registry.reference("private/app:1.0");
        let _ = env.host("h1")?.docker(&["rmi", "--force", &reference]).await?;
        let body = app
            .graphql(
                "mutation R($input: RegistryInput!) { addRegistry(input: $input) { id } }",
                json!({ "input": { "name": "auth", "url": env.auth_registry.url, "insecure": true,
                        "refreshIntervalSeconds": 0, "username": AUTH_USERNAME, "password": AUTH_PASSWORD } }),
            )
            .await?;
        data(&body).with_context(|| format!("addRegistry: {body}"))?;
        let c = create_container(
            &app,
            json!({ "name": "private", "image": reference, "command": ["sleep", "600"], "hostId": h1 }),
        )
        .await?;
        let id = id_of(&c);
        let mut ws = subscribe_status(&app, &token, Some(&id)).await?;
        container_action(&app, "runContainer", &id, None).await?;
        wait_instance_status(&mut ws, "PULLING", STATUS_TIMEOUT).await?;
        let running = wait_instance_status(&mut ws, "RUNNING", STATUS_TIMEOUT).await?;
        ensure!(running["instance"]["host"]["name"] == "h1", "{running}");
        let order: Vec<String> = ws
            .seen
            .iter()
            .filter(|e| !e.data["containerStatus"]["instance"].is_null())
            .map(|e| str_of(&e.data["containerStatus"]["status"]))
            .collect();
        let position = |s: &str| order.iter().position(|o| o == s);
        ensure!(
            position("PENDING") < position("PULLING")
                && position("PULLING") < position("CREATING")
                && position("CREATING") < position("RUNNING"),
            "status order: {order:?}"
        );
        ws.close().await;
        let images = berth_tests::hosts::image_references(&app, &h1).await?;
        ensure!(images.contains(&reference), "the pull is in h1's cache: {images:?}");
        container_action(&app, "killContainer", &id, None).await?;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// Exit 3 → EXITED with exit code 3; `docker kill` behind Berth's back is seen within 5 s; a host-port clash
/// ends FAILED with the engine's message; logs carry both streams.
pub async fn exits_kills_clashes_and_logs(env: &TestEnv) -> Result<()> {
    let (app, token, [h1, _, _]) = berth_with_hosts(env).await?;
    let outcome = async {
        let mut ws = subscribe_status(&app, &token, None).await?;
        let quitter = create_container(
            &app,
            json!({ "name": "quitter", "image": busybox(env), "hostId": h1,
                    "command": ["sh", "-c", "exit 3"] }),
        )
        .await?;
        let qid = id_of(&quitter);
        container_action(&app, "runContainer", &qid, None).await?;
        let exited = ws
            .wait_for("quitter EXITED", STATUS_TIMEOUT, |e| {
                let s = &e.data["containerStatus"];
                s["container"]["id"] == qid.as_str() && s["status"] == "EXITED"
            })
            .await?;
        let s = &exited.data["containerStatus"];
        ensure!(s["instance"]["exitCode"] == 3, "exit code 3: {s}");
        // Restart policy NO: Berth replaces it after a back-off that doubles (1 s, then 2 s), shown as FAILED.
        for attempt in [1, 2] {
            let failed = ws
                .wait_for(&format!("quitter FAILED, attempt {attempt}"), STATUS_TIMEOUT, |e| {
                    let s = &e.data["containerStatus"];
                    s["container"]["id"] == qid.as_str() && s["status"] == "FAILED"
                })
                .await?;
            let error = str_of(&failed.data["containerStatus"]["instance"]["error"]);
            ensure!(
                error.contains("exited with code 3")
                    && error.contains("replacing it at")
                    && error.contains(&format!("attempt {attempt}")),
                "back-off shown: {error}"
            );
        }
        container_action(&app, "stopContainer", &qid, None).await?;
        wait_container_status(&app, &qid, "STOPPED", STATUS_TIMEOUT).await?;

        // Logs: both streams, marked, with timestamps.
        let talker = create_container(
            &app,
            json!({ "name": "talker", "image": busybox(env), "hostId": h1,
                    "command": ["sh", "-c", "echo to-stdout; echo to-stderr >&2; exec sleep 600"] }),
        )
        .await?;
        let tid = id_of(&talker);
        container_action(&app, "runContainer", &tid, None).await?;
        let c = wait_container_status(&app, &tid, "RUNNING", STATUS_TIMEOUT).await?;
        let instance_id = str_of(&first_instance(&c)?["id"]);
        let mut logs = berth_tests::ws::GraphqlWs::connect(&app, &token).await?;
        logs.subscribe(
            "subscription L($id: ID!) { containerLogs(instanceId: $id, tail: 50) { stream text at } }",
            json!({ "id": instance_id }),
        )
        .await?;
        let mut lines = Vec::new();
        while lines.len() < 2 {
            let e = logs.next_event(Duration::from_secs(20)).await?;
            lines.push(e.data["containerLogs"].clone());
        }
        ensure!(
            lines.iter().any(|l| l["stream"] == "stdout" && l["text"] == "to-stdout")
                && lines.iter().any(|l| l["stream"] == "stderr" && l["text"] == "to-stderr"),
            "log lines: {lines:?}"
        );
        ensure!(lines.iter().all(|l| l["at"].is_string()), "timestamps: {lines:?}");
        logs.close().await;
        container_action(&app, "killContainer", &tid, None).await?;

        // docker kill behind Berth's back.
        let sleeper = create_container(
            &app,
            json!({ "name": "sleeper", "image": busybox(env), "hostId": h1, "command": ["sleep", "600"] }),
        )
        .await?;
        let sid = id_of(&sleeper);
        container_action(&app, "runContainer", &sid, None).await?;
        let c = wait_container_status(&app, &sid, "RUNNING", STATUS_TIMEOUT).await?;
        let docker_id = str_of(&first_instance(&c)?["dockerId"]);
        let killed_at = tokio::time::Instant::now();
        env.host("h1")?.docker_ok(&["kill", &docker_id]).await?;
        let seen = ws
            .wait_for("sleeper EXITED after docker kill", Duration::from_secs(5), |e| {
                let s = &e.data["containerStatus"];
                s["container"]["id"] == sid.as_str() && s["status"] == "EXITED"
            })
            .await?;
        ensure!(seen.received.duration_since(killed_at) < Duration::from_secs(5), "seen late");
        ensure!(seen.data["containerStatus"]["instance"]["exitCode"] == 137, "{}", seen.data);

        // Two containers on one host asking for the same host port: the second fails with the engine's message.
        let port = free_port()?;
        let mut ids = Vec::new();
        for name in ["first-port", "second-port"] {
            let c = create_container(
                &app,
                json!({ "name": name, "image": busybox(env), "hostId": h1, "command": ["sleep", "600"],
                        "ports": [{ "containerPort": 80, "hostPort": port }] }),
            )
            .await?;
            ids.push(id_of(&c));
        }
        container_action(&app, "runContainer", &ids[0], None).await?;
        wait_container_status(&app, &ids[0], "RUNNING", STATUS_TIMEOUT).await?;
        container_action(&app, "runContainer", &ids[1], None).await?;
        let failed = wait_container_status(&app, &ids[1], "FAILED", STATUS_TIMEOUT).await?;
        let error = str_of(&first_instance(&failed)?["error"]).to_lowercase();
        ensure!(
            error.contains("port is already allocated") || error.contains("address already in use"),
            "the engine's message: {failed}"
        );
        ws.close().await;
        for id in [&sid, &ids[0], &ids[1]] {
            container_action(&app, "stopContainer", id, None).await?;
        }
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// Bad fields are BAD_USER_INPUT naming the field and save nothing; names are unique; a stale version is a
/// CONFLICT that changes nothing; an edit keeps every setting; delete refuses while running.
pub async fn validation_versions_and_delete(env: &TestEnv) -> Result<()> {
    let (app, _token, [h1, _, _]) = berth_with_hosts(env).await?;
    let outcome = async {
        let base = json!({ "name": "edited", "image": busybox(env), "command": ["sleep", "600"], "hostId": h1,
                           "env": [{ "name": "A", "value": "1" }], "ports": [{ "containerPort": 80 }],
                           "resources": { "memory": "32m", "cpus": 0.25, "cpuShares": 512 },
                           "restartPolicy": "ON_FAILURE" });
        let cases = [
            ("ports", json!([{ "containerPort": 80, "hostPort": 70000 }]), "ports.0.hostPort"),
            ("ports", json!([{ "containerPort": 0 }]), "ports.0.containerPort"),
            ("resources", json!({ "memory": "lots" }), "resources.memory"),
            ("resources", json!({ "cpus": 0 }), "resources.cpus"),
            ("image", json!("Not An Image"), "image"),
            ("name", json!("has spaces"), "name"),
            ("env", json!([{ "name": "1BAD", "value": "x" }]), "env.0.name"),
        ];
        for (key, value, field) in cases {
            let mut input = base.clone();
            input[key] = value.clone();
            let body = create_container_raw(&app, input).await?;
            ensure!(error_code(&body) == Some("BAD_USER_INPUT"), "{key}={value}: {body}");
            ensure!(body["errors"][0]["extensions"]["field"] == field, "{key}={value} names {field}: {body}");
        }
        let list = app.graphql("{ containers { totalCount } }", json!({})).await?;
        ensure!(data(&list)?["containers"]["totalCount"] == 0, "nothing saved: {list}");

        let c = create_container(&app, base.clone()).await?;
        let id = id_of(&c);
        ensure!(c["image"] == busybox(env).as_str(), "normalised image: {c}");
        let dup = create_container_raw(&app, base.clone()).await?;
        ensure!(error_code(&dup) == Some("CONFLICT"), "duplicate name: {dup}");

        container_action(&app, "runContainer", &id, None).await?;
        wait_container_status(&app, &id, "RUNNING", STATUS_TIMEOUT).await?;

        let update = "mutation U($id: ID!, $v: Int!, $input: ContainerInput!) { updateContainer(id: $id, version: $v, input: $input) { version env { name value } resources { cpus memoryBytes cpuShares } restartPolicy ports { containerPort } changedSinceStart command } }";
        let mut changed = base.clone();
        changed["env"] = json!([{ "name": "A", "value": "1" }, { "name": "B", "value": "2" }]);
        let body = app.graphql(update, json!({ "id": id, "v": 1, "input": changed })).await?;
        let updated = data(&body).with_context(|| format!("update: {body}"))?["updateContainer"].clone();
        ensure!(updated["version"] == 2, "{updated}");
        ensure!(updated["changedSinceStart"] == true, "running from version 1: {updated}");
        ensure!(
            updated["resources"]["memoryBytes"] == 32 * 1024 * 1024
                && updated["resources"]["cpuShares"] == 512
                && updated["restartPolicy"] == "ON_FAILURE"
                && updated["command"] == json!(["sleep", "600"]),
            "every setting kept: {updated}"
        );
        let mut stale_input = base.clone();
        stale_input["command"] = json!(["sleep", "1"]);
        let stale = app.graphql(update, json!({ "id": id, "v": 1, "input": stale_input })).await?;
        ensure!(error_code(&stale) == Some("CONFLICT"), "stale version: {stale}");
        let now = get_container(&app, &id).await?;
        ensure!(now["version"] == 2 && now["command"] == json!(["sleep", "600"]), "unchanged: {now}");

        // Apply now: running again recreates the instance from version 2.
        container_action(&app, "runContainer", &id, None).await?;
        let applied = poll("the edit applied", STATUS_TIMEOUT, Duration::from_millis(100), || async {
            let c = get_container(&app, &id).await?;
            let i = first_instance(&c)?;
            if c["status"] == "RUNNING" && i["definitionVersion"] == 2 {
                Ok(Probe::Ready(c))
            } else {
                Ok(Probe::NotYet(c.to_string()))
            }
        })
        .await?;
        ensure!(applied["changedSinceStart"] == false, "{applied}");
        let inspected = inspect(env, first_instance(&applied)?).await?;
        ensure!(
            inspected["Config"]["Env"].as_array().is_some_and(|e| e.iter().any(|v| v == "B=2")),
            "recreated with the new env: {}",
            inspected["Config"]["Env"]
        );

        let delete = "mutation D($id: ID!) { deleteContainer(id: $id) }";
        let refused = app.graphql(delete, json!({ "id": id })).await?;
        ensure!(error_code(&refused) == Some("CONFLICT"), "delete while running: {refused}");
        container_action(&app, "killContainer", &id, None).await?;
        let c = wait_container_status(&app, &id, "STOPPED", STATUS_TIMEOUT).await?;
        ensure!(first_instance(&c)?["exitCode"] == 137, "killed: {c}");
        let body = app.graphql(delete, json!({ "id": id })).await?;
        ensure!(data(&body)?["deleteContainer"] == true, "{body}");
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// Berth killed with SIGKILL while containers run, started again: it adopts them (no duplicates, statuses right),
/// and sees a container that died meanwhile as EXITED.
pub async fn adopts_containers_after_sigkill(env: &TestEnv) -> Result<()> {
    let data_dir = env.new_app_dir()?;
    let mut first = spawn_berth_process(&data_dir).await?;
    let setup = async {
        let app = &first.app;
        app.login_as(
            berth_tests::app::ADMIN_USERNAME,
            berth_tests::app::ADMIN_PASSWORD,
        )
        .await?;
        let mut ids = Vec::new();
        for engine in &env.hosts {
            let host = add_host(app, engine_input(&engine.name, engine)).await?;
            ensure!(host["status"] == "UP", "{host}");
        }
        for name in ["keeps-running", "dies-meanwhile"] {
            let c = create_container(
                app,
                json!({ "name": name, "image": busybox(env), "command": ["sleep", "600"] }),
            )
            .await?;
            let id = id_of(&c);
            container_action(app, "runContainer", &id, None).await?;
            let c = wait_container_status(app, &id, "RUNNING", STATUS_TIMEOUT).await?;
            ids.push((id, first_instance(&c)?.clone()));
        }
        Ok(ids)
    }
    .await;
    let ids = match setup {
        Ok(ids) => ids,
        Err(e) => {
            first.process.kill().await?;
            return Err(e);
        }
    };
    berth_tests::process::signal(first.process.pid(), nix::sys::signal::Signal::SIGKILL);
    first.process.kill().await?;
    // While Berth is down, one container dies.
    let (dead_id, dead_instance) = &ids[1];
    env.host(dead_instance["host"]["name"].as_str().unwrap_or_default())?
        .docker_ok(&[
            "kill",
            dead_instance["dockerId"].as_str().unwrap_or_default(),
        ])
        .await?;

    let mut second = spawn_berth_process(&data_dir).await?;
    let outcome = async {
        let app = &second.app;
        app.login_as(
            berth_tests::app::ADMIN_USERNAME,
            berth_tests::app::ADMIN_PASSWORD,
        )
        .await?;
        let (live_id, live_instance) = &ids[0];
        // The one that died while Berth was down is found exited and replaced (restart policy NO).
        let replaced = poll(
            "the dead replica replaced",
            STATUS_TIMEOUT,
            Duration::from_millis(100),
            || async {
                let c = get_container(app, dead_id).await?;
                let i = first_instance(&c)?;
                if c["status"] == "RUNNING" && i["dockerId"] != dead_instance["dockerId"] {
                    Ok(Probe::Ready(c))
                } else {
                    Ok(Probe::NotYet(c.to_string()))
                }
            },
        )
        .await?;
        let i = first_instance(&replaced)?;
        ensure!(
            i["id"] == dead_instance["id"] && i["attempts"] == 1,
            "same replica, first replacement: {i}"
        );
        let live = get_container(app, live_id).await?;
        ensure!(live["status"] == "RUNNING", "adopted: {live}");
        let instance = first_instance(&live)?;
        ensure!(
            instance["dockerId"] == live_instance["dockerId"]
                && instance["id"] == live_instance["id"],
            "same Docker container adopted: {instance} vs {live_instance}"
        );
        // Exactly one Docker container per replica across all engines.
        for (id, _) in &ids {
            let found = docker_containers_of(env, id, true).await?;
            ensure!(
                found.len() == 1,
                "{} Docker containers for one replica: {found:?}",
                found.len()
            );
        }
        for (id, _) in &ids {
            container_action(app, "killContainer", id, None).await?;
        }
        Ok(())
    }
    .await;
    second.process.kill().await?;
    outcome
}

/// Stopping a container whose image is still being pulled (from a registry that never answers the manifest)
/// ends the pull: the instance is STOPPED within seconds instead of when the pull would finish.
pub async fn stop_cancels_a_pull_in_progress(env: &TestEnv) -> Result<()> {
    use axum::routing::{any, get};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let (app, _token, [h1, _, _]) = berth_with_hosts(env).await?;
    let outcome = async {
        let asked = Arc::new(AtomicUsize::new(0));
        let seen = asked.clone();
        let router = axum::Router::new()
            .route("/v2/", get(|| async { "{}" }))
            .route(
                "/v2/stall/app/manifests/{tag}",
                any(move || {
                    seen.fetch_add(1, Ordering::SeqCst);
                    async {
                        tokio::time::sleep(Duration::from_secs(300)).await;
                        "{}"
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let image = format!("{}/stall/app:1", listener.local_addr()?);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let result = async {
            let c = create_container(
                &app,
                json!({ "name": "stalled", "image": image, "hostId": h1, "command": ["sleep", "60"] }),
            )
            .await?;
            let id = str_of(&c["id"]);
            container_action(&app, "runContainer", &id, None).await?;
            wait_container_status(&app, &id, "PULLING", STATUS_TIMEOUT).await?;
            poll(
                "the engine to ask the stalling registry for the manifest",
                STATUS_TIMEOUT,
                Duration::from_millis(100),
                || async {
                    Ok(if asked.load(Ordering::SeqCst) > 0 {
                        Probe::Ready(())
                    } else {
                        Probe::NotYet("no manifest request yet".to_owned())
                    })
                },
            )
            .await?;
            let stopping = std::time::Instant::now();
            container_action(&app, "stopContainer", &id, None).await?;
            let stopped = wait_container_status(&app, &id, "STOPPED", Duration::from_secs(20)).await?;
            let took = stopping.elapsed();
            // Without cancelling, the stop waits until the pull gives up on the silent engine (5 s) and the
            // instance keeps "pulling … failed" as its error.
            ensure!(
                took < Duration::from_secs(3),
                "stopped after {took:?}: the stop waited for the pull: {stopped}"
            );
            let c = get_container(&app, &id).await?;
            ensure!(
                c["instances"].as_array().is_some_and(|list| list.iter().all(|i| {
                    i["status"] == "STOPPED" && i["dockerId"].is_null() && i["error"].is_null()
                })),
                "every instance STOPPED, nothing created, no pull error: {c}"
            );
            eprintln!("berth-test: stop during a stalled pull took {took:?}");
            Ok(())
        }
        .await;
        server.abort();
        result
    }
    .await;
    app.finish(outcome).await
}
