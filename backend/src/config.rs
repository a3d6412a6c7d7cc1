//! Server configuration: command-line flags and environment variables, with the defaults documented in README.md.

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

    /// How long a WebSocket client may take to send `connection_init` (env `BERTH_WS_INIT_TIMEOUT_SECS`,
    /// default 10 s).
    pub fn ws_init_timeout() -> Duration {
        std::env::var("BERTH_WS_INIT_TIMEOUT_SECS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(10))
    }
}
