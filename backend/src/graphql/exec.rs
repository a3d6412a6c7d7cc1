//! Running one command in a container from a script: `execInContainer` (an instance of Berth's) and
//! `execInDockerContainer` (any container of the inventory), argv only, output capped.

use super::error::ApiResult;
use super::{require_user, services};
use crate::service::exec::ExecRequest;
use async_graphql::{Context, ID, Object, SimpleObject};

/// What a command run in a container gave.
#[derive(SimpleObject, Clone, Debug)]
pub struct ExecResult {
    /// The command's exit code; null when Berth stopped waiting (`timedOut`).
    pub exit_code: Option<i32>,
    /// stdout and stderr as they came (no terminal), at most `maxOutputBytes`.
    pub output: String,
    /// More output came than `maxOutputBytes`; the rest was read and dropped.
    pub truncated: bool,
    /// The command ran longer than `timeoutSecs`; Berth stopped waiting, the process may still run.
    pub timed_out: bool,
}

impl From<crate::service::exec::ExecOutcome> for ExecResult {
    fn from(o: crate::service::exec::ExecOutcome) -> Self {
        Self {
            exit_code: o
                .exit_code
                .map(|c| i32::try_from(c).unwrap_or(if c < 0 { i32::MIN } else { i32::MAX })),
            output: o.output,
            truncated: o.truncated,
            timed_out: o.timed_out,
        }
    }
}

#[derive(Default)]
pub struct ExecMutation;

#[Object]
impl ExecMutation {
    /// Runs `argv` as it is (no shell; pass `["sh", "-c", "…"]` for one) in the Docker container of one of
    /// Berth's instances and waits for it to end: exit code and output (default 64 KiB, at most 1 MiB; default
    /// wait 60 s, at most 600 s). OPERATOR. A stopped container is CONFLICT; a program that does not exist is
    /// a non-zero exit code with the engine's message in `output`.
    async fn exec_in_container(
        &self,
        ctx: &Context<'_>,
        instance_id: ID,
        argv: Vec<String>,
        max_output_bytes: Option<i64>,
        timeout_secs: Option<i64>,
    ) -> ApiResult<ExecResult> {
        let actor = require_user(ctx)?;
        let request = ExecRequest {
            argv,
            max_output_bytes,
            timeout_secs,
        };
        Ok(services(ctx)?
            .exec
            .in_instance(actor, &instance_id, request)
            .await?
            .into())
    }

    /// Like `execInContainer`, in any container of the inventory (`DockerContainer.id`), Berth's or not.
    async fn exec_in_docker_container(
        &self,
        ctx: &Context<'_>,
        id: ID,
        argv: Vec<String>,
        max_output_bytes: Option<i64>,
        timeout_secs: Option<i64>,
    ) -> ApiResult<ExecResult> {
        let actor = require_user(ctx)?;
        let request = ExecRequest {
            argv,
            max_output_bytes,
            timeout_secs,
        };
        Ok(services(ctx)?
            .exec
            .in_docker_container(actor, &id, request)
            .await?
            .into())
    }
}
