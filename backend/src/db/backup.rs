//! The database side of `berth backup` and `berth restore`: a SQLite database opened as it is (no migration),
//! its consistent online copy (`VACUUM INTO`), and what a database holds.

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, Statement};

/// Opens a database without bringing its schema up to date (a backup copies it as it is).
pub async fn open_as_is(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options.max_connections(1).sqlx_logging(false);
    Database::connect(options).await
}

/// Writes a consistent copy of the whole database to `path` (which must not exist), while others keep reading
/// and writing it.
pub async fn copy_into(db: &DatabaseConnection, path: &str) -> Result<(), DbErr> {
    db.execute_unprepared(&format!("VACUUM INTO '{}'", path.replace('\'', "''")))
        .await
        .map(|_| ())
}

/// What a Berth database holds, for a person to check a backup by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contents {
    pub migrations: i64,
    pub users: i64,
    pub hosts: i64,
    pub registries: i64,
    pub definitions: i64,
    /// One sealed secret, if any is stored (to tell whether a key opens them).
    pub sealed_sample: Option<String>,
}

async fn count(db: &DatabaseConnection, table: &str) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await?;
    match row {
        Some(row) => row.try_get::<i64>("", "n"),
        None => Ok(0),
    }
}

/// Counts what a database holds; an error when it is not a Berth database (no migrations table).
pub async fn contents(db: &DatabaseConnection) -> Result<Contents, DbErr> {
    let sealed = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT password_sealed AS s FROM registries WHERE password_sealed IS NOT NULL LIMIT 1"
                .to_owned(),
        ))
        .await?
        .map(|row| row.try_get::<String>("", "s"))
        .transpose()?;
    Ok(Contents {
        migrations: count(db, "seaql_migrations").await?,
        users: count(db, "users").await?,
        hosts: count(db, "hosts").await?,
        registries: count(db, "registries").await?,
        definitions: count(db, "containers").await?,
        sealed_sample: sealed,
    })
}
