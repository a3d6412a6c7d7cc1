//! The health endpoint, and how the web app's files are served.

use anyhow::{Context, Result, ensure};
use berth_tests::app::static_dir;
use berth_tests::{TestEnv, spawn_app};
use reqwest::StatusCode;
use serde_json::Value;

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
                body.len() as u64 == file && file < raw / 3,
                "{module} with {encoding}: {} bytes sent, file {file}, uncompressed {raw}",
                body.len()
            );
        }
        Ok(())
    }
    .await;
    app.finish(result).await
}
