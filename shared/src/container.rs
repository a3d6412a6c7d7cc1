//! Container definitions' vocabulary both sides use: instance status, restart policy, desired state, and the
//! checks of a container's name and CPU limit (the browser validates with these as you type, the server again).

use std::fmt;
use std::str::FromStr;

/// Why a value given for a container field is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContainerFieldError {
    #[error("container name is empty")]
    EmptyName,
    #[error("container name is longer than 63 characters")]
    NameTooLong,
    #[error(
        "container name \"{0}\" may use only letters, digits, \"_\", \".\" and \"-\", and must start with a letter or digit"
    )]
    NameCharacters(String),
    #[error("CPUs must be a number greater than 0, e.g. 0.5 or 2")]
    Cpus,
    #[error("CPU shares must be between 2 and 262144 (1024 is the default weight)")]
    CpuShares,
    #[error("replicas must be between 1 and 100")]
    Replicas,
    #[error("path must be absolute, e.g. /srv/data")]
    RelativePath,
    #[error("path must not contain \"..\"")]
    DotDot,
    #[error("path is {0} bytes long; the maximum is {PATH_MAX}")]
    PathTooLong(usize),
    #[error("path must not contain control characters such as NUL or line breaks")]
    PathControl,
    #[error("{0} cannot be mounted: it would expose the host's system to the container")]
    Forbidden(String),
    #[error(
        "{path} cannot be mounted: it contains {system}, which would expose the host's system to the container"
    )]
    Contains { path: String, system: String },
}

/// Checks a container name: it becomes part of Docker container names, so it uses their alphabet.
pub fn validate_container_name(name: &str) -> Result<(), ContainerFieldError> {
    if name.is_empty() {
        return Err(ContainerFieldError::EmptyName);
    }
    if name.chars().count() > 63 {
        return Err(ContainerFieldError::NameTooLong);
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(ContainerFieldError::NameCharacters(name.to_owned()))
    }
}

/// A container name suggested for an image reference: the last segment of its repository path
/// (`registry.example:5000/team/web-api:1.2` → `web-api`), reduced to the name alphabet; `container` when
/// nothing usable is left. Always passes [`validate_container_name`].
pub fn suggest_container_name(reference: &str) -> String {
    let path = match crate::image_ref::ImageRef::parse(reference) {
        Ok(parsed) => parsed.path().to_owned(),
        Err(_) => reference.trim().to_owned(),
    };
    let last = path.rsplit('/').next().unwrap_or_default();
    let last = last.split([':', '@']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .skip_while(|c| !c.is_ascii_alphanumeric())
        .take(63)
        .collect();
    if cleaned.is_empty() {
        "container".to_owned()
    } else {
        cleaned
    }
}

/// Parses a CPU limit such as `0.5` or `2` (must be finite and > 0).
pub fn parse_cpus(input: &str) -> Result<f64, ContainerFieldError> {
    let value: f64 = input
        .trim()
        .parse()
        .map_err(|_| ContainerFieldError::Cpus)?;
    validate_cpus(value)
}

pub fn validate_cpus(value: f64) -> Result<f64, ContainerFieldError> {
    if value.is_finite() && value > 0.0 && value <= 1024.0 {
        Ok(value)
    } else {
        Err(ContainerFieldError::Cpus)
    }
}

pub fn validate_cpu_shares(value: i64) -> Result<i64, ContainerFieldError> {
    if (2..=262_144).contains(&value) {
        Ok(value)
    } else {
        Err(ContainerFieldError::CpuShares)
    }
}

pub fn validate_replicas(value: i64) -> Result<i64, ContainerFieldError> {
    if (1..=100).contains(&value) {
        Ok(value)
    } else {
        Err(ContainerFieldError::Replicas)
    }
}

/// Longest host or container path, in bytes (Linux's `PATH_MAX`, including the terminating NUL, is 4,096).
pub const PATH_MAX: usize = 4_096;

/// Host directories a HOST_PATH disk may not be, lie under, or contain: the host's system trees, the Docker
/// socket's folders (`/run`, `/var/run`) and Docker's and containerd's own data. `/home`, `/srv`, `/mnt`, `/opt`,
/// `/data`, `/media` and `/tmp` (and everything under them) are allowed: user data lives there.
pub const SYSTEM_PATHS: [&str; 17] = [
    "/etc",
    "/run",
    "/var/run",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/root",
];

/// Normalises an absolute path: no NUL or other control characters, at most [`PATH_MAX`] bytes, `//` collapsed,
/// `.` segments and a trailing `/` removed, `..` refused (it is never resolved, so a path means what it says).
fn normalize_absolute(path: &str) -> Result<String, ContainerFieldError> {
    let path = path.trim();
    if path.len() > PATH_MAX {
        return Err(ContainerFieldError::PathTooLong(path.len()));
    }
    if path.chars().any(char::is_control) {
        return Err(ContainerFieldError::PathControl);
    }
    if !path.starts_with('/') {
        return Err(ContainerFieldError::RelativePath);
    }
    let mut clean = String::with_capacity(path.len());
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(ContainerFieldError::DotDot),
            _ => {
                clean.push('/');
                clean.push_str(segment);
            }
        }
    }
    if clean.is_empty() {
        clean.push('/');
    }
    Ok(clean)
}

/// Whether normalised `path` is `base` or lies under it.
fn is_within(path: &str, base: &str) -> bool {
    base == "/"
        || path == base
        || path
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Checks a host path for a HOST_PATH disk and returns it normalised (see [`normalize_absolute`]): not `/`, not one
/// of [`SYSTEM_PATHS`], nothing under one and nothing containing one (mounting `/var` would expose
/// `/var/lib/docker`), not a Docker socket. Paths are compared as written once normalised; symbolic links on the
/// host are not followed (the host is remote).
pub fn normalize_host_path(path: &str) -> Result<String, ContainerFieldError> {
    let clean = normalize_absolute(path)?;
    if clean == "/" {
        return Err(ContainerFieldError::Forbidden(clean));
    }
    for system in SYSTEM_PATHS {
        if is_within(&clean, system) {
            return Err(ContainerFieldError::Forbidden(clean));
        }
        if is_within(system, &clean) {
            return Err(ContainerFieldError::Contains {
                path: clean,
                system: system.to_owned(),
            });
        }
    }
    if clean.ends_with("/docker.sock") {
        return Err(ContainerFieldError::Forbidden(clean));
    }
    Ok(clean)
}

/// Checks a host path for a HOST_PATH disk; see [`normalize_host_path`], which also gives the normalised path.
pub fn validate_host_path(path: &str) -> Result<(), ContainerFieldError> {
    normalize_host_path(path).map(|_| ())
}

/// Checks where a disk is mounted inside a container: absolute, no `..`, no control characters, at most
/// [`PATH_MAX`] bytes, not `/`.
pub fn validate_container_path(path: &str) -> Result<(), ContainerFieldError> {
    if normalize_absolute(path)? == "/" {
        return Err(ContainerFieldError::Forbidden("/".into()));
    }
    Ok(())
}

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident, $unknown:literal, { $($variant:ident => $wire:literal, $label:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name, as in the API contract.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// A short label for people.
            pub const fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| UnknownValue(format!(concat!($unknown, " \"{}\""), s)))
            }
        }
    };
}

/// A wire name that is not one of the enum's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnknownValue(pub String);

wire_enum!(
    /// Where one replica of a container stands.
    InstanceStatus, "unknown instance status", {
        Pending => "PENDING", "Pending";
        Pulling => "PULLING", "Pulling";
        Creating => "CREATING", "Creating";
        Running => "RUNNING", "Running";
        Stopping => "STOPPING", "Stopping";
        Stopped => "STOPPED", "Stopped";
        Exited => "EXITED", "Exited";
        Failed => "FAILED", "Failed";
        Unknown => "UNKNOWN", "Unknown";
        Unhealthy => "UNHEALTHY", "Unhealthy";
    }
);

wire_enum!(
    /// What the engine's health check says about a running replica (NONE: it runs no check).
    Health, "unknown health", {
        None => "NONE", "No health check";
        Starting => "STARTING", "Starting";
        Healthy => "HEALTHY", "Healthy";
        Unhealthy => "UNHEALTHY", "Unhealthy";
    }
);

impl Health {
    /// Docker's word (`healthy`, `unhealthy`, `starting`, `none`, as in `State.Health.Status` and the
    /// `health_status: …` events).
    pub fn from_docker(word: &str) -> Option<Health> {
        match word.trim() {
            "healthy" => Some(Health::Healthy),
            "unhealthy" => Some(Health::Unhealthy),
            "starting" => Some(Health::Starting),
            "none" | "" => Some(Health::None),
            _ => None,
        }
    }
}

wire_enum!(
    /// Docker's restart policy for a container.
    RestartPolicy, "unknown restart policy", {
        No => "NO", "Never";
        OnFailure => "ON_FAILURE", "On failure";
        Always => "ALWAYS", "Always";
        UnlessStopped => "UNLESS_STOPPED", "Unless stopped";
    }
);

wire_enum!(
    /// What a user asked a container to be.
    DesiredState, "unknown desired state", {
        Running => "RUNNING", "Running";
        Stopped => "STOPPED", "Stopped";
    }
);

wire_enum!(
    /// Where a rolling update of a container's replicas stands.
    RolloutState, "unknown rollout state", {
        Rolling => "ROLLING", "Rolling out";
        Succeeded => "SUCCEEDED", "Rolled out";
        RolledBack => "ROLLED_BACK", "Rolled back";
        Failed => "FAILED", "Rollout failed";
    }
);

wire_enum!(
    /// What Berth does when the registry has a newer image for a definition's tag.
    UpdatePolicy, "unknown update policy", {
        Off => "OFF", "Off";
        Notify => "NOTIFY", "Notify";
        Auto => "AUTO", "Roll out automatically";
    }
);

/// The daily hours, in UTC, within which update policy AUTO may roll out a new image: `HH:MM-HH:MM`, from the
/// start minute up to (not including) the end minute; an end before the start runs past midnight
/// (`22:00-04:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpdateWindow {
    /// Minutes after midnight UTC.
    pub start: u16,
    pub end: u16,
}

impl UpdateWindow {
    /// Parses `HH:MM-HH:MM` (spaces around the dash allowed); the message says how to write it.
    pub fn parse(text: &str) -> Result<UpdateWindow, String> {
        const HOW: &str = "write the window as HH:MM-HH:MM in UTC, e.g. 02:00-05:00";
        let (a, b) = text
            .trim()
            .split_once('-')
            .ok_or_else(|| format!("{HOW} (no dash)"))?;
        let minute = |t: &str| -> Result<u16, String> {
            let t = t.trim();
            let (h, m) = t
                .split_once(':')
                .ok_or_else(|| format!("{HOW} ({t:?} is not HH:MM)"))?;
            let digits = |x: &str| x.len() == 2 && x.bytes().all(|b| b.is_ascii_digit());
            if !digits(h) || !digits(m) {
                return Err(format!("{HOW} ({t:?} is not HH:MM)"));
            }
            let (h, m): (u16, u16) = (h.parse().unwrap_or(99), m.parse().unwrap_or(99));
            if h > 23 || m > 59 {
                return Err(format!("{t} is no time of day (00:00 to 23:59)"));
            }
            Ok(h * 60 + m)
        };
        let (start, end) = (minute(a)?, minute(b)?);
        if start == end {
            return Err(
                "the window starts and ends at the same minute: leave it empty for any time".into(),
            );
        }
        Ok(UpdateWindow { start, end })
    }

    /// Whether `minute` (after midnight UTC) is inside the window.
    pub fn contains(&self, minute: u16) -> bool {
        if self.start < self.end {
            (self.start..self.end).contains(&minute)
        } else {
            minute >= self.start || minute < self.end
        }
    }

    /// Minutes from `minute` (after midnight UTC) until the window next opens; 0 inside it.
    pub fn minutes_until_open(&self, minute: u16) -> u16 {
        if self.contains(minute) {
            0
        } else {
            (self.start + 24 * 60 - minute) % (24 * 60)
        }
    }
}

impl core::fmt::Display for UpdateWindow {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

/// Replicas a rolling update replaces at a time: 1 to 100.
pub fn validate_max_parallel(n: i64) -> Result<i64, String> {
    if (1..=100).contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "replace between 1 and 100 replicas at a time (got {n})"
        ))
    }
}

/// Seconds a new replica without a health check must keep running before the next is replaced: 0 to 3600.
pub fn validate_min_healthy_secs(n: i64) -> Result<i64, String> {
    if (0..=3600).contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "a replica must run between 0 and 3600 s before the next is replaced (got {n})"
        ))
    }
}

wire_enum!(
    /// What backs a disk.
    DiskKind, "unknown disk kind", {
        Volume => "VOLUME", "Docker volume";
        HostPath => "HOST_PATH", "Host path";
    }
);

impl InstanceStatus {
    /// Work towards running is under way.
    pub const fn is_transitional(self) -> bool {
        matches!(
            self,
            InstanceStatus::Pending
                | InstanceStatus::Pulling
                | InstanceStatus::Creating
                | InstanceStatus::Stopping
        )
    }

    /// The instance occupies its host (running or about to). (UNHEALTHY is a container's summary only: it
    /// runs.)
    pub const fn is_active(self) -> bool {
        matches!(self, InstanceStatus::Running | InstanceStatus::Unhealthy)
            || self.is_transitional()
    }

    /// How far the status is from RUNNING, for a container's summary (higher = further).
    pub const fn distance_from_running(self) -> u8 {
        match self {
            InstanceStatus::Running => 0,
            InstanceStatus::Unhealthy => 1,
            InstanceStatus::Creating => 1,
            InstanceStatus::Pulling => 2,
            InstanceStatus::Pending => 3,
            InstanceStatus::Stopping => 4,
            InstanceStatus::Unknown => 5,
            InstanceStatus::Stopped => 6,
            InstanceStatus::Exited => 7,
            InstanceStatus::Failed => 8,
        }
    }
}

impl RestartPolicy {
    /// Docker's name of the policy.
    pub const fn docker_name(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }
}

/// A container's summary status with its replicas' health (contract): as [`summary_status`], except that a
/// container that would be RUNNING (or, stopping, still runs) while a running replica's health check says
/// UNHEALTHY is UNHEALTHY, so it never looks healthy in a list. STARTING and HEALTHY change nothing.
pub fn summary_with_health(
    desired: DesiredState,
    replicas: usize,
    instances: &[(InstanceStatus, Option<Health>)],
) -> InstanceStatus {
    let statuses: Vec<InstanceStatus> = instances.iter().map(|(s, _)| *s).collect();
    let summary = summary_status(desired, replicas, &statuses);
    let unhealthy = instances
        .iter()
        .any(|(s, h)| *s == InstanceStatus::Running && *h == Some(Health::Unhealthy));
    if summary == InstanceStatus::Running && unhealthy {
        InstanceStatus::Unhealthy
    } else {
        summary
    }
}

/// A container's summary status (contract) without health: STOPPED when it should be stopped and nothing runs;
/// RUNNING when every desired replica runs; otherwise the status of the instance furthest from RUNNING.
/// [`summary_with_health`] adds UNHEALTHY.
pub fn summary_status(
    desired: DesiredState,
    replicas: usize,
    instances: &[InstanceStatus],
) -> InstanceStatus {
    match desired {
        DesiredState::Stopped => {
            if instances.iter().any(|s| s.is_active()) {
                instances
                    .iter()
                    .copied()
                    .filter(|s| s.is_active())
                    .max_by_key(|s| s.distance_from_running())
                    .unwrap_or(InstanceStatus::Stopped)
            } else if instances.contains(&InstanceStatus::Failed) {
                InstanceStatus::Failed
            } else if instances.contains(&InstanceStatus::Exited) {
                InstanceStatus::Exited
            } else {
                InstanceStatus::Stopped
            }
        }
        DesiredState::Running => {
            let running = instances
                .iter()
                .filter(|s| **s == InstanceStatus::Running)
                .count();
            if running >= replicas && replicas > 0 {
                InstanceStatus::Running
            } else if instances.is_empty() {
                InstanceStatus::Pending
            } else {
                instances
                    .iter()
                    .copied()
                    .max_by_key(|s| s.distance_from_running())
                    .unwrap_or(InstanceStatus::Pending)
            }
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn update_windows_parse_and_wrap_past_midnight() {
        let w = UpdateWindow::parse(" 02:00 - 05:30 ").unwrap();
        assert_eq!((w.start, w.end), (120, 330));
        assert_eq!(w.to_string(), "02:00-05:30");
        assert!(!w.contains(119) && w.contains(120) && w.contains(329) && !w.contains(330));
        assert_eq!(w.minutes_until_open(60), 60);
        assert_eq!(w.minutes_until_open(200), 0);
        assert_eq!(w.minutes_until_open(400), 24 * 60 - 280);
        let night = UpdateWindow::parse("22:00-04:00").unwrap();
        assert!(night.contains(23 * 60) && night.contains(0) && night.contains(239));
        assert!(!night.contains(240) && !night.contains(12 * 60));
        assert_eq!(night.minutes_until_open(21 * 60), 60);
        for bad in [
            "",
            "02:00",
            "2:00-05:00",
            "02:00-24:00",
            "02:60-03:00",
            "03:00-03:00",
            "ab:cd-01:00",
        ] {
            assert!(UpdateWindow::parse(bad).is_err(), "{bad:?} passed");
        }
        assert!(
            UpdateWindow::parse("02:00")
                .unwrap_err()
                .contains("HH:MM-HH:MM")
        );
    }

    use super::*;

    #[test]
    fn suggested_names_come_from_the_repository_and_are_valid() {
        let cases = [
            ("127.0.0.1:5000/team/web-api:1.2", "web-api"),
            ("nginx", "nginx"),
            (
                "docker.io/library/redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "redis",
            ),
            ("registry.example/a/b/__odd__name", "odd__name"),
            ("", "container"),
            ("///", "container"),
        ];
        for (reference, expected) in cases {
            let name = suggest_container_name(reference);
            assert_eq!(name, expected, "for {reference:?}");
            assert_eq!(validate_container_name(&name), Ok(()), "for {reference:?}");
        }
        let long = format!("repo/{}", "x".repeat(100));
        assert_eq!(suggest_container_name(&long).len(), 63);
    }

    #[test]
    fn names() {
        assert!(validate_container_name("web-1.a_b").is_ok());
        assert_eq!(
            validate_container_name(""),
            Err(ContainerFieldError::EmptyName)
        );
        assert!(validate_container_name("-web").is_err());
        assert!(validate_container_name("we b").is_err());
        assert!(validate_container_name("wéb").is_err());
        assert_eq!(
            validate_container_name(&"a".repeat(64)),
            Err(ContainerFieldError::NameTooLong)
        );
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("0.5"), Ok(0.5));
        assert_eq!(parse_cpus(" 2 "), Ok(2.0));
        for bad in ["0", "-1", "abc", "", "NaN", "inf"] {
            assert_eq!(parse_cpus(bad), Err(ContainerFieldError::Cpus), "{bad}");
        }
        assert!(validate_cpu_shares(1).is_err());
        assert!(validate_cpu_shares(1024).is_ok());
        assert!(validate_replicas(0).is_err());
    }

    #[test]
    fn disk_paths() {
        assert!(validate_host_path("/srv/data").is_ok());
        assert!(validate_host_path("/mnt/nfs/app/").is_ok());
        assert!(validate_host_path("/etcetera").is_ok());
        assert!(validate_host_path("/library/books").is_ok());
        assert!(validate_host_path("/home").is_ok());
        assert!(validate_host_path("/home/alice/data").is_ok());
        assert!(validate_host_path("/var/lib/app").is_ok());
        assert!(validate_host_path("/var/lib/dockerish").is_ok());
        assert!(validate_host_path("/tmp/x").is_ok());
        for bad in [
            "/",
            "//",
            "/./",
            "/etc",
            "/etc/ssl",
            "//etc",
            "/./etc",
            "/srv/./../etc",
            "///etc//ssl/",
            "/proc/1",
            "/sys",
            "/dev/sda",
            "/run",
            "/run/user/1000",
            "/var/run",
            "/var//run/",
            "/var/run/docker.sock",
            "/run/docker.sock",
            "/srv/docker.sock",
            "/boot",
            "/var/lib/docker",
            "/var/lib/docker/volumes/x/_data",
            "/var/lib/containerd",
            "/usr",
            "/usr/local/bin",
            "/bin",
            "/sbin",
            "/lib",
            "/lib64/x",
            "/lib32",
            "/libx32",
            "/root",
            "/root/.ssh",
            "/var",
            "/var/lib",
        ] {
            assert!(
                matches!(
                    validate_host_path(bad),
                    Err(ContainerFieldError::Forbidden(_)
                        | ContainerFieldError::Contains { .. }
                        | ContainerFieldError::DotDot)
                ),
                "{bad}: {:?}",
                validate_host_path(bad)
            );
        }
        assert_eq!(
            normalize_host_path("//etc"),
            Err(ContainerFieldError::Forbidden("/etc".into()))
        );
        assert_eq!(
            normalize_host_path("/./etc/"),
            Err(ContainerFieldError::Forbidden("/etc".into()))
        );
        assert_eq!(
            normalize_host_path("/var/"),
            Err(ContainerFieldError::Contains {
                path: "/var".into(),
                system: "/var/run".into()
            })
        );
        assert_eq!(
            normalize_host_path(" //srv/./data//app/ ").as_deref(),
            Ok("/srv/data/app")
        );
        assert_eq!(
            validate_host_path("data"),
            Err(ContainerFieldError::RelativePath)
        );
        assert_eq!(
            validate_host_path("/srv/../etc"),
            Err(ContainerFieldError::DotDot)
        );
        assert_eq!(
            validate_host_path("/srv/da\0ta"),
            Err(ContainerFieldError::PathControl)
        );
        assert_eq!(
            validate_host_path("/srv/da\nta"),
            Err(ContainerFieldError::PathControl)
        );
        let longest = format!("/srv/{}", "d".repeat(PATH_MAX - 5));
        assert_eq!(normalize_host_path(&longest), Ok(longest.clone()));
        let huge = format!("/srv/{}", "d".repeat(100_000));
        assert_eq!(
            validate_host_path(&huge),
            Err(ContainerFieldError::PathTooLong(100_005))
        );
        assert!(validate_host_path(&huge).unwrap_err().to_string().len() < 100);
        assert!(validate_container_path("/data").is_ok());
        assert!(validate_container_path("/").is_err());
        assert!(validate_container_path("//./").is_err());
        assert!(validate_container_path("data").is_err());
        assert_eq!(
            validate_container_path("/da\0ta"),
            Err(ContainerFieldError::PathControl)
        );
    }

    #[test]
    fn wire_names_round_trip() {
        for s in InstanceStatus::ALL {
            assert_eq!(s.as_str().parse::<InstanceStatus>(), Ok(*s));
        }
        for p in RestartPolicy::ALL {
            assert_eq!(p.as_str().parse::<RestartPolicy>(), Ok(*p));
        }
        assert!("running".parse::<InstanceStatus>().is_err());
        assert_eq!(RestartPolicy::UnlessStopped.docker_name(), "unless-stopped");
    }

    #[test]
    fn summary() {
        use InstanceStatus as S;
        let d = DesiredState::Running;
        assert_eq!(summary_status(d, 2, &[S::Running, S::Running]), S::Running);
        assert_eq!(summary_status(d, 2, &[S::Running, S::Pulling]), S::Pulling);
        assert_eq!(summary_status(d, 2, &[S::Running, S::Failed]), S::Failed);
        assert_eq!(summary_status(d, 1, &[]), S::Pending);
        let s = DesiredState::Stopped;
        assert_eq!(summary_status(s, 1, &[]), S::Stopped);
        assert_eq!(summary_status(s, 1, &[S::Stopped]), S::Stopped);
        assert_eq!(summary_status(s, 1, &[S::Stopping]), S::Stopping);
        assert_eq!(summary_status(s, 1, &[S::Exited]), S::Exited);
    }

    #[test]
    fn an_unhealthy_running_replica_makes_the_summary_unhealthy() {
        use InstanceStatus as S;
        let d = DesiredState::Running;
        let healthy = (S::Running, Some(Health::Healthy));
        let unhealthy = (S::Running, Some(Health::Unhealthy));
        assert_eq!(summary_with_health(d, 2, &[healthy, healthy]), S::Running);
        assert_eq!(
            summary_with_health(d, 2, &[healthy, (S::Running, Some(Health::Starting))]),
            S::Running
        );
        assert_eq!(
            summary_with_health(d, 2, &[healthy, unhealthy]),
            S::Unhealthy
        );
        // Further from running than unhealthy: that status shows.
        assert_eq!(
            summary_with_health(d, 2, &[unhealthy, (S::Failed, None)]),
            S::Failed
        );
        assert_eq!(
            summary_with_health(DesiredState::Stopped, 1, &[unhealthy]),
            S::Unhealthy
        );
        assert_eq!(Health::from_docker("unhealthy"), Some(Health::Unhealthy));
        assert_eq!(Health::from_docker("bogus"), None);
        for h in Health::ALL {
            assert_eq!(h.as_str().parse::<Health>(), Ok(*h));
        }
    }
}
