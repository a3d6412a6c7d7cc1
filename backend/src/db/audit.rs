//! Queries on `audit_log`.

use super::entities::audit_entry;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

pub use audit_entry::Model as AuditRow;

/// A new entry (its `seq` is assigned by the database).
pub struct NewEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    pub username: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub result: String,
    pub detail: Option<String>,
}

pub async fn insert(db: &DatabaseConnection, e: NewEntry) -> Result<(), DbErr> {
    let row = audit_entry::ActiveModel {
        id: Set(e.id),
        at: Set(e.at),
        username: Set(e.username),
        action: Set(e.action),
        target: Set(e.target),
        result: Set(e.result),
        detail: Set(e.detail),
        ..Default::default()
    };
    let txn = super::begin_write(db).await?;
    audit_entry::Entity::insert(row)
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await
}

/// Filters of [`page`].
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub username: Option<String>,
    pub action: Option<String>,
    /// Part of the target.
    pub target: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only entries older than this `seq` (paging backwards from the newest).
    pub before_seq: Option<i64>,
}

/// Newest first: up to `limit` entries, and the total matching the filters (without `before_seq`).
pub async fn page(
    db: &DatabaseConnection,
    q: &AuditQuery,
    limit: u64,
) -> Result<(Vec<AuditRow>, u64), DbErr> {
    let mut select = audit_entry::Entity::find();
    if let Some(u) = &q.username {
        select = select.filter(audit_entry::Column::Username.eq(u.clone()));
    }
    if let Some(a) = &q.action {
        select = select.filter(audit_entry::Column::Action.eq(a.clone()));
    }
    if let Some(t) = &q.target {
        // Case-insensitive on every database (SQLite's LIKE already is for ASCII, PostgreSQL's is not); the
        // text is matched literally (`%` and `_` are escaped).
        let literal = t
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        select = select.filter(
            Expr::expr(Func::lower(Expr::col(audit_entry::Column::Target)))
                .like(LikeExpr::new(format!("%{literal}%")).escape('\\')),
        );
    }
    if let Some(s) = q.since {
        select = select.filter(audit_entry::Column::At.gte(s));
    }
    if let Some(u) = q.until {
        select = select.filter(audit_entry::Column::At.lte(u));
    }
    let total = select.clone().count(db).await?;
    if let Some(b) = q.before_seq {
        select = select.filter(audit_entry::Column::Seq.lt(b));
    }
    let rows = select
        .order_by_desc(audit_entry::Column::Seq)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

pub async fn by_id(db: &DatabaseConnection, id: &str) -> Result<Option<AuditRow>, DbErr> {
    audit_entry::Entity::find()
        .filter(audit_entry::Column::Id.eq(id))
        .one(db)
        .await
}
