//! The one conversion from service errors to GraphQL errors carrying the contract's `extensions.code` (and
//! `extensions.field` for bad input). Unexpected errors are logged with their cause and reported without internals.
//!
//! Resolvers return `Result<T, ApiError>`. `ApiError` deliberately does not implement `Display`, so
//! async-graphql's blanket `From<T: Display>` (which would drop the code) can never apply to it.

use crate::service::ServiceError;
use async_graphql::ErrorExtensions as _;
use berth_shared::ErrorCode;

/// A resolver error; `?` on a `ServiceError` converts into it.
#[derive(Clone)]
pub struct ApiError(async_graphql::Error);

/// A resolver's result.
pub type ApiResult<T> = Result<T, ApiError>;

/// A GraphQL error with `extensions.code`.
pub fn coded(code: ErrorCode, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, ext| ext.set("code", code.as_str()))
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let code = e.code();
        ApiError(match e {
            ServiceError::BadInput { field, message }
            | ServiceError::ConflictOn { field, message } => async_graphql::Error::new(message)
                .extend_with(|_, ext| {
                    ext.set("code", code.as_str());
                    ext.set("field", field);
                }),
            ServiceError::Unexpected(err) => {
                let id = uuid::Uuid::new_v4();
                tracing::error!(error = ?err, error_id = %id, "unexpected error");
                coded(
                    code,
                    format!("internal error (reference {id}); the server log has the details"),
                )
            }
            other => coded(code, other.to_string()),
        })
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        e.0
    }
}

impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ApiError").field(&self.0.message).finish()
    }
}
