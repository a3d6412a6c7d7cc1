//! Health checks of container definitions: the check a definition sets (Docker's `HEALTHCHECK`: a test as argv
//! or one shell string, or `NONE` to switch the image's own off) and its rule, which the server applies to
//! `ContainerInput.healthCheck` and the web app's form as you type.

/// Longest duration a health check takes, in seconds (a day).
pub const HEALTH_SECS_MAX: i64 = 86_400;
/// Most retries a health check takes.
pub const HEALTH_RETRIES_MAX: i64 = 1_000;
/// Most elements of a test (`CMD` included).
pub const HEALTH_TEST_ITEMS_MAX: usize = 100;
/// Longest element of a test, in bytes.
pub const HEALTH_TEST_ITEM_MAX: usize = 4_096;

/// A health check as a definition holds it. Durations in whole seconds; `None` = Docker's default (interval
/// 30 s, timeout 30 s, retries 3, start period 0 s).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    /// `["CMD", argv…]`, `["CMD-SHELL", "command"]` or `["NONE"]`.
    pub test: Vec<String>,
    pub interval_secs: Option<i64>,
    pub timeout_secs: Option<i64>,
    pub retries: Option<i64>,
    pub start_period_secs: Option<i64>,
}

impl HealthCheck {
    /// Whether the check switches the image's own off (`["NONE"]`): Docker runs no check at all.
    pub fn disables(&self) -> bool {
        self.test.first().is_some_and(|t| t == "NONE")
    }
}

/// Why a health check is refused; [`HealthCheckError::field`] names the input (under `healthCheck.`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HealthCheckError {
    #[error("the test is empty: use [\"CMD\", …], [\"CMD-SHELL\", \"…\"] or [\"NONE\"]")]
    EmptyTest,
    #[error("a test starts with CMD, CMD-SHELL or NONE")]
    TestKind,
    #[error(
        "CMD needs the command to run after it, e.g. [\"CMD\", \"curl\", \"-f\", \"http://localhost/\"]"
    )]
    CmdWithoutCommand,
    #[error("CMD-SHELL takes exactly one string, the shell command")]
    ShellArity,
    #[error("the shell command is empty")]
    EmptyShell,
    #[error("NONE stands alone: it switches the image's health check off")]
    NoneAlone,
    #[error("a test has at most {HEALTH_TEST_ITEMS_MAX} elements")]
    TooManyItems,
    #[error("an element of the test is longer than {HEALTH_TEST_ITEM_MAX} bytes")]
    ItemTooLong,
    #[error("the test must not contain NUL characters")]
    Nul,
    #[error("{} must be a whole number of seconds from 1 to {HEALTH_SECS_MAX}", secs_label(.0))]
    Secs(&'static str),
    #[error("retries must be a whole number from 0 to {HEALTH_RETRIES_MAX}")]
    Retries,
}

/// What a duration field is called in a message.
fn secs_label(field: &str) -> &'static str {
    match field {
        "intervalSecs" => "the interval",
        "timeoutSecs" => "the timeout",
        "startPeriodSecs" => "the start period",
        "replaceUnhealthyAfterSecs" => "the time before an unhealthy replica is replaced",
        _ => "a duration",
    }
}

impl HealthCheckError {
    /// The input the error is about, as the API names it under `healthCheck.` (`test`, `intervalSecs`, …).
    pub fn field(&self) -> &'static str {
        match self {
            HealthCheckError::Secs(field) => field,
            HealthCheckError::Retries => "retries",
            _ => "test",
        }
    }
}

/// Checks a test alone (the form checks it as you type).
pub fn validate_health_test(test: &[String]) -> Result<(), HealthCheckError> {
    let Some(kind) = test.first() else {
        return Err(HealthCheckError::EmptyTest);
    };
    if test.len() > HEALTH_TEST_ITEMS_MAX {
        return Err(HealthCheckError::TooManyItems);
    }
    if test.iter().any(|t| t.len() > HEALTH_TEST_ITEM_MAX) {
        return Err(HealthCheckError::ItemTooLong);
    }
    if test.iter().any(|t| t.contains('\0')) {
        return Err(HealthCheckError::Nul);
    }
    match kind.as_str() {
        "NONE" if test.len() == 1 => Ok(()),
        "NONE" => Err(HealthCheckError::NoneAlone),
        "CMD" if test.len() >= 2 && !test[1].trim().is_empty() => Ok(()),
        "CMD" => Err(HealthCheckError::CmdWithoutCommand),
        "CMD-SHELL" if test.len() != 2 => Err(HealthCheckError::ShellArity),
        "CMD-SHELL" if test[1].trim().is_empty() => Err(HealthCheckError::EmptyShell),
        "CMD-SHELL" => Ok(()),
        _ => Err(HealthCheckError::TestKind),
    }
}

/// Checks a duration in seconds (`field` is its API name): `None` or 1..=[`HEALTH_SECS_MAX`].
pub fn validate_health_secs(
    field: &'static str,
    value: Option<i64>,
) -> Result<(), HealthCheckError> {
    match value {
        Some(v) if !(1..=HEALTH_SECS_MAX).contains(&v) => Err(HealthCheckError::Secs(field)),
        _ => Ok(()),
    }
}

/// Checks a retry count: `None` or 0..=[`HEALTH_RETRIES_MAX`].
pub fn validate_health_retries(value: Option<i64>) -> Result<(), HealthCheckError> {
    match value {
        Some(v) if !(0..=HEALTH_RETRIES_MAX).contains(&v) => Err(HealthCheckError::Retries),
        _ => Ok(()),
    }
}

/// Checks a whole health check: the test first, then interval, timeout, retries and start period.
pub fn validate_health_check(check: &HealthCheck) -> Result<(), HealthCheckError> {
    validate_health_test(&check.test)?;
    validate_health_secs("intervalSecs", check.interval_secs)?;
    validate_health_secs("timeoutSecs", check.timeout_secs)?;
    validate_health_retries(check.retries)?;
    validate_health_secs("startPeriodSecs", check.start_period_secs)?;
    Ok(())
}

/// Checks `replaceUnhealthyAfterSecs`: `None` or 1..=[`HEALTH_SECS_MAX`].
pub fn validate_replace_unhealthy_after(value: Option<i64>) -> Result<(), HealthCheckError> {
    validate_health_secs("replaceUnhealthyAfterSecs", value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn tests_are_checked() {
        assert_eq!(validate_health_test(&test(&["CMD", "true"])), Ok(()));
        assert_eq!(
            validate_health_test(&test(&["CMD-SHELL", "test -f /tmp/ok"])),
            Ok(())
        );
        assert_eq!(validate_health_test(&test(&["NONE"])), Ok(()));
        let cases: [(&[&str], HealthCheckError); 8] = [
            (&[], HealthCheckError::EmptyTest),
            (&["BOGUS"], HealthCheckError::TestKind),
            (&["cmd", "true"], HealthCheckError::TestKind),
            (&["CMD"], HealthCheckError::CmdWithoutCommand),
            (&["CMD-SHELL"], HealthCheckError::ShellArity),
            (&["CMD-SHELL", "a", "b"], HealthCheckError::ShellArity),
            (&["CMD-SHELL", "  "], HealthCheckError::EmptyShell),
            (&["NONE", "x"], HealthCheckError::NoneAlone),
        ];
        for (items, expected) in cases {
            let got = validate_health_test(&test(items));
            assert_eq!(got, Err(expected.clone()), "{items:?}");
            assert_eq!(expected.field(), "test");
        }
        assert_eq!(
            validate_health_test(&vec!["CMD".to_owned(); 101]),
            Err(HealthCheckError::TooManyItems)
        );
        assert_eq!(
            validate_health_test(&["CMD".to_owned(), "x".repeat(5000)]),
            Err(HealthCheckError::ItemTooLong)
        );
        assert_eq!(
            validate_health_test(&test(&["CMD", "a\0b"])),
            Err(HealthCheckError::Nul)
        );
    }

    #[test]
    fn durations_and_retries_name_their_field() {
        let ok = HealthCheck {
            test: test(&["CMD-SHELL", "true"]),
            interval_secs: Some(1),
            timeout_secs: Some(1),
            retries: Some(0),
            start_period_secs: Some(1),
        };
        assert_eq!(validate_health_check(&ok), Ok(()));
        assert_eq!(
            validate_health_secs("intervalSecs", Some(0))
                .unwrap_err()
                .to_string(),
            "the interval must be a whole number of seconds from 1 to 86400"
        );
        let field = |check: HealthCheck| validate_health_check(&check).unwrap_err().field();
        for bad in [0, -1, HEALTH_SECS_MAX + 1] {
            assert_eq!(
                field(HealthCheck {
                    interval_secs: Some(bad),
                    ..ok.clone()
                }),
                "intervalSecs"
            );
            assert_eq!(
                field(HealthCheck {
                    timeout_secs: Some(bad),
                    ..ok.clone()
                }),
                "timeoutSecs"
            );
            assert_eq!(
                field(HealthCheck {
                    start_period_secs: Some(bad),
                    ..ok.clone()
                }),
                "startPeriodSecs"
            );
        }
        assert_eq!(
            field(HealthCheck {
                retries: Some(-1),
                ..ok.clone()
            }),
            "retries"
        );
        // The test is checked first.
        assert_eq!(
            field(HealthCheck {
                test: test(&["BOGUS"]),
                interval_secs: Some(0),
                ..ok.clone()
            }),
            "test"
        );
        assert_eq!(
            validate_replace_unhealthy_after(Some(0))
                .unwrap_err()
                .field(),
            "replaceUnhealthyAfterSecs"
        );
        assert!(
            HealthCheck {
                test: test(&["NONE"]),
                ..Default::default()
            }
            .disables()
        );
    }
}
