//! The health endpoint.

use anyhow::{Context, Result, ensure};
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
