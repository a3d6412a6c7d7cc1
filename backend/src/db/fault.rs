//! What a database error means to the people using Berth: the disk is full, or the database is not answering —
//! recognised for SQLite and PostgreSQL in this one place, so every layer words them the same.

use sea_orm::{DbErr, RuntimeErr};

/// A database failure that is about the database's surroundings, not about the request: worth an UNAVAILABLE
/// answer (try again later) rather than an internal error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DbFault {
    /// SQLite's SQLITE_FULL ("database or disk is full"), PostgreSQL's `disk_full` (SQLSTATE 53100, "could not
    /// extend file"), or the operating system's ENOSPC.
    #[error("{DISK_FULL}{0})")]
    DiskFull(String),
    /// No connection within the pool's acquire timeout, a refused or broken connection, a server shutting
    /// down.
    #[error("{NOT_ANSWERING}{0})")]
    NotAnswering(String),
}

/// How a disk-full message starts (also how [`DbFault::recognise`] finds it again in a string).
const DISK_FULL: &str = "the database cannot be written: the disk is full (";
/// How a not-answering message starts.
const NOT_ANSWERING: &str = "the database is not answering (";

/// SQLite's result code for a full disk (`SQLITE_FULL`).
const SQLITE_FULL: &str = "13";
/// PostgreSQL's SQLSTATE `disk_full`.
const PG_DISK_FULL: &str = "53100";

impl DbFault {
    /// The fault behind a sea-orm error, if it is one.
    pub fn of(e: &DbErr) -> Option<DbFault> {
        match e {
            DbErr::ConnectionAcquire(reason) => Some(DbFault::NotAnswering(format!(
                "no connection: {}",
                reason.to_string().to_lowercase()
            ))),
            DbErr::Conn(RuntimeErr::SqlxError(err))
            | DbErr::Exec(RuntimeErr::SqlxError(err))
            | DbErr::Query(RuntimeErr::SqlxError(err)) => {
                Self::of_sqlx(err).or_else(|| Self::recognise(&err.to_string()))
            }
            other => Self::recognise(&other.to_string()),
        }
    }

    fn of_sqlx(e: &sea_orm::sqlx::Error) -> Option<DbFault> {
        use sea_orm::sqlx::Error;
        match e {
            Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                let message = db.message().to_owned();
                if code == PG_DISK_FULL {
                    return Some(DbFault::DiskFull(message));
                }
                // SQLite's codes are numbers (the primary code in the low byte); PostgreSQL's are 5 characters.
                if let Ok(number) = code.parse::<u32>()
                    && code.len() < 5
                    && (number & 0xff).to_string() == SQLITE_FULL
                {
                    return Some(DbFault::DiskFull(message));
                }
                // PostgreSQL: connection exceptions (class 08), the server shutting down or starting (57P01-03).
                if code.len() == 5 && (code.starts_with("08") || code.starts_with("57P")) {
                    return Some(DbFault::NotAnswering(message));
                }
                Self::recognise(&message)
            }
            Error::PoolTimedOut => Some(DbFault::NotAnswering("no connection in time".into())),
            Error::PoolClosed => Some(DbFault::NotAnswering("the pool is closed".into())),
            Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
                Some(DbFault::DiskFull(io.to_string()))
            }
            Error::Io(io) => Some(DbFault::NotAnswering(io.to_string())),
            Error::Tls(tls) => Some(DbFault::NotAnswering(tls.to_string())),
            Error::WorkerCrashed => Some(DbFault::NotAnswering(
                "the connection worker crashed".into(),
            )),
            _ => None,
        }
    }

    /// The fault named in an error message (a session store's errors reach Berth as text only), if any.
    pub fn recognise(text: &str) -> Option<DbFault> {
        let detail = |prefix: &str| {
            let start = text.find(prefix)? + prefix.len();
            let rest = &text[start..];
            Some(rest.strip_suffix(')').unwrap_or(rest).to_owned())
        };
        if let Some(d) = detail(DISK_FULL) {
            return Some(DbFault::DiskFull(d));
        }
        if let Some(d) = detail(NOT_ANSWERING) {
            return Some(DbFault::NotAnswering(d));
        }
        let lower = text.to_lowercase();
        const FULL: [&str; 4] = [
            "database or disk is full",
            "could not extend file",
            "no space left on device",
            "disk full",
        ];
        const SILENT: [&str; 5] = [
            "pool timed out",
            "connection refused",
            "connection reset",
            "connection closed",
            "broken pipe",
        ];
        if FULL.iter().any(|needle| lower.contains(needle)) {
            return Some(DbFault::DiskFull(text.to_owned()));
        }
        if SILENT.iter().any(|needle| lower.contains(needle)) {
            return Some(DbFault::NotAnswering(text.to_owned()));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::ConnAcquireErr;

    #[test]
    fn disk_full_and_silence_are_recognised() {
        let full = DbErr::Exec(RuntimeErr::Internal(
            "error returned from database: (code: 13) database or disk is full".into(),
        ));
        assert!(matches!(DbFault::of(&full), Some(DbFault::DiskFull(_))));
        let pg = DbErr::Exec(RuntimeErr::Internal(
            "could not extend file \"base/16384/16385\": No space left on device".into(),
        ));
        assert!(matches!(DbFault::of(&pg), Some(DbFault::DiskFull(_))));
        let timeout = DbErr::ConnectionAcquire(ConnAcquireErr::Timeout);
        assert_eq!(
            DbFault::of(&timeout).map(|f| f.to_string()),
            Some("the database is not answering (no connection: connection pool timed out)".into())
        );
        let io = DbErr::Conn(RuntimeErr::SqlxError(std::sync::Arc::new(
            sea_orm::sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        )));
        assert!(matches!(DbFault::of(&io), Some(DbFault::NotAnswering(_))));
        let constraint = DbErr::Exec(RuntimeErr::Internal("UNIQUE constraint failed".into()));
        assert_eq!(DbFault::of(&constraint), None);
    }

    #[test]
    fn a_fault_is_recognised_again_in_its_own_words() {
        for fault in [
            DbFault::DiskFull("database or disk is full".into()),
            DbFault::NotAnswering("no connection in time".into()),
        ] {
            assert_eq!(
                DbFault::recognise(&format!("session store: {fault}")),
                Some(fault)
            );
        }
        assert!(
            DbFault::DiskFull("x".into())
                .to_string()
                .starts_with("the database cannot be written: the disk is full")
        );
    }
}
