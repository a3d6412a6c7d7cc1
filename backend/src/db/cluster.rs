//! PostgreSQL's part in running several servers: the leader lease row, the command rows a follower hands to the
//! leader, and LISTEN/NOTIFY. Times are the database's own clock (`now()`), so the servers' clocks never matter.

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait as _, DatabaseConnection, DbBackend, DbErr, Statement, Value};
use std::time::Duration;

fn pg(sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// Takes the lease for `holder` when it is free or expired, or renews it when `holder` has it, until `lease`
/// from now. The fencing token goes up by one whenever the holder changes. `None`: another server holds it.
pub async fn take_lease(
    db: &DatabaseConnection,
    holder: &str,
    address: &str,
    lease: Duration,
) -> Result<Option<i64>, DbErr> {
    let row = db
        .query_one_raw(pg(
            "INSERT INTO leader_lease (id, holder, address, token, expires_at) \
             VALUES (1, $1, $2, 1, now() + make_interval(secs => $3)) \
             ON CONFLICT (id) DO UPDATE SET \
               token = CASE WHEN leader_lease.holder = $1 THEN leader_lease.token ELSE leader_lease.token + 1 END, \
               holder = $1, address = $2, expires_at = now() + make_interval(secs => $3) \
             WHERE leader_lease.holder = $1 OR leader_lease.expires_at < now() \
             RETURNING token",
            vec![holder.into(), address.into(), lease.as_secs_f64().into()],
        ))
        .await?;
    row.map(|r| r.try_get::<i64>("", "token")).transpose()
}

/// Gives the lease up at once (a clean stop), so that another server takes over without waiting for it to end.
pub async fn release_lease(db: &DatabaseConnection, holder: &str) -> Result<(), DbErr> {
    db.execute_raw(pg(
        "UPDATE leader_lease SET expires_at = now() - interval '1 second' WHERE holder = $1",
        vec![holder.into()],
    ))
    .await
    .map(|_| ())
}

/// `pg_notify(channel, payload)`: every server listening gets it once this statement's transaction commits.
pub async fn notify(db: &DatabaseConnection, channel: &str, payload: &str) -> Result<(), DbErr> {
    db.execute_raw(pg(
        "SELECT pg_notify($1, $2)",
        vec![channel.into(), payload.into()],
    ))
    .await
    .map(|_| ())
}

/// Stores a command for the leader.
pub async fn insert_command(db: &DatabaseConnection, id: &str, payload: &str) -> Result<(), DbErr> {
    db.execute_raw(pg(
        "INSERT INTO server_commands (id, payload, created_at) VALUES ($1, $2, now())",
        vec![id.into(), payload.into()],
    ))
    .await
    .map(|_| ())
}

/// Claims for the leader of term `token` the unanswered commands no server of this term claimed yet (a command
/// claimed by an earlier leader that did not answer it is claimed again), oldest first, at most `limit`.
pub async fn claim_commands(
    db: &DatabaseConnection,
    token: i64,
    limit: u64,
) -> Result<Vec<(String, String)>, DbErr> {
    let rows = db
        .query_all_raw(pg(
            "UPDATE server_commands SET claimed_token = $1 WHERE id IN ( \
               SELECT id FROM server_commands \
               WHERE answered_at IS NULL AND (claimed_token IS NULL OR claimed_token < $1) \
               ORDER BY created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
             RETURNING id, payload, created_at",
            vec![token.into(), (limit as i64).into()],
        ))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let created: chrono::DateTime<chrono::Utc> = r.try_get("", "created_at")?;
        out.push((
            created,
            r.try_get::<String>("", "id")?,
            r.try_get::<String>("", "payload")?,
        ));
    }
    // RETURNING keeps no order: restore the order they were sent in.
    out.sort();
    Ok(out
        .into_iter()
        .map(|(_, id, payload)| (id, payload))
        .collect())
}

/// Records the answer of a command (only while `token` still holds its claim).
pub async fn answer_command(
    db: &DatabaseConnection,
    id: &str,
    token: i64,
    answer: &str,
) -> Result<bool, DbErr> {
    let done = db
        .execute_raw(pg(
            "UPDATE server_commands SET answer = $2, answered_at = now() \
             WHERE id = $1 AND claimed_token = $3 AND answered_at IS NULL",
            vec![id.into(), answer.into(), token.into()],
        ))
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The answer of a command, once there is one.
pub async fn command_answer(db: &DatabaseConnection, id: &str) -> Result<Option<String>, DbErr> {
    let row = db
        .query_one_raw(pg(
            "SELECT answer FROM server_commands WHERE id = $1",
            vec![id.into()],
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<Option<String>>("", "answer"))
        .transpose()?
        .flatten())
}

/// Deletes a command (its sender gave up waiting, or read the answer).
pub async fn delete_command(db: &DatabaseConnection, id: &str) -> Result<(), DbErr> {
    db.execute_raw(pg(
        "DELETE FROM server_commands WHERE id = $1",
        vec![id.into()],
    ))
    .await
    .map(|_| ())
}

/// Deletes answered commands older than `age` (their senders are long gone).
pub async fn forget_answered(db: &DatabaseConnection, age: Duration) -> Result<u64, DbErr> {
    let done = db
        .execute_raw(pg(
            "DELETE FROM server_commands WHERE answered_at < now() - make_interval(secs => $1)",
            vec![age.as_secs_f64().into()],
        ))
        .await?;
    Ok(done.rows_affected())
}

/// A LISTEN connection of its own (taken from the pool and kept).
pub struct Listener(PgListener);

impl Listener {
    pub async fn connect(db: &DatabaseConnection, channels: &[&str]) -> Result<Listener, DbErr> {
        let mut l = PgListener::connect_with(db.get_postgres_connection_pool())
            .await
            .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into())))?;
        l.listen_all(channels.iter().copied())
            .await
            .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into())))?;
        Ok(Listener(l))
    }

    /// The next notification as `(channel, payload)`; `Ok(None)` when the connection was lost (it reconnects,
    /// but what was sent meanwhile is gone).
    pub async fn next(&mut self) -> Result<Option<(String, String)>, DbErr> {
        match self.0.try_recv().await {
            Ok(Some(n)) => Ok(Some((n.channel().to_owned(), n.payload().to_owned()))),
            Ok(None) => Ok(None),
            Err(e) => Err(DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into()))),
        }
    }
}
