//! `dockerRest` and `dockerCli`: the admin passthrough to a host's engine.

use super::error::ApiResult;
use super::{require_user, services};
use async_graphql::{Context, ID, Json, Object, SimpleObject};

#[derive(SimpleObject, Clone, Debug)]
pub struct DockerRestResult {
    pub status: i32,
    /// JSON when the engine answered JSON, else the text (cut at 1 MB).
    pub body: Option<Json<serde_json::Value>>,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct DockerCliResult {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Default)]
pub struct PassthroughMutation;

#[Object]
impl PassthroughMutation {
    /// Sends a request to the host's Docker API over its connection settings (TLS included). ADMIN; audited.
    async fn docker_rest(
        &self,
        ctx: &Context<'_>,
        host_id: ID,
        method: String,
        path: String,
        body: Option<Json<serde_json::Value>>,
    ) -> ApiResult<DockerRestResult> {
        let actor = require_user(ctx)?;
        let answer = services(ctx)?
            .passthrough
            .rest(actor, &host_id, &method, &path, body.map(|b| b.0))
            .await?;
        Ok(DockerRestResult {
            status: i32::from(answer.status),
            body: Some(Json(answer.body)),
        })
    }

    /// Runs the docker CLI with these arguments (no shell) against the host; 30 s timeout, output cut at 1 MB.
    /// ADMIN; audited.
    async fn docker_cli(
        &self,
        ctx: &Context<'_>,
        host_id: ID,
        args: Vec<String>,
    ) -> ApiResult<DockerCliResult> {
        let actor = require_user(ctx)?;
        let out = services(ctx)?
            .passthrough
            .cli(actor, &host_id, &args)
            .await?;
        Ok(DockerCliResult {
            exit_code: out.exit_code,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}
