//! Names people give things (users, API tokens, hosts, registries) and the text of a registry URL, checked the
//! same way by the server and the web app: not empty, not too long, and free of control characters (NUL, tab, line
//! breaks and the like), which would cut or garble log lines, audit entries, tables and labels.

/// Longest user name, in characters.
pub const USER_NAME_MAX: usize = 64;
/// Longest API token name, in characters.
pub const TOKEN_NAME_MAX: usize = 64;
/// Longest host name (Berth's label for a Docker host), in characters.
pub const HOST_NAME_MAX: usize = 64;
/// Longest registry name, in characters.
pub const REGISTRY_NAME_MAX: usize = 64;
/// Longest registry URL, in bytes (what browsers and most servers accept in a URL).
pub const REGISTRY_URL_MAX: usize = 2_048;

/// What a name names; each kind has its own maximum length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    User,
    Token,
    Host,
    Registry,
}

impl NameKind {
    /// The longest name of this kind, in characters.
    pub const fn max_len(self) -> usize {
        match self {
            NameKind::User => USER_NAME_MAX,
            NameKind::Token => TOKEN_NAME_MAX,
            NameKind::Host => HOST_NAME_MAX,
            NameKind::Registry => REGISTRY_NAME_MAX,
        }
    }

    /// How messages call it: "user name", "token name", …
    pub const fn label(self) -> &'static str {
        match self {
            NameKind::User => "user name",
            NameKind::Token => "token name",
            NameKind::Host => "host name",
            NameKind::Registry => "registry name",
        }
    }
}

/// Why a name (or a registry URL's text) is refused. Messages never repeat the text itself: it may be huge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("{what} must be at most {max} characters")]
    TooLong { what: &'static str, max: usize },
    #[error("{what} must be at most {max} bytes long")]
    TooManyBytes { what: &'static str, max: usize },
    #[error("{0} must not contain control characters such as NUL, tabs or line breaks")]
    Control(&'static str),
}

/// Whether `c` is a control character or a Unicode line/paragraph separator.
pub fn is_control_or_break(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Checks a name as it will be stored: trimmed of surrounding whitespace, not empty, at most
/// [`NameKind::max_len`] characters, no control characters. Counting stops at the limit, so a huge input costs
/// no more than a short one.
pub fn validate_name(kind: NameKind, name: &str) -> Result<(), NameError> {
    let name = name.trim();
    let what = kind.label();
    if name.is_empty() {
        return Err(NameError::Empty(what));
    }
    if name.chars().nth(kind.max_len()).is_some() {
        return Err(NameError::TooLong {
            what,
            max: kind.max_len(),
        });
    }
    if name.chars().any(is_control_or_break) {
        return Err(NameError::Control(what));
    }
    Ok(())
}

/// Checks the text of a registry URL before it is parsed: at most [`REGISTRY_URL_MAX`] bytes once trimmed, no
/// control characters (a URL parser would silently drop tabs and line breaks, storing another URL than the one
/// shown). Emptiness and the URL's shape are checked by the caller.
pub fn validate_registry_url_text(url: &str) -> Result<(), NameError> {
    let url = url.trim();
    if url.len() > REGISTRY_URL_MAX {
        return Err(NameError::TooManyBytes {
            what: "the registry URL",
            max: REGISTRY_URL_MAX,
        });
    }
    if url.chars().any(is_control_or_break) {
        return Err(NameError::Control("the registry URL"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for (kind, name) in [
            (NameKind::User, "alice"),
            (NameKind::User, "Zoë O'Brien"),
            (NameKind::Token, "  ci deploy  "),
            (NameKind::Host, "docker-1 (rack 4)"),
            (NameKind::Registry, "ghcr.io"),
        ] {
            assert_eq!(validate_name(kind, name), Ok(()), "{name:?}");
        }
        let longest = "é".repeat(64);
        assert_eq!(validate_name(NameKind::Host, &longest), Ok(()));
    }

    #[test]
    fn refuses_empty_long_and_control() {
        assert_eq!(
            validate_name(NameKind::Token, "   "),
            Err(NameError::Empty("token name"))
        );
        for kind in [
            NameKind::User,
            NameKind::Token,
            NameKind::Host,
            NameKind::Registry,
        ] {
            let long = "a".repeat(kind.max_len() + 1);
            assert!(
                matches!(validate_name(kind, &long), Err(NameError::TooLong { .. })),
                "{kind:?}"
            );
            let huge = "x".repeat(100_000);
            let message = validate_name(kind, &huge).unwrap_err().to_string();
            assert!(message.len() < 100, "{message}");
            for bad in [
                "a\0b",
                "a\nb",
                "a\rb",
                "a\tb",
                "a\u{7f}b",
                "a\u{85}b",
                "a\u{2028}b",
            ] {
                assert_eq!(
                    validate_name(kind, bad),
                    Err(NameError::Control(kind.label())),
                    "{bad:?}"
                );
            }
        }
        assert_eq!(
            validate_name(NameKind::Registry, &"r".repeat(65))
                .unwrap_err()
                .to_string(),
            "registry name must be at most 64 characters"
        );
    }

    #[test]
    fn registry_url_text() {
        assert_eq!(
            validate_registry_url_text("https://registry.example.com"),
            Ok(())
        );
        let long = format!("https://r.example/{}", "p".repeat(REGISTRY_URL_MAX));
        assert!(matches!(
            validate_registry_url_text(&long),
            Err(NameError::TooManyBytes { max: 2_048, .. })
        ));
        assert!(matches!(
            validate_registry_url_text("https://reg\nistry.example.com"),
            Err(NameError::Control(_))
        ));
        assert!(matches!(
            validate_registry_url_text("https://registry.example.com/\0"),
            Err(NameError::Control(_))
        ));
    }
}
