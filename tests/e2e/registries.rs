//! Registries against the harness's real registries and small mock servers: listing repositories, tags,
//! digests (equal to a HEAD's `Docker-Content-Digest`), sizes and architectures; pagination (the runner
//! forces a small page size); htpasswd credentials right and wrong (the last good list kept); misbehaving
//! servers failing with a clear message in bounded time; a Docker Hub namespace through the Hub API's JSON;
//! refresh progress and periodic refreshes on `registryRefresh`; validation.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, data, error_code, http_client};
use berth_tests::registry::{AUTH_PASSWORD, AUTH_USERNAME};
use berth_tests::seed::{
    OCI_INDEX, OCI_MANIFEST, image_config, image_manifest, put_manifest, upload_blob,
};
use berth_tests::ws::GraphqlWs;
use berth_tests::{RegistryHandle, TestApp, TestEnv, spawn_app};
use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};
use sha2::Digest as _;
use tokio::task::JoinHandle;

const REGISTRY_FIELDS: &str = "id name url kind namespace username hasPassword insecure \
     refreshIntervalSeconds status lastRefreshedAt lastError repositoryCount tagCount";
const REPOSITORIES: &str = "query Repos($id: ID!, $filter: String, $first: Int, $after: String) { \
     registry(id: $id) { repositories(filter: $filter, first: $first, after: $after) { \
     totalCount pageInfo { hasNextPage endCursor } edges { cursor node { name tags { \
     name reference digest sizeBytes architectures createdAt } } } } } }";
const REFRESH_EVENTS: &str = "subscription Refresh($id: ID) { registryRefresh(registryId: $id) { \
     registry { id status lastError } phase repositoriesDone repositoriesTotal at message } }";
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";
/// How long a refresh of a local registry may take.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(60);

/// A fresh Berth with the admin logged in (cookie client) and an API token for WebSockets.
async fn berth(env: &TestEnv) -> Result<(TestApp, String)> {
    let app = spawn_app(env).await?;
    match app.admin_token("registries-e2e").await {
        Ok(token) => Ok((app, token)),
        Err(e) => app.finish(Err(e)).await,
    }
}

/// `addRegistry` raw body.
async fn add_registry_raw(app: &TestApp, input: Value) -> Result<Value> {
    app.graphql(
        &format!(
            "mutation Add($input: RegistryInput!) {{ addRegistry(input: $input) {{ {REGISTRY_FIELDS} }} }}"
        ),
        json!({ "input": input }),
    )
    .await
}

async fn add_registry(app: &TestApp, input: Value) -> Result<Value> {
    let body = add_registry_raw(app, input).await?;
    Ok(data(&body)?["addRegistry"].clone())
}

async fn update_registry(app: &TestApp, id: &str, input: Value) -> Result<Value> {
    let body = app
        .graphql(
            &format!(
                "mutation Update($id: ID!, $input: RegistryInput!) {{ updateRegistry(id: $id, input: $input) {{ {REGISTRY_FIELDS} }} }}"
            ),
            json!({ "id": id, "input": input }),
        )
        .await?;
    Ok(data(&body)?["updateRegistry"].clone())
}

async fn get_registry(app: &TestApp, id: &str) -> Result<Value> {
    let body = app
        .graphql(
            &format!("query One($id: ID!) {{ registry(id: $id) {{ {REGISTRY_FIELDS} }} }}"),
            json!({ "id": id }),
        )
        .await?;
    Ok(data(&body)?["registry"].clone())
}

/// Polls until the registry is no longer REFRESHING; returns it.
async fn wait_refreshed(app: &TestApp, id: &str, timeout: Duration) -> Result<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let registry = get_registry(app, id).await?;
        let status = registry["status"].as_str().unwrap_or_default();
        if status != "REFRESHING" && status != "NEVER_REFRESHED" {
            return Ok(registry);
        }
        if Instant::now() > deadline {
            bail!("registry {id} still {status} after {timeout:?}: {registry}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_ok(app: &TestApp, id: &str) -> Result<Value> {
    let registry = wait_refreshed(app, id, REFRESH_TIMEOUT).await?;
    ensure!(
        registry["status"] == "OK",
        "expected status OK, got {registry}"
    );
    Ok(registry)
}

/// Every repository (name → its tags), paging with `first`.
async fn all_repositories(
    app: &TestApp,
    id: &str,
    filter: Option<&str>,
    first: i64,
) -> Result<BTreeMap<String, Vec<Value>>> {
    let mut out = BTreeMap::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let body = app
            .graphql(
                REPOSITORIES,
                json!({ "id": id, "filter": filter, "first": first, "after": after }),
            )
            .await?;
        let connection = &data(&body)?["registry"]["repositories"];
        let edges = connection["edges"].as_array().cloned().unwrap_or_default();
        ensure!(
            i64::try_from(edges.len())? <= first,
            "a page larger than first={first}: {}",
            edges.len()
        );
        for edge in &edges {
            let node = &edge["node"];
            let name = node["name"].as_str().unwrap_or_default().to_string();
            let tags = node["tags"].as_array().cloned().unwrap_or_default();
            ensure!(
                out.insert(name.clone(), tags).is_none(),
                "{name} listed twice"
            );
        }
        pages += 1;
        if connection["pageInfo"]["hasNextPage"] != true {
            ensure!(
                connection["totalCount"].as_u64() == Some(u64::try_from(out.len())?),
                "totalCount {} but {} repositories paged",
                connection["totalCount"],
                out.len()
            );
            return Ok(out);
        }
        after = connection["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
        ensure!(after.is_some(), "hasNextPage without endCursor");
        ensure!(pages < 1000, "paging does not end");
    }
}

/// `Docker-Content-Digest` of a manifest HEAD.
async fn head_digest(registry: &RegistryHandle, repo: &str, tag: &str) -> Result<String> {
    let mut request = http_client(None)?
        .head(format!("{}/v2/{repo}/manifests/{tag}", registry.url))
        .header(header::ACCEPT, MANIFEST_TYPES);
    if let (Some(u), Some(p)) = (&registry.username, &registry.password) {
        request = request.basic_auth(u, Some(p));
    }
    let response = request.send().await?;
    ensure!(
        response.status().is_success(),
        "HEAD {repo}:{tag} answered {}",
        response.status()
    );
    Ok(response
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .context("no Docker-Content-Digest")?
        .to_string())
}

/// `repo:tag` pairs of the pushed references of `registry`.
fn pushed(registry: &RegistryHandle, images: &[String]) -> Vec<(String, String)> {
    images
        .iter()
        .filter_map(|r| r.strip_prefix(&format!("{}/", registry.host_port)))
        .filter_map(|rt| rt.rsplit_once(':'))
        .map(|(r, t)| (r.to_string(), t.to_string()))
        .collect()
}

/// Checks that every pushed image is listed with the HEAD's digest, a size, architectures and its reference.
async fn check_listed(
    app: &TestApp,
    id: &str,
    registry: &RegistryHandle,
    images: &[String],
) -> Result<()> {
    let repos = all_repositories(app, id, None, 3).await?;
    for (repo, tag) in pushed(registry, images) {
        let tags = repos
            .get(&repo)
            .with_context(|| format!("{repo} not listed; got {:?}", repos.keys()))?;
        let listed = tags
            .iter()
            .find(|t| t["name"] == tag.as_str())
            .with_context(|| format!("{repo}:{tag} not listed; tags {tags:?}"))?;
        let digest = head_digest(registry, &repo, &tag).await?;
        ensure!(
            listed["digest"] == digest.as_str(),
            "{repo}:{tag}: digest {} but HEAD says {digest}",
            listed["digest"]
        );
        ensure!(
            listed["reference"] == registry.reference(&format!("{repo}:{tag}")).as_str(),
            "{repo}:{tag}: reference {}",
            listed["reference"]
        );
        ensure!(
            listed["sizeBytes"].as_i64().unwrap_or(0) > 0,
            "{repo}:{tag}: no size: {listed}"
        );
        ensure!(
            listed["architectures"]
                .as_array()
                .is_some_and(|a| !a.is_empty()),
            "{repo}:{tag}: no architectures: {listed}"
        );
        ensure!(
            listed["createdAt"].is_string(),
            "{repo}:{tag}: no creation time: {listed}"
        );
    }
    Ok(())
}

/// The open registry: validation, listing, paging, filter, progress on the subscription.
pub async fn open_registry_is_listed(env: &TestEnv) -> Result<()> {
    let (app, token) = berth(env).await?;
    let outcome = async {
        // Plain http needs `insecure`; a non-URL and a negative interval are refused; nothing saved.
        let body = add_registry_raw(&app, json!({ "name": "open", "url": env.registry.url })).await?;
        ensure!(
            error_code(&body) == Some("BAD_USER_INPUT")
                && body.pointer("/errors/0/extensions/field") == Some(&json!("insecure")),
            "http without insecure: {body}"
        );
        let body = add_registry_raw(&app, json!({ "name": "open", "url": "ftp://x", "insecure": true })).await?;
        ensure!(
            body.pointer("/errors/0/extensions/field") == Some(&json!("url")),
            "ftp URL: {body}"
        );
        let body = add_registry_raw(
            &app,
            json!({ "name": "open", "url": env.registry.url, "insecure": true, "refreshIntervalSeconds": -1 }),
        )
        .await?;
        ensure!(
            body.pointer("/errors/0/extensions/field") == Some(&json!("refreshIntervalSeconds")),
            "negative interval: {body}"
        );
        let list = app.graphql("{ registries { id } }", json!({})).await?;
        ensure!(data(&list)?["registries"] == json!([]), "nothing saved: {list}");

        let mut ws = GraphqlWs::connect(&app, &token).await?;
        ws.subscribe(REFRESH_EVENTS, json!({ "id": null })).await?;
        let started = Instant::now();
        let registry = add_registry(
            &app,
            json!({ "name": "open", "url": env.registry.url, "insecure": true, "refreshIntervalSeconds": 0 }),
        )
        .await?;
        ensure!(
            started.elapsed() < Duration::from_secs(5),
            "addRegistry must answer at once, took {:?}",
            started.elapsed()
        );
        ensure!(
            registry["status"] == "REFRESHING" && registry["hasPassword"] == false,
            "just added: {registry}"
        );
        let id = registry["id"].as_str().unwrap_or_default().to_string();
        let finished = ws
            .wait_for("FINISHED", REFRESH_TIMEOUT, |e| {
                e.data["registryRefresh"]["phase"] == "FINISHED"
            })
            .await?;
        let event = &finished.data["registryRefresh"];
        ensure!(
            event["registry"]["id"] == id.as_str()
                && event["repositoriesDone"] == event["repositoriesTotal"]
                && event["repositoriesTotal"].as_i64().unwrap_or(0) >= 3,
            "FINISHED event: {event}"
        );
        let phases: Vec<String> = ws
            .seen
            .iter()
            .map(|e| e.data["registryRefresh"]["phase"].as_str().unwrap_or_default().to_string())
            .collect();
        ensure!(
            phases.first().map(String::as_str) == Some("STARTED") && phases.iter().any(|p| p == "PROGRESS"),
            "phases: {phases:?}"
        );
        ws.close().await;

        let registry = wait_ok(&app, &id).await?;
        ensure!(
            registry["lastRefreshedAt"].is_string() && registry["lastError"].is_null(),
            "after refresh: {registry}"
        );
        let expected = pushed(&env.registry, &env.images);
        ensure!(
            registry["tagCount"].as_u64().unwrap_or(0) >= u64::try_from(expected.len())?,
            "tagCount: {registry}"
        );
        check_listed(&app, &id, &env.registry, &env.images).await?;

        // Filter and clamping of `first`.
        let web = all_repositories(&app, &id, Some("WEB"), 500).await?;
        ensure!(
            web.keys().all(|k| k.contains("web")) && web.contains_key("apps/web"),
            "filter web: {:?}",
            web.keys()
        );
        let body = app
            .graphql(REPOSITORIES, json!({ "id": id, "first": 0 }))
            .await?;
        let edges = data(&body)?["registry"]["repositories"]["edges"].as_array().map_or(0, Vec::len);
        ensure!(edges == 1, "first: 0 is clamped to 1, got {edges} edges");
        let body = app
            .graphql(REPOSITORIES, json!({ "id": id, "after": "not-a-cursor" }))
            .await?;
        ensure!(error_code(&body) == Some("BAD_USER_INPUT"), "bad cursor: {body}");

        // A second name is a conflict; refreshRegistry answers at once with REFRESHING.
        let body = add_registry_raw(&app, json!({ "name": "open", "url": env.registry.url, "insecure": true })).await?;
        ensure!(error_code(&body) == Some("CONFLICT"), "duplicate name: {body}");
        let body = app
            .graphql(
                "mutation R($id: ID!) { refreshRegistry(id: $id) { status } }",
                json!({ "id": id }),
            )
            .await?;
        ensure!(
            data(&body)?["refreshRegistry"]["status"] == "REFRESHING",
            "refreshRegistry: {body}"
        );
        wait_ok(&app, &id).await?;
        let body = app
            .graphql("mutation R($id: ID!) { removeRegistry(id: $id) }", json!({ "id": id }))
            .await?;
        ensure!(data(&body)?["removeRegistry"] == true, "remove: {body}");
        ensure!(get_registry(&app, &id).await?.is_null(), "removed registry still there");
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// The htpasswd registry: right credentials list it; a wrong password is ERROR "authentication failed for user
/// berth" with the last good list kept; the password is never returned and is kept when omitted.
pub async fn auth_registry_right_and_wrong_password(env: &TestEnv) -> Result<()> {
    let (app, _token) = berth(env).await?;
    let outcome = async {
        let reg = &env.auth_registry;
        let input = |password: Option<&str>| {
            let mut input = json!({
                "name": "auth", "url": reg.url, "insecure": true, "refreshIntervalSeconds": 0,
                "username": AUTH_USERNAME,
            });
            if let Some(p) = password {
                input["password"] = json!(p);
            }
            input
        };
        let registry = add_registry(&app, input(Some(AUTH_PASSWORD))).await?;
        ensure!(
            registry["hasPassword"] == true && !registry.to_string().contains(AUTH_PASSWORD),
            "added: {registry}"
        );
        let id = registry["id"].as_str().unwrap_or_default().to_string();
        let good = wait_ok(&app, &id).await?;
        check_listed(&app, &id, reg, &env.auth_images).await?;

        let updated = update_registry(&app, &id, input(Some("wrong-password"))).await?;
        ensure!(
            updated["status"] == "REFRESHING",
            "update starts a refresh: {updated}"
        );
        let failed = wait_refreshed(&app, &id, REFRESH_TIMEOUT).await?;
        ensure!(
            failed["status"] == "ERROR"
                && failed["lastError"].as_str().is_some_and(
                    |e| e.contains(&format!("authentication failed for user {AUTH_USERNAME}"))
                ),
            "wrong password: {failed}"
        );
        ensure!(
            failed["repositoryCount"] == good["repositoryCount"]
                && failed["tagCount"] == good["tagCount"],
            "the last good list must stay: before {good}, after {failed}"
        );
        check_listed(&app, &id, reg, &env.auth_images).await?;

        // Omitted password: the (wrong) stored one is kept.
        update_registry(&app, &id, input(None)).await?;
        let still = wait_refreshed(&app, &id, REFRESH_TIMEOUT).await?;
        ensure!(
            still["status"] == "ERROR" && still["hasPassword"] == true,
            "kept password: {still}"
        );
        // No credentials at all: told to set them.
        let mut anonymous = input(Some(""));
        anonymous["username"] = Value::Null;
        let cleared = update_registry(&app, &id, anonymous).await?;
        ensure!(
            cleared["hasPassword"] == false,
            "\"\" clears the password: {cleared}"
        );
        let cleared = wait_refreshed(&app, &id, REFRESH_TIMEOUT).await?;
        ensure!(
            cleared["status"] == "ERROR"
                && cleared["lastError"]
                    .as_str()
                    .is_some_and(|e| e.contains("requires credentials")),
            "no credentials: {cleared}"
        );
        // Right password again: OK.
        update_registry(&app, &id, input(Some(AUTH_PASSWORD))).await?;
        wait_ok(&app, &id).await?;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// A small HTTP server for one test; stopped when dropped.
struct Mock {
    url: String,
    task: JoinHandle<()>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(make: impl FnOnce(String) -> Router) -> Result<Mock> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let router = make(url.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(Mock { url, task })
}

fn v2_root() -> Router {
    Router::new().route("/v2/", get(|| async { "{}" }))
}

/// Garbage JSON, a next link to another host, endless pagination, a 500, a stall and a closed port: each
/// ends ERROR with a clear message, all within bounded time.
pub async fn misbehaving_registries_fail_clearly(env: &TestEnv) -> Result<()> {
    let (app, _token) = berth(env).await?;
    let outcome = async {
        let garbage = serve(|_| {
            v2_root().route(
                "/v2/_catalog",
                get(|| async { "<html>this is not JSON</html>" }),
            )
        })
        .await?;
        let foreign = serve(|_| {
            v2_root().route(
                "/v2/_catalog",
                get(|| async {
                    (
                        [(
                            header::LINK,
                            "<http://127.0.0.2:9/v2/_catalog?last=a&n=7>; rel=\"next\"",
                        )],
                        r#"{"repositories":["a"]}"#,
                    )
                }),
            )
        })
        .await?;
        let endless = serve(|_| {
            v2_root().route(
                "/v2/_catalog",
                get(|Query(q): Query<HashMap<String, String>>| async move {
                    let n: u64 = q.get("last").and_then(|l| l.parse().ok()).unwrap_or(0) + 1;
                    (
                        [(
                            header::LINK,
                            format!("</v2/_catalog?last={n}&n=7>; rel=\"next\""),
                        )],
                        format!(r#"{{"repositories":["r{n}"]}}"#),
                    )
                }),
            )
        })
        .await?;
        let failing = Arc::new(AtomicUsize::new(0));
        let calls = failing.clone();
        let error500 = serve(move |_| {
            v2_root().route(
                "/v2/_catalog",
                get(move || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }
                }),
            )
        })
        .await?;
        let stall = serve(|_| {
            v2_root().route(
                "/v2/_catalog",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    "{}"
                }),
            )
        })
        .await?;
        let closed = format!("http://127.0.0.1:{}", berth_tests::process::free_port()?);

        let cases = [
            (
                "garbage",
                garbage.url.clone(),
                "invalid JSON from /v2/_catalog",
            ),
            (
                "foreign",
                foreign.url.clone(),
                "refusing to follow a next-page link to another host",
            ),
            ("endless", endless.url.clone(), "stopped after 48 pages"),
            (
                "error500",
                error500.url.clone(),
                "registry answered 500 on /v2/_catalog",
            ),
            ("stall", stall.url.clone(), "did not answer within 10 s"),
            ("closed", closed, "connection refused"),
        ];
        let started = Instant::now();
        let mut ids = Vec::new();
        for (name, url, _) in &cases {
            let registry = add_registry(
                &app,
                json!({ "name": name, "url": url, "insecure": true, "refreshIntervalSeconds": 0 }),
            )
            .await?;
            ids.push(registry["id"].as_str().unwrap_or_default().to_string());
        }
        for ((name, _, expected), id) in cases.iter().zip(&ids) {
            let registry = wait_refreshed(&app, id, Duration::from_secs(45)).await?;
            let error = registry["lastError"].as_str().unwrap_or_default();
            ensure!(
                registry["status"] == "ERROR" && error.contains(expected),
                "{name}: expected ERROR with {expected:?}, got {registry}"
            );
        }
        ensure!(
            started.elapsed() < Duration::from_secs(40),
            "misbehaving registries took {:?}",
            started.elapsed()
        );
        ensure!(
            failing.load(Ordering::SeqCst) == 4,
            "a 500 is retried 3 times: {} calls",
            failing.load(Ordering::SeqCst)
        );
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// A registry that answers slowly (`delay` a page) with an endless `Link` chain; each page lists
/// `page(n)`'s repositories.
async fn slow_chain(delay: Duration, page: fn(u64) -> Vec<String>) -> Result<Mock> {
    serve(move |_| {
        v2_root().route(
            "/v2/_catalog",
            get(move |Query(q): Query<HashMap<String, String>>| async move {
                tokio::time::sleep(delay).await;
                let n: u64 = q.get("last").and_then(|l| l.parse().ok()).unwrap_or(0) + 1;
                (
                    [(
                        header::LINK,
                        format!("</v2/_catalog?last={n}&n=7>; rel=\"next\""),
                    )],
                    json!({ "repositories": page(n) }).to_string(),
                )
            }),
        )
    })
    .await
}

/// Adds a registry at `url` and waits for its first refresh to end in ERROR with `expected` in its message;
/// returns the message and how long the refresh took.
async fn refresh_fails(
    app: &TestApp,
    name: &str,
    url: &str,
    expected: &str,
    timeout: Duration,
) -> Result<(String, Duration)> {
    let started = Instant::now();
    let registry = add_registry(
        app,
        json!({ "name": name, "url": url, "insecure": true, "refreshIntervalSeconds": 0 }),
    )
    .await?;
    let id = registry["id"].as_str().unwrap_or_default().to_string();
    let registry = wait_refreshed(app, &id, timeout).await?;
    let took = started.elapsed();
    let error = registry["lastError"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure!(
        registry["status"] == "ERROR" && error.contains(expected),
        "{name}: expected ERROR with {expected:?}, got {registry}"
    );
    eprintln!("{name}: refresh stopped after {took:?}: {error}");
    Ok((error, took))
}

/// Registries that answer slowly with an endless `Link` chain stop a refresh early, saying why: pages with
/// nothing new (after 4 pages), far more pages than the entries need (one new name a page where 7 were asked
/// for: after 48 pages), and full pages of new names for ever (the listing's time budget, 3 s in this
/// process).
pub async fn slow_endless_link_chains_stop_early(env: &TestEnv) -> Result<()> {
    let (app, _token) = berth(env).await?;
    let outcome = async {
        let same = slow_chain(Duration::from_millis(300), |_| vec!["same/one".into()]).await?;
        let (_, took) = refresh_fails(
            &app,
            "same-pages",
            &same.url,
            "stopped after 4 pages: the registry kept sending Link headers to pages with nothing new",
            Duration::from_secs(30),
        )
        .await?;
        ensure!(took < Duration::from_secs(10), "same pages: {took:?}");

        let dribble = slow_chain(Duration::from_millis(100), |n| vec![format!("r/{n}")]).await?;
        let (_, took) = refresh_fails(
            &app,
            "dribble",
            &dribble.url,
            "stopped after 48 pages: the registry kept sending Link headers, but its 48 entries need no more \
             than 7 pages of 7",
            Duration::from_secs(60),
        )
        .await?;
        ensure!(took < Duration::from_secs(30), "one name a page: {took:?}");
        Ok(())
    }
    .await;
    let outcome = app.finish(outcome).await;
    outcome?;

    // Full pages of new names for ever look like a huge registry: only the time budget ends them.
    let mut berth = berth_tests::app::spawn_berth_process_with_env(
        &env.new_app_dir()?,
        &[
            ("BERTH_REGISTRY_LISTING_SECS", "3"),
            ("BERTH_REGISTRY_PAGE_SIZE", "7"),
        ],
    )
    .await?;
    let outcome = async {
        berth.app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        let full = slow_chain(Duration::from_millis(200), |n| {
            (0..7).map(|i| format!("r{n}/i{i}")).collect()
        })
        .await?;
        let (_, took) = refresh_fails(
            &berth.app,
            "full-pages",
            &full.url,
            "the registry kept sending Link headers for 3 s",
            Duration::from_secs(30),
        )
        .await?;
        ensure!(took < Duration::from_secs(10), "full pages: {took:?}");
        Ok(())
    }
    .await;
    let stopped = berth.process.stop(Duration::from_secs(20)).await;
    outcome?;
    stopped
}

/// The Hub API's JSON for one repository's tags.
fn hub_tags(repo: &str) -> Value {
    let tag = |name: &str, n: u8| {
        json!({
            "creator": 7, "id": n, "last_updated": "2024-05-01T10:00:00.000000Z",
            "last_updater": 7, "last_updater_username": "acme", "name": name, "repository": 1,
            "full_size": 2_797_946, "v2": true, "tag_status": "active",
            "tag_last_pulled": "2024-06-01T10:00:00.000000Z", "tag_last_pushed": "2024-05-01T10:00:00.000000Z",
            "media_type": "application/vnd.oci.image.index.v1+json", "content_type": "image",
            "digest": format!("sha256:{}", hex_of(&format!("{repo}:{name}"))),
            "images": [
                { "architecture": "amd64", "features": "", "variant": null, "digest": format!("sha256:{}", hex_of("a")),
                  "os": "linux", "os_features": "", "os_version": null, "size": 2_797_946, "status": "active",
                  "last_pulled": null, "last_pushed": "2024-05-01T10:00:00.000000Z" },
                { "architecture": "arm64", "features": "", "variant": "v8", "digest": format!("sha256:{}", hex_of("b")),
                  "os": "linux", "os_features": "", "os_version": null, "size": 2_700_000, "status": "active",
                  "last_pulled": null, "last_pushed": "2024-05-01T10:00:00.000000Z" },
                { "architecture": "unknown", "features": "", "variant": null, "digest": format!("sha256:{}", hex_of("c")),
                  "os": "unknown", "os_features": "", "os_version": null, "size": 1_000, "status": "active",
                  "last_pulled": null, "last_pushed": "2024-05-01T10:00:00.000000Z" }
            ]
        })
    };
    json!({ "count": 2, "next": null, "previous": null, "results": [tag("1.0", 1), tag("latest", 2)] })
}

fn hex_of(text: &str) -> String {
    hex_bytes(text.as_bytes())
}

fn hex_bytes(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const HUB_REPOS: usize = 9;

/// A Docker Hub namespace, listed through a local server answering with the Hub API's JSON and paging.
pub async fn docker_hub_namespace_is_listed(env: &TestEnv) -> Result<()> {
    let (app, _token) = berth(env).await?;
    let outcome = async {
        let hub = serve(|base| {
            let repos_base = base.clone();
            Router::new()
                .route(
                    "/v2/users/login",
                    post(|body: axum::Json<Value>| async move {
                        if body["username"] == "acme-bot" && body["password"] == "hub-secret" {
                            (StatusCode::OK, axum::Json(json!({ "token": "jwt-for-acme" })))
                        } else {
                            (
                                StatusCode::UNAUTHORIZED,
                                axum::Json(json!({ "detail": "Incorrect authentication credentials" })),
                            )
                        }
                    }),
                )
                .route(
                    "/v2/namespaces/{ns}/repositories",
                    get(move |Path(ns): Path<String>, Query(q): Query<HashMap<String, String>>, headers: HeaderMap| {
                        let base = repos_base.clone();
                        async move {
                            if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
                                != Some("Bearer jwt-for-acme")
                            {
                                return (StatusCode::UNAUTHORIZED, "{}").into_response();
                            }
                            let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                            let size: usize = q.get("page_size").and_then(|p| p.parse().ok()).unwrap_or(10);
                            let names: Vec<String> = (0..HUB_REPOS).map(|i| format!("app{i}")).collect();
                            let results: Vec<Value> = names
                                .iter()
                                .skip((page - 1) * size)
                                .take(size)
                                .map(|n| json!({
                                    "name": n, "namespace": ns, "repository_type": "image", "status": 1,
                                    "status_description": "active", "description": "", "is_private": false,
                                    "star_count": 0, "pull_count": 12, "last_updated": "2024-05-01T10:00:00.000000Z",
                                    "date_registered": "2023-01-01T00:00:00.000000Z", "affiliation": "",
                                    "media_types": ["application/vnd.oci.image.index.v1+json"], "content_types": ["image"],
                                    "categories": []
                                }))
                                .collect();
                            let next = (page * size < HUB_REPOS).then(|| {
                                format!("{base}/v2/namespaces/{ns}/repositories?page={}&page_size={size}", page + 1)
                            });
                            let previous = (page > 1).then(|| {
                                format!("{base}/v2/namespaces/{ns}/repositories?page={}&page_size={size}", page - 1)
                            });
                            axum::Json(json!({ "count": HUB_REPOS, "next": next, "previous": previous, "results": results }))
                                .into_response()
                        }
                    }),
                )
                .route(
                    "/v2/namespaces/{ns}/repositories/{repo}/tags",
                    get(|Path((_ns, repo)): Path<(String, String)>| async move {
                        axum::Json(hub_tags(&repo))
                    }),
                )
        })
        .await?;
        let input = |password: &str| {
            json!({
                "name": "hub", "url": hub.url, "kind": "DOCKER_HUB", "namespace": "acme", "insecure": true,
                "username": "acme-bot", "password": password, "refreshIntervalSeconds": 0,
            })
        };
        let body = add_registry_raw(&app, json!({ "name": "hub", "url": hub.url, "kind": "DOCKER_HUB", "insecure": true })).await?;
        ensure!(
            body.pointer("/errors/0/extensions/field") == Some(&json!("namespace")),
            "DOCKER_HUB without namespace: {body}"
        );
        let registry = add_registry(&app, input("hub-secret")).await?;
        ensure!(registry["kind"] == "DOCKER_HUB", "kind: {registry}");
        let id = registry["id"].as_str().unwrap_or_default().to_string();
        let registry = wait_ok(&app, &id).await?;
        ensure!(
            registry["repositoryCount"] == HUB_REPOS && registry["tagCount"] == HUB_REPOS * 2,
            "counts: {registry}"
        );
        let repos = all_repositories(&app, &id, None, 4).await?;
        ensure!(repos.len() == HUB_REPOS, "repositories: {:?}", repos.keys());
        let tags = repos.get("app3").context("app3 listed")?;
        let tag = tags.iter().find(|t| t["name"] == "1.0").context("app3:1.0")?;
        ensure!(
            tag["reference"] == "docker.io/acme/app3:1.0"
                && tag["digest"] == format!("sha256:{}", hex_of("app3:1.0")).as_str()
                && tag["sizeBytes"] == 2_797_946
                && tag["architectures"] == json!(["amd64", "arm64"])
                && tag["createdAt"].as_str().is_some_and(|c| c.starts_with("2024-05-01T10:00:00")),
            "app3:1.0: {tag}"
        );

        update_registry(&app, &id, input("wrong")).await?;
        let failed = wait_refreshed(&app, &id, REFRESH_TIMEOUT).await?;
        ensure!(
            failed["status"] == "ERROR"
                && failed["lastError"].as_str().is_some_and(|e| e.contains("authentication failed for user acme-bot"))
                && failed["repositoryCount"] == HUB_REPOS,
            "wrong Hub password: {failed}"
        );
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// Refreshes every 2 s, seen on the subscription.
pub async fn periodic_refresh_is_seen(env: &TestEnv) -> Result<()> {
    let (app, token) = berth(env).await?;
    let outcome = async {
        let registry = add_registry(
            &app,
            json!({ "name": "periodic", "url": env.registry.url, "insecure": true, "refreshIntervalSeconds": 2 }),
        )
        .await?;
        let id = registry["id"].as_str().unwrap_or_default().to_string();
        wait_ok(&app, &id).await?;
        let mut ws = GraphqlWs::connect(&app, &token).await?;
        ws.subscribe(REFRESH_EVENTS, json!({ "id": id })).await?;
        let first = ws
            .wait_for("a periodic FINISHED", Duration::from_secs(15), |e| {
                e.data["registryRefresh"]["phase"] == "FINISHED"
            })
            .await?;
        let second = ws
            .wait_for("a second periodic FINISHED", Duration::from_secs(15), |e| {
                e.data["registryRefresh"]["phase"] == "FINISHED"
            })
            .await?;
        let gap = second.received.duration_since(first.received);
        ensure!(
            gap >= Duration::from_millis(1500) && gap < Duration::from_secs(8),
            "periodic refreshes {gap:?} apart"
        );
        ws.close().await;
        // 0 = on demand only: no refresh comes.
        let mut settings = json!({ "name": "periodic", "url": env.registry.url, "insecure": true, "refreshIntervalSeconds": 0 });
        settings["refreshIntervalSeconds"] = json!(0);
        update_registry(&app, &id, settings).await?;
        wait_ok(&app, &id).await?;
        // A periodic refresh running during the update runs once more with the new settings.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let done = wait_ok(&app, &id).await?;
        tokio::time::sleep(Duration::from_secs(4)).await;
        let later = get_registry(&app, &id).await?;
        ensure!(
            later["lastRefreshedAt"] == done["lastRefreshedAt"],
            "interval 0 refreshed anyway: {done} then {later}"
        );
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

const SEEDED: usize = 32;

/// ≥ 30 repositories × 3 tags pushed through the registry API (one shared layer), a multi-arch index with an
/// attestation entry, a small page size: counts, digests, sizes, architectures; then a deleted tag is gone
/// after the next refresh.
pub async fn seeded_registry_with_index_and_deletion(env: &TestEnv) -> Result<()> {
    let (app, _token) = berth(env).await?;
    let outcome = async {
        let base = env.registry.url.clone();
        let client = http_client(None)?;
        let layer_bytes = b"berth shared layer: not a real tarball, registries do not look".to_vec();
        let amd64 = image_config("amd64", None);
        futures::stream::iter(0..SEEDED)
            .map(|i| {
                let client = client.clone();
                let base = base.clone();
                let (layer_bytes, amd64) = (layer_bytes.clone(), amd64.clone());
                async move {
                    let repo = format!("seed/r{i:02}");
                    let layer = upload_blob(&client, &base, &repo, &layer_bytes).await?;
                    let config = upload_blob(&client, &base, &repo, &amd64).await?;
                    for tag in ["v1", "v2", "v3"] {
                        put_manifest(&client, &base, &repo, tag, OCI_MANIFEST, &image_manifest(&config, &layer, tag)).await?;
                    }
                    Ok::<_, anyhow::Error>(())
                }
            })
            .buffer_unordered(8)
            .try_collect::<Vec<()>>()
            .await?;
        // The multi-arch index: amd64, arm64/v8 and an attestation manifest.
        let repo = "seed/multi";
        let layer = upload_blob(&client, &base, repo, &layer_bytes).await?;
        let mut platforms = Vec::new();
        for (arch, variant) in [("amd64", None), ("arm64", Some("v8")), ("unknown", None)] {
            let config = upload_blob(&client, &base, repo, &image_config(arch, variant)).await?;
            let manifest = image_manifest(&config, &layer, arch);
            let body_digest = put_manifest(&client, &base, repo, "", OCI_MANIFEST, &manifest).await?;
            let mut entry = json!({
                "mediaType": OCI_MANIFEST, "digest": body_digest.0, "size": body_digest.1,
                "platform": { "architecture": arch, "os": if arch == "unknown" { "unknown" } else { "linux" } }
            });
            if let Some(v) = variant {
                entry["platform"]["variant"] = json!(v);
            }
            if arch == "unknown" {
                entry["annotations"] = json!({
                    "vnd.docker.reference.type": "attestation-manifest",
                    "vnd.docker.reference.digest": platforms.first().map(|p: &Value| p["digest"].clone()).unwrap_or_default()
                });
            }
            platforms.push(entry);
        }
        let index = json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": platforms });
        put_manifest(&client, &base, repo, "1.0", OCI_INDEX, &index).await?;

        let started = Instant::now();
        let registry = add_registry(
            &app,
            json!({ "name": "seeded", "url": base, "insecure": true, "refreshIntervalSeconds": 0 }),
        )
        .await?;
        let id = registry["id"].as_str().unwrap_or_default().to_string();
        let registry = wait_ok(&app, &id).await?;
        let took = started.elapsed();
        ensure!(
            registry["repositoryCount"].as_u64().unwrap_or(0) >= u64::try_from(SEEDED + 1)?,
            "counts: {registry}"
        );
        let seeded = all_repositories(&app, &id, Some("seed/"), 7).await?;
        ensure!(seeded.len() == SEEDED + 1, "seeded repositories: {:?}", seeded.keys());
        let expected_size = i64::try_from(layer_bytes.len() + amd64.len())?;
        for (name, tags) in &seeded {
            if name == repo {
                continue;
            }
            let names: Vec<&str> = tags.iter().filter_map(|t| t["name"].as_str()).collect();
            ensure!(names == ["v1", "v2", "v3"], "{name}: tags {names:?}");
            for tag in tags {
                let digest = head_digest(&env.registry, name, tag["name"].as_str().unwrap_or_default()).await?;
                ensure!(tag["digest"] == digest.as_str(), "{name}: {tag} vs HEAD {digest}");
                ensure!(
                    tag["sizeBytes"] == expected_size
                        && tag["architectures"] == json!(["amd64"])
                        && tag["createdAt"].as_str().is_some_and(|c| c.starts_with("2024-01-02T03:04:05")),
                    "{name}: {tag}"
                );
            }
        }
        let multi = seeded.get(repo).context("seed/multi listed")?;
        let one = multi.iter().find(|t| t["name"] == "1.0").context("seed/multi:1.0")?;
        ensure!(
            one["architectures"] == json!(["amd64", "arm64"])
                && one["digest"] == head_digest(&env.registry, repo, "1.0").await?.as_str(),
            "index: {one}"
        );
        tracing::info!(?took, "seeded registry refreshed");

        // Delete seed/r00:v1 → gone after the next refresh; the rest unchanged.
        let digest = head_digest(&env.registry, "seed/r00", "v1").await?;
        let deleted = client
            .delete(format!("{base}/v2/seed/r00/manifests/{digest}"))
            .send()
            .await?;
        ensure!(deleted.status() == StatusCode::ACCEPTED, "DELETE manifest: {}", deleted.status());
        app.graphql("mutation R($id: ID!) { refreshRegistry(id: $id) { status } }", json!({ "id": id }))
            .await?;
        wait_ok(&app, &id).await?;
        let after = all_repositories(&app, &id, Some("seed/r00"), 50).await?;
        let names: Vec<&str> = after
            .get("seed/r00")
            .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
            .unwrap_or_default();
        ensure!(names == ["v2", "v3"], "after deleting v1: {names:?}");
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// What the token-auth mock registry counts.
#[derive(Default)]
struct Counters {
    tokens: AtomicUsize,
    manifest_gets: AtomicUsize,
    manifest_heads: AtomicUsize,
    blob_gets: AtomicUsize,
    unauthorized: AtomicUsize,
}

/// The mock registry's content: repository → tag → (manifest JSON, config JSON).
type Content = Arc<std::sync::Mutex<BTreeMap<String, BTreeMap<String, (Vec<u8>, Vec<u8>)>>>>;

fn mock_image(tag: &str, arch: &str) -> (Vec<u8>, Vec<u8>) {
    let config = serde_json::to_vec(&json!({
        "architecture": arch, "os": "linux", "created": "2023-03-04T05:06:07Z", "config": {}
    }))
    .unwrap_or_default();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": { "mediaType": "application/vnd.docker.container.image.v1+json",
                    "digest": format!("sha256:{}", hex_bytes(&config)), "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                     "digest": format!("sha256:{}", hex_of(tag)), "size": 1000 }]
    }))
    .unwrap_or_default();
    (manifest, config)
}

/// A registry speaking the Bearer token flow: `/v2/` challenges, `/token` wants Basic credentials and grants
/// one token per scope (`expires_in` 300 s); every registry call checks the token's scope.
fn token_registry(base: String, content: Content, counters: Arc<Counters>) -> Router {
    let token_counters = counters.clone();
    let realm = format!("{base}/token");
    let challenge = move || {
        (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                format!("Bearer realm=\"{realm}\",service=\"mock-registry\""),
            )],
            "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}",
        )
            .into_response()
    };
    let root_challenge = challenge.clone();
    Router::new()
        .route(
            "/token",
            get(move |Query(q): Query<Vec<(String, String)>>, headers: HeaderMap| {
                let counters = token_counters.clone();
                async move {
                    counters.tokens.fetch_add(1, Ordering::SeqCst);
                    let basic = headers
                        .get(header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    // berth:t0ken-pass
                    if basic != "Basic YmVydGg6dDBrZW4tcGFzcw==" {
                        return (StatusCode::UNAUTHORIZED, "{}").into_response();
                    }
                    let service = q.iter().find(|(k, _)| k == "service").map(|(_, v)| v.as_str());
                    if service != Some("mock-registry") {
                        return (StatusCode::BAD_REQUEST, "wrong service").into_response();
                    }
                    // Like a real token server, it grants only what it may: nothing on secret/.
                    let scopes: Vec<&str> = q
                        .iter()
                        .filter(|(k, v)| k == "scope" && !v.contains("secret/"))
                        .map(|(_, v)| v.as_str())
                        .collect();
                    axum::Json(json!({ "token": format!("tok|{}", scopes.join(" ")), "expires_in": 300 }))
                        .into_response()
                }
            }),
        )
        .route(
            "/v2/",
            get(move |headers: HeaderMap| {
                let challenge = root_challenge.clone();
                async move {
                    match headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
                        Some(a) if a.starts_with("Bearer tok|") => "{}".into_response(),
                        _ => challenge(),
                    }
                }
            }),
        )
        .route(
            "/v2/{*rest}",
            get({
                let content = content.clone();
                let counters = counters.clone();
                let challenge = challenge.clone();
                move |method: axum::http::Method,
                      Path(rest): Path<String>,
                      Query(q): Query<HashMap<String, String>>,
                      headers: HeaderMap| {
                    let content = content.clone();
                    let counters = counters.clone();
                    let challenge = challenge.clone();
                    async move {
                        registry_call(method, &rest, &q, &headers, &content, &counters, challenge)
                    }
                }
            }),
        )
}

/// One `/v2/…` call of the token-auth mock registry (GET and HEAD).
fn registry_call(
    method: axum::http::Method,
    rest: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    content: &Content,
    counters: &Counters,
    challenge: impl Fn() -> axum::response::Response,
) -> axum::response::Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.strip_prefix("Bearer tok|"))
        .unwrap_or_default()
        .to_string();
    let allowed = |scope: &str| {
        let ok = token.split(' ').any(|s| s == scope);
        if !ok {
            counters.unauthorized.fetch_add(1, Ordering::SeqCst);
        }
        ok
    };
    let content = content
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if rest == "_catalog" {
        if !allowed("registry:catalog:*") {
            return challenge();
        }
        let n: usize = query.get("n").and_then(|n| n.parse().ok()).unwrap_or(100);
        let last = query.get("last").cloned().unwrap_or_default();
        let names: Vec<&String> = content.keys().filter(|k| **k > last).take(n).collect();
        let more = content.keys().filter(|k| **k > last).count() > n;
        let body = json!({ "repositories": names }).to_string();
        return match (more, names.last()) {
            (true, Some(last)) => (
                [(
                    header::LINK,
                    format!("</v2/_catalog?last={last}&n={n}>; rel=\"next\""),
                )],
                body,
            )
                .into_response(),
            _ => body.into_response(),
        };
    }
    let not_found = || {
        (
            StatusCode::NOT_FOUND,
            "{\"errors\":[{\"code\":\"NAME_UNKNOWN\"}]}",
        )
            .into_response()
    };
    for (marker, kind) in [("/tags/list", 0), ("/manifests/", 1), ("/blobs/", 2)] {
        let Some(at) = rest.find(marker) else {
            continue;
        };
        let repo = &rest[..at];
        let arg = &rest[at + marker.len()..];
        if !allowed(&format!("repository:{repo}:pull")) {
            return challenge();
        }
        let Some(tags) = content.get(repo) else {
            return not_found();
        };
        return match kind {
            0 => json!({ "name": repo, "tags": tags.keys().collect::<Vec<_>>() })
                .to_string()
                .into_response(),
            1 => {
                let Some((manifest, _)) = tags.get(arg) else {
                    return not_found();
                };
                if method == axum::http::Method::HEAD {
                    counters.manifest_heads.fetch_add(1, Ordering::SeqCst);
                } else {
                    counters.manifest_gets.fetch_add(1, Ordering::SeqCst);
                }
                (
                    [
                        (
                            header::CONTENT_TYPE,
                            "application/vnd.docker.distribution.manifest.v2+json".to_string(),
                        ),
                        (
                            header::HeaderName::from_static("docker-content-digest"),
                            format!("sha256:{}", hex_bytes(manifest)),
                        ),
                    ],
                    manifest.clone(),
                )
                    .into_response()
            }
            _ => {
                counters.blob_gets.fetch_add(1, Ordering::SeqCst);
                match tags
                    .values()
                    .find(|(_, c)| format!("sha256:{}", hex_bytes(c)) == arg)
                {
                    Some((_, config)) => config.clone().into_response(),
                    None => not_found(),
                }
            }
        };
    }
    not_found()
}

/// The Bearer token flow (tokens per scope, cached), catalog paging, and incremental refreshes: unchanged tags
/// are only HEADed, a changed tag is fetched again, removed repositories and tags disappear.
pub async fn token_registry_refreshes_incrementally(env: &TestEnv) -> Result<()> {
    let (app, _token) = berth(env).await?;
    let outcome = async {
        let content: Content = Arc::default();
        {
            let mut c = content.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for i in 0..10 {
                let tags = c.entry(format!("team/app{i:02}")).or_default();
                for tag in ["1", "2"] {
                    tags.insert(tag.to_string(), mock_image(&format!("{i}:{tag}"), "arm64"));
                }
            }
            c.entry("secret/hidden".into())
                .or_default()
                .insert("1".into(), mock_image("hidden", "amd64"));
        }
        let counters = Arc::new(Counters::default());
        let mock = {
            let (content, counters) = (content.clone(), counters.clone());
            serve(move |base| token_registry(base, content, counters)).await?
        };
        let input = |password: &str| {
            json!({ "name": "tokens", "url": mock.url, "insecure": true, "refreshIntervalSeconds": 0,
                    "username": "berth", "password": password })
        };
        let registry = add_registry(&app, input("t0ken-pass")).await?;
        let id = registry["id"].as_str().unwrap_or_default().to_string();
        let registry = wait_ok(&app, &id).await?;
        ensure!(
            registry["repositoryCount"] == 10 && registry["tagCount"] == 20,
            "counts: {registry}"
        );
        let repos = all_repositories(&app, &id, None, 50).await?;
        let tag = &repos["team/app03"][1];
        let (manifest, _) = mock_image("3:2", "arm64");
        ensure!(
            tag["name"] == "2"
                && tag["digest"] == format!("sha256:{}", hex_bytes(&manifest)).as_str()
                && tag["architectures"] == json!(["arm64"])
                && tag["createdAt"].as_str().is_some_and(|c| c.starts_with("2023-03-04T05:06:07")),
            "team/app03:2: {tag}"
        );
        let tokens = counters.tokens.load(Ordering::SeqCst);
        // One per scope: the check at /v2/, the catalog, the 10 repositories, and twice for the repository
        // the server grants nothing on (left out, not a failure).
        ensure!(tokens <= 15, "tokens are cached per scope: {tokens} token requests");
        // New tags are read without a HEAD first; the 20 images share one config blob, read once.
        ensure!(
            counters.manifest_gets.load(Ordering::SeqCst) == 20
                && counters.blob_gets.load(Ordering::SeqCst) == 1
                && counters.manifest_heads.load(Ordering::SeqCst) == 0,
            "first refresh: {} manifest GETs, {} blob GETs",
            counters.manifest_gets.load(Ordering::SeqCst),
            counters.blob_gets.load(Ordering::SeqCst)
        );

        // Change one tag, remove a repository and a tag: only the changed one is fetched again.
        {
            let mut c = content.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            c.remove("team/app09");
            if let Some(tags) = c.get_mut("team/app00") {
                tags.remove("2");
                tags.insert("1".into(), mock_image("0:1-new", "amd64"));
            }
        }
        let gets = counters.manifest_gets.load(Ordering::SeqCst);
        let blobs = counters.blob_gets.load(Ordering::SeqCst);
        let heads = counters.manifest_heads.load(Ordering::SeqCst);
        app.graphql("mutation R($id: ID!) { refreshRegistry(id: $id) { status } }", json!({ "id": id }))
            .await?;
        let registry = wait_ok(&app, &id).await?;
        ensure!(
            registry["repositoryCount"] == 9 && registry["tagCount"] == 17,
            "after removals: {registry}"
        );
        ensure!(
            counters.manifest_gets.load(Ordering::SeqCst) - gets == 1
                && counters.blob_gets.load(Ordering::SeqCst) - blobs == 1
                && counters.manifest_heads.load(Ordering::SeqCst) - heads == 17,
            "second refresh: {} GETs, {} blobs, {} HEADs",
            counters.manifest_gets.load(Ordering::SeqCst) - gets,
            counters.blob_gets.load(Ordering::SeqCst) - blobs,
            counters.manifest_heads.load(Ordering::SeqCst) - heads
        );
        ensure!(
            counters.tokens.load(Ordering::SeqCst) <= tokens + 2,
            "cached tokens are reused: {} then {}",
            tokens,
            counters.tokens.load(Ordering::SeqCst)
        );
        let repos = all_repositories(&app, &id, Some("app00"), 5).await?;
        let tags = &repos["team/app00"];
        ensure!(
            tags.len() == 1 && tags[0]["architectures"] == json!(["amd64"]),
            "changed tag: {tags:?}"
        );

        // Wrong password: the token server refuses; the list stays.
        update_registry(&app, &id, input("wrong")).await?;
        let failed = wait_refreshed(&app, &id, REFRESH_TIMEOUT).await?;
        ensure!(
            failed["status"] == "ERROR"
                && failed["lastError"].as_str().is_some_and(|e| e.contains("authentication failed for user berth"))
                && failed["tagCount"] == 17,
            "wrong token password: {failed}"
        );
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// A host pull of an image from the htpasswd registry uses the registry's credentials (the password's
/// credentials JSON needs URL-safe base64 in `X-Registry-Auth`).
pub async fn host_pull_uses_registry_credentials(env: &TestEnv) -> Result<()> {
    let (app, _token) = berth(env).await?;
    let outcome = async {
        let engine = env.host("h2")?;
        let host = berth_tests::hosts::add_host(&app, berth_tests::hosts::engine_input("h2", engine)).await?;
        ensure!(host["status"] == "UP", "h2: {host}");
        let host_id = host["id"].as_str().unwrap_or_default().to_string();
        let reference = env.auth_registry.reference("private/app:1.0");
        let pull = "mutation Pull($host: ID!, $ref: String!) { pullImage(hostId: $host, reference: $ref) { reference digest } }";
        let _ = engine.docker(&["rmi", &reference]).await;
        let body = app.graphql(pull, json!({ "host": host_id, "ref": reference })).await?;
        ensure!(body.get("errors").is_some(), "a pull without credentials must fail: {body}");

        let registry = add_registry(
            &app,
            json!({ "name": "auth", "url": env.auth_registry.url, "insecure": true, "refreshIntervalSeconds": 0,
                    "username": AUTH_USERNAME, "password": AUTH_PASSWORD }),
        )
        .await?;
        wait_ok(&app, registry["id"].as_str().unwrap_or_default()).await?;
        let body = app.graphql(pull, json!({ "host": host_id, "ref": reference })).await?;
        let pulled = data(&body).with_context(|| format!("pull with the registry's credentials: {body}"))?;
        ensure!(
            pulled["pullImage"]["reference"] == reference.as_str(),
            "pulled: {pulled}"
        );
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// A password whose credentials JSON always base64-encodes with `+` or `/` (whatever the port): bollard
/// sends `X-Registry-Auth` in standard base64, which the daemon decodes as URL-safe and otherwise pulls
/// anonymously.
const TRAP_PASSWORD: &str = "s3cr3t?>?";

/// Copies `repo:tag` from the open registry into `to` (with its Basic credentials) through the HTTP API.
async fn copy_image(env: &TestEnv, to: &RegistryHandle, repo: &str, tag: &str) -> Result<()> {
    let client = http_client(None)?;
    let auth = |request: reqwest::RequestBuilder| match &to.username {
        Some(user) => request.basic_auth(user, to.password.as_deref()),
        None => request,
    };
    let response = client
        .get(format!("{}/v2/{repo}/manifests/{tag}", env.registry.url))
        .header(header::ACCEPT, MANIFEST_TYPES)
        .send()
        .await?;
    ensure!(
        response.status().is_success(),
        "GET manifest: {}",
        response.status()
    );
    let media_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(OCI_MANIFEST)
        .to_string();
    let manifest_bytes = response.bytes().await?.to_vec();
    let manifest: Value = serde_json::from_slice(&manifest_bytes)?;
    let mut digests = vec![
        manifest["config"]["digest"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ];
    for layer in manifest["layers"].as_array().cloned().unwrap_or_default() {
        digests.push(layer["digest"].as_str().unwrap_or_default().to_string());
    }
    for digest in digests {
        let blob = client
            .get(format!("{}/v2/{repo}/blobs/{digest}", env.registry.url))
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        let started = auth(client.post(format!("{}/v2/{repo}/blobs/uploads/", to.url)))
            .send()
            .await?;
        ensure!(
            started.status() == StatusCode::ACCEPTED,
            "upload start: {}",
            started.status()
        );
        let location = started
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .context("upload Location")?
            .to_string();
        let location = if location.starts_with("http") {
            location
        } else {
            format!("{}{location}", to.url)
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let done = auth(client.put(format!("{location}{separator}digest={digest}")))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(blob)
            .send()
            .await?;
        ensure!(
            done.status() == StatusCode::CREATED,
            "upload {digest}: {}",
            done.status()
        );
    }
    let put = auth(client.put(format!("{}/v2/{repo}/manifests/{tag}", to.url)))
        .header(header::CONTENT_TYPE, media_type)
        .body(manifest_bytes)
        .send()
        .await?;
    ensure!(
        put.status() == StatusCode::CREATED,
        "PUT manifest: {}",
        put.status()
    );
    Ok(())
}

/// A host pull with credentials whose `X-Registry-Auth` contains `+` or `/` in standard base64 still
/// authenticates (the header must go URL-safe encoded).
pub async fn host_pull_with_base64_trap_password(env: &TestEnv) -> Result<()> {
    let registry_bin = berth_tests::process::require_binary(
        "docker-registry",
        "apt-get install -y docker-registry",
    )?;
    let dir = env.run_dir.join("registry-trap");
    let (trap, mut process) = berth_tests::registry::spawn(
        "trap",
        &dir,
        &registry_bin,
        Some((AUTH_USERNAME, TRAP_PASSWORD)),
    )?;
    let outcome = async {
        berth_tests::registry::wait_ready(&trap, &mut process).await?;
        copy_image(env, &trap, "tools/busybox", "1.35").await?;
        let (app, _token) = berth(env).await?;
        let outcome = async {
            let registry = add_registry(
                &app,
                json!({ "name": "trap", "url": trap.url, "insecure": true, "refreshIntervalSeconds": 0,
                        "username": AUTH_USERNAME, "password": TRAP_PASSWORD }),
            )
            .await?;
            wait_ok(&app, registry["id"].as_str().unwrap_or_default()).await?;
            let engine = env.host("h2")?;
            let host = berth_tests::hosts::add_host(&app, berth_tests::hosts::engine_input("h2", engine)).await?;
            let host_id = host["id"].as_str().unwrap_or_default().to_string();
            let reference = trap.reference("tools/busybox:1.35");
            let _ = engine.docker(&["rmi", &reference]).await;
            let body = app
                .graphql(
                    "mutation Pull($host: ID!, $ref: String!) { pullImage(hostId: $host, reference: $ref) { reference } }",
                    json!({ "host": host_id, "ref": reference }),
                )
                .await?;
            data(&body).with_context(|| format!("pull of {reference} with password {TRAP_PASSWORD:?}: {body}"))?;
            Ok(())
        }
        .await;
        app.finish(outcome).await
    }
    .await;
    let stopped = process.stop(Duration::from_secs(5)).await;
    outcome?;
    stopped
}

/// A registry that stops: ERROR "connection refused" with the last good list kept; started again on the same
/// address: OK on the next refresh.
pub async fn stopped_registry_keeps_list_and_recovers(env: &TestEnv) -> Result<()> {
    let registry_bin = berth_tests::process::require_binary(
        "docker-registry",
        "apt-get install -y docker-registry",
    )?;
    let dir = env.run_dir.join("registry-restart");
    let (handle, mut process) = berth_tests::registry::spawn("restart", &dir, &registry_bin, None)?;
    let mut restarted: Option<berth_tests::process::ManagedProcess> = None;
    let outcome = async {
        berth_tests::registry::wait_ready(&handle, &mut process).await?;
        copy_image(env, &handle, "tools/busybox", "1.35").await?;
        let (app, _token) = berth(env).await?;
        let outcome = async {
            let registry = add_registry(
                &app,
                json!({ "name": "restart", "url": handle.url, "insecure": true, "refreshIntervalSeconds": 0 }),
            )
            .await?;
            let id = registry["id"].as_str().unwrap_or_default().to_string();
            let good = wait_ok(&app, &id).await?;
            ensure!(good["tagCount"] == 1, "before the stop: {good}");
            process.stop(Duration::from_secs(5)).await?;
            let refresh = "mutation R($id: ID!) { refreshRegistry(id: $id) { status } }";
            app.graphql(refresh, json!({ "id": id })).await?;
            let failed = wait_refreshed(&app, &id, Duration::from_secs(30)).await?;
            ensure!(
                failed["status"] == "ERROR"
                    && failed["lastError"].as_str().is_some_and(|e| e.contains("connection refused"))
                    && failed["tagCount"] == 1
                    && failed["repositoryCount"] == 1,
                "stopped registry: {failed}"
            );
            let mut cmd = tokio::process::Command::new(&registry_bin);
            cmd.arg("serve").arg(dir.join("config.yml"));
            let again = restarted.insert(berth_tests::process::ManagedProcess::spawn(
                "registry restart (again)",
                &mut cmd,
                &dir.join("registry-again.log"),
            )?);
            berth_tests::registry::wait_ready(&handle, again).await?;
            app.graphql(refresh, json!({ "id": id })).await?;
            let back = wait_ok(&app, &id).await?;
            ensure!(back["tagCount"] == 1 && back["lastError"].is_null(), "started again: {back}");
            Ok(())
        }
        .await;
        app.finish(outcome).await
    }
    .await;
    let _ = process.stop(Duration::from_secs(5)).await;
    if let Some(mut again) = restarted {
        let _ = again.stop(Duration::from_secs(5)).await;
    }
    outcome
}

/// The same on PostgreSQL: a registry is listed, refreshed again and removed.
pub async fn registries_on_postgres(env: &TestEnv) -> Result<()> {
    let postgres = berth_tests::PostgresServer::start(env).await?;
    let outcome = async {
        let url = postgres.create_database("berth_registries").await?;
        let app = berth_tests::spawn_app_with_database(env, &url).await?;
        let outcome = async {
            app.login_as(
                berth_tests::app::ADMIN_USERNAME,
                berth_tests::app::ADMIN_PASSWORD,
            )
            .await?;
            let registry = add_registry(
                &app,
                json!({ "name": "open", "url": env.registry.url, "insecure": true, "refreshIntervalSeconds": 0 }),
            )
            .await?;
            let id = registry["id"].as_str().unwrap_or_default().to_string();
            wait_ok(&app, &id).await?;
            check_listed(&app, &id, &env.registry, &env.images).await?;
            app.graphql(
                "mutation R($id: ID!) { refreshRegistry(id: $id) { status } }",
                json!({ "id": id }),
            )
            .await?;
            wait_ok(&app, &id).await?;
            check_listed(&app, &id, &env.registry, &env.images).await?;
            let web = all_repositories(&app, &id, Some("web"), 2).await?;
            ensure!(web.contains_key("apps/web"), "filter on PostgreSQL: {:?}", web.keys());
            let body = app
                .graphql("mutation R($id: ID!) { removeRegistry(id: $id) }", json!({ "id": id }))
                .await?;
            ensure!(data(&body)?["removeRegistry"] == true, "remove: {body}");
            Ok(())
        }
        .await;
        app.finish(outcome).await
    }
    .await;
    postgres.finish(outcome).await
}
