//! The HTTP edge: router, authentication of each request, GraphQL transport (POST, GET, WebSocket), health,
//! and the single-page app's files.

mod auth;
mod graphql;
mod hooks;
mod logs;
mod static_files;
mod terminal;

use crate::graphql::BerthSchema;
use crate::service::Services;
use axum::Router;
use axum::body::HttpBody as _;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::path::Path;
use std::time::Duration;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};

/// Name of the browser session cookie.
pub const SESSION_COOKIE: &str = "berth_session";
/// Largest accepted request body.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub schema: BerthSchema,
    /// The schema without extensions, for query-only requests within the document limits (see
    /// [`crate::graphql::build_query_schema`]).
    pub query_schema: BerthSchema,
    pub ws_init_timeout: Duration,
    /// The bearer token `GET /metrics` asks for; `None`: metrics are off.
    pub metrics_token: Option<String>,
}

/// Builds the router: API routes with sessions, then the SPA as fallback.
pub fn router<S: SessionStore + Clone>(state: AppState, sessions: S, static_dir: &Path) -> Router {
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(false)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::days(7)));

    let api = Router::new()
        .route("/graphql", get(graphql::get_or_upgrade).post(graphql::post))
        .route("/graphiql", get(graphql::graphiql))
        .route("/schema.graphql", get(graphql::sdl))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/terminal", get(terminal::upgrade))
        .route("/api/logs", get(logs::download))
        .route("/hooks/registry/{id}", post(hooks::registry))
        .route("/hooks/deploy/{token}", post(hooks::deploy))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(session_layer)
        .layer(axum::middleware::from_fn(session_store_failures))
        .with_state(state);

    let csp = HeaderValue::from_str(&content_security_policy(static_dir))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let spa = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .service(static_files::service(static_dir));
    api.fallback_service(spa)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
}

/// The web app's Content-Security-Policy: its own origin only, WebAssembly allowed, and Trunk's inline loader
/// script allowed by its hash (read from `index.html`), so no other inline script can run.
fn content_security_policy(static_dir: &Path) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let index = std::fs::read_to_string(static_dir.join("index.html")).unwrap_or_default();
    let mut hashes = String::new();
    let mut rest = index.as_str();
    while let Some(start) = rest.find("<script") {
        let after = &rest[start..];
        let Some(open_end) = after.find('>') else {
            break;
        };
        let tag = &after[..open_end];
        let body_and_more = &after[open_end + 1..];
        let Some(close) = body_and_more.find("</script>") else {
            break;
        };
        if !tag.contains(" src=") {
            let digest = sha2::Sha256::digest(&body_and_more.as_bytes()[..close]);
            hashes.push_str(&format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ));
        }
        rest = &body_and_more[close..];
    }
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; \
         form-action 'self'"
    )
}

/// Never an empty HTTP 500: when the session layer could not save a session (it answers so, without a body),
/// the answer says why in GraphQL's shape — UNAVAILABLE with the database's fault (a full disk, a database not
/// answering) or INTERNAL.
async fn session_store_failures(request: Request, next: Next) -> Response {
    let (response, failure) = crate::service::noting_session_failures(next.run(request)).await;
    let empty = response.body().size_hint().exact() == Some(0);
    match failure {
        Some(error) if response.status() == StatusCode::INTERNAL_SERVER_ERROR && empty => {
            graphql::service_refusal(error)
        }
        _ => response,
    }
}

/// `GET /healthz`: 200 when the database answers, 503 otherwise, with a JSON body naming each part.
/// `GET /metrics`: Prometheus text format, to `Authorization: Bearer <BERTH_METRICS_TOKEN>` only; 404 while no token
/// is configured, 401 for another or none.
async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let Some(token) = &state.metrics_token else {
        return (
            StatusCode::NOT_FOUND,
            "metrics are off: start Berth with BERTH_METRICS_TOKEN (or --metrics-token) and scrape with \
             Authorization: Bearer <token>\n",
        )
            .into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !same_secret(given.trim().as_bytes(), token.as_bytes()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "send Authorization: Bearer <BERTH_METRICS_TOKEN>\n",
        )
            .into_response();
    }
    match state.services.metrics().await {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the metrics could not be read: {e}\n"),
        )
            .into_response(),
    }
}

/// Compares two secrets in time that depends only on their lengths.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `GET /healthz`: whether the database answers and takes a write, with this server's id and whether it leads
/// (with several servers on one PostgreSQL exactly one does; a single server always does).
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let server = state.services.server_id.clone();
    let leader = state.services.lease.leading();
    match state.services.database_health().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({
                "status": "ok", "database": "ok", "server": server, "leader": leader
            })),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({
                "status": "degraded", "database": e.to_string(), "server": server, "leader": leader
            })),
        ),
    }
}
