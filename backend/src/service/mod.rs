//! Business rules. Services own the database handle; the GraphQL and HTTP layers call services only.

pub mod auth;
pub mod error;

pub use error::ServiceError;

use sea_orm::DatabaseConnection;

/// All services, cheap to clone (shared state behind `Arc`s / pooled connections).
#[derive(Clone)]
pub struct Services {
    pub auth: auth::AuthService,
    db: DatabaseConnection,
}

impl Services {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            auth: auth::AuthService::new(db.clone()),
            db,
        }
    }

    /// Whether the database answers; for `/healthz`.
    pub async fn database_health(&self) -> Result<(), ServiceError> {
        crate::db::ping(&self.db)
            .await
            .map_err(|e| ServiceError::Unavailable(format!("database does not answer: {e}")))
    }
}
