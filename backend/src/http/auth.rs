//! Works out who a request comes from: an `Authorization: Bearer` API token, or the session cookie.

use crate::graphql::auth::SESSION_USER_KEY;
use crate::service::auth::User;
use crate::service::{ServiceError, Services};
use axum::http::{HeaderMap, header};
use tower_sessions::Session;

/// The bearer secret in an `Authorization` header, if there is one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, secret) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(secret.trim())
}

/// The user of a bearer secret; an invalid secret is an error (never silently anonymous).
pub async fn token_user(services: &Services, secret: &str) -> Result<User, ServiceError> {
    services.auth.authenticate_token(secret).await
}

/// The user logged in on this browser session, if any.
pub async fn session_user(
    services: &Services,
    session: &Session,
) -> Result<Option<User>, ServiceError> {
    let id: Option<String> = session
        .get(SESSION_USER_KEY)
        .await
        .map_err(ServiceError::from)?;
    match id {
        Some(id) => services.auth.active_user(&id).await,
        None => Ok(None),
    }
}
