//! Hooks other systems call: `POST /hooks/registry/{id}`, a registry's notification of a push (Docker's
//! registry `notifications.endpoints`, `Authorization: Bearer <secret>` from `createRegistryHookSecret`).

use super::AppState;
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
