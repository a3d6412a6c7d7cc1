//! `GET /api/logs`: a time range of a container's output as a file. The query names the container (`instanceId`
//! or `dockerContainerId`) and the range (`since`, `until`: RFC 3339; no `since` = from the first line, no
//! `until` = now) and whether lines start with their time (`timestamps`, default true). Authenticated by the
//! session cookie or a bearer token like every API call; any role. The answer is `text/plain` as an attachment
//! (`NAME_SINCE_UNTIL.log`), streamed from the engine, one `TIME STREAM TEXT` line per line, cut at 64 MiB with
//! a last line saying so. Refusals are GraphQL-shaped JSON with a status: 400 (bad input, `extensions.field`
//! naming the parameter), 401, 404 (unknown container), 503 (host not answering).

use super::AppState;
use super::auth::{bearer, session_user, token_user};
use crate::service::ServiceError;
use crate::service::logs::LogTarget;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use berth_shared::ErrorCode;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Deserialize;
use tower_sessions::Session;

/// The URL's parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogsQuery {
    instance_id: Option<String>,
    docker_container_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
    timestamps: Option<String>,
}

/// A refusal as JSON in GraphQL's error shape, with the status its code calls for.
fn refuse(e: ServiceError) -> Response {
    let code = e.code();
    let status = match code {
        ErrorCode::BadUserInput => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let field = match &e {
        ServiceError::BadInput { field, .. } | ServiceError::ConflictOn { field, .. } => {
            Some(field.clone())
        }
        _ => None,
    };
    let message = match e {
        ServiceError::Unexpected(err) => {
            tracing::error!(error = ?err, "log download failed");
            "internal error; the server log has the details".to_owned()
        }
        other => other.to_string(),
    };
    let mut extensions = serde_json::json!({ "code": code.as_str() });
    if let Some(field) = field {
        extensions["field"] = serde_json::Value::String(field);
    }
    let body = serde_json::json!({ "errors": [{ "message": message, "extensions": extensions }] });
    (status, axum::Json(body)).into_response()
}

fn time(field: &str, text: Option<String>) -> Result<Option<DateTime<Utc>>, ServiceError> {
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => DateTime::parse_from_rfc3339(t)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| {
                ServiceError::bad_input(
                    field,
                    format!("{t:?} is not a time; give RFC 3339, e.g. 2026-12-03T10:00:00Z"),
                )
            }),
    }
}

/// What the URL asks for, or the parameter that is wrong.
#[allow(clippy::type_complexity)]
fn parse(
    uri: &Uri,
) -> Result<
    (
        LogTarget,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        bool,
    ),
    ServiceError,
> {
    let Query(q) = Query::<LogsQuery>::try_from_uri(uri)
        .map_err(|e| ServiceError::bad_input("url", format!("the URL is not understood: {e}")))?;
    let target = match (q.instance_id, q.docker_container_id) {
        (Some(id), None) if !id.is_empty() => LogTarget::Instance(id),
        (None, Some(id)) if !id.is_empty() => LogTarget::DockerContainer(id),
        _ => {
            return Err(ServiceError::bad_input(
                "instanceId",
                "name the container: instanceId (one of Berth's replicas) or dockerContainerId (any container of the inventory), not both",
            ));
        }
    };
    let since = time("since", q.since)?;
    let until = time("until", q.until)?;
    let timestamps = match q.timestamps.as_deref() {
        None | Some("true") | Some("1") => true,
        Some("false") | Some("0") => false,
        Some(other) => {
            return Err(ServiceError::bad_input(
                "timestamps",
                format!("{other:?} is not true or false"),
            ));
        }
    };
    Ok((target, since, until, timestamps))
}

/// `GET /api/logs`.
pub async fn download(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let user = match bearer(&headers) {
        Some(secret) => token_user(&state.services, secret).await.map(Some),
        None => session_user(&state.services, &session).await,
    };
    let user = match user {
        Ok(Some(user)) => user,
        Ok(None) => {
            return refuse(ServiceError::Unauthenticated(
                "log in or send an API token first".into(),
            ));
        }
        Err(e) => return refuse(e),
    };
    let (target, since, until, timestamps) = match parse(&uri) {
        Ok(parsed) => parsed,
        Err(e) => return refuse(e),
    };
    let download = match state
        .services
        .logs
        .download(&target, since, until, timestamps)
        .await
    {
        Ok(d) => d,
        Err(e) => return refuse(e),
    };
    tracing::info!(
        user = %user.username,
        target = %target,
        container = %download.source,
        since = ?since,
        until = ?until,
        "log download"
    );
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{}\"", download.file_name))
            .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let body = Body::from_stream(
        download
            .body
            .map(|chunk| Ok::<_, std::convert::Infallible>(Bytes::from(chunk))),
    );
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}
