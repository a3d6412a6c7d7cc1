//! Alert words (conditions, channel kinds, states) and the checks of what a user types into a channel, rule or
//! silence: email addresses, label selectors, webhook URLs, repeat intervals.

use std::fmt;

/// What a rule watches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertCondition {
    /// A container stopped with a non-zero exit code without being asked to.
    ContainerExited,
    /// The kernel killed a container for memory.
    ContainerOom,
    /// A running container's health check fails.
    ContainerUnhealthy,
    /// A container restarted N times within M minutes.
    RestartLoop,
    /// A replica no host can take.
    Unplaceable,
    /// A host with Docker support stopped answering.
    HostDown,
    /// A registry refresh failed.
    RegistryFailed,
    /// A newer image is in the registry (detected once image updates exist).
    UpdateAvailable,
    /// The containers on a host use more than a share of its CPUs.
    HostCpuHigh,
    /// The containers on a host use more than a share of its memory.
    HostMemoryHigh,
}

impl AlertCondition {
    pub const ALL: [AlertCondition; 10] = [
        AlertCondition::ContainerExited,
        AlertCondition::ContainerOom,
        AlertCondition::ContainerUnhealthy,
        AlertCondition::RestartLoop,
        AlertCondition::Unplaceable,
        AlertCondition::HostDown,
        AlertCondition::RegistryFailed,
        AlertCondition::UpdateAvailable,
        AlertCondition::HostCpuHigh,
        AlertCondition::HostMemoryHigh,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            AlertCondition::ContainerExited => "CONTAINER_EXITED",
            AlertCondition::ContainerOom => "CONTAINER_OOM",
            AlertCondition::ContainerUnhealthy => "CONTAINER_UNHEALTHY",
            AlertCondition::RestartLoop => "RESTART_LOOP",
            AlertCondition::Unplaceable => "UNPLACEABLE",
            AlertCondition::HostDown => "HOST_DOWN",
            AlertCondition::RegistryFailed => "REGISTRY_FAILED",
            AlertCondition::UpdateAvailable => "UPDATE_AVAILABLE",
            AlertCondition::HostCpuHigh => "HOST_CPU_HIGH",
            AlertCondition::HostMemoryHigh => "HOST_MEMORY_HIGH",
        }
    }

    /// A short label for people.
    pub const fn label(self) -> &'static str {
        match self {
            AlertCondition::ContainerExited => "Container exited",
            AlertCondition::ContainerOom => "Container out of memory",
            AlertCondition::ContainerUnhealthy => "Container unhealthy",
            AlertCondition::RestartLoop => "Restart loop",
            AlertCondition::Unplaceable => "Replica cannot be placed",
            AlertCondition::HostDown => "Host not answering",
            AlertCondition::RegistryFailed => "Registry refresh failed",
            AlertCondition::UpdateAvailable => "Image update available",
            AlertCondition::HostCpuHigh => "Host CPU above a threshold",
            AlertCondition::HostMemoryHigh => "Host memory above a threshold",
        }
    }

    /// Whether the condition compares a measurement with the rule's `thresholdPercent`.
    pub const fn has_threshold(self) -> bool {
        matches!(
            self,
            AlertCondition::HostCpuHigh | AlertCondition::HostMemoryHigh
        )
    }

    /// Whether the condition is about containers (so a container or label scope applies).
    pub const fn about_containers(self) -> bool {
        matches!(
            self,
            AlertCondition::ContainerExited
                | AlertCondition::ContainerOom
                | AlertCondition::ContainerUnhealthy
                | AlertCondition::RestartLoop
                | AlertCondition::Unplaceable
                | AlertCondition::UpdateAvailable
        )
    }
}

impl fmt::Display for AlertCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AlertCondition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown alert condition \"{s}\""))
    }
}

/// Where notifications go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertChannelKind {
    Webhook,
    Slack,
    Ntfy,
    Email,
}

impl AlertChannelKind {
    pub const ALL: [AlertChannelKind; 4] = [
        AlertChannelKind::Webhook,
        AlertChannelKind::Slack,
        AlertChannelKind::Ntfy,
        AlertChannelKind::Email,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            AlertChannelKind::Webhook => "WEBHOOK",
            AlertChannelKind::Slack => "SLACK",
            AlertChannelKind::Ntfy => "NTFY",
            AlertChannelKind::Email => "EMAIL",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            AlertChannelKind::Webhook => "Webhook (JSON)",
            AlertChannelKind::Slack => "Slack incoming webhook",
            AlertChannelKind::Ntfy => "ntfy topic",
            AlertChannelKind::Email => "Email (SMTP)",
        }
    }

    /// Whether one message may carry several alerts (a chat message or an email lists them; a webhook gets one
    /// JSON document per alert, each with its own idempotency key).
    pub const fn groups(self) -> bool {
        !matches!(self, AlertChannelKind::Webhook)
    }
}

impl std::str::FromStr for AlertChannelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown channel kind \"{s}\""))
    }
}

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertState {
    Open,
    Acknowledged,
    Resolved,
}

impl AlertState {
    pub const fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "OPEN",
            AlertState::Acknowledged => "ACKNOWLEDGED",
            AlertState::Resolved => "RESOLVED",
        }
    }
}

impl std::str::FromStr for AlertState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            AlertState::Open,
            AlertState::Acknowledged,
            AlertState::Resolved,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
        .ok_or_else(|| format!("unknown alert state \"{s}\""))
    }
}

/// How an email channel talks to its SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption (a relay on the same machine or network).
    None,
}

impl SmtpSecurity {
    pub const fn as_str(self) -> &'static str {
        match self {
            SmtpSecurity::Starttls => "STARTTLS",
            SmtpSecurity::Tls => "TLS",
            SmtpSecurity::None => "NONE",
        }
    }

    pub const fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        }
    }
}

impl std::str::FromStr for SmtpSecurity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            SmtpSecurity::Starttls,
            SmtpSecurity::Tls,
            SmtpSecurity::None,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
        .ok_or_else(|| format!("unknown SMTP security \"{s}\""))
    }
}

/// The longest email address taken (RFC 5321's path limit).
pub const EMAIL_MAX: usize = 254;

/// An email address as a person writes it: `local@domain`, one `@`, a dotted domain, no spaces or angle brackets.
pub fn validate_email(text: &str) -> Result<(), String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("enter an email address".into());
    }
    if t.len() > EMAIL_MAX {
        return Err(format!(
            "an email address has at most {EMAIL_MAX} characters"
        ));
    }
    if t.chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"()[]\\".contains(c))
    {
        return Err(format!(
            "\"{t}\" is not an email address: it has a space or a character such as < > , ;"
        ));
    }
    let Some((local, domain)) = t.split_once('@') else {
        return Err(format!("\"{t}\" is not an email address: it has no @"));
    };
    if local.is_empty() || local.len() > 64 {
        return Err(format!(
            "\"{t}\" is not an email address: nothing (or too much) before the @"
        ));
    }
    if domain.contains('@') {
        return Err(format!(
            "\"{t}\" is not an email address: it has more than one @"
        ));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2
        || labels.iter().any(|l| {
            l.is_empty()
                || l.len() > 63
                || l.starts_with('-')
                || l.ends_with('-')
                || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
    {
        return Err(format!(
            "\"{t}\" is not an email address: \"{domain}\" is not a domain such as example.com"
        ));
    }
    Ok(())
}

/// A list of addresses separated by commas, semicolons or new lines; each checked by [`validate_email`].
pub fn parse_email_list(text: &str) -> Result<Vec<String>, String> {
    let list: Vec<String> = text
        .split([',', ';', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if list.is_empty() {
        return Err("enter at least one address".into());
    }
    if list.len() > 50 {
        return Err("at most 50 addresses".into());
    }
    for a in &list {
        validate_email(a)?;
    }
    Ok(list)
}

/// A label selector: `key` (the label is present) or `key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelector {
    pub key: String,
    pub value: Option<String>,
}

impl LabelSelector {
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("enter a label such as app=web, or a label name".into());
        }
        if t.len() > 512 {
            return Err("a label selector has at most 512 characters".into());
        }
        let (key, value) = match t.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim().to_owned())),
            None => (t, None),
        };
        if key.is_empty() {
            return Err("the label name before = is empty".into());
        }
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("a label name has no spaces".into());
        }
        Ok(LabelSelector {
            key: key.to_owned(),
            value,
        })
    }

    pub fn matches<'a>(&self, mut labels: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
        labels.any(|(k, v)| k == self.key && self.value.as_deref().is_none_or(|want| want == v))
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={}", self.key, v),
            None => f.write_str(&self.key),
        }
    }
}

/// The longest receiver URL taken.
pub const ALERT_URL_MAX: usize = 2048;

/// The parts of an http(s) URL Berth needs to check it: scheme, host, port (explicit or the scheme's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub https: bool,
    pub host: String,
    pub port: u16,
}

impl HttpUrl {
    /// `scheme://host[:port]`, what lists show (the path may carry a token).
    pub fn shown(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let default = if self.https { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            format!("{scheme}://{host}/…")
        } else {
            format!("{scheme}://{host}:{}/…", self.port)
        }
    }
}

/// Checks a receiver URL: `http://` or `https://`, a host, an optional port, no user or password in it.
pub fn parse_http_url(text: &str) -> Result<HttpUrl, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("enter the receiver's URL, such as https://hooks.example.com/berth".into());
    }
    if t.len() > ALERT_URL_MAX {
        return Err(format!("a URL has at most {ALERT_URL_MAX} characters"));
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a URL has no spaces".into());
    }
    let lower = t.to_ascii_lowercase();
    let (https, rest) = if let Some(r) = lower.strip_prefix("https://") {
        (true, &t[t.len() - r.len()..])
    } else if let Some(r) = lower.strip_prefix("http://") {
        (false, &t[t.len() - r.len()..])
    } else {
        return Err("the URL must start with http:// or https://".into());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("put no user or password in the URL (use the secret for signing)".into());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((h, after)) = v6.split_once(']') else {
            return Err("the URL's IPv6 address has no closing ]".into());
        };
        (h.to_owned(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err("the URL has no host".into());
    }
    let port = match port {
        None => {
            if https {
                443
            } else {
                80
            }
        }
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("\"{p}\" is not a port (1–65535)"))?,
    };
    Ok(HttpUrl {
        https,
        host: host.to_ascii_lowercase(),
        port,
    })
}

/// A duration in words: `90 s`, `5 min`, `2 h`, `1 day`, `1 h 30 min`.
pub fn format_secs(secs: i64) -> String {
    let s = secs.max(0);
    if s < 120 && s % 60 != 0 || s < 60 {
        return format!("{s} s");
    }
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(if d == 1 {
            "1 day".to_owned()
        } else {
            format!("{d} days")
        });
    }
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 {
        parts.push(format!("{m} min"));
    }
    parts.join(" ")
}

/// A restart-loop rule: from 2 to 100 starts, within 60 s to a day.
pub fn validate_restart_loop(count: i64, window_secs: i64) -> Result<(), (&'static str, String)> {
    if !(2..=100).contains(&count) {
        return Err(("restartCount", "a loop is 2 to 100 starts".into()));
    }
    if !(60..=86_400).contains(&window_secs) {
        return Err((
            "restartWindowSecs",
            "the window is 60 seconds to a day".into(),
        ));
    }
    Ok(())
}

/// A host threshold in percent of the host's CPUs or memory: 1 to 100.
pub fn validate_threshold_percent(percent: i64) -> Result<(), String> {
    if (1..=100).contains(&percent) {
        Ok(())
    } else {
        Err("a threshold is 1 to 100 percent of the host".into())
    }
}

/// The longest reminder interval: a week.
pub const REPEAT_SECS_MAX: i64 = 7 * 24 * 3600;

/// 0 (notify once) or from 60 s to a week.
pub fn validate_repeat_secs(secs: i64) -> Result<(), String> {
    if secs == 0 || (60..=REPEAT_SECS_MAX).contains(&secs) {
        Ok(())
    } else {
        Err(format!(
            "repeat every 60 to {REPEAT_SECS_MAX} seconds, or 0 to notify once"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(validate_email("ops@example.com").is_ok());
        assert!(validate_email("a.b+c@mail.example.org").is_ok());
        for bad in [
            "",
            "ops",
            "ops@",
            "@example.com",
            "ops@example",
            "a b@example.com",
            "a@b@c.com",
            "a@-x.com",
            "<a@b.com>",
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_email_list("a@example.com, b@example.com;\nc@example.com").map(|l| l.len()),
            Ok(3)
        );
        assert!(parse_email_list(" , ").is_err());
    }

    #[test]
    fn label_selectors() {
        let s = LabelSelector::parse("app=web").unwrap();
        assert!(s.matches([("app", "web")].into_iter()));
        assert!(!s.matches([("app", "db")].into_iter()));
        let any = LabelSelector::parse("team").unwrap();
        assert!(any.matches([("x", "1"), ("team", "a")].into_iter()));
        assert!(!any.matches([("x", "1")].into_iter()));
        assert!(LabelSelector::parse("=web").is_err());
        assert!(LabelSelector::parse("my label").is_err());
        assert_eq!(s.to_string(), "app=web");
    }

    #[test]
    fn urls() {
        let u = parse_http_url("https://hooks.slack.com/services/T0/B0/XYZ").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port),
            (true, "hooks.slack.com", 443)
        );
        assert_eq!(u.shown(), "https://hooks.slack.com/…");
        let u = parse_http_url("http://127.0.0.1:8080/hook?x=1").unwrap();
        assert_eq!((u.https, u.port), (false, 8080));
        assert_eq!(u.shown(), "http://127.0.0.1:8080/…");
        let u = parse_http_url("http://[::1]:9000/").unwrap();
        assert_eq!(u.host, "::1");
        for bad in [
            "",
            "ftp://x",
            "hooks.example.com",
            "http://",
            "http://u:p@x.com/",
            "http://x:0/",
            "http://x:99999/",
            "http://a b/",
        ] {
            assert!(parse_http_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_and_loops() {
        assert_eq!(format_secs(90), "90 s");
        assert_eq!(format_secs(45), "45 s");
        assert_eq!(format_secs(300), "5 min");
        assert_eq!(format_secs(5400), "1 h 30 min");
        assert_eq!(format_secs(86_400), "1 day");
        assert_eq!(format_secs(2 * 86_400 + 3600), "2 days 1 h");
        assert!(validate_restart_loop(3, 300).is_ok());
        assert_eq!(
            validate_restart_loop(1, 300).map_err(|e| e.0),
            Err("restartCount")
        );
        assert_eq!(
            validate_restart_loop(3, 30).map_err(|e| e.0),
            Err("restartWindowSecs")
        );
    }

    #[test]
    fn repeats() {
        assert!(validate_repeat_secs(0).is_ok());
        assert!(validate_repeat_secs(60).is_ok());
        assert!(validate_repeat_secs(59).is_err());
        assert!(validate_repeat_secs(-1).is_err());
        assert!(validate_repeat_secs(REPEAT_SECS_MAX + 1).is_err());
    }

    #[test]
    fn thresholds() {
        assert!(validate_threshold_percent(1).is_ok());
        assert!(validate_threshold_percent(100).is_ok());
        assert!(validate_threshold_percent(0).is_err());
        assert!(validate_threshold_percent(101).is_err());
        assert!(AlertCondition::HostCpuHigh.has_threshold());
        assert!(!AlertCondition::HostCpuHigh.about_containers());
        assert!(!AlertCondition::HostDown.has_threshold());
    }

    #[test]
    fn words_round_trip() {
        for c in AlertCondition::ALL {
            assert_eq!(c.as_str().parse::<AlertCondition>(), Ok(c));
        }
        for k in AlertChannelKind::ALL {
            assert_eq!(k.as_str().parse::<AlertChannelKind>(), Ok(k));
        }
        assert!("NOPE".parse::<AlertCondition>().is_err());
    }
}
