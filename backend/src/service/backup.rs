//! `berth backup` and `berth restore`: a consistent online copy of a SQLite database into one new file, and such a
//! file made the database of a data folder that has none. PostgreSQL is backed up with its own tools
//! (`pg_dump`/`pg_restore`), which the refusal says. Neither copies the secret key: without it the stored
//! secrets (registry passwords, TLS keys, alert channel URLs and passwords) cannot be opened.

use crate::db::backup as q;
use crate::secrets::SecretBox;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{} exists already: name a new file (a backup never overwrites one)", .0.display())]
    Exists(PathBuf),
    #[error(
        "the database is PostgreSQL: back it up with its own tools, e.g. `pg_dump --format=custom \
         --file=berth.dump \"$DATABASE_URL\"`, and restore with `pg_restore --dbname=<empty database> \
         berth.dump`; keep the secret key (BERTH_SECRET_KEY, or secret.key in the data folder) with it"
    )]
    Postgres,
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// What a backup or a restored database holds.
#[derive(Clone, Debug)]
pub struct Summary {
    pub file: PathBuf,
    pub bytes: u64,
    pub users: i64,
    pub hosts: i64,
    pub registries: i64,
    pub definitions: i64,
    /// Whether the secret key at hand opens the stored secrets: `None` when none is stored or no key is there.
    pub secrets_open: Option<bool>,
}

fn unexpected(e: impl std::fmt::Display, what: &str) -> BackupError {
    BackupError::Unexpected(anyhow::anyhow!("{what}: {e}"))
}

async fn summarize(file: &Path, secrets: Option<&SecretBox>) -> Result<Summary, BackupError> {
    let url = format!("sqlite://{}?mode=ro", file.display());
    let db = q::open_as_is(&url)
        .await
        .map_err(|e| unexpected(e, "opening the copy"))?;
    let contents = q::contents(&db).await.map_err(|e| {
        BackupError::Refused(format!("{} is not a Berth database ({e})", file.display()))
    });
    let _ = db.close().await;
    let contents = contents?;
    if contents.migrations == 0 {
        return Err(BackupError::Refused(format!(
            "{} is not a Berth database: its schema has no migrations recorded",
            file.display()
        )));
    }
    let bytes = std::fs::metadata(file)
        .map_err(|e| unexpected(e, "reading the copy's size"))?
        .len();
    Ok(Summary {
        file: file.to_path_buf(),
        bytes,
        users: contents.users,
        hosts: contents.hosts,
        registries: contents.registries,
        definitions: contents.definitions,
        secrets_open: match (secrets, &contents.sealed_sample) {
            (Some(key), Some(sealed)) => Some(key.open(sealed).is_ok()),
            _ => None,
        },
    })
}

/// Copies the database at `database_url` into the new file `to`, consistently, while the server may run.
pub async fn backup(database_url: &str, to: &Path) -> Result<Summary, BackupError> {
    if database_url.starts_with("postgres") {
        return Err(BackupError::Postgres);
    }
    if to.exists() {
        return Err(BackupError::Exists(to.to_path_buf()));
    }
    if let Some(parent) = to.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(BackupError::Refused(format!(
            "the folder {} does not exist",
            parent.display()
        )));
    }
    let db = q::open_as_is(database_url)
        .await
        .map_err(|e| unexpected(e, "opening the database"))?;
    let copied = q::copy_into(&db, &to.to_string_lossy()).await;
    let _ = db.close().await;
    copied.map_err(|e| unexpected(e, "copying the database"))?;
    summarize(to, None).await
}

/// Makes the backup `from` the database of `data_dir`, which must not have one; the schema is brought up to date
/// and the secret key at hand (`BERTH_SECRET_KEY`, or `secret.key` in `data_dir`) is tried on a stored secret.
pub async fn restore(
    from: &Path,
    data_dir: &Path,
    secret_key: Option<&str>,
) -> Result<Summary, BackupError> {
    if !from.is_file() {
        return Err(BackupError::Refused(format!(
            "{} is not a file",
            from.display()
        )));
    }
    let target = data_dir.join("berth.db");
    for existing in [
        target.clone(),
        data_dir.join("berth.db-wal"),
        data_dir.join("berth.db-shm"),
    ] {
        if existing.exists() {
            return Err(BackupError::Refused(format!(
                "{} has a database already ({}): restore into a data folder without one",
                data_dir.display(),
                existing.display()
            )));
        }
    }
    // Checked before anything is written.
    summarize(from, None).await?;
    std::fs::create_dir_all(data_dir).map_err(|e| unexpected(e, "creating the data folder"))?;
    let partial = data_dir.join("berth.db.restoring");
    std::fs::copy(from, &partial).map_err(|e| unexpected(e, "copying the backup"))?;
    std::fs::rename(&partial, &target).map_err(|e| unexpected(e, "moving the copy in place"))?;
    let url = format!("sqlite://{}?mode=rwc", target.display());
    let db = crate::db::connect(&url)
        .await
        .map_err(|e| unexpected(e, "bringing the restored schema up to date"))?;
    let _ = db.close().await;
    let key_at_hand = secret_key.is_some() || data_dir.join("secret.key").is_file();
    let secrets = if key_at_hand {
        Some(
            SecretBox::load(data_dir, secret_key)
                .map_err(|e| unexpected(e, "reading the secret key"))?,
        )
    } else {
        None
    };
    summarize(&target, secrets.as_ref()).await
}
