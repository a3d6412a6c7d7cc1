//! The GraphQL API: one file per domain, merged in `schema.rs`. Resolvers are thin: they read the request's
//! viewer, call a service and convert the result; `error.rs` is the one place service errors become codes.

pub mod adoption;
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod containers;
pub mod disks;
pub mod error;
pub mod exec;
pub mod hosts;
pub mod inventory;
pub mod limits;
pub mod logs;
pub mod paging;
pub mod passthrough;
pub mod registries;
pub mod scalars;
pub mod schema;
pub mod stats;

pub use schema::{BerthSchema, build_query_schema, build_schema, schema_builder};

use crate::service::auth::User;
use crate::service::{ServiceError, Services};
use async_graphql::Context;

/// Who is making this request (set by the HTTP layer from the bearer token or the session cookie).
#[derive(Clone, Debug, Default)]
pub struct Viewer(pub Option<User>);

/// The address the request came from (for login throttling), when the server knows it.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientAddr(pub Option<std::net::IpAddr>);

/// The browser session of this request, when it came through the cookie-carrying HTTP route.
#[derive(Clone, Debug, Default)]
pub struct SessionHandle(pub Option<tower_sessions::Session>);

/// The authenticated user, or `UNAUTHENTICATED`.
pub(crate) fn require_user<'a>(ctx: &'a Context<'_>) -> Result<&'a User, ServiceError> {
    ctx.data_opt::<Viewer>()
        .and_then(|v| v.0.as_ref())
        .ok_or_else(|| ServiceError::Unauthenticated("log in or send an API token first".into()))
}

pub(crate) fn services<'a>(ctx: &'a Context<'_>) -> Result<&'a Services, ServiceError> {
    ctx.data::<Services>().map_err(|e| {
        ServiceError::Unexpected(anyhow::anyhow!(
            "services missing from the schema: {}",
            e.message
        ))
    })
}

/// The services, for a subscription stream that outlives the context, after checking the user.
pub(crate) fn authorized_services(ctx: &Context<'_>) -> Result<Services, ServiceError> {
    require_user(ctx)?;
    services(ctx).cloned()
}
