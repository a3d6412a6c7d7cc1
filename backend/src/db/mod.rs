//! Database access: connection, migrations, entities and the queries services use. Only `service/` calls it.

pub mod adoption;
pub mod alerts;
pub mod audit;
pub mod containers;
pub mod entities;
pub mod fault;
pub mod hosts;
pub mod inventory;
pub mod keyset;
pub mod registries;
pub mod seed;
pub mod session_store;
pub mod stats;
pub mod tokens;
pub mod users;

use entities::setting;
use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectOptions, Database, DatabaseConnection, EntityTrait, IntoActiveModel};
use std::time::Duration;

pub use fault::DbFault;
pub use sea_orm::DbErr;

/// How long a request waits for a PostgreSQL connection before the database counts as not answering (the
/// request then fails with UNAVAILABLE instead of hanging while the server is down).
pub const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// The same for SQLite, where waiting only ever means other requests hold every connection.
pub const SQLITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// The settings row `/healthz` writes to prove the database takes writes.
const HEARTBEAT_KEY: &str = "health.heartbeat";

/// Rows a SQLite connection's thread may hand over before the reader takes them.
const ROW_CHANNEL: usize = 1024;

/// Connects to SQLite or PostgreSQL and brings the schema up to date.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let sqlite = url.starts_with("sqlite:");
    let acquire = if sqlite {
        SQLITE_ACQUIRE_TIMEOUT
    } else {
        PG_ACQUIRE_TIMEOUT
    };
    let mut options = ConnectOptions::new(url.to_owned());
    // sea-orm hands both timeouts to the pool's one acquire timeout (which includes connecting).
    options
        .max_connections(if sqlite { 8 } else { 16 })
        .connect_timeout(acquire)
        .acquire_timeout(acquire)
        .sqlx_logging(false);
    // SQLite: write-ahead log with `synchronous = NORMAL` (a commit is one append; durable across crashes of
    // Berth, at worst the last commits lost on power loss, never a corrupt file), readers never block the
    // writer.
    options.map_sqlx_sqlite_opts(|o| {
        o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            // Each connection's thread hands rows over a bounded channel; at sqlx's 50 a page of 50
            // definitions with their 100 instances parks and wakes that thread and the reader about once a
            // row. Room for a whole page lets the thread run through it and the reader take it at once.
            .row_buffer_size(ROW_CHANNEL)
    });
    let db = Database::connect(options).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// Begins a transaction that writes. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), waiting up
/// to the busy timeout for another writer: a deferred transaction whose first statement reads (an explicit
/// read, or the search index opened while the first statement touching it is prepared) would instead fail at
/// once with "database is locked" when another connection writes. Every transaction that writes begins here
/// (PostgreSQL ignores the mode).
pub async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    use sea_orm::TransactionTrait as _;
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Checks that the database answers and takes a write (for `/healthz`): one upsert of a heartbeat row, so a
/// full disk shows (a read-only check stays green while every write fails).
pub async fn probe(db: &DatabaseConnection) -> Result<(), DbErr> {
    let beat = setting::Model {
        key: HEARTBEAT_KEY.to_owned(),
        value: chrono::Utc::now().to_rfc3339(),
    };
    setting::Entity::insert(beat.into_active_model())
        .on_conflict(
            OnConflict::column(setting::Column::Key)
                .update_column(setting::Column::Value)
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}
