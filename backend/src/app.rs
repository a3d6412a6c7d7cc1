//! Starting and stopping a whole Berth server: database, bootstrap admin, background tasks and HTTP listener.

use crate::config::Config;
use crate::db::session_store::DbSessionStore;
use crate::graphql::build_schema;
use crate::http::{AppState, router};
use crate::service::Services;
use crate::service::auth::Bootstrap;
use anyhow::Context as _;
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
        let db = crate::db::connect(&url)
            .await
            .with_context(|| format!("cannot open the database {}", redact(&url)))?;
        let services = Services::new(db.clone());
        let bootstrap = services
            .auth
            .bootstrap_admin(config.admin_password.as_deref())
            .await
            .map_err(|e| anyhow::anyhow!("creating the admin user failed: {e}"))?;

        let sessions = DbSessionStore::new(db);
        let sweeper = tokio::spawn(sweep_sessions(sessions.clone()));
        let state = AppState {
            schema: build_schema(services.clone()),
            services,
            ws_init_timeout: Config::ws_init_timeout(),
        };
        let app = router(state, sessions, &config.static_dir);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
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
        })
    }

    /// Stops accepting connections, lets requests in flight finish, and waits for the server to end.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.sweeper.abort();
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
