//! Database access: connection, migrations, entities and the queries services use. Only `service/` calls it.

pub mod audit;
pub mod containers;
pub mod entities;
pub mod hosts;
pub mod registries;
pub mod session_store;
pub mod tokens;
pub mod users;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use std::time::Duration;

pub use sea_orm::DbErr;

/// Connects to SQLite or PostgreSQL and brings the schema up to date.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(if url.starts_with("sqlite:") { 8 } else { 16 })
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    // SQLite: write-ahead log with `synchronous = NORMAL` (a commit is one append; durable across crashes of
    // Berth, at worst the last commits lost on power loss, never a corrupt file), readers never block the
    // writer.
    options.map_sqlx_sqlite_opts(|o| {
        o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
    });
    let db = Database::connect(options).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// Checks that the database answers (for `/healthz`).
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.ping().await
}
