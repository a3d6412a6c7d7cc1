//! `spawn_app`: a Berth server on a free port with a fresh SQLite database (or a given one, e.g.
//! PostgreSQL), and a GraphQL client that keeps the session cookie.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use berth::app::RunningApp;
use berth::config::Config;
use berth::service::auth::Bootstrap;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

use crate::env::TestEnv;

/// The admin account every test app starts with.
pub const ADMIN_USERNAME: &str = "admin";
/// Its password.
pub const ADMIN_PASSWORD: &str = "admin-secret-for-tests";
/// The name of Berth's session cookie.
pub const SESSION_COOKIE: &str = "berth_session";

/// A running Berth server and a cookie-keeping client for it.
pub struct TestApp {
    /// The address the server listens on.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The server's data folder (SQLite database and whatever else it keeps).
    pub data_dir: PathBuf,
    /// The database it was given (`None`: SQLite in `data_dir`).
    pub database_url: Option<String>,
    /// What the start did about the admin user (created, or `Existing`).
    pub bootstrap: Bootstrap,
    /// An HTTP client with a cookie jar: logging in with it keeps the session.
    pub client: reqwest::Client,
    /// The client's cookie jar.
    pub cookies: Arc<Jar>,
    app: Option<RunningApp>,
}

/// `<workspace>/dist`, the SPA built by Trunk.
pub fn static_dir() -> Result<PathBuf> {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("dist");
    if !dist.join("index.html").is_file() {
        bail!(
            "the SPA is not built ({} is missing): run `cargo xtask test` (it builds it with trunk)",
            dist.join("index.html").display()
        );
    }
    Ok(dist)
}

/// Starts a Berth server with a fresh data folder inside the run dir.
pub async fn spawn_app(env: &TestEnv) -> Result<TestApp> {
    let data_dir = env.new_app_dir()?;
    spawn_app_with_data_dir(&data_dir).await
}

/// Starts a Berth server on an existing data folder (to test what survives a restart).
pub async fn spawn_app_with_data_dir(data_dir: &Path) -> Result<TestApp> {
    start_app(data_dir, None).await
}

/// Starts a Berth server with a fresh data folder on the database at `url` (e.g. a PostgreSQL one
/// from [`crate::postgres::PostgresServer::create_database`]).
pub async fn spawn_app_with_database(env: &TestEnv, url: &str) -> Result<TestApp> {
    let data_dir = env.new_app_dir()?;
    start_app(&data_dir, Some(url.to_string())).await
}

/// The settings the end-to-end suite runs its servers with: a short WebSocket init timeout, small registry pages
/// (listings page through `Link` headers), replicas of a host that stops answering moved after 5 s instead of
/// 30 s. In-process servers get them in their `Config`, `berth` processes as environment variables (a test's
/// own variables come after them).
pub const E2E_SETTINGS: &[(&str, &str)] = &[
    ("BERTH_WS_INIT_TIMEOUT_SECS", "3"),
    ("BERTH_REGISTRY_PAGE_SIZE", "7"),
    ("BERTH_HOST_GRACE_SECS", "5"),
];

static SUITE_SETTINGS: std::sync::OnceLock<&'static [(&'static str, &'static str)]> =
    std::sync::OnceLock::new();

/// From now on servers this process starts run with [`E2E_SETTINGS`] (the e2e runner calls it first).
pub fn use_e2e_settings() {
    let _ = SUITE_SETTINGS.set(E2E_SETTINGS);
}

/// The settings of servers this process starts (none but the defaults outside the e2e suite).
pub fn suite_settings() -> &'static [(&'static str, &'static str)] {
    SUITE_SETTINGS.get().copied().unwrap_or_default()
}

async fn start_app(data_dir: &Path, database_url: Option<String>) -> Result<TestApp> {
    let static_dir = static_dir()?;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: data_dir.to_path_buf(),
        database_url: database_url.clone(),
        admin_password: Some(ADMIN_PASSWORD.into()),
        static_dir,
        metrics_token: None,
        settings: berth::config::Settings {
            // Never the machine's own engine: the tests add the hosts they use.
            register_local_host: false,
            ..berth::config::Settings::from_pairs(suite_settings()).map_err(anyhow::Error::msg)?
        },
    };
    let app = RunningApp::start(config)
        .await
        .with_context(|| format!("starting Berth on data dir {}", data_dir.display()))?;
    let addr = app.addr;
    let bootstrap = app.bootstrap.clone();
    let cookies = Arc::new(Jar::default());
    let client = http_client(Some(cookies.clone()))?;
    Ok(TestApp {
        addr,
        base_url: format!("http://{addr}"),
        data_dir: data_dir.to_path_buf(),
        database_url,
        bootstrap,
        client,
        cookies,
        app: Some(app),
    })
}

/// A reqwest client with a 30 s timeout and, optionally, a cookie jar.
pub fn http_client(cookies: Option<Arc<Jar>>) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(30));
    if let Some(jar) = cookies {
        builder = builder.cookie_provider(jar);
    }
    builder.build().context("building an HTTP client")
}

impl TestApp {
    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// `ws://ADDR/graphql`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/graphql", self.addr)
    }

    /// POSTs a GraphQL request with the cookie-keeping client; returns the response body (with `data`
    /// and/or `errors`).
    pub async fn graphql(&self, query: &str, variables: Value) -> Result<Value> {
        let (_, body) = self
            .graphql_raw(self.client.post(self.url("/graphql")), query, variables)
            .await?;
        Ok(body)
    }

    /// POSTs a GraphQL request with `Authorization: Bearer <token>` from a client without cookies.
    pub async fn graphql_with_token(
        &self,
        token: &str,
        query: &str,
        variables: Value,
    ) -> Result<Value> {
        let client = http_client(None)?;
        let request = client.post(self.url("/graphql")).bearer_auth(token);
        let (_, body) = self.graphql_raw(request, query, variables).await?;
        Ok(body)
    }

    /// POSTs a GraphQL request with an explicit `Cookie` header from a client without a jar.
    pub async fn graphql_with_cookie(
        &self,
        cookie: &str,
        query: &str,
        variables: Value,
    ) -> Result<Value> {
        let client = http_client(None)?;
        let request = client
            .post(self.url("/graphql"))
            .header(reqwest::header::COOKIE, cookie);
        let (_, body) = self.graphql_raw(request, query, variables).await?;
        Ok(body)
    }

    /// Sends `request` with a GraphQL JSON body; returns the HTTP status and the parsed body.
    pub async fn graphql_raw(
        &self,
        request: reqwest::RequestBuilder,
        query: &str,
        variables: Value,
    ) -> Result<(StatusCode, Value)> {
        let response = request
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .context("sending a GraphQL request")?;
        let status = response.status();
        let text = response
            .text()
            .await
            .context("reading the GraphQL response")?;
        let body = serde_json::from_str(&text)
            .with_context(|| format!("GraphQL response (HTTP {status}) is not JSON: {text}"))?;
        Ok((status, body))
    }

    /// Logs in with the cookie-keeping client; returns `login { username role }` or fails with the
    /// GraphQL errors.
    pub async fn login_as(&self, username: &str, password: &str) -> Result<Value> {
        let body = self
            .graphql(
                "mutation Login($u: String!, $p: String!) { login(username: $u, password: $p) { username role } }",
                json!({ "u": username, "p": password }),
            )
            .await?;
        Ok(data(&body)?["login"].clone())
    }

    /// Logs in as admin with the cookie client and creates an API token called `name`; returns its
    /// secret (for `Authorization: Bearer` and the WebSocket `connection_init` payload).
    pub async fn admin_token(&self, name: &str) -> Result<String> {
        self.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        let body = self
            .graphql(
                "mutation Create($name: String!) { createApiToken(name: $name) { secret } }",
                json!({ "name": name }),
            )
            .await?;
        let secret = data(&body)?["createApiToken"]["secret"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if secret.is_empty() {
            bail!("createApiToken returned no secret: {body}");
        }
        Ok(secret)
    }

    /// The `Cookie` header value the jar would send to this server, if any.
    pub fn cookie_header(&self) -> Option<String> {
        let url = Url::parse(&self.base_url).ok()?;
        let value = self.cookies.cookies(&url)?;
        value.to_str().ok().map(str::to_owned)
    }

    /// The value of the `berth_session` cookie, if the jar holds one.
    pub fn session_cookie(&self) -> Option<String> {
        let header = self.cookie_header()?;
        header.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then(|| value.to_string())
        })
    }

    /// Stops the server.
    pub async fn shutdown(mut self) -> Result<()> {
        match self.app.take() {
            Some(app) => app.shutdown().await.context("shutting Berth down"),
            None => Ok(()),
        }
    }

    /// Stops the server and passes on a test's outcome (the test's error wins over a shutdown error).
    pub async fn finish<T>(self, outcome: Result<T>) -> Result<T> {
        let shutdown = self.shutdown().await;
        let value = outcome?;
        shutdown?;
        Ok(value)
    }

    /// Stops the server and starts a new one on the same data folder and database (it gets a new
    /// port).
    pub async fn restart(self) -> Result<TestApp> {
        let data_dir = self.data_dir.clone();
        let database_url = self.database_url.clone();
        self.shutdown().await?;
        start_app(&data_dir, database_url).await
    }
}

/// `body.data`, or an error listing `body.errors`.
pub fn data(body: &Value) -> Result<&Value> {
    if let Some(errors) = body.get("errors").filter(|e| !e.is_null()) {
        return Err(anyhow!("GraphQL errors: {errors}"));
    }
    body.get("data")
        .filter(|d| !d.is_null())
        .ok_or_else(|| anyhow!("GraphQL response without data: {body}"))
}

/// `body.errors[0].extensions.code`, if present.
pub fn error_code(body: &Value) -> Option<&str> {
    body.pointer("/errors/0/extensions/code")
        .and_then(Value::as_str)
}

/// Fails unless the first GraphQL error has `extensions.code == code`.
pub fn expect_error_code(body: &Value, code: &str) -> Result<()> {
    match error_code(body) {
        Some(actual) if actual == code => Ok(()),
        _ => bail!("expected a GraphQL error with code {code}, got {body}"),
    }
}

/// A Berth server running as its own process (the `berth` binary), for tests that kill it outright.
pub struct BerthProcess {
    /// A client for it (its `shutdown` does nothing: the process is stopped through `process`).
    pub app: TestApp,
    pub process: crate::process::ManagedProcess,
}

/// The `berth` binary of this workspace: `BERTH_BIN`, else `target/debug/berth` (`cargo xtask test` builds it).
pub fn berth_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("BERTH_BIN") {
        return Ok(PathBuf::from(path));
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace root")?
        .join("target/debug/berth");
    if !path.is_file() {
        bail!(
            "{} is missing: build it with `cargo build -p berth --bin berth` (cargo xtask test does)",
            path.display()
        );
    }
    Ok(path)
}

/// Starts `berth serve` on `data_dir` in a child process and waits until it answers `/healthz`.
pub async fn spawn_berth_process(data_dir: &Path) -> Result<BerthProcess> {
    spawn_berth_process_with_env(data_dir, &[]).await
}

/// [`spawn_berth_process`] with more environment variables (e.g. `DATABASE_URL`, settings).
pub async fn spawn_berth_process_with_env(
    data_dir: &Path,
    vars: &[(&str, &str)],
) -> Result<BerthProcess> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let port = crate::process::free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut cmd = tokio::process::Command::new(berth_binary()?);
    cmd.arg("serve")
        .env("BERTH_LISTEN", addr.to_string())
        .env("BERTH_DATA_DIR", data_dir)
        .env("BERTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("BERTH_STATIC_DIR", static_dir()?)
        .env("BERTH_REGISTER_LOCAL_HOST", "0")
        .env_remove("DATABASE_URL")
        .envs(suite_settings().iter().copied())
        .envs(vars.iter().copied());
    let log = data_dir.join("berth.log");
    let mut process = crate::process::ManagedProcess::spawn("berth", &mut cmd, &log)?;
    let cookies = Arc::new(Jar::default());
    let client = http_client(Some(cookies.clone()))?;
    let health = format!("http://{addr}/healthz");
    let started = std::time::Instant::now();
    loop {
        process.check_running()?;
        if let Ok(r) = client.get(&health).send().await
            && r.status().is_success()
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!(
                "berth did not answer {health} within 60 s; its log:\n{}",
                crate::process::log_tail(&log, 30)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(BerthProcess {
        app: TestApp {
            addr,
            base_url: format!("http://{addr}"),
            data_dir: data_dir.to_path_buf(),
            database_url: None,
            bootstrap: Bootstrap::Existing,
            client,
            cookies,
            app: None,
        },
        process,
    })
}
