//! Docker hosts against the real engines: adding h1 (unix), h2 (tcp) and h3 (tcp + TLS) with their
//! capabilities, refusing bad endpoints, a wrong CA, a host that never answers, live status over the
//! `hostStatus` subscription while an engine is killed and restarted, pulls with progress on
//! `imagePull`, and the image cache following the engine behind Berth's back.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use berth_tests::app::{data, error_code};
use berth_tests::hosts::{
    HOST_FIELDS, SilentListener, add_host, add_host_raw, engine_input, get_host, image_references,
    list_hosts, push_unique_image, wait_for_image, wait_for_status,
};
use berth_tests::tls::TlsMaterial;
use berth_tests::ws::{GraphqlWs, WsEvent};
use berth_tests::{EngineHandle, TestApp, TestEnv, spawn_app};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const HOST_STATUS: &str = "subscription Status($id: ID) { hostStatus(hostId: $id) { \
     host { id name status lastError capabilities { checkedAt } } status previousStatus at message } }";
const IMAGE_PULL: &str = "subscription Pull($id: ID) { imagePull(hostId: $id) { \
     host { id } reference phase currentBytes totalBytes at message } }";
const PULL_IMAGE: &str = "mutation Pull($host: ID!, $ref: String!) { pullImage(hostId: $host, reference: $ref) { \
     reference imageId digest sizeBytes pulledAt } }";
const REMOVE_IMAGE: &str = "mutation Remove($host: ID!, $ref: String!) { removeHostImage(hostId: $host, reference: $ref) }";
const SET_MAINTENANCE: &str = "mutation Maintenance($id: ID!, $on: Boolean!) { \
     setHostMaintenance(id: $id, maintenance: $on) { id status maintenance } }";

/// How long `addHost` may take for an engine that answers.
const ADD_TIMEOUT: Duration = Duration::from_secs(15);

/// A fresh Berth with the admin logged in (cookie client) and an API token for WebSockets.
async fn berth(env: &TestEnv) -> Result<(TestApp, String)> {
    let app = spawn_app(env).await?;
    match app.admin_token("hosts-e2e").await {
        Ok(token) => Ok((app, token)),
        Err(e) => app.finish(Err(e)).await,
    }
}

fn str_of<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or_default()
}

/// Adds a harness engine and checks that `addHost` answers UP (it waits for the first check).
async fn add_engine(app: &TestApp, name: &str, engine: &EngineHandle) -> Result<Value> {
    let started = Instant::now();
    let host = add_host(app, engine_input(name, engine)).await?;
    let took = started.elapsed();
    ensure!(
        host["status"] == "UP",
        "addHost({name}, {}) answered status {} (lastError {}) after {took:.1?}",
        engine.endpoint,
        host["status"],
        host["lastError"]
    );
    ensure!(
        took < ADD_TIMEOUT,
        "addHost({name}) took {took:.1?} for an engine that answers"
    );
    Ok(host)
}

fn checked_at(host: &Value) -> Result<OffsetDateTime> {
    let text = host["capabilities"]["checkedAt"]
        .as_str()
        .with_context(|| format!("no capabilities.checkedAt in {host}"))?;
    OffsetDateTime::parse(text, &Rfc3339)
        .with_context(|| format!("checkedAt {text:?} is not RFC 3339"))
}

/// Subscribes to `hostStatus(hostId)` as the connection's last subscription and makes sure the server
/// has registered every subscription on it: toggles maintenance on the (UP) host until this
/// subscription reports a transition (a subscribe message and a mutation race; the first event proves
/// the subscription live). Leaves the host UP and returns the subscription id.
async fn subscribe_status_and_confirm(
    app: &TestApp,
    ws: &mut GraphqlWs,
    host_id: &str,
) -> Result<String> {
    let sub = ws.subscribe(HOST_STATUS, json!({ "id": host_id })).await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        for (on, status) in [(true, "MAINTENANCE"), (false, "UP")] {
            let body = app
                .graphql(SET_MAINTENANCE, json!({ "id": host_id, "on": on }))
                .await?;
            let host = &data(&body)?["setHostMaintenance"];
            ensure!(
                host["status"] == status && host["maintenance"] == on,
                "setHostMaintenance({on}) answered {host}"
            );
        }
        let seen = ws
            .wait_for(
                &format!("a hostStatus event for {host_id}"),
                Duration::from_secs(1),
                |e| e.id == sub && e.data["hostStatus"]["host"]["id"] == host_id,
            )
            .await;
        match seen {
            Ok(_) => return Ok(sub),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => {}
        }
    }
}

/// The `imagePull` events of one reference among those seen on `ws`.
fn pull_events<'a>(seen: &'a [WsEvent], reference: &str) -> Vec<&'a Value> {
    seen.iter()
        .map(|e| &e.data["imagePull"])
        .filter(|p| p.is_object() && p["reference"] == reference)
        .collect()
}

/// STARTED first, FINISHED last, nothing FAILED, `currentBytes` never going down.
fn check_pull_sequence(events: &[&Value]) -> Result<()> {
    let phases: Vec<&str> = events.iter().map(|e| str_of(e, "phase")).collect();
    ensure!(
        phases.first() == Some(&"STARTED"),
        "first imagePull event is not STARTED: {phases:?}"
    );
    ensure!(
        phases.last() == Some(&"FINISHED"),
        "last imagePull event is not FINISHED: {phases:?}"
    );
    ensure!(
        !phases.contains(&"FAILED"),
        "a FAILED event in a pull that worked: {phases:?}"
    );
    let mut last = 0;
    for event in events {
        if let Some(current) = event["currentBytes"].as_i64() {
            ensure!(
                current >= last,
                "currentBytes went down from {last} to {current}: {events:?}"
            );
            last = current;
        }
    }
    Ok(())
}

/// `docker image inspect` of one reference on an engine, as JSON.
async fn inspect_image(engine: &EngineHandle, reference: &str) -> Result<Value> {
    let out = engine
        .docker_ok(&["image", "inspect", "--format", "{{json .}}", reference])
        .await?;
    serde_json::from_str(out.trim()).with_context(|| format!("docker image inspect: {out}"))
}

// ---- tests -----------------------------------------------------------------------------------

/// h1 (unix), h2 (tcp) and h3 (tcp + TLS) are added UP, with the capabilities `docker info` and
/// `docker version` report on each engine.
pub async fn engines_are_added_up_with_their_capabilities(env: &TestEnv) -> Result<()> {
    let (app, _token) = berth(env).await?;
    let outcome = async {
        let before = list_hosts(&app).await?;
        ensure!(
            before.is_empty(),
            "a fresh Berth already has hosts (is there a /var/run/docker.sock or DOCKER_HOST on this machine?): {before:?}"
        );
        for engine in &env.hosts {
            let added_at = OffsetDateTime::now_utc();
            let host = add_engine(&app, &engine.name, engine).await?;
            let name = &engine.name;
            ensure!(host["name"] == name.as_str(), "{name}: {host}");
            ensure!(
                host["endpoint"] == engine.endpoint.as_str(),
                "{name}: endpoint {} != {}",
                host["endpoint"],
                engine.endpoint
            );
            ensure!(
                host["tls"] == engine.tls.is_some(),
                "{name}: tls flag {}",
                host["tls"]
            );
            ensure!(host["dockerSupport"] == true, "{name}: {host}");
            ensure!(host["lastError"].is_null(), "{name}: lastError {}", host["lastError"]);
            ensure!(!host["lastSeenAt"].is_null(), "{name}: no lastSeenAt");

            let info: Value = serde_json::from_str(
                engine
                    .docker_ok(&["info", "--format", "{{json .}}"])
                    .await?
                    .trim(),
            )
            .context("docker info JSON")?;
            let version: Value = serde_json::from_str(
                engine
                    .docker_ok(&["version", "--format", "{{json .Server}}"])
                    .await?
                    .trim(),
            )
            .context("docker version JSON")?;
            let caps = &host["capabilities"];
            let expected = [
                ("dockerVersion", info["ServerVersion"].clone()),
                ("apiVersion", version["ApiVersion"].clone()),
                ("operatingSystem", info["OperatingSystem"].clone()),
                ("kernelVersion", info["KernelVersion"].clone()),
                ("architecture", info["Architecture"].clone()),
                ("cpus", info["NCPU"].clone()),
                ("memoryBytes", info["MemTotal"].clone()),
                ("storageDriver", info["Driver"].clone()),
            ];
            for (field, want) in expected {
                ensure!(
                    !want.is_null() && want != "",
                    "{name}: docker reports nothing for {field}"
                );
                ensure!(
                    caps[field] == want,
                    "{name}: capabilities.{field} = {}, docker reports {want}",
                    caps[field]
                );
            }
            ensure!(
                caps["dockerVersion"] == version["Version"],
                "{name}: dockerVersion {} != docker version's {}",
                caps["dockerVersion"],
                version["Version"]
            );
            let checked = checked_at(&host)?;
            ensure!(
                checked >= added_at - time::Duration::seconds(1),
                "{name}: checkedAt {checked} is older than the addHost call ({added_at})"
            );
            // The stored record says the same as the mutation's answer.
            let stored = get_host(&app, str_of(&host, "id")).await?;
            ensure!(
                stored["status"] == "UP" && stored["capabilities"] == host["capabilities"],
                "{name}: host(id) = {stored}, addHost answered {host}"
            );
        }
        let names: Vec<String> = list_hosts(&app)
            .await?
            .iter()
            .map(|h| format!("{}={}", str_of(h, "name"), str_of(h, "status")))
            .collect();
        ensure!(
            names == ["h1=UP", "h2=UP", "h3=UP"],
            "hosts lists {names:?}"
        );
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// Invalid endpoints are BAD_USER_INPUT on `endpoint` with a message naming the problem, TLS on a
/// unix socket is refused, a second host with the same name is a CONFLICT — and none of it is saved.
pub async fn bad_input_is_refused_and_nothing_saved(env: &TestEnv) -> Result<()> {
    let (app, _token) = berth(env).await?;
    let outcome = async {
        let h1 = env.host("h1")?;
        let h3 = env.host("h3")?;
        let tls = h3.tls.as_ref().context("h3 has no TLS material")?;
        let cases: [(&str, &[&str]); 5] = [
            ("ftp://x", &["ftp://", "unix://", "tcp://"]),
            ("tcp://127.0.0.1:0", &["port", "0"]),
            ("tcp://127.0.0.1:70000", &["port", "70000"]),
            ("", &["empty"]),
            ("tcp://127.0.0.1", &["port"]),
        ];
        for (endpoint, words) in cases {
            let body = add_host_raw(&app, json!({ "name": "bad", "endpoint": endpoint })).await?;
            ensure!(
                error_code(&body) == Some("BAD_USER_INPUT"),
                "endpoint {endpoint:?}: expected BAD_USER_INPUT, got {body}"
            );
            ensure!(
                body.pointer("/errors/0/extensions/field") == Some(&json!("endpoint")),
                "endpoint {endpoint:?}: expected extensions.field = endpoint, got {body}"
            );
            let message = body
                .pointer("/errors/0/message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_lowercase();
            for word in words {
                ensure!(
                    message.contains(word),
                    "endpoint {endpoint:?}: the message {message:?} does not mention {word:?}"
                );
            }
        }
        let hosts = list_hosts(&app).await?;
        ensure!(hosts.is_empty(), "invalid endpoints were saved: {hosts:?}");

        // TLS material only makes sense on tcp://.
        let mut unix_tls = engine_input("unix-tls", h1);
        unix_tls["tlsCaPem"] = json!(tls.ca_pem);
        unix_tls["tlsCertPem"] = json!(tls.cert_pem);
        unix_tls["tlsKeyPem"] = json!(tls.key_pem);
        let body = add_host_raw(&app, unix_tls).await?;
        ensure!(
            error_code(&body) == Some("BAD_USER_INPUT"),
            "unix endpoint with TLS: expected BAD_USER_INPUT, got {body}"
        );
        ensure!(
            body.pointer("/errors/0/extensions/field")
                .and_then(Value::as_str)
                .is_some_and(|f| f.starts_with("tls") || f == "endpoint"),
            "unix endpoint with TLS: extensions.field names neither the TLS fields nor the endpoint: {body}"
        );
        // Half the TLS material is refused too.
        let mut half = engine_input("half-tls", h3);
        half["tlsKeyPem"] = Value::Null;
        let body = add_host_raw(&app, half).await?;
        ensure!(
            error_code(&body) == Some("BAD_USER_INPUT"),
            "TLS without the client key: expected BAD_USER_INPUT, got {body}"
        );
        let hosts = list_hosts(&app).await?;
        ensure!(hosts.is_empty(), "refused TLS input was saved: {hosts:?}");

        // The same name twice.
        let first = add_engine(&app, "dup", h1).await?;
        let body = add_host_raw(&app, engine_input("dup", env.host("h2")?)).await?;
        ensure!(
            error_code(&body) == Some("CONFLICT"),
            "a second host named dup: expected CONFLICT, got {body}"
        );
        let hosts = list_hosts(&app).await?;
        ensure!(
            hosts.len() == 1 && hosts[0]["id"] == first["id"],
            "after the conflict, hosts = {hosts:?}"
        );
        let kept = get_host(&app, str_of(&first, "id")).await?;
        ensure!(
            kept["endpoint"] == h1.endpoint.as_str(),
            "the conflicting addHost changed the existing host: {kept}"
        );
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// h3 with a CA that did not sign its server certificate is saved, NON_RESPONSIVE, with a TLS
/// message in `lastError`.
pub async fn wrong_ca_is_saved_non_responsive(env: &TestEnv) -> Result<()> {
    let (app, _token) = berth(env).await?;
    let outcome = async {
        let h3 = env.host("h3")?;
        let other = TlsMaterial::generate().context("generating another CA")?;
        let mut input = engine_input("h3-wrong-ca", h3);
        input["tlsCaPem"] = json!(other.ca_pem);
        let started = Instant::now();
        let host = add_host(&app, input).await?;
        let took = started.elapsed();
        ensure!(
            took < ADD_TIMEOUT,
            "addHost with a wrong CA took {took:.1?}"
        );
        let id = str_of(&host, "id").to_string();
        ensure!(!id.is_empty(), "the host was not saved: {host}");
        // addHost waits for the first check; should it not have, the check must still come soon.
        let host = if host["status"] == "NON_RESPONSIVE" {
            host
        } else {
            wait_for_status(&app, &id, "NON_RESPONSIVE", Duration::from_secs(15)).await?
        };
        let error = str_of(&host, "lastError").to_lowercase();
        ensure!(
            error.contains("tls") || error.contains("certificate"),
            "lastError does not mention TLS or a certificate: {:?}",
            host["lastError"]
        );
        // The engine's certificate is what fails (not, say, the client certificate being refused).
        ensure!(
            error.contains("issuer") || error.contains("invalid peer certificate"),
            "lastError does not say the engine's certificate is not trusted: {:?}",
            host["lastError"]
        );
        eprintln!("berth-test: wrong CA: lastError {:?}", host["lastError"]);
        ensure!(host["tls"] == true, "tls flag: {host}");
        ensure!(
            host["capabilities"].is_null(),
            "capabilities of a host never reached: {host}"
        );
        let hosts = list_hosts(&app).await?;
        ensure!(
            hosts.len() == 1 && hosts[0]["status"] == "NON_RESPONSIVE",
            "hosts = {hosts:?}"
        );
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// A host that accepts TCP and never answers: `addHost` gives up in time with NON_RESPONSIVE, and
/// meanwhile and afterwards `hosts` answers in under a second and h1 stays UP.
pub async fn silent_host_does_not_delay_others(env: &TestEnv) -> Result<()> {
    let (app, _token) = berth(env).await?;
    let silent = SilentListener::start().await?;
    let outcome = async {
        let h1 = add_engine(&app, "h1", env.host("h1")?).await?;
        let h1_id = str_of(&h1, "id").to_string();

        // Add the silent host and query `hosts` all the while.
        let started = Instant::now();
        let add = add_host(
            &app,
            json!({ "name": "silent", "endpoint": silent.endpoint }),
        );
        tokio::pin!(add);
        let mut slowest = Duration::ZERO;
        let mut queries = 0;
        let added = loop {
            tokio::select! {
                added = &mut add => break added?,
                result = async {
                    let asked = Instant::now();
                    let hosts = list_hosts(&app).await?;
                    Ok::<_, anyhow::Error>((asked.elapsed(), hosts))
                } => {
                    let (took, hosts) = result?;
                    queries += 1;
                    slowest = slowest.max(took);
                    ensure!(took < Duration::from_secs(1), "hosts took {took:?} while the silent host was being added");
                    let h1_status = hosts.iter().find(|h| h["id"] == h1_id.as_str()).map(|h| h["status"].clone());
                    ensure!(h1_status == Some(json!("UP")), "h1 is {h1_status:?} while the silent host was being added");
                }
            }
        };
        let add_took = started.elapsed();
        ensure!(
            add_took < Duration::from_secs(15),
            "addHost of a silent host took {add_took:.1?}"
        );
        ensure!(
            added["status"] == "NON_RESPONSIVE",
            "the silent host is {} after addHost ({add_took:.1?})",
            added["status"]
        );
        ensure!(
            !str_of(&added, "lastError").is_empty(),
            "no lastError for the silent host: {added}"
        );
        ensure!(
            silent.accepted() > 0,
            "Berth never connected to the silent listener"
        );
        ensure!(queries > 0, "no hosts query ran while addHost was waiting");

        // While it exists (the monitor keeps retrying it), over two ping periods and more.
        let window = Instant::now();
        while window.elapsed() < Duration::from_secs(8) {
            let asked = Instant::now();
            let body = app
                .graphql(
                    &format!("{{ hosts {{ {HOST_FIELDS} }} }}"),
                    json!({}),
                )
                .await?;
            let took = asked.elapsed();
            slowest = slowest.max(took);
            ensure!(took < Duration::from_secs(1), "hosts took {took:?} with a silent host");
            let hosts = data(&body)?["hosts"].as_array().cloned().unwrap_or_default();
            for host in &hosts {
                let expected = if host["id"] == h1_id.as_str() { "UP" } else { "NON_RESPONSIVE" };
                ensure!(
                    host["status"] == expected,
                    "{} is {} (expected {expected}): {host}",
                    host["name"],
                    host["status"]
                );
            }
            ensure!(hosts.len() == 2, "hosts = {hosts:?}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        // An engine call on h1 is not held up either.
        let asked = Instant::now();
        let refreshed = app
            .graphql(
                "mutation R($id: ID!) { refreshHost(id: $id) { status } }",
                json!({ "id": h1_id }),
            )
            .await?;
        ensure!(
            data(&refreshed)?["refreshHost"]["status"] == "UP",
            "refreshHost(h1) = {refreshed}"
        );
        ensure!(
            asked.elapsed() < Duration::from_secs(3),
            "refreshHost(h1) took {:?} with a silent host",
            asked.elapsed()
        );
        eprintln!(
            "berth-test: silent host: addHost gave up after {add_took:.1?}; slowest hosts query {slowest:?} ({} connections accepted)",
            silent.accepted()
        );
        Ok(())
    }
    .await;
    drop(silent);
    app.finish(outcome).await
}

/// `pullImage` of `apps/web:1.0` from the open registry onto h1: the cache entry has size and the
/// engine's digest, and `imagePull` reports STARTED … FINISHED with bytes that never go down.
pub async fn pull_image_reports_progress_and_fills_cache(env: &TestEnv) -> Result<()> {
    let (app, token) = berth(env).await?;
    let outcome = async {
        let engine = env.host("h1")?;
        let host = add_engine(&app, "h1", engine).await?;
        let id = str_of(&host, "id").to_string();
        let reference = env.registry.reference("apps/web:1.0");
        // Start from an engine without the tag (the layers may stay: other tags share them).
        let _ = engine.docker(&["rmi", &reference]).await?;
        wait_for_image(
            &app,
            &id,
            &reference,
            false,
            Duration::from_secs(5),
            Duration::from_millis(50),
        )
        .await?;

        let mut ws = GraphqlWs::connect(&app, &token).await?;
        ws.subscribe(IMAGE_PULL, json!({ "id": id })).await?;
        subscribe_status_and_confirm(&app, &mut ws, &id).await?;

        let body = app
            .graphql(PULL_IMAGE, json!({ "host": id, "ref": reference }))
            .await?;
        let image = data(&body)?["pullImage"].clone();
        ensure!(
            image["reference"] == reference.as_str(),
            "pullImage returned {image}"
        );
        ensure!(
            image["sizeBytes"].as_i64().is_some_and(|s| s > 0),
            "sizeBytes: {image}"
        );
        let digest = str_of(&image, "digest");
        ensure!(
            digest.len() == 71
                && digest.starts_with("sha256:")
                && digest[7..].bytes().all(|b| b.is_ascii_hexdigit()),
            "digest: {image}"
        );
        ensure!(!image["pulledAt"].is_null(), "pulledAt: {image}");
        let inspected = inspect_image(engine, &reference).await?;
        ensure!(
            image["imageId"] == inspected["Id"],
            "imageId {} != docker's {}",
            image["imageId"],
            inspected["Id"]
        );
        let repo_digest = format!("{}@{digest}", env.registry.reference("apps/web"));
        ensure!(
            inspected["RepoDigests"]
                .as_array()
                .is_some_and(|d| d.iter().any(|x| x == repo_digest.as_str())),
            "docker does not know {repo_digest}: {}",
            inspected["RepoDigests"]
        );
        ensure!(
            image["sizeBytes"] == inspected["Size"],
            "sizeBytes {} != docker's {}",
            image["sizeBytes"],
            inspected["Size"]
        );

        ws.wait_for("imagePull FINISHED", Duration::from_secs(10), |e| {
            e.data["imagePull"]["reference"] == reference.as_str()
                && e.data["imagePull"]["phase"] == "FINISHED"
        })
        .await?;
        let events = pull_events(&ws.seen, &reference);
        check_pull_sequence(&events)?;
        ensure!(
            events.iter().all(|e| e["host"]["id"] == id.as_str()),
            "events of another host: {events:?}"
        );

        let cached = image_references(&app, &id).await?;
        ensure!(
            cached.contains(&reference),
            "{reference} is not cached: {cached:?}"
        );
        let count = get_host(&app, &id).await?["imageCount"]
            .as_i64()
            .unwrap_or(-1);
        ensure!(
            usize::try_from(count).ok() == Some(cached.len()),
            "imageCount {count} but {} images",
            cached.len()
        );
        ws.close().await;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// A pull of an image with real, unique content onto h2 moves the bytes up to the image's size.
pub async fn pull_streams_real_bytes(env: &TestEnv) -> Result<()> {
    const BLOB: usize = 24 * 1024 * 1024;
    let (app, token) = berth(env).await?;
    let outcome = async {
        let engine = env.host("h2")?;
        let host = add_engine(&app, "h2", engine).await?;
        let id = str_of(&host, "id").to_string();
        let context = env.scratch_dir("unique-image")?;
        let tag = format!(
            "e2e/blob:{}",
            context.file_name().and_then(|n| n.to_str()).unwrap_or("x")
        );
        let reference =
            push_unique_image(env.host("h1")?, &env.registry, &context, &tag, BLOB).await?;

        let mut ws = GraphqlWs::connect(&app, &token).await?;
        ws.subscribe(IMAGE_PULL, json!({ "id": id })).await?;
        subscribe_status_and_confirm(&app, &mut ws, &id).await?;
        let body = app
            .graphql(PULL_IMAGE, json!({ "host": id, "ref": reference }))
            .await?;
        let image = data(&body)?["pullImage"].clone();
        ensure!(
            image["sizeBytes"]
                .as_i64()
                .is_some_and(|s| s >= BLOB as i64),
            "sizeBytes below the blob's {BLOB}: {image}"
        );
        ws.wait_for("imagePull FINISHED", Duration::from_secs(10), |e| {
            e.data["imagePull"]["reference"] == reference.as_str()
                && e.data["imagePull"]["phase"] == "FINISHED"
        })
        .await?;
        let events = pull_events(&ws.seen, &reference);
        check_pull_sequence(&events)?;
        let finished = events.last().context("no events")?;
        let total = finished["totalBytes"].as_i64().unwrap_or(0);
        ensure!(
            total >= BLOB as i64 && finished["currentBytes"] == finished["totalBytes"],
            "FINISHED does not account for the {BLOB} bytes: {finished}"
        );
        let progress: Vec<(i64, i64)> = events
            .iter()
            .filter(|e| e["phase"] == "PROGRESS")
            .map(|e| {
                (
                    e["currentBytes"].as_i64().unwrap_or(0),
                    e["totalBytes"].as_i64().unwrap_or(0),
                )
            })
            .collect();
        ensure!(!progress.is_empty(), "no PROGRESS event: {events:?}");
        for (current, of) in &progress {
            ensure!(
                *of == 0 || current <= of,
                "currentBytes {current} above totalBytes {of}"
            );
        }
        eprintln!(
            "berth-test: pull of {BLOB} bytes: {} events, PROGRESS (current, total): {progress:?}",
            events.len()
        );
        ws.close().await;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// An image pulled by the docker CLI shows up in Berth's cache, and one removed by the CLI behind
/// Berth's back leaves it within 5 s.
pub async fn cache_follows_the_docker_cli(env: &TestEnv) -> Result<()> {
    let (app, _token) = berth(env).await?;
    let outcome = async {
        let engine = env.host("h2")?;
        let host = add_engine(&app, "h2", engine).await?;
        let id = str_of(&host, "id").to_string();
        let reference = env.registry.reference("apps/worker:2.0");
        engine.docker_ok(&["pull", &reference]).await?;
        wait_for_image(
            &app,
            &id,
            &reference,
            true,
            Duration::from_secs(5),
            Duration::from_millis(50),
        )
        .await
        .context("docker pull by the CLI")?;

        engine.docker_ok(&["rmi", &reference]).await?;
        let removed = Instant::now();
        wait_for_image(
            &app,
            &id,
            &reference,
            false,
            Duration::from_secs(5),
            Duration::from_millis(50),
        )
        .await
        .context("docker rmi behind Berth's back")?;
        eprintln!(
            "berth-test: docker rmi → gone from Berth's cache in {:?}",
            removed.elapsed()
        );
        // A tag added by the CLI appears as well.
        let alias = env.registry.reference("apps/worker:alias");
        let source = env.registry.reference("tools/busybox:1.35");
        engine.docker_ok(&["pull", &source]).await?;
        engine.docker_ok(&["tag", &source, &alias]).await?;
        wait_for_image(
            &app,
            &id,
            &alias,
            true,
            Duration::from_secs(5),
            Duration::from_millis(50),
        )
        .await
        .context("docker tag by the CLI")?;
        engine.docker_ok(&["rmi", &alias]).await?;
        wait_for_image(
            &app,
            &id,
            &alias,
            false,
            Duration::from_secs(5),
            Duration::from_millis(50),
        )
        .await
        .context("docker rmi of the alias")?;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// `removeHostImage` removes an image from the engine and the cache; a missing image is NOT_FOUND;
/// pulling a tag the registry lacks fails with a clear message and an `imagePull` FAILED event.
pub async fn remove_image_and_failed_pull(env: &TestEnv) -> Result<()> {
    let (app, token) = berth(env).await?;
    let outcome = async {
        let engine = env.host("h3")?;
        let host = add_engine(&app, "h3", engine).await?;
        let id = str_of(&host, "id").to_string();
        let reference = env.registry.reference("apps/web:1.1");
        let body = app
            .graphql(PULL_IMAGE, json!({ "host": id, "ref": reference }))
            .await?;
        data(&body).context("pullImage apps/web:1.1 onto h3")?;
        ensure!(
            image_references(&app, &id).await?.contains(&reference),
            "not cached after the pull"
        );

        let body = app
            .graphql(REMOVE_IMAGE, json!({ "host": id, "ref": reference }))
            .await?;
        ensure!(
            data(&body)?["removeHostImage"] == true,
            "removeHostImage = {body}"
        );
        let cached = image_references(&app, &id).await?;
        ensure!(
            !cached.contains(&reference),
            "still cached after removeHostImage: {cached:?}"
        );
        let gone = engine.docker(&["image", "inspect", &reference]).await?;
        ensure!(
            !gone.status.success(),
            "the engine still has {reference} after removeHostImage"
        );

        let body = app
            .graphql(REMOVE_IMAGE, json!({ "host": id, "ref": reference }))
            .await?;
        ensure!(
            error_code(&body) == Some("NOT_FOUND"),
            "removing an image that is not there: expected NOT_FOUND, got {body}"
        );

        let mut ws = GraphqlWs::connect(&app, &token).await?;
        ws.subscribe(IMAGE_PULL, json!({ "id": id })).await?;
        subscribe_status_and_confirm(&app, &mut ws, &id).await?;
        let missing = env.registry.reference("apps/web:no-such-tag");
        let started = Instant::now();
        let body = app
            .graphql(PULL_IMAGE, json!({ "host": id, "ref": missing }))
            .await?;
        ensure!(
            started.elapsed() < Duration::from_secs(15),
            "a failing pull took {:?}",
            started.elapsed()
        );
        let code = error_code(&body);
        ensure!(
            matches!(code, Some("BAD_USER_INPUT") | Some("UNAVAILABLE")),
            "pulling a missing tag: expected BAD_USER_INPUT or UNAVAILABLE, got {body}"
        );
        let message = body
            .pointer("/errors/0/message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_lowercase();
        ensure!(
            message.contains("not found") || message.contains("manifest unknown"),
            "the error does not say what is missing: {message:?}"
        );
        let failed = ws
            .wait_for("imagePull FAILED", Duration::from_secs(10), |e| {
                e.data["imagePull"]["reference"] == missing.as_str()
                    && e.data["imagePull"]["phase"] == "FAILED"
            })
            .await?;
        ensure!(
            !str_of(&failed.data["imagePull"], "message").is_empty(),
            "FAILED event without a message: {}",
            failed.data
        );
        let phases: Vec<String> = pull_events(&ws.seen, &missing)
            .iter()
            .map(|e| str_of(e, "phase").to_string())
            .collect();
        ensure!(
            !phases.iter().any(|p| p == "FINISHED"),
            "a failed pull reported FINISHED: {phases:?}"
        );
        ensure!(
            !image_references(&app, &id).await?.contains(&missing),
            "the missing tag is in the cache"
        );
        ws.close().await;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// Maintenance on and off, `refreshHost` re-reading the capabilities, and `removeHost` taking the
/// host and its image cache away.
pub async fn maintenance_refresh_and_remove(env: &TestEnv) -> Result<()> {
    let (app, _token) = berth(env).await?;
    let outcome = async {
        let engine = env.host("h1")?;
        let host = add_engine(&app, "h1", engine).await?;
        let id = str_of(&host, "id").to_string();
        for (on, status) in [(true, "MAINTENANCE"), (false, "UP")] {
            let body = app
                .graphql(SET_MAINTENANCE, json!({ "id": id, "on": on }))
                .await?;
            let answered = &data(&body)?["setHostMaintenance"];
            ensure!(
                answered["status"] == status && answered["maintenance"] == on,
                "setHostMaintenance({on}) = {answered}"
            );
            let stored = get_host(&app, &id).await?;
            ensure!(
                stored["status"] == status && stored["maintenance"] == on,
                "after setHostMaintenance({on}): {stored}"
            );
        }

        let before = checked_at(&get_host(&app, &id).await?)?;
        let body = app
            .graphql(
                &format!("mutation R($id: ID!) {{ refreshHost(id: $id) {{ {HOST_FIELDS} }} }}"),
                json!({ "id": id }),
            )
            .await?;
        let refreshed = &data(&body)?["refreshHost"];
        ensure!(refreshed["status"] == "UP", "refreshHost = {refreshed}");
        let after = checked_at(refreshed)?;
        ensure!(
            after > before,
            "refreshHost did not re-check: checkedAt {before} → {after}"
        );
        ensure!(
            refreshed["capabilities"]["dockerVersion"] == host["capabilities"]["dockerVersion"],
            "refreshHost changed the capabilities: {refreshed}"
        );
        let images = image_references(&app, &id).await?;
        ensure!(
            !images.is_empty(),
            "h1's image cache is empty (the harness built images on it)"
        );

        let body = app
            .graphql(
                "mutation D($id: ID!) { removeHost(id: $id) }",
                json!({ "id": id }),
            )
            .await?;
        ensure!(data(&body)?["removeHost"] == true, "removeHost = {body}");
        let body = app
            .graphql(
                "query H($id: ID!) { host(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await?;
        ensure!(
            data(&body)?["host"].is_null(),
            "host(id) after removeHost: {body}"
        );
        ensure!(
            list_hosts(&app).await?.is_empty(),
            "hosts after removeHost is not empty"
        );
        // The image cache went with it (the monitor, stopped, must not write it back).
        let db = app.data_dir.join("berth.db");
        let count_images = || async {
            let out = berth_tests::process::run_ok(
                tokio::process::Command::new("sqlite3")
                    .arg("-readonly")
                    .arg(&db)
                    .arg(format!(
                        "SELECT count(*) FROM host_images WHERE host_id = '{id}';"
                    )),
                Duration::from_secs(10),
            )
            .await
            .context(
                "reading Berth's database with the sqlite3 CLI (apt-get install -y sqlite3)",
            )?;
            out.trim()
                .parse::<i64>()
                .with_context(|| format!("sqlite3 said {out:?}"))
        };
        ensure!(
            count_images().await? == 0,
            "host_images rows left for the removed host"
        );
        // Whatever the engine does next (an image event), nothing comes back for the removed host.
        let reference = env.registry.reference("tools/busybox:latest");
        engine.docker_ok(&["pull", &reference]).await?;
        engine
            .docker_ok(&["tag", &reference, &format!("{reference}-after-remove")])
            .await?;
        engine
            .docker_ok(&["rmi", &format!("{reference}-after-remove")])
            .await?;
        ensure!(
            count_images().await? == 0,
            "host_images rows written for the removed host"
        );
        let body = app
            .graphql(
                "mutation R($id: ID!) { refreshHost(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await?;
        ensure!(
            error_code(&body) == Some("NOT_FOUND"),
            "refreshHost of a removed host: expected NOT_FOUND, got {body}"
        );
        // The name is free again.
        add_engine(&app, "h1", engine).await?;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// Killing h2's dockerd is seen on `hostStatus` as NON_RESPONSIVE within 10 s (h1 stays UP); once it
/// runs again the host is UP with freshly checked capabilities. Leaves h2 running.
pub async fn killed_engine_is_seen_and_recovers(env: &TestEnv) -> Result<()> {
    let (app, token) = berth(env).await?;
    let outcome = killed_engine_scenario(env, &app, &token).await;
    // Whatever happened, h2 runs again for the tests that follow.
    let restored = env.start_engine("h2").await;
    app.finish(keep_first_error(
        outcome,
        restored,
        "restarting h2 after the test",
    ))
    .await
}

/// The scenario's own error wins; a failed clean-up fails an otherwise passing test.
fn keep_first_error<T>(outcome: Result<()>, cleanup: Result<T>, what: &'static str) -> Result<()> {
    match (outcome, cleanup) {
        (Ok(()), Err(e)) => Err(e.context(what)),
        (outcome, _) => outcome,
    }
}

async fn killed_engine_scenario(env: &TestEnv, app: &TestApp, token: &str) -> Result<()> {
    let h1 = add_engine(app, "h1", env.host("h1")?).await?;
    let h2 = add_engine(app, "h2", env.host("h2")?).await?;
    let h2_id = str_of(&h2, "id").to_string();
    let h1_id = str_of(&h1, "id").to_string();
    let checked_before = checked_at(&h2)?;

    let mut ws = GraphqlWs::connect(app, token).await?;
    // Every host's transitions, so an unexpected one of h1 would show.
    let all = ws.subscribe(HOST_STATUS, json!({ "id": null })).await?;
    subscribe_status_and_confirm(app, &mut ws, &h2_id).await?;

    let killed = Instant::now();
    env.kill_engine("h2").await?;
    let down = ws
        .wait_for("NON_RESPONSIVE for h2", Duration::from_secs(10), |e| {
            e.data["hostStatus"]["host"]["id"] == h2_id.as_str()
                && e.data["hostStatus"]["status"] == "NON_RESPONSIVE"
        })
        .await?;
    let detected = down
        .received
        .duration_since(tokio::time::Instant::from_std(killed));
    ensure!(
        detected <= Duration::from_secs(10),
        "NON_RESPONSIVE after {detected:?}"
    );
    let event = &down.data["hostStatus"];
    ensure!(event["previousStatus"] == "UP", "previousStatus: {event}");
    ensure!(
        !str_of(event, "message").is_empty(),
        "NON_RESPONSIVE without a reason: {event}"
    );
    let stored = get_host(app, &h2_id).await?;
    ensure!(
        stored["status"] == "NON_RESPONSIVE" && !stored["lastError"].is_null(),
        "host(h2) after the kill: {stored}"
    );
    ensure!(
        get_host(app, &h1_id).await?["status"] == "UP",
        "h1 is not UP while h2 is down"
    );

    let restarting = Instant::now();
    ensure!(
        env.start_engine("h2").await?,
        "h2 was still running after the kill"
    );
    let engine_back = restarting.elapsed();
    let up = ws
        .wait_for(
            "UP for h2 after the restart",
            Duration::from_secs(30),
            |e| {
                let event = &e.data["hostStatus"];
                event["host"]["id"] == h2_id.as_str()
                    && event["status"] == "UP"
                    && event["previousStatus"] == "NON_RESPONSIVE"
            },
        )
        .await?;
    ensure!(
        up.data["hostStatus"]["previousStatus"] == "NON_RESPONSIVE",
        "UP event: {}",
        up.data
    );
    let host = get_host(app, &h2_id).await?;
    ensure!(
        host["status"] == "UP" && host["lastError"].is_null(),
        "host(h2): {host}"
    );
    let checked_after = checked_at(&host)?;
    ensure!(
        checked_after > checked_before,
        "capabilities were not re-checked on reconnect: checkedAt {checked_before} → {checked_after}"
    );
    let h1_events: Vec<&WsEvent> = ws
        .seen
        .iter()
        .filter(|e| e.id == all && e.data["hostStatus"]["host"]["id"] == h1_id.as_str())
        .collect();
    ensure!(
        h1_events.is_empty(),
        "h1 changed status meanwhile: {h1_events:?}"
    );
    eprintln!(
        "berth-test: kill → NON_RESPONSIVE in {detected:?}; dockerd back in {engine_back:.1?}, UP event {:.1?} after the restart began",
        up.received
            .duration_since(tokio::time::Instant::from_std(restarting))
    );
    ws.close().await;
    Ok(())
}

/// A frozen h1 (dockerd stopped with SIGSTOP: the socket still accepts, nothing answers) is found out
/// by the pings' timeouts — NON_RESPONSIVE on `hostStatus` within 10 s — while `hosts` stays fast and
/// a pull onto it fails in bounded time; once resumed it is UP again. Leaves h1 running.
pub async fn frozen_engine_is_seen_and_recovers(env: &TestEnv) -> Result<()> {
    let (app, token) = berth(env).await?;
    let outcome = frozen_engine_scenario(env, &app, &token).await;
    // Whatever happened, h1 runs on for the tests that follow.
    let restored = env.thaw_engine("h1").await;
    app.finish(keep_first_error(
        outcome,
        restored,
        "resuming h1 after the test",
    ))
    .await
}

async fn frozen_engine_scenario(env: &TestEnv, app: &TestApp, token: &str) -> Result<()> {
    let h1 = add_engine(app, "h1", env.host("h1")?).await?;
    let h3 = add_engine(app, "h3", env.host("h3")?).await?;
    let h1_id = str_of(&h1, "id").to_string();
    let h3_id = str_of(&h3, "id").to_string();
    let mut ws = GraphqlWs::connect(app, token).await?;
    subscribe_status_and_confirm(app, &mut ws, &h1_id).await?;

    let frozen = Instant::now();
    env.freeze_engine("h1").await?;
    let down = ws
        .wait_for(
            "NON_RESPONSIVE for the frozen h1",
            Duration::from_secs(15),
            |e| e.data["hostStatus"]["status"] == "NON_RESPONSIVE",
        )
        .await?;
    let detected = down
        .received
        .duration_since(tokio::time::Instant::from_std(frozen));
    ensure!(
        detected <= Duration::from_secs(10),
        "a frozen engine was NON_RESPONSIVE only after {detected:?}"
    );
    let reason = str_of(&down.data["hostStatus"], "message").to_lowercase();
    ensure!(
        reason.contains("did not answer")
            || reason.contains("timeout")
            || reason.contains("timed out"),
        "the reason does not say the engine timed out: {reason:?}"
    );

    // Meanwhile: queries answer from Berth's record, h3 is untouched, engine calls give up in time.
    let asked = Instant::now();
    let hosts = list_hosts(app).await?;
    ensure!(
        asked.elapsed() < Duration::from_secs(1),
        "hosts took {:?} with a frozen engine",
        asked.elapsed()
    );
    let status_of = |id: &str| {
        hosts
            .iter()
            .find(|h| h["id"] == id)
            .map(|h| h["status"].clone())
    };
    ensure!(
        status_of(&h3_id) == Some(json!("UP")),
        "h3 is {:?} while h1 is frozen",
        status_of(&h3_id)
    );
    let asked = Instant::now();
    let body = app
        .graphql(
            PULL_IMAGE,
            json!({ "host": h1_id, "ref": env.registry.reference("tools/busybox:1.35") }),
        )
        .await?;
    let took = asked.elapsed();
    ensure!(
        error_code(&body) == Some("UNAVAILABLE"),
        "pullImage onto a frozen engine: expected UNAVAILABLE, got {body}"
    );
    ensure!(
        took < Duration::from_secs(15),
        "pullImage onto a frozen engine took {took:?}"
    );
    let asked = Instant::now();
    let body = app
        .graphql(
            "mutation R($id: ID!) { refreshHost(id: $id) { status lastError } }",
            json!({ "id": h1_id }),
        )
        .await?;
    let took = asked.elapsed();
    ensure!(
        data(&body)?["refreshHost"]["status"] == "NON_RESPONSIVE",
        "refreshHost of a frozen engine: {body}"
    );
    ensure!(
        took < Duration::from_secs(15),
        "refreshHost of a frozen engine took {took:?}"
    );

    let thawing = Instant::now();
    env.thaw_engine("h1").await?;
    let up = ws
        .wait_for("UP for h1 once resumed", Duration::from_secs(30), |e| {
            let event = &e.data["hostStatus"];
            event["status"] == "UP" && event["previousStatus"] == "NON_RESPONSIVE"
        })
        .await?;
    let host = get_host(app, &h1_id).await?;
    ensure!(host["status"] == "UP", "host(h1) after resuming: {host}");
    eprintln!(
        "berth-test: freeze → NON_RESPONSIVE in {detected:?}; resume → UP in {:?}",
        up.received
            .duration_since(tokio::time::Instant::from_std(thawing))
    );
    ws.close().await;
    Ok(())
}
