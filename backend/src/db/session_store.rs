//! A tower-sessions store on the Berth database (SQLite or PostgreSQL), so sessions survive restarts and are
//! shared by several backend replicas.

use super::DbFault;
use super::entities::session;
use async_trait::async_trait;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    sea_query::OnConflict,
};
use std::future::Future;
use std::sync::{Arc, Mutex};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result, SessionStore};

#[derive(Debug, Clone)]
pub struct DbSessionStore {
    db: DatabaseConnection,
}

impl DbSessionStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Removes expired sessions; run periodically.
    pub async fn delete_expired(&self) -> std::result::Result<u64, sea_orm::DbErr> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let res = session::Entity::delete_many()
            .filter(session::Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected)
    }

    /// Ends every session of a user except `keep` (a session id); returns how many ended.
    pub async fn end_user_sessions(
        db: &DatabaseConnection,
        user_id: &str,
        keep: Option<&str>,
    ) -> std::result::Result<u64, sea_orm::DbErr> {
        let mut delete = session::Entity::delete_many()
            .filter(session::Column::Data.contains(format!("\"user_id\":\"{user_id}\"")));
        if let Some(k) = keep {
            delete = delete.filter(session::Column::Id.ne(k));
        }
        Ok(delete.exec(db).await?.rows_affected)
    }

    fn row(record: &Record) -> Result<session::Model> {
        Ok(session::Model {
            id: record.id.to_string(),
            data: serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?,
            expires_at: record.expiry_date.unix_timestamp(),
        })
    }
}

tokio::task_local! {
    /// Where the store notes why it failed, for the request being served (see [`note_failures`]).
    static FAILURE: Arc<Mutex<Option<String>>>;
}

/// Runs `request` (a whole HTTP request, session layer included) and returns its response with the last
/// session store failure it met, if any: the session layer answers a failed save with an empty HTTP 500, and
/// the HTTP edge words it from this.
pub async fn note_failures<F: Future>(request: F) -> (F::Output, Option<String>) {
    let slot = Arc::new(Mutex::new(None));
    let output = FAILURE.scope(slot.clone(), request).await;
    let failure = slot
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    (output, failure)
}

/// A database error as a store error: a [`DbFault`] in its own words (so it is recognised again at the edge),
/// noted for the request.
fn backend(e: sea_orm::DbErr) -> Error {
    let text = DbFault::of(&e).map_or_else(|| e.to_string(), |fault| fault.to_string());
    let _ = FAILURE.try_with(|slot| {
        *slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(text.clone());
    });
    Error::Backend(text)
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        // A fresh random 128-bit id practically never collides, but never overwrite someone else's session.
        loop {
            let exists = session::Entity::find_by_id(record.id.to_string())
                .one(&self.db)
                .await
                .map_err(backend)?
                .is_some();
            if !exists {
                break;
            }
            record.id = Id::default();
        }
        session::Entity::insert(Self::row(record)?.into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn save(&self, record: &Record) -> Result<()> {
        session::Entity::insert(Self::row(record)?.into_active_model())
            .on_conflict(
                OnConflict::column(session::Column::Id)
                    .update_columns([session::Column::Data, session::Column::ExpiresAt])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let Some(row) = session::Entity::find_by_id(id.to_string())
            .filter(session::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let data = serde_json::from_str(&row.data).map_err(|e| Error::Decode(e.to_string()))?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp(row.expires_at)
            .map_err(|e| Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        session::Entity::delete_by_id(id.to_string())
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
