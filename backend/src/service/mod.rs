//! Business rules. Services own the database handle; the GraphQL and HTTP layers and the engine call services
//! only.

pub mod auth;
pub mod error;
pub mod hosts;
pub mod registries;

pub use error::ServiceError;

use crate::bus::Bus;
use crate::secrets::SecretBox;
use sea_orm::DatabaseConnection;
use tokio::sync::mpsc;

/// All services, cheap to clone (shared state behind `Arc`s / pooled connections).
#[derive(Clone)]
pub struct Services {
    pub auth: auth::AuthService,
    pub hosts: hosts::HostService,
    pub registries: registries::RegistryService,
    pub bus: Bus,
    db: DatabaseConnection,
}

impl Services {
    /// Services plus the receiving end of the host monitors' command channel (for `engine::monitor::spawn`).
    pub fn new(
        db: DatabaseConnection,
        secrets: SecretBox,
        bus: Bus,
    ) -> (Self, mpsc::UnboundedReceiver<hosts::MonitorCommand>) {
        let (monitor_tx, monitor_rx) = mpsc::unbounded_channel();
        let services = Self {
            auth: auth::AuthService::new(db.clone()),
            hosts: hosts::HostService::new(db.clone(), secrets.clone(), bus.clone(), monitor_tx)
                .with_registry_credentials(registries::RegistryCredentials::new(
                    db.clone(),
                    secrets.clone(),
                )),
            registries: registries::RegistryService::new(
                db.clone(),
                secrets,
                bus.clone(),
                registries::RefreshSettings::from_env(),
            ),
            bus,
            db,
        };
        (services, monitor_rx)
    }

    /// Whether the database answers; for `/healthz`.
    pub async fn database_health(&self) -> Result<(), ServiceError> {
        crate::db::ping(&self.db)
            .await
            .map_err(|e| ServiceError::Unavailable(format!("database does not answer: {e}")))
    }
}
