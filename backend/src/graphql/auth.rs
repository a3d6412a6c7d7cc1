//! Who am I, logging in and out, and API tokens.

use super::error::ApiResult;
use super::{SessionHandle, require_user, services};
use crate::service::ServiceError;
use crate::service::auth;
use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

/// Session key holding the logged-in user's id.
pub const SESSION_USER_KEY: &str = "user_id";

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "berth_shared::Role")]
pub enum Role {
    Admin,
    Operator,
    Viewer,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct User {
    pub id: ID,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl From<auth::User> for User {
    fn from(u: auth::User) -> Self {
        User {
            id: ID(u.id),
            username: u.username,
            role: u.role.into(),
            disabled: u.disabled,
            created_at: u.created_at,
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct ApiToken {
    pub id: ID,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<auth::ApiToken> for ApiToken {
    fn from(t: auth::ApiToken) -> Self {
        ApiToken {
            id: ID(t.id),
            name: t.name,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
        }
    }
}

/// A new token; `secret` is shown once and never again.
#[derive(SimpleObject, Clone, Debug)]
pub struct CreatedApiToken {
    pub token: ApiToken,
    pub secret: String,
}

#[derive(Default)]
pub struct AuthQuery;

#[Object]
impl AuthQuery {
    /// The authenticated user.
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<User> {
        Ok(require_user(ctx)?.clone().into())
    }

    /// The authenticated user's API tokens, newest first; an admin may name another user.
    async fn api_tokens(&self, ctx: &Context<'_>, user_id: Option<ID>) -> ApiResult<Vec<ApiToken>> {
        let user = require_user(ctx)?;
        let tokens = match user_id {
            Some(id) => services(ctx)?.auth.tokens_of(user, &id).await?,
            None => services(ctx)?.auth.tokens(user).await?,
        };
        Ok(tokens.into_iter().map(Into::into).collect())
    }

    /// Every user, by name (ADMIN).
    async fn users(&self, ctx: &Context<'_>) -> ApiResult<Vec<User>> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .auth
            .users(actor)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

#[derive(Default)]
pub struct AuthMutation;

fn session(ctx: &Context<'_>) -> Result<tower_sessions::Session, ServiceError> {
    ctx.data_opt::<SessionHandle>()
        .and_then(|s| s.0.clone())
        .ok_or_else(|| {
            ServiceError::bad_input("username", "log in over HTTP POST /graphql from a browser")
        })
}

#[Object]
impl AuthMutation {
    /// Checks the credentials and starts a browser session (a new session id, HttpOnly SameSite=Strict cookie).
    async fn login(
        &self,
        ctx: &Context<'_>,
        username: String,
        password: String,
    ) -> ApiResult<User> {
        let session = session(ctx)?;
        let client = ctx.data_opt::<super::ClientAddr>().and_then(|c| c.0);
        let user = services(ctx)?
            .auth
            .login_from(&username, &password, client)
            .await?;
        let started = async {
            session.cycle_id().await?;
            session.insert(SESSION_USER_KEY, user.id.clone()).await?;
            // Stored now rather than by the session layer after the answer, so a store that cannot write (a full
            // disk) fails this mutation with its reason instead of turning the answer into an empty HTTP 500.
            session.save().await
        }
        .await;
        if let Err(e) = started {
            // Nothing left for the session layer to save.
            session.clear().await;
            return Err(ServiceError::from(e).into());
        }
        tracing::info!(user = %user.username, "logged in");
        Ok(user.into())
    }

    /// Ends the browser session (a no-op for API-token requests).
    /// Ends the browser session and every other session of the user.
    async fn logout(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let user = require_user(ctx)?;
        if let Some(session) = ctx.data_opt::<SessionHandle>().and_then(|s| s.0.clone()) {
            session.flush().await.map_err(ServiceError::from)?;
        }
        services(ctx)?.auth.end_sessions(&user.id, None).await?;
        Ok(true)
    }

    /// Creates an API token for scripts; the secret is in the answer and is never shown again.
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> ApiResult<CreatedApiToken> {
        let user = require_user(ctx)?;
        let created = services(ctx)?.auth.create_token(user, &name).await?;
        Ok(CreatedApiToken {
            token: created.token.into(),
            secret: created.secret,
        })
    }

    /// Revokes one of the authenticated user's tokens (an admin: anybody's).
    async fn revoke_api_token(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let user = require_user(ctx)?;
        services(ctx)?.auth.revoke_token(user, &id).await?;
        Ok(true)
    }

    /// Creates a user (ADMIN).
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        username: String,
        password: String,
        role: Role,
    ) -> ApiResult<User> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .auth
            .add_user(actor, &username, &password, role.into())
            .await?
            .into())
    }

    /// Changes a user's role or disables them (ADMIN); the last active admin cannot be demoted or disabled.
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        id: ID,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> ApiResult<User> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .auth
            .update_user(actor, &id, role.map(Into::into), disabled)
            .await?
            .into())
    }

    /// Sets another user's password (ADMIN).
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        id: ID,
        new_password: String,
    ) -> ApiResult<bool> {
        let actor = require_user(ctx)?;
        services(ctx)?
            .auth
            .reset_password(actor, &id, &new_password)
            .await?;
        Ok(true)
    }

    /// Changes the authenticated user's password (the current one is required).
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        old_password: String,
        new_password: String,
    ) -> ApiResult<bool> {
        let user = require_user(ctx)?;
        services(ctx)?
            .auth
            .change_password(user, &old_password, &new_password)
            .await?;
        // Other browsers logged in as this user must log in again; this one stays.
        let keep = ctx
            .data_opt::<SessionHandle>()
            .and_then(|s| s.0.as_ref())
            .and_then(|s| s.id())
            .map(|id| id.to_string());
        services(ctx)?
            .auth
            .end_sessions(&user.id, keep.as_deref())
            .await?;
        Ok(true)
    }
}
