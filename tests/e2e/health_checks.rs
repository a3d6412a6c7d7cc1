//! Health checks against real engines: a definition's check reaches Docker, each instance's health (with the last
//! probe's output) flows on `containerStatus` from the engine's `health_status` events, an unhealthy replica makes
//! its container UNHEALTHY in the list, a replica that stays unhealthy is replaced when the definition asks for it,
//! and bad checks are BAD_USER_INPUT naming the field.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use berth_tests::app::{TestApp, data, error_code};
use berth_tests::containers::{container_action, create_container, create_container_raw};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, poll};
use berth_tests::ws::GraphqlWs;
use berth_tests::{PostgresServer, TestEnv, spawn_app_with_database};
use serde_json::{Value, json};

use crate::containers::berth_with_hosts;

/// The check's interval and retries; Docker says unhealthy within interval × retries (+ 2 s for the event).
const INTERVAL_SECS: u64 = 1;
const RETRIES: u64 = 2;
const TURNS_UNHEALTHY: Duration = Duration::from_secs(INTERVAL_SECS * RETRIES + 2);
/// Pull, create, start and the first probes.
const STARTS: Duration = Duration::from_secs(40);

/// Instance events with their health.
const SUBSCRIPTION: &str = "subscription S($id: ID) { containerStatus(containerId: $id) { \
     status message container { id status } instance { id status dockerId health healthOutput } } }";

fn busybox(env: &TestEnv) -> String {
    env.registry.reference("tools/busybox:1.35")
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Creates /tmp/ok (a `FROM scratch` image has no /tmp), then runs until stopped.
fn creates_ok_then_sleeps() -> Value {
    json!([
        "sh",
        "-c",
        "mkdir -p /tmp && touch /tmp/ok; trap 'exit 0' TERM; while true; do sleep 1; done"
    ])
}

fn check() -> Value {
    json!({ "test": ["CMD-SHELL", "test -f /tmp/ok"], "intervalSecs": INTERVAL_SECS,
            "timeoutSecs": 1, "retries": RETRIES })
}

async fn subscribe(app: &TestApp, token: &str, id: &str) -> Result<GraphqlWs> {
    let mut ws = GraphqlWs::connect(app, token).await?;
    ws.subscribe(SUBSCRIPTION, json!({ "id": id })).await?;
    Ok(ws)
}

/// Waits on the subscription for an instance event whose health is `health`; returns the event.
async fn wait_health(ws: &mut GraphqlWs, health: &str, timeout: Duration) -> Result<Value> {
    let event = ws
        .wait_for(&format!("an instance turning {health}"), timeout, |e| {
            e.data["containerStatus"]["instance"]["health"] == health
        })
        .await?;
    Ok(event.data["containerStatus"].clone())
}

/// The definition's summary status as the `containers` list shows it.
async fn listed_status(app: &TestApp, name: &str) -> Result<String> {
    let body = app
        .graphql(
            "query L($q: String) { containers(filter: { search: $q }) { edges { node { name status \
             instances { health healthOutput } } } } }",
            json!({ "q": name }),
        )
        .await?;
    let edges = data(&body)?["containers"]["edges"].clone();
    let node = edges
        .as_array()
        .and_then(|e| e.iter().find(|e| e["node"]["name"] == name))
        .with_context(|| format!("{name} in the list: {body}"))?;
    Ok(s(&node["node"]["status"]))
}

/// A check that passes while /tmp/ok exists: HEALTHY on the subscription; `docker exec rm /tmp/ok` behind
/// Berth's back → UNHEALTHY within interval × retries + 2 s, on the subscription, and the definition is
/// UNHEALTHY (not RUNNING) in `containers`; the file back → HEALTHY and RUNNING again.
pub async fn unhealthy_is_seen_live(env: &TestEnv) -> Result<()> {
    let (app, token, [h1, _, _]) = berth_with_hosts(env).await?;
    let outcome = async {
        let c = create_container(
            &app,
            json!({ "name": "probed", "image": busybox(env), "command": creates_ok_then_sleeps(),
                    "hostId": h1, "healthCheck": check() }),
        )
        .await?;
        let id = s(&c["id"]);
        let stored = app
            .graphql(
                "query Q($id: ID!) { container(id: $id) { healthCheck { test intervalSecs timeoutSecs retries \
                 startPeriodSecs } replaceUnhealthyAfterSecs } }",
                json!({ "id": id }),
            )
            .await?;
        let stored = data(&stored)?["container"].clone();
        ensure!(
            stored["healthCheck"]
                == json!({ "test": ["CMD-SHELL", "test -f /tmp/ok"], "intervalSecs": 1, "timeoutSecs": 1,
                           "retries": 2, "startPeriodSecs": null })
                && stored["replaceUnhealthyAfterSecs"].is_null(),
            "stored as given: {stored}"
        );
        let mut ws = subscribe(&app, &token, &id).await?;
        let started = Instant::now();
        container_action(&app, "runContainer", &id, None).await?;
        let healthy = wait_health(&mut ws, "HEALTHY", STARTS).await?;
        println!(
            "  run → HEALTHY on the subscription in {} ms",
            started.elapsed().as_millis()
        );
        let docker_id = s(&healthy["instance"]["dockerId"]);
        ensure!(healthy["instance"]["status"] == "RUNNING", "{healthy}");

        // Docker got the check as given (durations in nanoseconds).
        let inspected = env.host("h1")?.docker_ok(&["inspect", &docker_id]).await?;
        let inspected: Value = serde_json::from_str(&inspected).context("docker inspect JSON")?;
        let hc = &inspected[0]["Config"]["Healthcheck"];
        ensure!(
            hc["Test"] == json!(["CMD-SHELL", "test -f /tmp/ok"])
                && hc["Interval"] == 1_000_000_000_i64
                && hc["Timeout"] == 1_000_000_000_i64
                && hc["Retries"] == 2,
            "Docker's health check: {hc}"
        );
        ensure!(
            listed_status(&app, "probed").await? == "RUNNING",
            "healthy and running is RUNNING"
        );

        let removed = Instant::now();
        env.host("h1")?
            .docker_ok(&["exec", &docker_id, "rm", "/tmp/ok"])
            .await?;
        let sick = wait_health(&mut ws, "UNHEALTHY", TURNS_UNHEALTHY)
            .await
            .context("UNHEALTHY within interval × retries + 2 s")?;
        println!(
            "  rm /tmp/ok → UNHEALTHY on the subscription in {} ms (bound {} ms)",
            removed.elapsed().as_millis(),
            TURNS_UNHEALTHY.as_millis()
        );
        ensure!(
            sick["instance"]["status"] == "RUNNING" && sick["container"]["status"] == "UNHEALTHY",
            "the replica runs, the container is UNHEALTHY: {sick}"
        );
        ensure!(
            sick["instance"]["healthOutput"].is_string(),
            "the last probe's output is there: {sick}"
        );
        let listed = listed_status(&app, "probed").await?;
        ensure!(
            listed == "UNHEALTHY",
            "the list does not show it healthy: {listed}"
        );
        let filtered = app
            .graphql(
                "{ containers(filter: { status: UNHEALTHY }) { edges { node { name } } } }",
                json!({}),
            )
            .await?;
        ensure!(
            data(&filtered)?["containers"]["edges"][0]["node"]["name"] == "probed",
            "filtering on UNHEALTHY finds it: {filtered}"
        );

        env.host("h1")?
            .docker_ok(&["exec", &docker_id, "touch", "/tmp/ok"])
            .await?;
        wait_health(&mut ws, "HEALTHY", TURNS_UNHEALTHY).await?;
        poll(
            "probed RUNNING again in the list",
            Duration::from_secs(5),
            Duration::from_millis(100),
            || async {
                let status = listed_status(&app, "probed").await?;
                Ok(if status == "RUNNING" {
                    Probe::Ready(())
                } else {
                    Probe::NotYet(status)
                })
            },
        )
        .await?;

        // Changing the check is a definition change: the running replica was started from the old one.
        let edit = app
            .graphql(
                "mutation U($id: ID!, $v: Int!, $input: ContainerInput!) { updateContainer(id: $id, version: $v, \
                 input: $input) { version changedSinceStart healthCheck { intervalSecs } } }",
                json!({ "id": id, "v": c["version"], "input": {
                    "name": "probed", "image": busybox(env), "command": creates_ok_then_sleeps(), "hostId": h1,
                    "healthCheck": { "test": ["CMD-SHELL", "test -f /tmp/ok"], "intervalSecs": 2 } } }),
            )
            .await?;
        let edited = data(&edit)?["updateContainer"].clone();
        ensure!(
            edited["changedSinceStart"] == true && edited["healthCheck"]["intervalSecs"] == 2,
            "{edited}"
        );
        ws.close().await;
        container_action(&app, "killContainer", &id, None).await?;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// With `replaceUnhealthyAfterSecs`, a replica that stays unhealthy is removed and placed again after the
/// usual back-off: a new Docker container, healthy again.
pub async fn unhealthy_replicas_are_replaced(env: &TestEnv) -> Result<()> {
    let (app, token, [h1, _, _]) = berth_with_hosts(env).await?;
    let outcome = replaced(env, &app, &token, &h1).await;
    app.finish(outcome).await
}

/// The same on PostgreSQL (the new columns: the check as text, the seconds as a big integer, since when it is
/// unhealthy as a timestamp; the stored summary UNHEALTHY found by the list's filter).
pub async fn unhealthy_replicas_are_replaced_on_postgres(env: &TestEnv) -> Result<()> {
    let postgres = PostgresServer::start(env).await?;
    let outcome = async {
        let url = postgres.create_database("berth_health").await?;
        let app = spawn_app_with_database(env, &url)
            .await
            .context("starting Berth on PostgreSQL")?;
        let outcome = async {
            let token = app.admin_token("health-pg").await?;
            let host = add_host(&app, engine_input("h1", env.host("h1")?)).await?;
            ensure!(host["status"] == "UP", "{host}");
            replaced(env, &app, &token, &s(&host["id"])).await
        }
        .await;
        app.finish(outcome).await
    }
    .await;
    postgres.finish(outcome).await
}

async fn replaced(env: &TestEnv, app: &TestApp, token: &str, h1: &str) -> Result<()> {
    let c = create_container(
        app,
        json!({ "name": "replaced", "image": busybox(env), "command": creates_ok_then_sleeps(),
                "hostId": h1, "healthCheck": check(), "replaceUnhealthyAfterSecs": 2 }),
    )
    .await?;
    let id = s(&c["id"]);
    let mut ws = subscribe(app, token, &id).await?;
    container_action(app, "runContainer", &id, None).await?;
    let healthy = wait_health(&mut ws, "HEALTHY", STARTS).await?;
    let old = s(&healthy["instance"]["dockerId"]);
    let removed = Instant::now();
    env.host("h1")?
        .docker_ok(&["exec", &old, "rm", "/tmp/ok"])
        .await?;
    wait_health(&mut ws, "UNHEALTHY", TURNS_UNHEALTHY).await?;
    let unhealthy = app
        .graphql(
            "{ containers(filter: { status: UNHEALTHY }) { edges { node { name } } } }",
            json!({}),
        )
        .await?;
    ensure!(
        data(&unhealthy)?["containers"]["edges"][0]["node"]["name"] == "replaced",
        "the stored summary is UNHEALTHY: {unhealthy}"
    );
    let failed = ws
        .wait_for("the replica replaced", Duration::from_secs(10), |e| {
            let i = &e.data["containerStatus"]["instance"];
            i["status"] == "FAILED"
        })
        .await?;
    let docker_id = s(&failed.data["containerStatus"]["instance"]["dockerId"]);
    ensure!(
        docker_id.is_empty(),
        "its Docker container is gone: {:?}",
        failed.data
    );
    let again = ws
        .wait_for("healthy in a new Docker container", STARTS, |e| {
            let i = &e.data["containerStatus"]["instance"];
            i["health"] == "HEALTHY" && i["dockerId"] != old.as_str()
        })
        .await?;
    println!(
        "  rm /tmp/ok → replaced and HEALTHY again in {} ms",
        removed.elapsed().as_millis()
    );
    let gone = env.host("h1")?.docker(&["inspect", &old]).await?;
    ensure!(
        !gone.status.success(),
        "the unhealthy Docker container was removed: {:?}",
        again.data
    );
    ws.close().await;
    container_action(app, "killContainer", &id, None).await?;
    Ok(())
}

/// A bad check is BAD_USER_INPUT naming the field, and nothing is saved.
pub async fn bad_checks_are_refused(env: &TestEnv) -> Result<()> {
    let (app, _token, [h1, _, _]) = berth_with_hosts(env).await?;
    let outcome = async {
        let base = json!({ "name": "bad-check", "image": busybox(env), "hostId": h1 });
        let cases = [
            (
                "healthCheck",
                json!({ "test": ["CMD-SHELL", "true"], "intervalSecs": 0 }),
                "healthCheck.intervalSecs",
            ),
            (
                "healthCheck",
                json!({ "test": ["BOGUS"], "intervalSecs": 1 }),
                "healthCheck.test",
            ),
            (
                "healthCheck",
                json!({ "test": ["BOGUS"], "intervalSecs": 0 }),
                "healthCheck.test",
            ),
            (
                "healthCheck",
                json!({ "test": ["CMD-SHELL", "true"], "retries": -1 }),
                "healthCheck.retries",
            ),
            (
                "healthCheck",
                json!({ "test": ["CMD-SHELL", "true"], "timeoutSecs": -5 }),
                "healthCheck.timeoutSecs",
            ),
            (
                "healthCheck",
                json!({ "test": ["CMD-SHELL", "a", "b"] }),
                "healthCheck.test",
            ),
            ("healthCheck", json!({ "test": [] }), "healthCheck.test"),
            (
                "healthCheck",
                json!({ "test": ["NONE", "x"] }),
                "healthCheck.test",
            ),
            ("replaceUnhealthyAfterSecs", json!(0), "replaceUnhealthyAfterSecs"),
        ];
        for (key, value, field) in cases {
            let mut input = base.clone();
            input[key] = value.clone();
            let body = create_container_raw(&app, input).await?;
            ensure!(
                error_code(&body) == Some("BAD_USER_INPUT"),
                "{key}={value}: {body}"
            );
            ensure!(
                body["errors"][0]["extensions"]["field"] == field,
                "{key}={value} names {field}: {body}"
            );
        }
        let list = app.graphql("{ containers { totalCount } }", json!({})).await?;
        ensure!(
            data(&list)?["containers"]["totalCount"] == 0,
            "nothing saved: {list}"
        );
        // NONE switches the image's check off; no check at all keeps the image's (null).
        let off = create_container(
            &app,
            json!({ "name": "no-check", "image": busybox(env), "healthCheck": { "test": ["NONE"] } }),
        )
        .await?;
        let kept = create_container(&app, json!({ "name": "image-check", "image": busybox(env) })).await?;
        let body = app
            .graphql(
                "query Q($a: ID!, $b: ID!) { a: container(id: $a) { healthCheck { test } } \
                 b: container(id: $b) { healthCheck { test } } }",
                json!({ "a": off["id"], "b": kept["id"] }),
            )
            .await?;
        let d = data(&body)?;
        ensure!(
            d["a"]["healthCheck"]["test"] == json!(["NONE"]) && d["b"]["healthCheck"].is_null(),
            "{body}"
        );
        Ok(())
    }
    .await;
    app.finish(outcome).await
}
