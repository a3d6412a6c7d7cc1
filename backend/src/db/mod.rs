//! Database access: connection, migrations, entities and the queries services use. Only `service/` calls it.

pub mod adoption;
pub mod alerts;
pub mod audit;
pub mod backup;
pub mod cluster;
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
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex as StdMutex};
use std::time::Duration;

pub use fault::DbFault;
pub use sea_orm::DbErr;

/// How long a request waits for a PostgreSQL connection before the database counts as not answering (the
/// request then fails with UNAVAILABLE instead of hanging while the server is down).
pub const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// The same for SQLite, where waiting only ever means other requests hold every connection.
pub const SQLITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// PostgreSQL's `idle_in_transaction_session_timeout` for Berth's connections (see [`connect`]).
const PG_IDLE_IN_TRANSACTION: &str = "5s";
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
    // SQLite ends a transaction by itself when a statement fails with a full disk (or out of memory, or an I/O
    // error). sqlx's count of open transactions on that connection then stays at one: the rollback it sends
    // when the transaction is dropped fails ("no transaction is active"). Back in the pool, the next
    // transaction on it becomes a savepoint, and a failure inside that rolls back to the savepoint and leaves
    // a real transaction open for good: every later write on that connection answered "done" and was never
    // committed (seen on a disk filled and freed again). A connection that comes back still counting a
    // transaction is closed instead.
    options.map_sqlx_sqlite_pool_opts(|pool| pool.after_release(release_only_outside_transactions));
    // PostgreSQL: a transaction left open by a server that was paused or cut off would hold its row locks until
    // that server came back, and the server leading after it would wait on them. Berth's transactions never
    // wait on anything outside the database, so one idle for 5 s is ended by PostgreSQL (its locks freed).
    options.map_sqlx_postgres_opts(|o| {
        o.options([(
            "idle_in_transaction_session_timeout",
            PG_IDLE_IN_TRANSACTION,
        )])
    });
    let db = Database::connect(options).await?;
    if sqlite {
        Migrator::up(&db, None).await?;
    } else {
        migrate_alone(&db).await?;
    }
    Ok(db)
}

/// The advisory lock key servers on one PostgreSQL take while they migrate.
const MIGRATION_LOCK: i64 = 0x6265_7274_686d_6967;

/// Migrates PostgreSQL under an advisory lock, so that servers started together migrate one after another
/// (the later ones then find nothing to do). The lock is held by one pooled connection, the migrations run on
/// others.
async fn migrate_alone(db: &DatabaseConnection) -> Result<(), DbErr> {
    use sea_orm::sqlx;
    let sqlx_err = |e: sqlx::Error| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into()));
    let mut holder = db
        .get_postgres_connection_pool()
        .acquire()
        .await
        .map_err(sqlx_err)?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *holder)
        .await
        .map_err(sqlx_err)?;
    let migrated = Migrator::up(db, None).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *holder)
        .await;
    migrated?;
    unlocked.map_err(sqlx_err).map(|_| ())
}

/// The pool's check on a SQLite connection coming back: keep it only outside any transaction. A dropped
/// transaction's rollback may still be queued, so a connection that counts one gets a round trip first.
fn release_only_outside_transactions(
    conn: &mut sea_orm::sqlx::SqliteConnection,
    _meta: sea_orm::sqlx::pool::PoolConnectionMetadata,
) -> futures::future::BoxFuture<'_, Result<bool, sea_orm::sqlx::Error>> {
    use sea_orm::sqlx::Connection as _;
    Box::pin(async move {
        if !conn.is_in_transaction() {
            return Ok(true);
        }
        conn.ping().await?;
        if conn.is_in_transaction() {
            tracing::warn!(
                "closing a SQLite connection whose transaction SQLite ended by itself after an error"
            );
            return Ok(false);
        }
        Ok(true)
    })
}

/// How long a write waits for the one before it in this process (SQLite), like the busy timeout.
const WRITE_GATE_TIMEOUT: Duration = Duration::from_secs(10);

/// The write gate of each SQLite file this process opened: writers queue on it in order and start the moment
/// the one before them commits. Without it, a writer that meets another's lock waits in SQLite's busy handler,
/// which sleeps in steps of up to 100 ms (1, 2, 5, 10, 15, 20, 25, … ms): a write held up for 34 ms resumed
/// only after 53 ms, and those steps were the slowest inventory events to reach a subscriber.
fn write_gate(db: &DatabaseConnection) -> Option<Arc<tokio::sync::Mutex<()>>> {
    static GATES: LazyLock<StdMutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Default::default);
    if db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return None;
    }
    let file = db
        .get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_path_buf();
    let mut gates = GATES.lock().unwrap_or_else(|p| p.into_inner());
    Some(gates.entry(file).or_default().clone())
}

/// A transaction that writes, holding its database's write gate (SQLite) until it ends.
pub struct WriteTxn {
    txn: sea_orm::DatabaseTransaction,
    // Dropped after `txn`: the gate opens once the transaction has ended.
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

#[async_trait::async_trait]
impl sea_orm::ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> sea_orm::DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: sea_orm::Statement) -> Result<sea_orm::ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Option<sea_orm::QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

/// Begins a transaction that writes. On SQLite it first waits its turn at the file's write gate (see
/// [`write_gate`]), then takes the write lock at once (`BEGIN IMMEDIATE`), waiting up to the busy timeout for a
/// writer outside the gate (another process): a deferred transaction whose first statement reads (an explicit
/// read, or the search index opened while the first statement touching it is prepared) would instead fail at
/// once with "database is locked" when another connection writes. Every transaction that writes begins here
/// (PostgreSQL ignores the mode and has no gate).
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTxn, DbErr> {
    use sea_orm::TransactionTrait as _;
    let gate = match write_gate(db) {
        Some(gate) => Some(
            tokio::time::timeout(WRITE_GATE_TIMEOUT, gate.lock_owned())
                .await
                .map_err(|_| {
                    DbErr::Custom(format!(
                        "the database is busy: another write held it for {} s",
                        WRITE_GATE_TIMEOUT.as_secs()
                    ))
                })?,
        ),
        None => None,
    };
    let txn = db
        .begin_with_options(sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    Ok(WriteTxn { txn, _gate: gate })
}

/// Checks that the database answers and takes a write (for `/healthz`): one upsert of a heartbeat row, so a
/// full disk shows (a read-only check stays green while every write fails).
pub async fn probe(db: &DatabaseConnection) -> Result<(), DbErr> {
    let beat = setting::Model {
        key: HEARTBEAT_KEY.to_owned(),
        value: chrono::Utc::now().to_rfc3339(),
    };
    let txn = begin_write(db).await?;
    setting::Entity::insert(beat.into_active_model())
        .on_conflict(
            OnConflict::column(setting::Column::Key)
                .update_column(setting::Column::Value)
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ColumnTrait as _, ConnectionTrait as _, PaginatorTrait as _, QueryFilter as _};

    /// A transaction that SQLite ended by itself (as it does on a full disk) must not leave its connection
    /// swallowing later writes: every write that answered "done" is there for a second connection.
    #[tokio::test]
    async fn a_transaction_sqlite_ended_loses_no_later_write() {
        let dir = std::env::temp_dir().join(format!(
            "berth-db-test-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("berth.db").display());
        let db = connect(&url).await.unwrap();

        // SQLite ends the transaction behind sqlx's back (a full disk does the same).
        let txn = begin_write(&db).await.unwrap();
        txn.execute_unprepared("ROLLBACK").await.unwrap();
        drop(txn);

        for i in 0..12 {
            // A transaction whose statement fails (here a duplicate key), then a plain write.
            let txn = begin_write(&db).await.unwrap();
            let failed = txn
                .execute_unprepared(
                    "INSERT INTO settings (key, value) VALUES ('x', '1'), ('x', '2')",
                )
                .await;
            assert!(failed.is_err(), "the duplicate key must fail");
            drop(txn);
            setting::Entity::insert(
                setting::Model {
                    key: format!("k{i}"),
                    value: "v".to_owned(),
                }
                .into_active_model(),
            )
            .exec_without_returning(&db)
            .await
            .unwrap();
        }

        let other = connect(&url).await.unwrap();
        let seen = setting::Entity::find()
            .filter(setting::Column::Key.like("k%"))
            .count(&other)
            .await
            .unwrap();
        assert_eq!(
            seen, 12,
            "writes that answered done but a second connection cannot see"
        );
        drop(other);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
