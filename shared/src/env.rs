//! Validation of environment variable names given for containers.
//!
//! Docker itself accepts almost any name; this refuses only what is certainly a mistake: an empty
//! name, `=` (it would split the `NAME=value` pair in the wrong place), whitespace, NUL and other
//! control characters, a leading digit (no shell can read such a variable), and names longer than
//! [`ENV_NAME_MAX`] bytes.

/// Longest environment variable name, in bytes (Linux limits a whole `NAME=value` string only by the size of
/// the environment; real names are far shorter).
pub const ENV_NAME_MAX: usize = 1_024;

/// Why a string is not usable as an environment variable name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvNameError {
    /// The name is empty.
    #[error("environment variable name is empty")]
    Empty,
    /// The name is longer than [`ENV_NAME_MAX`] bytes (the message does not repeat it).
    #[error("environment variable name is {0} bytes long; the maximum is {ENV_NAME_MAX}")]
    TooLong(usize),
    /// The name contains `=`.
    #[error("environment variable name \"{0}\" contains \"=\"; put the value in the value field")]
    ContainsEquals(String),
    /// The name contains a space, tab or other whitespace.
    #[error("environment variable name \"{0}\" contains whitespace")]
    ContainsWhitespace(String),
    /// The name contains NUL or another control character.
    #[error("environment variable name \"{}\" contains a control character", .0.escape_debug())]
    ContainsControl(String),
    /// The name starts with a digit.
    #[error(
        "environment variable name \"{0}\" starts with a digit; start it with a letter or \"_\""
    )]
    StartsWithDigit(String),
}

/// Checks an environment variable name (see the module documentation for what is refused).
pub fn validate_env_name(name: &str) -> Result<(), EnvNameError> {
    if name.is_empty() {
        return Err(EnvNameError::Empty);
    }
    if name.len() > ENV_NAME_MAX {
        return Err(EnvNameError::TooLong(name.len()));
    }
    if name.contains('=') {
        return Err(EnvNameError::ContainsEquals(name.to_owned()));
    }
    if name.chars().any(char::is_whitespace) {
        return Err(EnvNameError::ContainsWhitespace(name.to_owned()));
    }
    if name.chars().any(char::is_control) {
        return Err(EnvNameError::ContainsControl(name.to_owned()));
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(EnvNameError::StartsWithDigit(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_practical_names() {
        for name in [
            "PATH",
            "_",
            "_private",
            "my_var2",
            "a.b",
            "spring.profiles-active",
            "Ünïcode",
        ] {
            assert_eq!(validate_env_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn rejections() {
        let msg = |name: &str| validate_env_name(name).unwrap_err().to_string();
        assert_eq!(msg(""), "environment variable name is empty");
        assert!(msg("A=B").contains("contains \"=\""));
        assert!(msg("=").contains("contains \"=\""));
        assert!(msg("MY VAR").contains("\"MY VAR\" contains whitespace"));
        assert!(msg(" A").contains("whitespace"));
        assert!(msg("A\n").contains("whitespace"));
        assert_eq!(
            msg("A\0B"),
            "environment variable name \"A\\0B\" contains a control character"
        );
        assert!(msg("A\u{7}").contains("control character"));
        assert_eq!(validate_env_name(&"A".repeat(ENV_NAME_MAX)), Ok(()));
        assert_eq!(
            msg(&"A".repeat(100_000)),
            "environment variable name is 100000 bytes long; the maximum is 1024"
        );
        assert_eq!(
            msg("1VAR"),
            "environment variable name \"1VAR\" starts with a digit; start it with a letter or \"_\""
        );
    }
}
