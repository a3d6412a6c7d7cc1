//! Starting and stopping a whole Berth server: database, bootstrap admin, background tasks and HTTP listener.

use crate::bus::Bus;
use crate::config::Config;
use crate::db::session_store::DbSessionStore;
use crate::engine::monitor::{self, MonitorSettings};
use crate::engine::reconciler::{self, ReconcilerSettings};
use crate::graphql::{build_query_schema, build_schema};
use crate::http::{AppState, router};
use crate::secrets::SecretBox;
use crate::service::Services;
use crate::service::auth::Bootstrap;
use crate::service::hosts::HostSettings;
use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server that is running; [`RunningApp::shutdown`] stops it gracefully.
pub struct RunningApp {
    /// The address actually bound (useful with port 0).
    pub addr: SocketAddr,
    /// What happened to the `admin` user at this start.
    pub bootstrap: Bootstrap,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
    sweeper: JoinHandle<()>,
    monitors: JoinHandle<()>,
    reconciler: JoinHandle<()>,
    refresher: JoinHandle<()>,
    sampler: JoinHandle<()>,
    alert_evaluator: JoinHandle<()>,
    alert_deliverer: JoinHandle<()>,
    load_watch: JoinHandle<()>,
    update_watch: JoinHandle<()>,
    auditor: JoinHandle<()>,
    /// Held while the server runs on a SQLite file: a second server on it is refused.
    _database_lock: Option<std::fs::File>,
}

/// Takes `<database file>.lock` for a SQLite database (`None` for PostgreSQL and in-memory databases); refused
/// with a message naming the file when another process holds it.
fn lock_database(url: &str) -> anyhow::Result<Option<std::fs::File>> {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Ok(None);
    };
    let path = rest.trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return Ok(None);
    }
    let lock_path = format!("{path}.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open the lock file {lock_path}"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another Berth process uses the database {path} (it holds {lock_path}): stop it first, or give this \
             server its own data folder; several servers on one database need PostgreSQL (DATABASE_URL)"
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(anyhow::anyhow!("cannot lock {lock_path}: {e}"))
        }
    }
}

impl RunningApp {
    /// Connects and migrates the database, creates the admin user on first start, binds the listener and
    /// serves in the background.
    pub async fn start(config: Config) -> anyhow::Result<RunningApp> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data folder {}",
                config.data_dir.display()
            )
        })?;
        let url = config.database_url();
        let database_lock = lock_database(&url)?;
        let db = crate::db::connect(&url)
            .await
            .with_context(|| format!("cannot open the database {}", redact(&url)))?;
        let secrets = SecretBox::load(&config.data_dir)
            .map_err(|e| anyhow::anyhow!("loading the secret key: {e}"))?;
        let (services, background) = Services::new(db.clone(), secrets, Bus::new());
        let bootstrap = services
            .auth
            .bootstrap_admin(config.admin_password.as_deref())
            .await
            .map_err(|e| anyhow::anyhow!("creating the admin user failed: {e}"))?;

        let owner = services
            .containers
            .installation_id()
            .await
            .map_err(|e| anyhow::anyhow!("reading the installation id: {e}"))?;
        // Summary statuses are kept by every write; a database from before the column has them all STOPPED.
        let repaired = services
            .containers
            .repair_summaries()
            .await
            .map_err(|e| anyhow::anyhow!("checking the containers' summary statuses: {e}"))?;
        if repaired > 0 {
            tracing::info!(repaired, "container summary statuses recomputed");
        }
        let (reconciler_handle, reconciler_inputs) = reconciler::channel();
        let reconciler = reconciler::spawn(
            services.containers.clone(),
            services.hosts.clone(),
            background.instance_writer,
            owner,
            ReconcilerSettings::from_env(),
            background.reconcile_commands,
            reconciler_inputs,
        );
        let monitors = monitor::spawn(
            services.hosts.clone(),
            services.inventory.clone(),
            MonitorSettings::from_env(),
            reconciler_handle,
            background.monitor_commands,
        );
        let refresher = crate::engine::refresher::spawn(services.registries.clone());
        let sampler = crate::engine::sampler::spawn(services.stats.clone());
        let auditor = crate::service::audit::spawn_engine_auditor(
            services.audit.clone(),
            services.bus.clone(),
        );
        let update_watch = crate::engine::updates::spawn(
            services.registries.clone(),
            services.containers.clone(),
            services.inventory.clone(),
            services.alerts.clone(),
            services.bus.clone(),
        );
        let load_watch = crate::engine::alerting::spawn_load_watch(
            services.alerts.clone(),
            services.stats.clone(),
        );
        let (alert_evaluator, alert_deliverer) = crate::engine::alerting::spawn(
            services.alerts.clone(),
            services.hosts.clone(),
            services.registries.clone(),
            services.inventory.clone(),
            services.bus.clone(),
        );
        if std::env::var("BERTH_REGISTER_LOCAL_HOST").map_or(true, |v| v != "0") {
            register_local_host(&services).await;
        }

        let sessions = DbSessionStore::new(db);
        let sweeper = tokio::spawn(sweep_sessions(sessions.clone()));
        let own_alerts = services.alerts.clone();
        let state = AppState {
            schema: build_schema(services.clone()),
            query_schema: build_query_schema(services.clone()),
            services,
            ws_init_timeout: Config::ws_init_timeout(),
            metrics_token: config.metrics_token.clone(),
        };
        let app = router(state, sessions, &config.static_dir);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        own_alerts.set_own_port(addr.port());
        // Live updates are small frames: without TCP_NODELAY a second frame sent right after a first waits
        // for the client's (delayed, up to 40 ms) acknowledgement.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
        });
        tracing::info!(%addr, "Berth is listening");
        Ok(RunningApp {
            addr,
            bootstrap,
            stop,
            server,
            sweeper,
            monitors,
            reconciler,
            refresher,
            sampler,
            auditor,
            alert_evaluator,
            alert_deliverer,
            load_watch,
            update_watch,
            _database_lock: database_lock,
        })
    }

    /// Stops accepting connections, lets requests in flight finish, and waits for the server to end.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.sweeper.abort();
        self.monitors.abort();
        self.reconciler.abort();
        self.auditor.abort();
        self.refresher.abort();
        self.sampler.abort();
        self.alert_evaluator.abort();
        self.load_watch.abort();
        self.update_watch.abort();
        self.alert_deliverer.abort();
        self.server.await.context("server task")??;
        Ok(())
    }
}

/// Deletes expired sessions every hour.
async fn sweep_sessions(store: DbSessionStore) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        if let Err(e) = store.delete_expired().await {
            tracing::warn!(error = %e, "deleting expired sessions failed");
        }
    }
}

/// On the first start (no hosts yet), registers the local engine as host `local` when it answers: the one in
/// `DOCKER_HOST`, else `/var/run/docker.sock`.
async fn register_local_host(services: &Services) {
    match services.hosts.list().await {
        Ok(list) if list.is_empty() => {}
        _ => return,
    }
    let endpoint = match std::env::var("DOCKER_HOST") {
        Ok(h) if !h.trim().is_empty() => h,
        _ if std::path::Path::new("/var/run/docker.sock").exists() => {
            "unix:///var/run/docker.sock".to_owned()
        }
        _ => return,
    };
    let Ok(parsed) = berth_shared::HostEndpoint::parse(&endpoint) else {
        tracing::warn!(%endpoint, "DOCKER_HOST is not an endpoint Berth understands; not registering it");
        return;
    };
    if crate::docker::Engine::connect(&parsed, None).await.is_err() {
        return;
    }
    let settings = HostSettings {
        name: "local".into(),
        endpoint,
        docker_support: true,
        ..Default::default()
    };
    match services
        .hosts
        .add(&crate::service::authz::system(), settings)
        .await
    {
        Ok(host) => {
            tracing::info!(endpoint = %host.endpoint, "registered the local Docker engine as host `local`")
        }
        Err(e) => tracing::warn!(error = %e, "registering the local Docker engine failed"),
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact("postgres://berth:s3cret@db:5432/berth"),
            "postgres://berth:***@db:5432/berth"
        );
        assert_eq!(
            redact("sqlite://data/berth.db?mode=rwc"),
            "sqlite://data/berth.db?mode=rwc"
        );
    }
}
