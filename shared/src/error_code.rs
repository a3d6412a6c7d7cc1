//! Machine-readable error codes sent in GraphQL `extensions.code` and understood by the browser app.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The kind of failure behind an API error. Serialised as `SCREAMING_SNAKE_CASE` (`"NOT_FOUND"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// No valid session or token: log in.
    Unauthenticated,
    /// Logged in, but the role does not allow this.
    Forbidden,
    /// The thing asked for does not exist (or is not visible to the caller).
    NotFound,
    /// The input is invalid; the message says what to change.
    BadUserInput,
    /// The request clashes with the current state (duplicate name, concurrent change).
    Conflict,
    /// A dependency (Docker host, registry, database) cannot be reached right now.
    Unavailable,
    /// A bug or unexpected failure on the server.
    Internal,
}

/// A string that is not one of the [`ErrorCode`] names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown error code \"{0}\"; expected one of UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, BAD_USER_INPUT, CONFLICT, UNAVAILABLE, INTERNAL"
)]
pub struct UnknownErrorCode(pub String);

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 7] = [
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::BadUserInput,
        ErrorCode::Conflict,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The wire name, e.g. `"BAD_USER_INPUT"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    /// Parses the wire name (exact, upper case).
    pub fn parse(s: &str) -> Result<ErrorCode, UnknownErrorCode> {
        ErrorCode::ALL
            .into_iter()
            .find(|code| code.as_str() == s)
            .ok_or_else(|| UnknownErrorCode(s.to_owned()))
    }
}

impl FromStr for ErrorCode {
    type Err = UnknownErrorCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorCode::parse(s)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let expected = [
            "UNAUTHENTICATED",
            "FORBIDDEN",
            "NOT_FOUND",
            "BAD_USER_INPUT",
            "CONFLICT",
            "UNAVAILABLE",
            "INTERNAL",
        ];
        for (code, name) in ErrorCode::ALL.into_iter().zip(expected) {
            assert_eq!(code.as_str(), name);
            assert_eq!(code.to_string(), name);
            assert_eq!(ErrorCode::parse(name), Ok(code));
            assert_eq!(name.parse::<ErrorCode>(), Ok(code));
        }
    }

    #[test]
    fn serde_uses_screaming_snake_case() {
        // serde_json is not a dependency of this crate: use serde's own string deserializer.
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error as DeError, StrDeserializer};
        for code in ErrorCode::ALL {
            let de: StrDeserializer<'_, DeError> = code.as_str().into_deserializer();
            assert_eq!(ErrorCode::deserialize(de), Ok(code));
        }
        let de: StrDeserializer<'_, DeError> = "NotFound".into_deserializer();
        assert!(ErrorCode::deserialize(de).is_err());
    }

    #[test]
    fn rejects_unknown() {
        let err = ErrorCode::parse("not_found").unwrap_err();
        assert!(err.to_string().contains("unknown error code \"not_found\""));
        assert!(err.to_string().contains("BAD_USER_INPUT"));
        assert!("".parse::<ErrorCode>().is_err());
    }
}
