//! Starting and stopping a whole Berth server: database, bootstrap admin, the leader's work (for good on SQLite,
//! while it holds the lease on PostgreSQL), the other background tasks and the HTTP listener.

use crate::bus::Bus;
use crate::cluster::Fence;
use crate::cluster::commands::{Forwarder, Route, TermChannels, Waiters};
use crate::cluster::lease::LeaseSettings;
use crate::config::Config;
use crate::db::session_store::DbSessionStore;
use crate::engine::monitor::{self, MonitorSettings};
use crate::engine::reconciler::{self, ReconcilerSettings};
use crate::graphql::{build_query_schema, build_schema};
use crate::http::{AppState, router};
use crate::secrets::SecretBox;
use crate::service::Services;
use crate::service::auth::Bootstrap;
use crate::service::containers::InstanceWriter;
use crate::service::hosts::HostSettings;
use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// A server that is running; [`RunningApp::shutdown`] stops it gracefully.
pub struct RunningApp {
    /// The address actually bound (useful with port 0).
    pub addr: SocketAddr,
    /// What happened to the `admin` user at this start.
    pub bootstrap: Bootstrap,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
    /// Session sweeper, command router, and with several servers the lease loop, the relay and the leader's
    /// supervisor (which owns the leader's work).
    tasks: Vec<JoinHandle<()>>,
    /// The leader's work when it runs for good (SQLite).
    sole_term: Option<Term>,
    services: Services,
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

/// The work that must run once, on the leader only, for one term of leadership: host monitors, the reconciler,
/// the registry refresher, sampling, alerting, update checks, the engine auditor and (with several servers) the
/// executor of the followers' commands. Started when the term starts; every task is aborted when it ends.
struct Term {
    token: u64,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Term {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// What a term is started from.
#[derive(Clone)]
struct Leading {
    services: Services,
    writer: std::sync::Arc<InstanceWriter>,
    owner: String,
    route: Route,
    settings: crate::config::Settings,
    /// Wakes the executor when a follower stored a command (several servers only).
    arrived: Option<std::sync::Arc<tokio::sync::Notify>>,
}

impl Leading {
    fn start(&self, token: u64) -> Term {
        let services = &self.services;
        let fence = Fence::new(token, services.lease.clone());
        let (reconciler_handle, reconciler_inputs) = reconciler::channel();
        let (reconcile_tx, reconcile_rx) = mpsc::unbounded_channel();
        let (monitor_tx, monitor_rx) = mpsc::unbounded_channel();
        let channels = TermChannels {
            reconcile: reconcile_tx,
            monitors: monitor_tx,
        };
        let mut tasks = vec![
            reconciler::spawn(
                fence.clone(),
                services.containers.clone(),
                services.hosts.clone(),
                self.writer.fenced(fence),
                self.owner.clone(),
                ReconcilerSettings::from(&self.settings),
                reconcile_rx,
                reconciler_inputs,
            ),
            monitor::spawn(
                services.hosts.clone(),
                services.inventory.clone(),
                MonitorSettings::from(&self.settings),
                reconciler_handle,
                monitor_rx,
            ),
            crate::engine::refresher::spawn(services.registries.clone()),
            crate::engine::sampler::spawn(services.stats.clone()),
            crate::service::audit::spawn_engine_auditor(
                services.audit.clone(),
                services.bus.clone(),
            ),
            crate::engine::updates::spawn(
                services.registries.clone(),
                services.containers.clone(),
                services.inventory.clone(),
                services.alerts.clone(),
                services.bus.clone(),
                self.settings.update_check,
            ),
            crate::engine::alerting::spawn_load_watch(
                services.alerts.clone(),
                services.stats.clone(),
            ),
        ];
        let (alert_evaluator, alert_deliverer) = crate::engine::alerting::spawn(
            services.alerts.clone(),
            services.hosts.clone(),
            services.registries.clone(),
            services.inventory.clone(),
            services.bus.clone(),
        );
        tasks.push(alert_evaluator);
        tasks.push(alert_deliverer);
        if let Some(arrived) = &self.arrived {
            tasks.push(crate::cluster::commands::spawn_executor(
                services.cluster.clone(),
                token,
                channels.clone(),
                arrived.clone(),
            ));
        }
        self.route.set(Some(channels));
        Term { token, tasks }
    }

    /// Follows the lease: starts a term's work when this server leads, aborts it when it no longer does.
    async fn follow(self, mut terms: crate::cluster::lease::Terms) {
        let mut current: Option<Term> = None;
        loop {
            let wanted = *terms.borrow_and_update();
            if current.as_ref().map(|t| t.token) != wanted {
                if let Some(term) = current.take() {
                    self.route.set(None);
                    drop(term);
                    tracing::info!("the leader's work stopped on this server");
                }
                if let Some(token) = wanted {
                    current = Some(self.start(token));
                    tracing::info!(term = token, "the leader's work started on this server");
                }
            }
            if terms.changed().await.is_err() {
                return;
            }
        }
    }
}

impl RunningApp {
    /// Connects and migrates the database, creates the admin user on first start, binds the listener and
    /// serves in the background. With PostgreSQL the server takes part in the leader election; on SQLite it
    /// leads from the start.
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
        let settings = config.settings.clone();
        let secrets = SecretBox::load(&config.data_dir, settings.secret_key.as_deref())
            .map_err(|e| anyhow::anyhow!("loading the secret key: {e}"))?;
        let bus = Bus::new();
        let (services, background) = Services::new(db.clone(), secrets, bus.clone(), &settings);
        let shared_database = services.cluster.shared_database();
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

        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        services.alerts.set_own_port(addr.port());

        let route = Route::default();
        let waiters = Waiters::default();
        let arrived = std::sync::Arc::new(tokio::sync::Notify::new());
        let leading = Leading {
            services: services.clone(),
            writer: std::sync::Arc::new(background.instance_writer),
            owner,
            route: route.clone(),
            settings: settings.clone(),
            arrived: shared_database.then(|| arrived.clone()),
        };
        let forwarder = shared_database.then(|| Forwarder {
            cluster: services.cluster.clone(),
            waiters: waiters.clone(),
        });
        let mut tasks = vec![crate::cluster::commands::spawn_router(
            route,
            forwarder,
            background.reconcile_commands,
            background.monitor_commands,
        )];
        let mut sole_term = None;
        if shared_database {
            let me = services.server_id.clone();
            if let Some(events) = bus.relay() {
                tasks.push(crate::cluster::relay::spawn_sender(
                    services.cluster.clone(),
                    me.clone(),
                    events,
                ));
            }
            tasks.push(crate::cluster::relay::spawn_listener(
                services.cluster.clone(),
                me.clone(),
                bus.clone(),
                services.containers.clone(),
                arrived,
                waiters,
            ));
            let (lease_task, terms) = crate::cluster::lease::spawn(
                services.cluster.clone(),
                me,
                addr.to_string(),
                LeaseSettings::with_lease(settings.lease),
                services.lease.clone(),
            );
            tasks.push(lease_task);
            tasks.push(tokio::spawn(leading.follow(terms)));
        } else {
            sole_term = Some(leading.start(1));
        }
        if settings.register_local_host {
            register_local_host(&services, settings.docker_host.as_deref()).await;
        }

        let sessions = DbSessionStore::new(db);
        tasks.push(tokio::spawn(sweep_sessions(sessions.clone())));
        let state = AppState {
            schema: build_schema(services.clone()),
            query_schema: build_query_schema(services.clone()),
            services: services.clone(),
            ws_init_timeout: settings.ws_init_timeout,
            metrics_token: config.metrics_token.clone(),
        };
        let app = router(state, sessions, &config.static_dir);
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
        tracing::info!(%addr, server = %services.server_id, "Berth is listening");
        Ok(RunningApp {
            addr,
            bootstrap,
            stop,
            server,
            tasks,
            sole_term,
            services,
            _database_lock: database_lock,
        })
    }

    /// Stops accepting connections, lets requests in flight finish, and waits for the server to end. A leader
    /// gives its lease up, so that another server takes over at once.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        for t in &self.tasks {
            t.abort();
        }
        self.sole_term.take();
        if self.services.cluster.shared_database() && self.services.lease.token() != 0 {
            self.services.lease.lost();
            if let Err(e) = self
                .services
                .cluster
                .release_lease(&self.services.server_id)
                .await
            {
                tracing::warn!(error = %e, "giving up the leader lease failed (it runs out by itself)");
            }
        }
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
async fn register_local_host(services: &Services, docker_host: Option<&str>) {
    match services.hosts.list().await {
        Ok(list) if list.is_empty() => {}
        _ => return,
    }
    let endpoint = match docker_host {
        Some(h) if !h.trim().is_empty() => h.to_owned(),
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
