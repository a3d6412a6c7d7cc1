//! Hooks other systems call: `POST /hooks/registry/{id}`, a registry's notification of a push (Docker's
//! registry `notifications.endpoints`, `Authorization: Bearer <secret>` from `createRegistryHookSecret`), and
//! `POST /hooks/deploy/{token}`, a CI job asking for a pull and rolling update of one container (the token from
//! `createDeployHook`).

use super::AppState;
use crate::service::ServiceError;
use crate::service::registries::HookError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Accepts a registry's notification envelope: 202 with how many repositories are re-read; 401 for a wrong
/// or missing secret (or a registry without a hook); 400 for a body that is not an envelope.
pub async fn registry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    let answer =
        |status: StatusCode, body: serde_json::Value| (status, axum::Json(body)).into_response();
    match state
        .services
        .registries
        .push_hook(&id, bearer, &body)
        .await
    {
        Ok(n) => answer(
            StatusCode::ACCEPTED,
            serde_json::json!({ "repositories": n }),
        ),
        Err(HookError::Unauthorized) => answer(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({ "error": HookError::Unauthorized.to_string() }),
        ),
        Err(HookError::BadRequest(message)) => answer(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "error": message }),
        ),
        Err(HookError::Unexpected(e)) => {
            tracing::error!(registry = %id, error = ?e, "a registry hook failed");
            answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({ "error": "the notification could not be taken; the next refresh will see the push" }),
            )
        }
    }
}

/// Redeploys the container whose deploy hook `token` is: 202 with the rollout when one started, 200 when every
/// replica already runs the tag's current digest, 404 for a token no container has (nothing happens), 409 when
/// the container does not run or a rollout is under way, 503 when a pull or the database fails. Audited.
pub async fn deploy(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let answer =
        |status: StatusCode, body: serde_json::Value| (status, axum::Json(body)).into_response();
    let outcome = state.services.containers.deploy_hook(&token).await;
    let (status, body, audit) = match outcome {
        Ok(None) => {
            return answer(
                StatusCode::NOT_FOUND,
                serde_json::json!({ "error": "no container has this deploy hook" }),
            );
        }
        Ok(Some(c)) => {
            let rolling = c
                .rollout
                .as_ref()
                .filter(|r| r.state == berth_shared::RolloutState::Rolling);
            let body = match rolling {
                Some(r) => serde_json::json!({
                    "container": c.name,
                    "rollout": { "state": r.state.as_str(), "fromRevision": r.from_revision, "toRevision": r.to_revision },
                }),
                None => serde_json::json!({ "container": c.name, "rollout": null }),
            };
            let status = if rolling.is_some() {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            };
            (status, body, Some((c.name, "ok", None)))
        }
        Err(e) => {
            let status = match &e {
                ServiceError::Conflict(_) | ServiceError::ConflictOn { .. } => StatusCode::CONFLICT,
                ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
                ServiceError::BadInput { .. } => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                tracing::error!(error = ?e, "a deploy hook failed");
            }
            let message = e.to_string();
            (
                status,
                serde_json::json!({ "error": message }),
                Some((String::new(), "error", Some(message))),
            )
        }
    };
    if let Some((target, result, detail)) = audit {
        state
            .services
            .audit
            .record(
                Some("deploy hook"),
                "deployHook",
                (!target.is_empty()).then_some(target),
                result,
                detail,
            )
            .await;
    }
    answer(status, body)
}
