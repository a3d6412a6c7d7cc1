//! The fleet inventory against real engines: a container made with plain `docker run` shows up live with its
//! port and label, is stopped through Berth, leaves when `docker rm`ed behind Berth's back; Berth's own
//! containers are refused there (act on the definition); a killed engine's containers turn not current and come
//! back current; and keyset paging over 2,000 rows stays exact while rows come and go.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{TestApp, data, error_code};
use berth_tests::containers::{container_action, create_container};
use berth_tests::process::{Probe, poll};
use berth_tests::ws::GraphqlWs;
use serde_json::{Value, json};

use crate::containers::berth_with_hosts;
use crate::replication::wait_running;

const CHANGES: &str = "subscription C($f: DockerContainerFilter) { dockerContainerChanges(filter: $f) { kind id dockerId container { id name state status current managed ports { privatePort publicPort protocol } labels { key value } host { name } } } }";
const FIELDS: &str =
    "id dockerId name state current managed lastSeenAt containerId: container { id }";

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

async fn gql(app: &TestApp, token: &str, query: &str, variables: Value) -> Result<Value> {
    let body = app.graphql_with_token(token, query, variables).await?;
    Ok(data(&body)
        .with_context(|| format!("{query}: {body}"))?
        .clone())
}

async fn inventory_of(app: &TestApp, token: &str, filter: Value) -> Result<Vec<Value>> {
    let q = format!(
        "query Q($f: DockerContainerFilter) {{ dockerContainers(filter: $f, first: 500) {{ totalCount edges {{ node {{ {FIELDS} }} }} }} }}"
    );
    let d = gql(app, token, &q, json!({ "f": filter })).await?;
    Ok(d["dockerContainers"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["node"].clone())
        .collect())
}

/// Waits for a change of `kind` about the container named `name`.
async fn change(ws: &mut GraphqlWs, kind: &str, name: &str, within: Duration) -> Result<Value> {
    let e = ws
        .wait_for(&format!("{kind} {name}"), within, |e| {
            let c = &e.data["dockerContainerChanges"];
            c["kind"] == kind && c["container"]["name"] == name
        })
        .await?;
    Ok(e.data["dockerContainerChanges"].clone())
}

/// `docker run` on h2 behind Berth's back: seen live within a second with its port and label, stopped through
/// Berth, gone after `docker rm`; Berth's own replicas are listed as managed and refused there; SIGKILL of h2's
/// engine marks its containers not current until it returns.
pub async fn hand_made_containers_are_seen_acted_on_and_go(env: &TestEnv) -> Result<()> {
    let (app, token, [h1, h2, _]) = berth_with_hosts(env).await?;
    let outcome = async {
        let image = env.registry.reference("tools/busybox:1.35");
        let h2_engine = env.host("h2")?;
        // Pull first so `docker run` itself is quick and the timing below measures Berth.
        h2_engine.docker_ok(&["pull", &image]).await?;
        let mut ws = GraphqlWs::connect(&app, &token).await?;
        ws.subscribe(CHANGES, json!({ "f": { "hostId": h2 } })).await?;

        let started = Instant::now();
        h2_engine
            .docker_ok(&[
                "run", "-d", "--name", "inv-web", "-p", "18931:8080", "-l", "team=blue", &image,
                "httpd", "-f", "-p", "8080",
            ])
            .await?;
        let ran = started.elapsed();
        let added = change(&mut ws, "ADDED", "inv-web", Duration::from_secs(5)).await?;
        let seen = started.elapsed();
        ensure!(
            seen <= ran + Duration::from_secs(1),
            "ADDED arrived {seen:?} after docker run began (docker run took {ran:?})"
        );
        // The create event may come before the start; wait for the running state with its port.
        let running = if added["container"]["state"] == "running" {
            added
        } else {
            ws.wait_for("inv-web running", Duration::from_secs(5), |e| {
                let c = &e.data["dockerContainerChanges"];
                c["container"]["name"] == "inv-web" && c["container"]["state"] == "running"
            })
            .await?
            .data["dockerContainerChanges"]
                .clone()
        };
        let c = &running["container"];
        ensure!(c["managed"] == false && c["current"] == true, "{c}");
        ensure!(c["host"]["name"] == "h2", "{c}");
        ensure!(
            c["ports"].as_array().is_some_and(|p| p.iter().any(|p| p["privatePort"] == 8080
                && p["publicPort"] == 18931
                && p["protocol"] == "tcp")),
            "port: {c}"
        );
        ensure!(
            c["labels"].as_array().is_some_and(|l| l.iter().any(|l| l["key"] == "team" && l["value"] == "blue")),
            "label: {c}"
        );
        let id = s(&running["id"]);

        // The list finds it by label text, by host and as unmanaged.
        let found = inventory_of(&app, &token, json!({ "search": "TEAM=blue", "managed": false })).await?;
        ensure!(found.iter().any(|n| n["id"] == id.as_str()), "search by label: {found:?}");

        // Killed and started again behind Berth's back: each change arrives (the engine's list can still say
        // running right after its `die` event; the inspected state must win).
        for (verb, state) in [("kill", "exited"), ("start", "running")] {
            h2_engine.docker_ok(&[verb, "inv-web"]).await?;
            ws.wait_for(&format!("inv-web {state} after docker {verb}"), Duration::from_secs(5), |e| {
                let c = &e.data["dockerContainerChanges"];
                c["container"]["name"] == "inv-web" && c["container"]["state"] == state
            })
            .await?;
        }

        // Stop through Berth: the answer and the subscription say exited.
        let stopped = gql(
            &app,
            &token,
            "mutation S($id: ID!) { stopDockerContainer(id: $id) { state status } }",
            json!({ "id": id }),
        )
        .await?;
        ensure!(stopped["stopDockerContainer"]["state"] == "exited", "{stopped}");
        ws.wait_for("inv-web exited", Duration::from_secs(5), |e| {
            let c = &e.data["dockerContainerChanges"];
            c["container"]["name"] == "inv-web" && c["container"]["state"] == "exited"
        })
        .await?;

        // docker rm behind Berth's back: REMOVED, and the row is gone; acting on it now is NOT_FOUND.
        h2_engine.docker_ok(&["rm", "inv-web"]).await?;
        change(&mut ws, "REMOVED", "inv-web", Duration::from_secs(5)).await?;
        let gone = gql(
            &app,
            &token,
            "query G($id: ID!) { dockerContainer(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await?;
        ensure!(gone["dockerContainer"].is_null(), "{gone}");
        let body = app
            .graphql_with_token(
                &token,
                "mutation S($id: ID!) { startDockerContainer(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await?;
        ensure!(error_code(&body) == Some("NOT_FOUND"), "{body}");

        // Berth's own replica is in the inventory as managed, and refused there.
        let def = create_container(
            &app,
            json!({ "name": "inv-own", "image": image, "command": ["sleep", "3600"], "hostId": h1 }),
        )
        .await?;
        let def_id = s(&def["id"]);
        container_action(&app, "runContainer", &def_id, None).await?;
        wait_running(&app, &def_id, 1, Duration::from_secs(60)).await?;
        let own = poll("Berth's replica in the inventory", Duration::from_secs(10), Duration::from_millis(100), || async {
            let rows = inventory_of(&app, &token, json!({ "managed": true, "search": "inv-own" })).await?;
            Ok(match rows.first() {
                Some(r) if r["state"] == "running" => Probe::Ready(r.clone()),
                _ => Probe::NotYet(format!("{rows:?}")),
            })
        })
        .await?;
        ensure!(own["containerId"]["id"] == def_id.as_str(), "{own}");
        let body = app
            .graphql_with_token(
                &token,
                "mutation S($id: ID!) { stopDockerContainer(id: $id) { id } }",
                json!({ "id": own["id"] }),
            )
            .await?;
        ensure!(error_code(&body) == Some("CONFLICT"), "{body}");
        container_action(&app, "killContainer", &def_id, None).await?;

        // Bad input: a cursor of another sort, an absurd search, an unknown state.
        let body = app
            .graphql_with_token(
                &token,
                "{ dockerContainers(after: \"bm9wZQ\") { totalCount } }",
                json!({}),
            )
            .await?;
        ensure!(error_code(&body) == Some("BAD_USER_INPUT"), "{body}");
        let long = "x".repeat(5000);
        let body = app
            .graphql_with_token(
                &token,
                "query Q($s: String) { dockerContainers(filter: { search: $s }) { totalCount } }",
                json!({ "s": long }),
            )
            .await?;
        ensure!(
            error_code(&body) == Some("BAD_USER_INPUT")
                && body["errors"][0]["extensions"]["field"] == "filter.search",
            "{body}"
        );

        // SIGKILL h2's engine: its containers stay listed, not current; back current when it returns.
        h2_engine
            .docker_ok(&["run", "-d", "--name", "inv-survivor", &image, "sleep", "3600"])
            .await?;
        change(&mut ws, "ADDED", "inv-survivor", Duration::from_secs(5)).await?;
        env.kill_engine("h2").await?;
        let stale = async {
            change(&mut ws, "CHANGED", "inv-survivor", Duration::from_secs(30)).await?;
            let rows = inventory_of(&app, &token, json!({ "hostId": h2, "search": "inv-survivor" })).await?;
            ensure!(
                rows.len() == 1 && rows[0]["current"] == false,
                "after the engine died: {rows:?}"
            );
            Ok::<_, anyhow::Error>(())
        }
        .await;
        let restarted = env.start_engine("h2").await;
        stale?;
        restarted?;
        poll("h2's containers current again", Duration::from_secs(30), Duration::from_millis(100), || async {
            let rows = inventory_of(&app, &token, json!({ "hostId": h2, "search": "inv-survivor" })).await?;
            Ok(match rows.first() {
                Some(r) if r["current"] == true => Probe::Ready(()),
                _ => Probe::NotYet(format!("{rows:?}")),
            })
        })
        .await?;
        h2_engine.docker_ok(&["rm", "-f", "inv-survivor"]).await?;
        ws.close().await;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// Keyset paging over 2,000 rows (seeded into the database the server uses) in several orders, while rows are
/// inserted and deleted between pages: every row present throughout is seen exactly once.
pub async fn paging_is_exact_while_rows_come_and_go(env: &TestEnv) -> Result<()> {
    let (app, token, [h1, h2, _]) = berth_with_hosts(env).await?;
    let outcome = async {
        let url = format!("sqlite://{}?mode=rwc", app.data_dir.join("berth.db").display());
        let db = berth::service::fixtures::Fixtures::open(&url).await?;
        let stable: BTreeSet<String> = db.inventory(&h1, "h1", "keep", 1200)
            .await?
            .into_iter()
            .chain(db.inventory(&h2, "h2", "stay", 800).await?)
            .collect();
        let mut churn = 0usize;
        for (by, direction) in [("NAME", "ASC"), ("HOST", "DESC"), ("CREATED", "DESC"), ("STATE", "ASC"), ("IMAGE", "ASC")] {
            let mut seen: HashSet<String> = HashSet::new();
            let mut after: Option<String> = None;
            let mut pages = 0;
            loop {
                let d = gql(
                    &app,
                    &token,
                    "query P($s: DockerContainerSort, $a: String, $f: DockerContainerFilter) { dockerContainers(filter: $f, sort: $s, first: 97, after: $a) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }",
                    json!({ "s": { "by": by, "direction": direction }, "a": after, "f": { "search": "seeded=yes" } }),
                )
                .await?;
                let conn = &d["dockerContainers"];
                for e in conn["edges"].as_array().into_iter().flatten() {
                    let id = s(&e["node"]["id"]);
                    ensure!(seen.insert(id.clone()), "{by} {direction}: {id} seen twice");
                }
                pages += 1;
                // Rows come and go between pages (some sort before the cursor, some after).
                let fresh = db.inventory(&h1, &format!("new{churn}"), &format!("new{churn}"), 3).await?;
                db.forget(&fresh[0]).await?;
                churn += 1;
                if conn["pageInfo"]["hasNextPage"] != true {
                    break;
                }
                after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
                ensure!(pages < 100, "{by}: too many pages");
            }
            let missing: Vec<&String> = stable.iter().filter(|id| !seen.contains(*id)).collect();
            ensure!(missing.is_empty(), "{by} {direction}: {} stable rows skipped, e.g. {:?}", missing.len(), missing.first());
        }
        // totalCount follows the filter.
        let d = gql(
            &app,
            &token,
            "query Q($h: ID) { dockerContainers(filter: { hostId: $h, search: \"stay-\" }, first: 1) { totalCount } }",
            json!({ "h": h2 }),
        )
        .await?;
        ensure!(d["dockerContainers"]["totalCount"] == 800, "{d}");
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// 150 containers on one engine killed by one `docker kill`: every exit reaches the inventory, and the monitor
/// keeps following the engine. (A monitor that awaited the host's lock while one of its own suspended re-reads
/// held it stopped for good under such a burst.)
pub async fn a_burst_of_exits_is_recorded(env: &TestEnv) -> Result<()> {
    const N: usize = 150;
    let (app, token, [_, h2, _]) = berth_with_hosts(env).await?;
    let engine = env.host("h2")?;
    let outcome = async {
        let image = env.registry.reference("tools/busybox:1.35");
        engine.docker_ok(&["pull", &image]).await?;
        let mut ids = Vec::new();
        for n in 0..N {
            let id = engine
                .docker_ok(&[
                    "run", "-d", "--network", "none", "--label", "burst=1", "--name",
                    &format!("burst-{n:03}"), &image, "sleep", "100000",
                ])
                .await?;
            ids.push(id.trim().to_owned());
        }
        let count = |state: &'static str| {
            let (app, token, h2) = (&app, &token, &h2);
            async move {
                let q = "query Q($f: DockerContainerFilter) { dockerContainers(filter: $f, first: 1) { totalCount } }";
                let d = gql(app, token, q, json!({ "f": { "hostId": h2, "search": "burst=1", "state": state } })).await?;
                Ok::<i64, anyhow::Error>(d["dockerContainers"]["totalCount"].as_i64().unwrap_or(0))
            }
        };
        poll("every burst container running", Duration::from_secs(60), Duration::from_millis(200), || async {
            let n = count("running").await?;
            Ok(if n as usize == N { Probe::Ready(()) } else { Probe::NotYet(format!("{n} running")) })
        })
        .await?;
        let mut args = vec!["kill"];
        args.extend(ids.iter().map(String::as_str));
        let killed = Instant::now();
        engine.docker_ok(&args).await?;
        poll("every burst container exited", Duration::from_secs(60), Duration::from_millis(200), || async {
            let n = count("exited").await?;
            Ok(if n as usize == N { Probe::Ready(()) } else { Probe::NotYet(format!("{n} exited")) })
        })
        .await?;
        eprintln!("inventory: {N} exits recorded {:?} after docker kill began", killed.elapsed());
        // Still following: a start afterwards is seen.
        engine.docker_ok(&["start", &ids[0]]).await?;
        poll("the restarted container running", Duration::from_secs(20), Duration::from_millis(100), || async {
            let n = count("running").await?;
            Ok(if n == 1 { Probe::Ready(()) } else { Probe::NotYet(format!("{n} running")) })
        })
        .await?;
        Ok(())
    }
    .await;
    let mut args = vec!["rm", "-f"];
    let names: Vec<String> = (0..N).map(|n| format!("burst-{n:03}")).collect();
    args.extend(names.iter().map(String::as_str));
    let _ = engine.docker(&args).await;
    app.finish(outcome).await
}
