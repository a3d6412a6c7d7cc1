//! Made-up rows for benchmarks and paging tests (a fleet of definitions, instances and inventory rows written
//! straight into a Berth database); the code that then reads them is the real one. Never used by the server.

use crate::service::ServiceError;
use sea_orm::DatabaseConnection;

pub use crate::db::seed::Seeded;

/// A connection to the database at `url` (migrated), for seeding next to a running server.
pub struct Fixtures {
    db: DatabaseConnection,
}

impl Fixtures {
    pub async fn open(url: &str) -> Result<Self, ServiceError> {
        Ok(Self {
            db: crate::db::connect(url).await?,
        })
    }

    /// `count` inventory rows of `host_id` named `<prefix>-<n>`; their inventory ids.
    pub async fn inventory(
        &self,
        host_id: &str,
        host_name: &str,
        prefix: &str,
        count: usize,
    ) -> Result<Vec<String>, ServiceError> {
        Ok(crate::db::inventory::seed(&self.db, host_id, host_name, prefix, count).await?)
    }

    /// Closes the connection (before a server starts on the same SQLite file).
    pub async fn close(self) -> Result<(), ServiceError> {
        self.db
            .close()
            .await
            .map_err(|e| ServiceError::Unexpected(e.into()))
    }

    /// Raw stats samples of `instance_id` on `host_id` at each of `at_ms`, all with `memory_bytes` and `cpu_percent`.
    pub async fn stats_samples(
        &self,
        instance_id: &str,
        host_id: &str,
        at_ms: &[i64],
        memory_bytes: i64,
        cpu_percent: f64,
    ) -> Result<(), ServiceError> {
        let samples = at_ms
            .iter()
            .map(|at| crate::db::stats::NewSample {
                instance_id: instance_id.to_owned(),
                host_id: host_id.to_owned(),
                at_ms: *at,
                cpu_percent: Some(cpu_percent),
                memory_bytes,
                memory_limit_bytes: None,
                net_rx_bytes: 0,
                net_tx_bytes: 0,
                block_read_bytes: 0,
                block_write_bytes: 0,
            })
            .collect();
        Ok(crate::db::stats::insert_samples(&self.db, samples).await?)
    }

    /// Every scheduled alert reminder falls due now, as if its interval had passed (acknowledged alerts have
    /// none); how many were scheduled.
    pub async fn reminders_due(&self) -> Result<u64, ServiceError> {
        Ok(crate::db::alerts::reminders_due_for_tests(&self.db, chrono::Utc::now()).await?)
    }

    /// Removes one inventory row.
    pub async fn forget(&self, inventory_id: &str) -> Result<(), ServiceError> {
        Ok(crate::db::inventory::delete(&self.db, inventory_id).await?)
    }

    /// `count` definitions with `replicas` instances each over `host_ids`.
    pub async fn definitions(
        &self,
        host_ids: &[String],
        prefix: &str,
        count: usize,
        replicas: usize,
    ) -> Result<Seeded, ServiceError> {
        Ok(crate::db::seed::definitions(&self.db, host_ids, prefix, count, replicas).await?)
    }
}
