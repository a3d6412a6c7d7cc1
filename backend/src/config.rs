//! Server configuration: every setting, typed, from command-line flags or environment variables (clap), with the
//! defaults documented in README.md. An invalid value stops the start with a message naming the variable; the
//! parts of the server get their settings from here and read no environment themselves.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the server needs to start. Built by `main` from flags/environment, or directly by tests.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (see `RunningApp::addr`).
    pub listen: SocketAddr,
    /// Folder for the embedded SQLite database and other local state.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; `None` = SQLite file `berth.db` in `data_dir`.
    pub database_url: Option<String>,
    /// Password of the bootstrap user `admin`, used only when the database has no user yet.
    pub admin_password: Option<String>,
    /// Folder holding the built single-page app (Trunk's output).
    pub static_dir: PathBuf,
    /// The bearer token `GET /metrics` asks for; `None`: metrics are off (404).
    pub metrics_token: Option<String>,
    /// Timing, limits and the secret key.
    pub settings: Settings,
}

impl Config {
    /// The database URL to connect to.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => url.clone(),
            _ => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("berth.db").display()
            ),
        }
    }
}

/// A number of seconds of at least `min`, for the setting `var`.
fn secs(
    var: &'static str,
    min: f64,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |text: &str| {
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= min && *v <= 31_536_000.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| format!("{var} must be a number of seconds from {min} up to a year"))
    }
}

/// A whole number from `min` to `max`, for the setting `var`.
fn count(
    var: &'static str,
    min: usize,
    max: usize,
) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    move |text: &str| {
        text.trim()
            .parse::<usize>()
            .ok()
            .filter(|v| (min..=max).contains(v))
            .ok_or_else(|| format!("{var} must be a whole number from {min} to {max}"))
    }
}

/// `1`/`true`/`yes` or `0`/`false`/`no`, for the setting `var`.
fn flag(
    var: &'static str,
) -> impl Fn(&str) -> Result<bool, String> + Clone + Send + Sync + 'static {
    move |text: &str| match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{var} must be 1 or 0")),
    }
}

/// Timing, limits and the secret key of a server. [`Settings::default`] is what an empty environment gives
/// (a unit test holds the two together); the README's configuration table lists them.
#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct Settings {
    /// Time a WebSocket client has to send `connection_init`.
    #[arg(long = "ws-init-timeout-secs", env = "BERTH_WS_INIT_TIMEOUT_SECS", default_value = "10",
          value_parser = secs("BERTH_WS_INIT_TIMEOUT_SECS", 0.1), value_name = "SECS")]
    pub ws_init_timeout: Duration,
    /// How often each host monitor pings its engine.
    #[arg(long = "host-ping-secs", env = "BERTH_HOST_PING_SECS", default_value = "3",
          value_parser = secs("BERTH_HOST_PING_SECS", 0.1), value_name = "SECS")]
    pub host_ping: Duration,
    /// How often each host monitor re-lists all of its engine's containers into the inventory.
    #[arg(long = "inventory-resync-secs", env = "BERTH_INVENTORY_RESYNC_SECS", default_value = "60",
          value_parser = secs("BERTH_INVENTORY_RESYNC_SECS", 1.0), value_name = "SECS")]
    pub inventory_resync: Duration,
    /// How often the reconciler re-lists every host's Berth containers and sweeps every definition.
    #[arg(long = "reconcile-secs", env = "BERTH_RECONCILE_SECS", default_value = "30",
          value_parser = secs("BERTH_RECONCILE_SECS", 0.5), value_name = "SECS")]
    pub reconcile_every: Duration,
    /// Grace period of a stop before Docker kills the container.
    #[arg(long = "stop-timeout-secs", env = "BERTH_STOP_TIMEOUT_SECS", default_value = "10",
          value_parser = secs("BERTH_STOP_TIMEOUT_SECS", 0.0), value_name = "SECS")]
    pub stop_grace: Duration,
    /// How long a host may not answer before its replicas are started elsewhere.
    #[arg(long = "host-grace-secs", env = "BERTH_HOST_GRACE_SECS", default_value = "30",
          value_parser = secs("BERTH_HOST_GRACE_SECS", 0.0), value_name = "SECS")]
    pub host_grace: Duration,
    /// Cap of the back-off between replacements of a replica that keeps exiting (1 s, 2 s, 4 s, …).
    #[arg(long = "replace-backoff-max-secs", env = "BERTH_REPLACE_BACKOFF_MAX_SECS", default_value = "60",
          value_parser = secs("BERTH_REPLACE_BACKOFF_MAX_SECS", 1.0), value_name = "SECS")]
    pub replace_backoff_max: Duration,
    /// Requests in flight at once to one registry during a refresh.
    #[arg(long = "registry-concurrency", env = "BERTH_REGISTRY_CONCURRENCY", default_value = "8",
          value_parser = count("BERTH_REGISTRY_CONCURRENCY", 1, 64), value_name = "N")]
    pub registry_concurrency: usize,
    /// Entries asked for per page of a registry catalog or tag list.
    #[arg(long = "registry-page-size", env = "BERTH_REGISTRY_PAGE_SIZE", default_value = "100",
          value_parser = count("BERTH_REGISTRY_PAGE_SIZE", 1, 10_000), value_name = "N")]
    pub registry_page_size: usize,
    /// Timeout of one request to a registry.
    #[arg(long = "registry-request-timeout-secs", env = "BERTH_REGISTRY_REQUEST_TIMEOUT_SECS",
          default_value = "10", value_parser = secs("BERTH_REGISTRY_REQUEST_TIMEOUT_SECS", 0.1),
          value_name = "SECS")]
    pub registry_request_timeout: Duration,
    /// Time one paged registry listing may take.
    #[arg(long = "registry-listing-secs", env = "BERTH_REGISTRY_LISTING_SECS", default_value = "120",
          value_parser = secs("BERTH_REGISTRY_LISTING_SECS", 1.0), value_name = "SECS")]
    pub registry_listing_budget: Duration,
    /// A registry refresh that takes longer fails.
    #[arg(long = "registry-refresh-deadline-secs", env = "BERTH_REGISTRY_REFRESH_DEADLINE_SECS",
          default_value = "600", value_parser = secs("BERTH_REGISTRY_REFRESH_DEADLINE_SECS", 1.0),
          value_name = "SECS")]
    pub registry_refresh_deadline: Duration,
    /// How often every running container is sampled into the stats history.
    #[arg(long = "stats-interval-secs", env = "BERTH_STATS_INTERVAL_SECS", default_value = "30",
          value_parser = secs("BERTH_STATS_INTERVAL_SECS", 0.5), value_name = "SECS")]
    pub stats_interval: Duration,
    /// One-shot stats reads in flight at once per host during a sampling round.
    #[arg(long = "stats-concurrency", env = "BERTH_STATS_CONCURRENCY", default_value = "4",
          value_parser = count("BERTH_STATS_CONCURRENCY", 1, 64), value_name = "N")]
    pub stats_concurrency: usize,
    /// How often images of registries Berth does not list are checked for a new digest.
    #[arg(long = "update-check-secs", env = "BERTH_UPDATE_CHECK_SECS", default_value = "3600",
          value_parser = secs("BERTH_UPDATE_CHECK_SECS", 1.0), value_name = "SECS")]
    pub update_check: Duration,
    /// Cap of the back-off between attempts of an alert notification whose receiver failed.
    #[arg(long = "alert-retry-max-secs", env = "BERTH_ALERT_RETRY_MAX_SECS", default_value = "60",
          value_parser = secs("BERTH_ALERT_RETRY_MAX_SECS", 1.0), value_name = "SECS")]
    pub alert_retry_max: Duration,
    /// With several servers on one PostgreSQL: how long the leader's lease holds after a renewal.
    #[arg(long = "lease-secs", env = "BERTH_LEASE_SECS", default_value = "5",
          value_parser = secs("BERTH_LEASE_SECS", 1.0), value_name = "SECS")]
    pub lease: Duration,
    /// Register the local engine (`DOCKER_HOST` or /var/run/docker.sock) as host `local` on the first start.
    #[arg(long = "register-local-host", env = "BERTH_REGISTER_LOCAL_HOST", default_value = "1",
          value_parser = flag("BERTH_REGISTER_LOCAL_HOST"), value_name = "1|0",
          action = clap::ArgAction::Set)]
    pub register_local_host: bool,
    /// The engine registered as host `local` (Docker's own variable).
    #[arg(long = "docker-host", env = "DOCKER_HOST", value_name = "ENDPOINT")]
    pub docker_host: Option<String>,
    /// 32 bytes, base64: the key that encrypts stored secrets (default: `secret.key` in the data folder).
    #[arg(
        long = "secret-key",
        env = "BERTH_SECRET_KEY",
        hide_env_values = true,
        value_name = "BASE64"
    )]
    pub secret_key: Option<String>,
}

/// A command line of settings only, for [`Settings::from_pairs`].
#[derive(clap::Parser)]
struct SettingsOnly {
    #[command(flatten)]
    settings: Settings,
}

impl Settings {
    /// The settings given as `(variable, value)` pairs (e.g. `("BERTH_HOST_GRACE_SECS", "5")`), the others from
    /// the environment or their defaults; checked as at start-up. For servers started inside a test process.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        use clap::{CommandFactory as _, Parser as _};
        let command = SettingsOnly::command();
        let mut args = vec!["berth".to_owned()];
        for (var, value) in pairs {
            let flag = command
                .get_arguments()
                .find(|a| a.get_env().is_some_and(|e| e == std::ffi::OsStr::new(var)))
                .and_then(|a| a.get_long())
                .ok_or_else(|| format!("{var} is not a setting"))?;
            args.push(format!("--{flag}={value}"));
        }
        SettingsOnly::try_parse_from(args)
            .map(|p| p.settings)
            .map_err(|e| e.to_string())
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            ws_init_timeout: Duration::from_secs(10),
            host_ping: Duration::from_secs(3),
            inventory_resync: Duration::from_secs(60),
            reconcile_every: Duration::from_secs(30),
            stop_grace: Duration::from_secs(10),
            host_grace: Duration::from_secs(30),
            replace_backoff_max: Duration::from_secs(60),
            registry_concurrency: 8,
            registry_page_size: 100,
            registry_request_timeout: Duration::from_secs(10),
            registry_listing_budget: Duration::from_secs(120),
            registry_refresh_deadline: Duration::from_secs(600),
            stats_interval: Duration::from_secs(30),
            stats_concurrency: 4,
            update_check: Duration::from_secs(3600),
            alert_retry_max: Duration::from_secs(60),
            lease: Duration::from_secs(5),
            register_local_host: true,
            docker_host: None,
            secret_key: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    type Probe = SettingsOnly;

    #[test]
    fn the_defaults_are_what_no_flag_gives() {
        // Only flags are given here: the environment of the test run must not decide (no variable is read
        // when its flag is present, and these are all of them).
        let mut args = vec!["berth".to_owned()];
        let d = Settings::default();
        let fields: [(&str, String); 17] = [
            ("--ws-init-timeout-secs", "10".into()),
            ("--host-ping-secs", "3".into()),
            ("--inventory-resync-secs", "60".into()),
            ("--reconcile-secs", "30".into()),
            ("--stop-timeout-secs", "10".into()),
            ("--host-grace-secs", "30".into()),
            ("--replace-backoff-max-secs", "60".into()),
            ("--registry-concurrency", "8".into()),
            ("--registry-page-size", "100".into()),
            ("--registry-request-timeout-secs", "10".into()),
            ("--registry-listing-secs", "120".into()),
            ("--registry-refresh-deadline-secs", "600".into()),
            ("--stats-interval-secs", "30".into()),
            ("--stats-concurrency", "4".into()),
            ("--update-check-secs", "3600".into()),
            ("--alert-retry-max-secs", "60".into()),
            ("--lease-secs", "5".into()),
        ];
        for (flag, value) in fields {
            args.push(flag.to_owned());
            args.push(value);
        }
        args.extend(["--register-local-host".to_owned(), "1".to_owned()]);
        let parsed = Probe::try_parse_from(&args).expect("the documented defaults parse");
        let mut expected = d.clone();
        expected.docker_host = parsed.settings.docker_host.clone();
        expected.secret_key = parsed.settings.secret_key.clone();
        assert_eq!(parsed.settings, expected);
    }

    #[test]
    fn an_invalid_value_names_its_variable() {
        for (flag, value, var) in [
            ("--reconcile-secs", "soon", "BERTH_RECONCILE_SECS"),
            ("--reconcile-secs", "0.1", "BERTH_RECONCILE_SECS"),
            ("--stats-concurrency", "0", "BERTH_STATS_CONCURRENCY"),
            ("--lease-secs", "-3", "BERTH_LEASE_SECS"),
            (
                "--register-local-host",
                "maybe",
                "BERTH_REGISTER_LOCAL_HOST",
            ),
        ] {
            let err = match Probe::try_parse_from(["berth".to_owned(), format!("{flag}={value}")]) {
                Ok(_) => panic!("{flag} {value} was taken"),
                Err(e) => e.to_string(),
            };
            assert!(err.contains(var), "{flag} {value}: {err}");
        }
    }

    #[test]
    fn pairs_name_settings_by_their_variables() {
        let s = Settings::from_pairs(&[
            ("BERTH_HOST_GRACE_SECS", "5"),
            ("BERTH_REGISTRY_PAGE_SIZE", "7"),
        ])
        .expect("known settings");
        assert_eq!(s.host_grace, Duration::from_secs(5));
        assert_eq!(s.registry_page_size, 7);
        assert!(Settings::from_pairs(&[("BERTH_NO_SUCH", "1")]).is_err());
        let bad = Settings::from_pairs(&[("BERTH_HOST_GRACE_SECS", "soon")])
            .err()
            .unwrap_or_default();
        assert!(bad.contains("BERTH_HOST_GRACE_SECS"), "{bad}");
    }

    #[test]
    fn seconds_may_have_fractions() {
        let parsed =
            Probe::try_parse_from(["berth", "--reconcile-secs", "0.5", "--lease-secs", "2.5"])
                .expect("fractions parse");
        assert_eq!(parsed.settings.reconcile_every, Duration::from_millis(500));
        assert_eq!(parsed.settings.lease, Duration::from_millis(2500));
    }
}
