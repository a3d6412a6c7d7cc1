//! The service layer's error type. The GraphQL edge maps each arm to one contract error code.

use crate::db::DbFault;
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

/// The one mapping of database errors: a full disk or a database that does not answer is UNAVAILABLE with a
/// message saying so (see [`DbFault`]); anything else is unexpected.
impl From<sea_orm::DbErr> for ServiceError {
    fn from(e: sea_orm::DbErr) -> Self {
        match DbFault::of(&e) {
            Some(fault) => {
                tracing::warn!(error = %e, "database unavailable");
                Self::Unavailable(fault.to_string())
            }
            None => Self::Unexpected(anyhow::Error::new(e).context("database error")),
        }
    }
}

/// Session store errors (they reach Berth as text only): a database fault is UNAVAILABLE as above, anything
/// else unexpected.
impl From<tower_sessions::session::Error> for ServiceError {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::session_store(e.to_string())
    }
}

impl ServiceError {
    /// A session store failure from its message.
    pub fn session_store(text: String) -> Self {
        match DbFault::recognise(&text) {
            Some(fault) => {
                tracing::warn!(error = %text, "session store unavailable");
                Self::Unavailable(fault.to_string())
            }
            None => Self::Unexpected(anyhow::anyhow!("session store: {text}")),
        }
    }
}
