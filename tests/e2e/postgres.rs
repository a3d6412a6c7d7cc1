//! Berth on PostgreSQL: logins, API tokens, sessions that outlive a restart, the bootstrap admin and
//! hosts, against a throwaway PostgreSQL server the harness starts for this test only; stats sampling, the
//! 5-minute downsampling SQL and the stats reads on PostgreSQL; the lists' search through `pg_trgm` indexes.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth::service::auth::Bootstrap;
use berth::service::fixtures::Fixtures;
use berth_tests::app::{
    ADMIN_PASSWORD, ADMIN_USERNAME, SESSION_COOKIE, data, expect_error_code,
    spawn_berth_process_with_env,
};
use berth_tests::containers::{container_action, create_container, wait_container_status};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, poll};
use berth_tests::{PostgresServer, TestApp, TestEnv, spawn_app_with_database};
use serde_json::{Value, json};

const ME: &str = "{ me { username role } }";

/// Fails unless `body` is `me` for the admin.
fn expect_admin(body: &Value) -> Result<()> {
    let me = &data(body)?["me"];
    ensure!(
        me["username"] == ADMIN_USERNAME && me["role"] == "ADMIN",
        "expected me == admin/ADMIN, got {body}"
    );
    Ok(())
}

/// Creates an API token with the logged-in cookie client; returns `(id, secret)`.
async fn create_token(app: &TestApp, name: &str) -> Result<(String, String)> {
    let body = app
        .graphql(
            "mutation Create($name: String!) { createApiToken(name: $name) { token { id name } secret } }",
            json!({ "name": name }),
        )
        .await?;
    let created = &data(&body)?["createApiToken"];
    let id = created["token"]["id"].as_str().unwrap_or_default();
    let secret = created["secret"].as_str().unwrap_or_default();
    ensure!(
        !id.is_empty() && !secret.is_empty(),
        "createApiToken: {body}"
    );
    ensure!(created["token"]["name"] == name, "createApiToken: {body}");
    Ok((id.to_string(), secret.to_string()))
}

/// On a fresh PostgreSQL database: the admin is created and logs in (a wrong password does not), API
/// tokens work as bearers until revoked, logout ends the session; after a restart on the same
/// database with a fresh data folder the admin is not created again, the session cookie and a kept
/// token still work, and host h1 is added UP with its capabilities.
pub async fn auth_sessions_and_hosts(env: &TestEnv) -> Result<()> {
    let postgres = PostgresServer::start(env).await?;
    let outcome = on_postgres(env, &postgres).await;
    postgres.finish(outcome).await
}

async fn on_postgres(env: &TestEnv, postgres: &PostgresServer) -> Result<()> {
    let url = postgres.create_database("berth_e2e").await?;
    let app = spawn_app_with_database(env, &url)
        .await
        .context("starting Berth on PostgreSQL")?;
    let kept = match first_start(&app).await {
        Ok(kept) => kept,
        Err(e) => return app.finish(Err(e)).await,
    };
    app.shutdown().await?;

    // A new data folder: only the database carries the users, sessions and tokens over.
    let app = spawn_app_with_database(env, &url)
        .await
        .context("starting Berth again on the same PostgreSQL database")?;
    let outcome = async {
        second_start(env, &app, &kept).await?;
        search_uses_trigram_indexes(&app, postgres).await
    }
    .await;
    app.finish(outcome).await
}

/// The search migration made `pg_trgm`'s indexes, and a search of the lists answers through them.
async fn search_uses_trigram_indexes(app: &TestApp, postgres: &PostgresServer) -> Result<()> {
    let indexes = postgres
        .query(
            "berth_e2e",
            "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%trgm' ORDER BY indexname",
        )
        .await?;
    let indexes: Vec<&str> = indexes.lines().map(str::trim).collect();
    ensure!(
        indexes
            == [
                "ix_containers_image_trgm",
                "ix_containers_name_trgm",
                "ix_docker_containers_search_trgm"
            ],
        "trigram indexes on PostgreSQL: {indexes:?}"
    );
    for name in ["pg-search-alpha", "pg-search-beta"] {
        let body = app
            .graphql(
                "mutation C($input: ContainerInput!) { createContainer(input: $input) { id } }",
                json!({ "input": { "name": name, "image": "busybox:1.36" } }),
            )
            .await?;
        data(&body).with_context(|| body.to_string())?;
    }
    let body = app
        .graphql(
            "{ containers(filter: { search: \"SEARCH-ALP\" }, first: 10) { totalCount edges { node { name } } } }",
            json!({}),
        )
        .await?;
    let list = &data(&body).with_context(|| body.to_string())?["containers"];
    ensure!(
        list["totalCount"] == 1 && list["edges"][0]["node"]["name"] == "pg-search-alpha",
        "search on PostgreSQL: {body}"
    );
    Ok(())
}

/// What the first server leaves for the second: a live session cookie and an unrevoked token.
struct Kept {
    cookie: String,
    token: String,
}

async fn first_start(app: &TestApp) -> Result<Kept> {
    ensure!(
        app.bootstrap == Bootstrap::CreatedWithConfiguredPassword,
        "first start on an empty database: expected the admin to be created, got {:?}",
        app.bootstrap
    );

    let wrong = app
        .graphql(
            "mutation Login($u: String!, $p: String!) { login(username: $u, password: $p) { username } }",
            json!({ "u": ADMIN_USERNAME, "p": "not-the-password" }),
        )
        .await?;
    expect_error_code(&wrong, "UNAUTHENTICATED").context("login with a wrong password")?;
    ensure!(
        app.session_cookie().is_none(),
        "a failed login set a session cookie"
    );
    expect_error_code(&app.graphql(ME, json!({})).await?, "UNAUTHENTICATED")?;

    let login = app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    ensure!(
        login["username"] == ADMIN_USERNAME && login["role"] == "ADMIN",
        "login returned {login}"
    );
    expect_admin(&app.graphql(ME, json!({})).await?).context("me after login")?;

    let (id, secret) = create_token(app, "pg-revoked").await?;
    expect_admin(&app.graphql_with_token(&secret, ME, json!({})).await?)
        .context("me with the bearer token")?;
    let list = app.graphql("{ apiTokens { id name } }", json!({})).await?;
    ensure!(
        data(&list)?["apiTokens"]
            .as_array()
            .is_some_and(|tokens| tokens.iter().any(|t| t["id"] == id.as_str())),
        "apiTokens does not list the new token: {list}"
    );
    let revoked = app
        .graphql(
            "mutation Revoke($id: ID!) { revokeApiToken(id: $id) }",
            json!({ "id": id }),
        )
        .await?;
    ensure!(
        data(&revoked)?["revokeApiToken"] == true,
        "revokeApiToken: {revoked}"
    );
    expect_error_code(
        &app.graphql_with_token(&secret, ME, json!({})).await?,
        "UNAUTHENTICATED",
    )
    .context("the revoked token still works")?;
    let (_, kept_token) = create_token(app, "pg-kept").await?;

    let cookie = app
        .session_cookie()
        .context("no session cookie after login")?;
    let logout = app.graphql("mutation { logout }", json!({})).await?;
    ensure!(data(&logout)?["logout"] == true, "logout: {logout}");
    expect_error_code(&app.graphql(ME, json!({})).await?, "UNAUTHENTICATED")
        .context("me after logout")?;
    expect_error_code(
        &app.graphql_with_cookie(&format!("{SESSION_COOKIE}={cookie}"), ME, json!({}))
            .await?,
        "UNAUTHENTICATED",
    )
    .context("the logged-out session cookie still works")?;

    // A fresh session for the second server to accept.
    app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    let cookie = app
        .session_cookie()
        .context("no session cookie after the second login")?;
    Ok(Kept {
        cookie,
        token: kept_token,
    })
}

async fn second_start(env: &TestEnv, app: &TestApp, kept: &Kept) -> Result<()> {
    ensure!(
        app.bootstrap == Bootstrap::Existing,
        "restart on the same database: the admin user was created again ({:?})",
        app.bootstrap
    );
    // Cookies are host-only on 127.0.0.1 and the port changed: carry the cookie by hand.
    let me = app
        .graphql_with_cookie(&format!("{SESSION_COOKIE}={}", kept.cookie), ME, json!({}))
        .await?;
    expect_admin(&me).context("the session did not survive the restart")?;
    expect_admin(&app.graphql_with_token(&kept.token, ME, json!({})).await?)
        .context("the API token did not survive the restart")?;
    app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD)
        .await
        .context("login with the same password after the restart")?;

    let h1 = env.host("h1")?;
    let added = app
        .graphql(
            "mutation Add($input: HostInput!) { addHost(input: $input) { id name status lastError } }",
            json!({ "input": { "name": "h1", "endpoint": h1.endpoint } }),
        )
        .await?;
    let host = &data(&added)?["addHost"];
    ensure!(
        host["name"] == "h1" && host["status"] == "UP",
        "addHost h1 ({}): expected status UP, got {added}",
        h1.endpoint
    );
    let id = host["id"].as_str().unwrap_or_default().to_string();

    let body = app
        .graphql(
            "{ hosts { id name endpoint status capabilities { dockerVersion apiVersion cpus memoryBytes } } }",
            json!({}),
        )
        .await?;
    let hosts = data(&body)?["hosts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let listed = hosts
        .iter()
        .find(|h| h["id"] == id.as_str())
        .with_context(|| format!("hosts does not list h1 ({id}): {body}"))?;
    ensure!(
        listed["name"] == "h1" && listed["endpoint"] == h1.endpoint.as_str(),
        "hosts lists h1 as {listed}"
    );
    ensure!(listed["status"] == "UP", "hosts: h1 is not UP: {listed}");
    let capabilities = &listed["capabilities"];
    ensure!(
        capabilities["dockerVersion"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
            && capabilities["apiVersion"]
                .as_str()
                .is_some_and(|v| !v.is_empty())
            && capabilities["cpus"].as_i64().is_some_and(|n| n > 0),
        "hosts: h1 without capabilities: {listed}"
    );

    // The audit log's target filter ignores case and takes `%` literally, on PostgreSQL as on SQLite.
    let audit = |target: &str| {
        app.graphql(
            "query A($t: String!) { auditLog(filter: {target: $t}) { totalCount edges { node { action target } } } }",
            json!({ "t": target }),
        )
    };
    let found = audit("NAME H1").await?;
    let log = &data(&found)?["auditLog"];
    ensure!(
        log["totalCount"].as_i64().is_some_and(|n| n >= 1)
            && log["edges"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["node"]["action"] == "addHost")),
        "auditLog(target: \"NAME H1\") misses addHost: {found}"
    );
    let wildcard = audit("n%1").await?;
    ensure!(
        data(&wildcard)?["auditLog"]["totalCount"] == 0,
        "`%` must match itself only: {wildcard}"
    );
    Ok(())
}

/// Stats on PostgreSQL (a `berth` process sampling every second): samples seeded 65-110 minutes back are averaged
/// by the 5-minute downsampling SQL into `Host.statsHistory`'s older points; a running container's background
/// samples come back from `statsHistory`, `Host.statsHistory` and `statsTrends`.
pub async fn stats_on_postgres(env: &TestEnv) -> Result<()> {
    let postgres = PostgresServer::start(env).await?;
    let outcome = async {
        let url = postgres.create_database("berth_stats").await?;
        let data_dir = env.new_app_dir()?;
        let mut berth = spawn_berth_process_with_env(
            &data_dir,
            &[
                ("DATABASE_URL", url.as_str()),
                ("BERTH_STATS_INTERVAL_SECS", "1"),
            ],
        )
        .await
        .context("starting Berth on PostgreSQL")?;
        let outcome = stats_checks(env, &berth.app, &url).await;
        let stopped = berth.process.stop(Duration::from_secs(20)).await;
        outcome?;
        stopped
    }
    .await;
    postgres.finish(outcome).await
}

async fn stats_checks(env: &TestEnv, app: &TestApp, url: &str) -> Result<()> {
    const MIB: i64 = 1024 * 1024;
    app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    let engine = env.host("h1")?;
    let host = add_host(app, engine_input("h1", engine)).await?;
    ensure!(host["status"] == "UP", "{host}");
    let host_id = host["id"].as_str().unwrap_or_default().to_owned();

    // Old samples of a made-up instance on h1, before any container runs (so no average is newer).
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let seeded: Vec<i64> = (0..46).map(|m| now_ms - (110 - m) * 60_000).collect();
    let fixtures = Fixtures::open(url).await?;
    fixtures
        .stats_samples("seeded-instance", &host_id, &seeded, 10 * MIB, 5.0)
        .await?;
    fixtures.close().await?;
    let since = time::OffsetDateTime::now_utc() - time::Duration::hours(2);
    let since = since.format(&time::format_description::well_known::Rfc3339)?;
    let averaged = poll(
        "the seeded samples averaged in 5-minute buckets",
        Duration::from_secs(30),
        Duration::from_millis(500),
        || async {
            let body = app
                .graphql(
                    "query H($id: ID!, $since: DateTime) { host(id: $id) { statsHistory(since: $since) { at \
                     cpuPercent memoryBytes containers } } }",
                    json!({ "id": host_id, "since": since }),
                )
                .await?;
            let points = data(&body).with_context(|| body.to_string())?["host"]["statsHistory"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let old: Vec<Value> = points
                .iter()
                .filter(|p| {
                    p["memoryBytes"] == 10 * MIB
                        && p["containers"] == 1
                        && p["cpuPercent"].as_f64().is_some_and(|c| (c - 5.0).abs() < 0.01)
                })
                .cloned()
                .collect();
            Ok(if old.len() >= 8 {
                Probe::Ready(old)
            } else {
                Probe::NotYet(format!("{points:?}"))
            })
        },
    )
    .await?;
    eprintln!("postgres stats: {} averaged host points", averaged.len());

    let c = create_container(
        app,
        json!({
            "name": "pg-stats",
            "image": env.registry.reference("tools/busybox:1.35"),
            "command": ["sh", "-c", "dd if=/dev/zero of=/dev/shm/x bs=1M count=24 2>/dev/null; sleep 3600"],
            "resources": { "memory": "64m" },
            "hostId": host_id,
        }),
    )
    .await?;
    let id = c["id"].as_str().unwrap_or_default().to_owned();
    container_action(app, "runContainer", &id, None).await?;
    let c = wait_container_status(app, &id, "RUNNING", Duration::from_secs(60)).await?;
    let instance = c["instances"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (history, host_points, trend) = poll(
        "samples on PostgreSQL read back",
        Duration::from_secs(30),
        Duration::from_millis(500),
        || async {
            let body = app
                .graphql(
                    "query Q($c: ID!, $h: ID!, $ids: [ID!]!) { container(id: $c) { instances { statsHistory { at \
                     memoryBytes } } } host(id: $h) { statsHistory { at memoryBytes containers } } \
                     statsTrends(instanceIds: $ids) { points { at memoryBytes } } }",
                    json!({ "c": id, "h": host_id, "ids": [instance] }),
                )
                .await?;
            let d = data(&body).with_context(|| body.to_string())?;
            let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
            let history = list(&d["container"]["instances"][0]["statsHistory"]);
            let host_points = list(&d["host"]["statsHistory"]);
            let trend = list(&d["statsTrends"][0]["points"]);
            let held = |p: &Value| p["memoryBytes"].as_i64().unwrap_or_default() >= 20 * MIB;
            Ok(
                if history.len() >= 3
                    && history.last().is_some_and(held)
                    && host_points.last().is_some_and(held)
                    && trend.last().is_some_and(held)
                {
                    Probe::Ready((history, host_points, trend))
                } else {
                    Probe::NotYet(format!("history {history:?}; host {host_points:?}; trend {trend:?}"))
                },
            )
        },
    )
    .await?;
    eprintln!(
        "postgres stats: {} samples, host {} points (last {}), trend {} points",
        history.len(),
        host_points.len(),
        host_points.last().cloned().unwrap_or_default(),
        trend.len()
    );
    container_action(app, "stopContainer", &id, None).await?;
    Ok(())
}
