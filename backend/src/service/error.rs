//! The service layer's error type. The GraphQL edge maps each arm to one contract error code.

use berth_shared::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    BadInput { field: String, message: String },
    #[error("{0}")]
    Conflict(String),
    /// A conflict about one input field (e.g. a name that is taken).
    #[error("{message}")]
    ConflictOn { field: String, message: String },
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ServiceError {
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error again (for answering several callers with one outcome); an unexpected error keeps its
    /// message only.
    pub fn duplicate(&self) -> Self {
        match self {
            Self::Unauthenticated(m) => Self::Unauthenticated(m.clone()),
            Self::Forbidden(m) => Self::Forbidden(m.clone()),
            Self::NotFound(m) => Self::NotFound(m.clone()),
            Self::BadInput { field, message } => Self::BadInput {
                field: field.clone(),
                message: message.clone(),
            },
            Self::Conflict(m) => Self::Conflict(m.clone()),
            Self::ConflictOn { field, message } => Self::ConflictOn {
                field: field.clone(),
                message: message.clone(),
            },
            Self::Unavailable(m) => Self::Unavailable(m.clone()),
            Self::Unexpected(e) => Self::Unexpected(anyhow::anyhow!("{e:#}")),
        }
    }

    /// The contract's error code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::BadInput { .. } => ErrorCode::BadUserInput,
            Self::Conflict(_) | Self::ConflictOn { .. } => ErrorCode::Conflict,
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Unexpected(_) => ErrorCode::Internal,
        }
    }
}

impl From<sea_orm::DbErr> for ServiceError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Unexpected(anyhow::Error::new(e).context("database error"))
    }
}
