//! The database side of several servers on one PostgreSQL, for `crate::cluster`: the leader lease, commands
//! handed to the leader with their answers, and notifications between servers.

use crate::db::cluster as q;
use crate::service::ServiceError;
use sea_orm::DatabaseConnection;
use std::time::Duration;

pub use q::Listener;

#[derive(Clone)]
pub struct ClusterService {
    db: DatabaseConnection,
}

impl ClusterService {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Whether the database is PostgreSQL (several servers may share it); on SQLite one server runs.
    pub fn shared_database(&self) -> bool {
        matches!(self.db.get_database_backend(), sea_orm::DbBackend::Postgres)
    }

    /// Takes or renews the leader lease; the fencing token when this server holds it.
    pub async fn take_lease(
        &self,
        holder: &str,
        address: &str,
        lease: Duration,
    ) -> Result<Option<i64>, ServiceError> {
        Ok(q::take_lease(&self.db, holder, address, lease).await?)
    }

    pub async fn release_lease(&self, holder: &str) -> Result<(), ServiceError> {
        Ok(q::release_lease(&self.db, holder).await?)
    }

    pub async fn notify(&self, channel: &str, payload: &str) -> Result<(), ServiceError> {
        Ok(q::notify(&self.db, channel, payload).await?)
    }

    pub async fn insert_command(&self, id: &str, payload: &str) -> Result<(), ServiceError> {
        Ok(q::insert_command(&self.db, id, payload).await?)
    }

    pub async fn claim_commands(
        &self,
        token: i64,
        limit: u64,
    ) -> Result<Vec<(String, String)>, ServiceError> {
        Ok(q::claim_commands(&self.db, token, limit).await?)
    }

    pub async fn answer_command(
        &self,
        id: &str,
        token: i64,
        answer: &str,
    ) -> Result<bool, ServiceError> {
        Ok(q::answer_command(&self.db, id, token, answer).await?)
    }

    pub async fn command_answer(&self, id: &str) -> Result<Option<String>, ServiceError> {
        Ok(q::command_answer(&self.db, id).await?)
    }

    pub async fn delete_command(&self, id: &str) -> Result<(), ServiceError> {
        Ok(q::delete_command(&self.db, id).await?)
    }

    pub async fn forget_answered(&self, age: Duration) -> Result<u64, ServiceError> {
        Ok(q::forget_answered(&self.db, age).await?)
    }

    pub async fn listen(&self, channels: &[&str]) -> Result<Listener, ServiceError> {
        Ok(q::Listener::connect(&self.db, channels).await?)
    }
}
