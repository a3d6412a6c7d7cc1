//! Business rules. Services own the database handle; the GraphQL and HTTP layers and the engine call services
//! only.

pub mod adoption;
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod backup;
pub mod cluster;
pub mod containers;
pub mod disks;
pub mod error;
pub mod exec;
pub mod fixtures;
pub mod hosts;
pub mod inventory;
pub mod logs;
pub mod passthrough;
pub mod registries;
pub mod stats;
pub mod terminal;

pub use error::ServiceError;

use crate::bus::Bus;
use crate::secrets::SecretBox;
use sea_orm::DatabaseConnection;
use tokio::sync::mpsc;

/// Runs `request` (a whole HTTP request, session layer included) and returns its output with the last failure
/// of the session store during it, if any (the session layer itself answers such a failure with an empty 500).
pub async fn noting_session_failures<F: std::future::Future>(
    request: F,
) -> (F::Output, Option<ServiceError>) {
    let (output, failure) = crate::db::session_store::note_failures(request).await;
    (output, failure.map(ServiceError::session_store))
}

/// How long `/healthz` waits for the database before it reports it as not answering.
pub const HEALTH_PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(800);

/// What the background tasks need from [`Services::new`]: the host monitors' command channel, and the
/// reconciler's command channel with the one instance writer.
pub struct Background {
    pub monitor_commands: mpsc::UnboundedReceiver<hosts::MonitorCommand>,
    pub reconcile_commands: mpsc::UnboundedReceiver<containers::ReconcileCommand>,
    pub instance_writer: containers::InstanceWriter,
}

/// All services, cheap to clone (shared state behind `Arc`s / pooled connections).
#[derive(Clone)]
pub struct Services {
    pub auth: auth::AuthService,
    pub hosts: hosts::HostService,
    pub registries: registries::RegistryService,
    pub containers: containers::ContainerService,
    pub inventory: inventory::InventoryService,
    pub adoption: adoption::AdoptionService,
    pub exec: exec::ExecService,
    pub logs: logs::LogService,
    pub stats: stats::StatsService,
    pub terminals: terminal::TerminalService,
    pub disks: disks::DiskService,
    pub audit: audit::AuditService,
    pub passthrough: passthrough::PassthroughService,
    pub alerts: alerts::AlertService,
    pub cluster: cluster::ClusterService,
    pub bus: Bus,
    /// This server's id among the servers on one database (new at every start).
    pub server_id: String,
    /// Whether this server leads now (on SQLite it always does).
    pub lease: std::sync::Arc<crate::cluster::LeaseState>,
    db: DatabaseConnection,
}

impl Services {
    /// Services plus what the background tasks need.
    pub fn new(
        db: DatabaseConnection,
        secrets: SecretBox,
        bus: Bus,
        settings: &crate::config::Settings,
    ) -> (Self, Background) {
        let (monitor_tx, monitor_rx) = mpsc::unbounded_channel();
        let hosts = hosts::HostService::new(db.clone(), secrets.clone(), bus.clone(), monitor_tx)
            .with_registry_credentials(registries::RegistryCredentials::new(
                db.clone(),
                secrets.clone(),
            ));
        let hosts_for_disks = hosts.clone();
        let hosts_for_passthrough = hosts.clone();
        let hosts_for_inventory = hosts.clone();
        let (containers, instance_writer, reconcile_rx) =
            containers::ContainerService::new(db.clone(), bus.clone(), hosts.clone());
        let adoption = adoption::AdoptionService::new(
            db.clone(),
            hosts.clone(),
            inventory::InventoryService::new(db.clone(), bus.clone(), hosts.clone()),
            containers.clone(),
            disks::DiskService::new(db.clone(), hosts.clone()),
        );
        let exec = exec::ExecService::new(
            containers.clone(),
            inventory::InventoryService::new(db.clone(), bus.clone(), hosts.clone()),
            hosts.clone(),
        );
        let logs = logs::LogService::new(
            containers.clone(),
            inventory::InventoryService::new(db.clone(), bus.clone(), hosts.clone()),
            hosts.clone(),
        );
        let stats = stats::StatsService::new(
            db.clone(),
            hosts.clone(),
            containers.clone(),
            inventory::InventoryService::new(db.clone(), bus.clone(), hosts.clone()),
            stats::StatsSettings::from(settings),
        );
        let alerts = alerts::AlertService::new(
            db.clone(),
            secrets.clone(),
            bus.clone(),
            hosts.clone(),
            settings.alert_retry_max,
        );
        let services = Self {
            auth: auth::AuthService::new(db.clone()),
            hosts,
            registries: registries::RegistryService::new(
                db.clone(),
                secrets,
                bus.clone(),
                registries::RefreshSettings::from(settings),
            ),
            inventory: inventory::InventoryService::new(
                db.clone(),
                bus.clone(),
                hosts_for_inventory,
            ),
            adoption,
            stats,
            terminals: terminal::TerminalService::new(
                exec.clone(),
                audit::AuditService::new(db.clone(), bus.clone()),
            ),
            exec,
            logs,
            containers,
            disks: disks::DiskService::new(db.clone(), hosts_for_disks),
            audit: audit::AuditService::new(db.clone(), bus.clone()),
            passthrough: passthrough::PassthroughService::new(hosts_for_passthrough),
            alerts,
            cluster: cluster::ClusterService::new(db.clone()),
            bus,
            server_id: uuid::Uuid::new_v4().to_string(),
            lease: match db.get_database_backend() {
                sea_orm::DbBackend::Postgres => {
                    std::sync::Arc::new(crate::cluster::LeaseState::new())
                }
                _ => crate::cluster::LeaseState::sole_leader(),
            },
            db,
        };
        (
            services,
            Background {
                monitor_commands: monitor_rx,
                reconcile_commands: reconcile_rx,
                instance_writer,
            },
        )
    }

    /// The Prometheus exposition for `GET /metrics`: hosts and instances by status and the replica totals read
    /// now (two aggregate queries and the host list), then the process's counters and histograms.
    pub async fn metrics(&self) -> Result<String, ServiceError> {
        let mut hosts: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
        for h in self.hosts.list().await? {
            *hosts.entry(h.status.as_str().to_owned()).or_default() += 1;
        }
        let instances = crate::db::containers::instance_status_counts(&self.db).await?;
        let running = instances
            .iter()
            .filter(|(s, _)| s == berth_shared::InstanceStatus::Running.as_str())
            .map(|(_, n)| *n)
            .sum();
        let gauges = crate::metrics::Gauges {
            hosts: hosts.into_iter().collect(),
            instances,
            desired_replicas: crate::db::containers::desired_replicas(&self.db).await?,
            running_replicas: running,
            leader: self.lease.leading(),
        };
        Ok(crate::metrics::render(&gauges))
    }

    /// Whether the database answers and takes a write, within [`HEALTH_PROBE_TIMEOUT`]; for `/healthz`.
    pub async fn database_health(&self) -> Result<(), ServiceError> {
        match tokio::time::timeout(HEALTH_PROBE_TIMEOUT, crate::db::probe(&self.db)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(match ServiceError::from(e) {
                ServiceError::Unexpected(e) => {
                    ServiceError::Unavailable(format!("the database failed a write: {e:#}"))
                }
                known => known,
            }),
            Err(_) => Err(ServiceError::Unavailable(
                crate::db::DbFault::NotAnswering(format!(
                    "no answer within {} ms",
                    HEALTH_PROBE_TIMEOUT.as_millis()
                ))
                .to_string(),
            )),
        }
    }
}
