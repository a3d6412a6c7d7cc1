//! Registries from Debian's `docker-registry` (distribution 2.8): one open, one behind htpasswd
//! basic auth, both on loopback over plain HTTP.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::StatusCode;
use tokio::process::Command;

use crate::process::{ManagedProcess, Probe, free_port, log_tail, poll};

/// How long a registry may take to answer `/v2/`.
pub const REGISTRY_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The user of the registry with authentication.
pub const AUTH_USERNAME: &str = "berth";
/// Its password: characters that break naive URL, base64 and shell handling.
pub const AUTH_PASSWORD: &str = "p@ss+w/rd=?";

/// One running registry.
#[derive(Debug, Clone)]
pub struct RegistryHandle {
    /// `open` or `auth`.
    pub name: String,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// `127.0.0.1:PORT`, the registry part of image references.
    pub host_port: String,
    pub port: u16,
    /// Set for the registry that requires basic auth.
    pub username: Option<String>,
    pub password: Option<String>,
    /// The registry's storage folder.
    pub root: PathBuf,
    /// Its log file.
    pub log: PathBuf,
}

impl RegistryHandle {
    /// `127.0.0.1:PORT/REPO:TAG`.
    pub fn reference(&self, repo_and_tag: &str) -> String {
        format!("{}/{}", self.host_port, repo_and_tag)
    }
}

/// Writes the config (and the htpasswd file when `credentials` is given) and spawns the registry.
pub fn spawn(
    name: &str,
    dir: &Path,
    registry_bin: &Path,
    credentials: Option<(&str, &str)>,
) -> Result<(RegistryHandle, ManagedProcess)> {
    spawn_with(name, dir, registry_bin, credentials, free_port()?, None)
}

/// Where an open registry sends its notifications: the endpoint's URL and the bearer secret it sends.
pub struct Notify<'a> {
    pub url: &'a str,
    pub bearer: &'a str,
}

/// An open registry on `port` whose configuration sends a notification of every push and delete to
/// `notify` (Docker's registry `notifications.endpoints`: the events envelope, `Authorization: Bearer …`).
pub fn spawn_notifying(
    name: &str,
    dir: &Path,
    registry_bin: &Path,
    port: u16,
    notify: &Notify<'_>,
) -> Result<(RegistryHandle, ManagedProcess)> {
    spawn_with(name, dir, registry_bin, None, port, Some(notify))
}

fn spawn_with(
    name: &str,
    dir: &Path,
    registry_bin: &Path,
    credentials: Option<(&str, &str)>,
    port: u16,
    notify: Option<&Notify<'_>>,
) -> Result<(RegistryHandle, ManagedProcess)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let root = dir.join("storage");
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let host_port = format!("127.0.0.1:{port}");
    let mut config = format!(
        "version: 0.1\n\
         log:\n  level: info\n  fields:\n    service: berth-test-registry-{name}\n\
         storage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n\
         http:\n  addr: {host_port}\n  secret: berth-test-{name}-secret\n",
        root = root.display()
    );
    if let Some((user, password)) = credentials {
        // htpasswd entries must be bcrypt; cost 4 keeps every request cheap.
        let hash = bcrypt::hash(password, 4).context("hashing the registry password")?;
        let htpasswd = dir.join("htpasswd");
        std::fs::write(&htpasswd, format!("{user}:{hash}\n"))
            .with_context(|| format!("writing {}", htpasswd.display()))?;
        config.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
            htpasswd.display()
        ));
    }
    if let Some(n) = notify {
        // Quick retries: a test that changes the endpoint's secret should not wait long for the next try.
        config.push_str(&format!(
            "notifications:\n  endpoints:\n    - name: berth\n      url: {}\n      headers:\n        \
             Authorization: [\"Bearer {}\"]\n      timeout: 2s\n      threshold: 3\n      backoff: 1s\n",
            n.url, n.bearer
        ));
    }
    let config_path = dir.join("config.yml");
    std::fs::write(&config_path, config)
        .with_context(|| format!("writing {}", config_path.display()))?;

    let log = dir.join("registry.log");
    let mut cmd = Command::new(registry_bin);
    cmd.arg("serve").arg(&config_path);
    let process = ManagedProcess::spawn(&format!("registry {name}"), &mut cmd, &log)?;
    // A pid file lets a later run find and kill it if this run is killed.
    let _ = std::fs::write(dir.with_extension("pid"), process.pid().to_string());
    let handle = RegistryHandle {
        name: name.to_string(),
        url: format!("http://{host_port}"),
        host_port,
        port,
        username: credentials.map(|(u, _)| u.to_string()),
        password: credentials.map(|(_, p)| p.to_string()),
        root,
        log,
    };
    Ok((handle, process))
}

/// Polls `GET /v2/` until it answers 200 (open) or 401 (with auth).
pub async fn wait_ready(registry: &RegistryHandle, process: &mut ManagedProcess) -> Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .context("building an HTTP client")?;
    let expected = if registry.username.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let url = format!("{}/v2/", registry.url);
    let what = format!("registry {} ({url})", registry.name);
    let result = poll(
        &what,
        REGISTRY_READY_TIMEOUT,
        Duration::from_millis(100),
        || {
            let exited = process.check_running();
            let request = client.get(&url).send();
            async move {
                exited?;
                match request.await {
                    Ok(response) if response.status() == expected => Ok(Probe::Ready(())),
                    Ok(response) => Ok(Probe::NotYet(format!(
                        "GET /v2/ answered {}",
                        response.status()
                    ))),
                    Err(e) => Ok(Probe::NotYet(format!("GET /v2/: {e}"))),
                }
            }
        },
    )
    .await;
    result.map_err(|e| {
        e.context(format!(
            "last lines of {}:\n{}",
            registry.log.display(),
            log_tail(&registry.log, 20)
        ))
    })
}
