//! The health endpoint, how the web app's files are served, and what Berth answers while its database cannot
//! be written (a full disk) or does not answer (PostgreSQL stopped).

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use berth_tests::app::{
    ADMIN_PASSWORD, ADMIN_USERNAME, TestApp, data, error_code, http_client, static_dir,
};
use berth_tests::process::{Probe, poll, run_ok};
use berth_tests::{PostgresServer, TestEnv, spawn_app, spawn_app_with_database};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// `GET /healthz` answers 200 with `"database": "ok"`, without authentication.
pub async fn healthz_reports_database_ok(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let result = async {
        let response = reqwest::get(app.url("/healthz"))
            .await
            .context("GET /healthz")?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(
            status == StatusCode::OK,
            "GET /healthz: HTTP {status}: {text}"
        );
        let body: Value =
            serde_json::from_str(&text).with_context(|| format!("/healthz is not JSON: {text}"))?;
        ensure!(body["database"] == "ok", "/healthz: {body}");
        Ok(())
    }
    .await;
    app.finish(result).await
}

/// The web app's module is served as the brotli (or gzip) file the build wrote, with a year's immutable caching
/// (its name carries a content hash); `index.html` and client routes are revalidated each time.
pub async fn web_app_precompressed_and_cached(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let result = async {
        let client = reqwest::Client::new();
        let page = client.get(app.url("/containers")).send().await?;
        ensure!(
            page.status() == StatusCode::OK,
            "GET /containers: {}",
            page.status()
        );
        let header = |r: &reqwest::Response, name: &str| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        ensure!(
            header(&page, "cache-control") == "no-cache",
            "a client route must be revalidated: {:?}",
            page.headers()
        );
        let html = page.text().await?;
        let module = html
            .split(['"', '\''])
            .find(|part| part.ends_with("_bg.wasm"))
            .with_context(|| format!("no _bg.wasm in index.html: {html}"))?
            .trim_start_matches('/')
            .to_owned();
        let raw = std::fs::metadata(static_dir()?.join(&module))?.len();
        for (encoding, suffix) in [("br", "br"), ("gzip", "gz")] {
            let response = client
                .get(app.url(&format!("/{module}")))
                .header("accept-encoding", encoding)
                .send()
                .await?;
            ensure!(
                response.status() == StatusCode::OK,
                "GET {module}: {}",
                response.status()
            );
            ensure!(
                header(&response, "content-encoding") == encoding
                    && header(&response, "content-type") == "application/wasm"
                    && header(&response, "cache-control") == "public, max-age=31536000, immutable",
                "{module} with {encoding}: {:?}",
                response.headers()
            );
            let body = response.bytes().await?;
            let file = std::fs::metadata(static_dir()?.join(format!("{module}.{suffix}")))?.len();
            ensure!(
                // Compressed for real: the size-optimised module (no name section) comes to about 0.35 of its
                // size with gzip, 0.28 with brotli.
                body.len() as u64 == file && file < raw / 2,
                "{module} with {encoding}: {} bytes sent, file {file}, uncompressed {raw}",
                body.len()
            );
        }
        Ok(())
    }
    .await;
    app.finish(result).await
}

const LOGIN: &str =
    "mutation Login($u: String!, $p: String!) { login(username: $u, password: $p) { username } }";
const CREATE_TOKEN: &str =
    "mutation Create($name: String!) { createApiToken(name: $name) { token { id name } secret } }";

/// `GET /healthz`: its status, its JSON body and how long it took.
async fn healthz(app: &TestApp) -> Result<(StatusCode, Value, Duration)> {
    let started = Instant::now();
    let response = http_client(None)?
        .get(app.url("/healthz"))
        .send()
        .await
        .context("GET /healthz")?;
    let status = response.status();
    let text = response.text().await?;
    let body =
        serde_json::from_str(&text).with_context(|| format!("/healthz is not JSON: {text}"))?;
    Ok((status, body, started.elapsed()))
}

/// A GraphQL POST with `client`: HTTP status, JSON body (an empty or non-JSON body fails) and time taken.
async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    query: &str,
    variables: Value,
) -> Result<(StatusCode, Value, Duration)> {
    let started = Instant::now();
    let (status, body) = app
        .graphql_raw(client.post(app.url("/graphql")), query, variables)
        .await?;
    Ok((status, body, started.elapsed()))
}

/// Fails unless `body` is an UNAVAILABLE error whose message contains `words`.
fn expect_unavailable(what: &str, status: StatusCode, body: &Value, words: &str) -> Result<()> {
    let message = body
        .pointer("/errors/0/message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    ensure!(
        error_code(body) == Some("UNAVAILABLE") && message.contains(words),
        "{what}: expected UNAVAILABLE saying {words:?}, got HTTP {status}: {body}"
    );
    Ok(())
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    dir: std::path::PathBuf,
}

impl Tmpfs {
    async fn mount(dir: &Path, size: &str) -> Result<Tmpfs> {
        let mut mount = tokio::process::Command::new("mount");
        mount
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir);
        run_ok(&mut mount, Duration::from_secs(30))
            .await
            .with_context(|| format!("mounting a {size} tmpfs on {}", dir.display()))?;
        Ok(Tmpfs {
            dir: dir.to_path_buf(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: a process still holding a file there does not keep the mount.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .stdin(std::process::Stdio::null())
            .output();
    }
}

/// Writes `path` until the file system is full; returns the bytes written.
fn fill(path: &Path) -> Result<u64> {
    let mut file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let chunk = vec![0x5a_u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOSPC) => break,
            Err(e) => return Err(e).with_context(|| format!("writing {}", path.display())),
        }
    }
    // Whatever is left in a partial chunk, byte by byte is not needed: the last write failed on ENOSPC.
    let _ = file.sync_all();
    Ok(written)
}

/// SQLite on a full disk (a 4 MiB tmpfs holding a real `berth` process's database): `/healthz` answers 503
/// naming the full disk, login and a mutation answer UNAVAILABLE "… the disk is full …" in GraphQL JSON (never
/// an empty HTTP 500), reads still work; once space returns everything works again and nothing was lost.
pub async fn full_disk_answers_unavailable_and_recovers(env: &TestEnv) -> Result<()> {
    let root = env.scratch_dir("full-disk")?;
    let disk = root.join("disk");
    std::fs::create_dir_all(&disk)?;
    let tmpfs = Tmpfs::mount(&disk, "4m").await?;
    let url = format!("sqlite://{}?mode=rwc", disk.join("berth.db").display());
    let outcome = async {
        let mut berth = berth_tests::app::spawn_berth_process_with_env(
            &root.join("data"),
            &[("DATABASE_URL", url.as_str())],
        )
        .await?;
        let outcome = on_full_disk(&berth.app, &disk).await;
        let stopped = berth.process.stop(Duration::from_secs(20)).await;
        outcome?;
        stopped
    }
    .await;
    drop(tmpfs);
    outcome
}

async fn on_full_disk(app: &TestApp, disk: &Path) -> Result<()> {
    app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    let before = app
        .graphql(CREATE_TOKEN, json!({ "name": "before-full" }))
        .await?;
    data(&before).context("createApiToken before the disk is full")?;

    let filler = disk.join("filler");
    let written = fill(&filler)?;
    eprintln!("full disk: {written} bytes of filler written");

    let (status, body, took) = healthz(app).await?;
    eprintln!("full disk: /healthz answered {status} in {took:?}: {body}");
    ensure!(
        status == StatusCode::SERVICE_UNAVAILABLE
            && body["database"]
                .as_str()
                .is_some_and(|d| d.contains("the disk is full")),
        "/healthz on a full disk: HTTP {status}: {body}"
    );

    // Login from a fresh client (its session cannot be stored).
    let fresh = http_client(Some(std::sync::Arc::new(reqwest::cookie::Jar::default())))?;
    let (status, body, _) = post(
        app,
        &fresh,
        LOGIN,
        json!({ "u": ADMIN_USERNAME, "p": ADMIN_PASSWORD }),
    )
    .await?;
    ensure!(
        status == StatusCode::OK,
        "login on a full disk: HTTP {status}: {body}"
    );
    expect_unavailable("login on a full disk", status, &body, "the disk is full")?;

    // A mutation with the session from before.
    let (status, body, _) = post(
        app,
        &app.client,
        CREATE_TOKEN,
        json!({ "name": "while-full" }),
    )
    .await?;
    ensure!(
        status == StatusCode::OK,
        "createApiToken on a full disk: HTTP {status}: {body}"
    );
    expect_unavailable(
        "createApiToken on a full disk",
        status,
        &body,
        "the disk is full",
    )?;

    // Reads still work.
    let me = app.graphql("{ me { username } }", json!({})).await?;
    ensure!(
        data(&me)?["me"]["username"] == ADMIN_USERNAME,
        "me on a full disk: {me}"
    );

    std::fs::remove_file(&filler).with_context(|| format!("removing {}", filler.display()))?;
    let started = Instant::now();
    poll(
        "/healthz after space returned",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || async {
            let (status, body, _) = healthz(app).await?;
            Ok(if status == StatusCode::OK {
                Probe::Ready(())
            } else {
                Probe::NotYet(format!("HTTP {status}: {body}"))
            })
        },
    )
    .await?;
    eprintln!(
        "full disk: healthy again {:?} after the filler went",
        started.elapsed()
    );

    let (status, body, _) = post(
        app,
        &fresh,
        LOGIN,
        json!({ "u": ADMIN_USERNAME, "p": ADMIN_PASSWORD }),
    )
    .await?;
    ensure!(
        status == StatusCode::OK && data(&body).is_ok(),
        "login after space returned: HTTP {status}: {body}"
    );
    let after = app
        .graphql(CREATE_TOKEN, json!({ "name": "after-full" }))
        .await?;
    data(&after).context("createApiToken after space returned")?;
    let tokens = app.graphql("{ apiTokens { name } }", json!({})).await?;
    let names: Vec<&str> = data(&tokens)?["apiTokens"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    ensure!(
        names.contains(&"before-full")
            && names.contains(&"after-full")
            && !names.contains(&"while-full"),
        "tokens after the full disk: {names:?}"
    );
    Ok(())
}

/// PostgreSQL stopped for a few seconds: `/healthz` answers 503 within a second, login and a mutation answer
/// UNAVAILABLE ("the database is not answering …") within about 3 s; once it is back everything works, the
/// session included.
pub async fn postgres_outage_fails_fast_and_recovers(env: &TestEnv) -> Result<()> {
    let mut postgres = PostgresServer::start(env).await?;
    let outcome = async {
        let url = postgres.create_database("berth_outage").await?;
        let app = spawn_app_with_database(env, &url)
            .await
            .context("starting Berth on PostgreSQL")?;
        let outcome = during_outage(&app, &mut postgres).await;
        app.finish(outcome).await
    }
    .await;
    postgres.finish(outcome).await
}

async fn during_outage(app: &TestApp, postgres: &mut PostgresServer) -> Result<()> {
    app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    data(
        &app.graphql(CREATE_TOKEN, json!({ "name": "before-outage" }))
            .await?,
    )?;
    let (status, _, _) = healthz(app).await?;
    ensure!(
        status == StatusCode::OK,
        "/healthz before the outage: {status}"
    );

    let stopped_at = Instant::now();
    postgres.stop_for_now().await?;
    let outcome = async {
        let (status, body, took) = healthz(app).await?;
        eprintln!("postgres down: /healthz answered {status} in {took:?}: {body}");
        ensure!(
            status == StatusCode::SERVICE_UNAVAILABLE
                && body["database"]
                    .as_str()
                    .is_some_and(|d| d.contains("not answering")),
            "/healthz with PostgreSQL down: HTTP {status}: {body}"
        );
        ensure!(
            took < Duration::from_secs(1),
            "/healthz with PostgreSQL down took {took:?}"
        );

        let (status, body, took) = post(
            app,
            &app.client,
            CREATE_TOKEN,
            json!({ "name": "during-outage" }),
        )
        .await?;
        eprintln!("postgres down: createApiToken answered {status} in {took:?}: {body}");
        expect_unavailable(
            "createApiToken with PostgreSQL down",
            status,
            &body,
            "not answering",
        )?;
        ensure!(
            took < Duration::from_secs(4),
            "createApiToken with PostgreSQL down took {took:?}"
        );

        let fresh = http_client(None)?;
        let (status, body, took) = post(
            app,
            &fresh,
            LOGIN,
            json!({ "u": ADMIN_USERNAME, "p": ADMIN_PASSWORD }),
        )
        .await?;
        eprintln!("postgres down: login answered {status} in {took:?}: {body}");
        expect_unavailable("login with PostgreSQL down", status, &body, "not answering")?;
        ensure!(
            took < Duration::from_secs(4),
            "login with PostgreSQL down took {took:?}"
        );
        Ok(())
    }
    .await;
    let restarted = postgres.start_again().await;
    eprintln!("postgres: down for {:?}", stopped_at.elapsed());
    outcome?;
    restarted?;

    poll(
        "/healthz after PostgreSQL returned",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async {
            let (status, body, _) = healthz(app).await?;
            Ok(if status == StatusCode::OK {
                Probe::Ready(())
            } else {
                Probe::NotYet(format!("HTTP {status}: {body}"))
            })
        },
    )
    .await?;
    let after = app
        .graphql(CREATE_TOKEN, json!({ "name": "after-outage" }))
        .await?;
    data(&after).context("createApiToken (same session) after PostgreSQL returned")?;
    let tokens = app.graphql("{ apiTokens { name } }", json!({})).await?;
    let names: Vec<&str> = data(&tokens)?["apiTokens"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    if !(names.contains(&"before-outage") && names.contains(&"after-outage")) {
        bail!("tokens after the outage: {names:?}");
    }
    Ok(())
}
