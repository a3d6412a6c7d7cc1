//! Queries on `registries` and `registry_tags`.

use super::entities::{registry, registry_tag};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

pub use registry::Model as RegistryRow;
pub use registry_tag::Model as RegistryTagRow;

/// Rows per INSERT (SQLite limits the number of bound values of one statement).
const INSERT_CHUNK: usize = 500;
/// (repository, tag) pairs per DELETE.
const DELETE_CHUNK: usize = 400;

pub async fn all(db: &DatabaseConnection) -> Result<Vec<RegistryRow>, DbErr> {
    registry::Entity::find()
        .order_by_asc(registry::Column::Name)
        .all(db)
        .await
}

pub async fn by_id(db: &DatabaseConnection, id: &str) -> Result<Option<RegistryRow>, DbErr> {
    registry::Entity::find_by_id(id.to_owned()).one(db).await
}

pub async fn by_name(db: &DatabaseConnection, name: &str) -> Result<Option<RegistryRow>, DbErr> {
    registry::Entity::find()
        .filter(registry::Column::Name.eq(name))
        .one(db)
        .await
}

pub async fn insert(db: &DatabaseConnection, row: RegistryRow) -> Result<RegistryRow, DbErr> {
    registry::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

/// Replaces the user-editable settings of a registry.
pub async fn update_settings(
    db: &DatabaseConnection,
    row: RegistryRow,
) -> Result<RegistryRow, DbErr> {
    let active = registry::ActiveModel {
        id: Set(row.id.clone()),
        name: Set(row.name.clone()),
        url: Set(row.url.clone()),
        kind: Set(row.kind),
        namespace: Set(row.namespace.clone()),
        username: Set(row.username.clone()),
        password_sealed: Set(row.password_sealed.clone()),
        insecure: Set(row.insecure),
        refresh_interval_seconds: Set(row.refresh_interval_seconds),
        ..Default::default()
    };
    active.update(db).await
}

/// Records the refresh state; `refreshed_at` is written only when given.
pub async fn set_status(
    db: &DatabaseConnection,
    id: &str,
    status: berth_shared::RegistryStatus,
    error: Option<String>,
    refreshed_at: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    let mut update = registry::Entity::update_many()
        .col_expr(registry::Column::Status, Expr::value(status))
        .col_expr(registry::Column::LastError, Expr::value(error))
        .filter(registry::Column::Id.eq(id));
    if let Some(at) = refreshed_at {
        update = update.col_expr(registry::Column::LastRefreshedAt, Expr::value(at));
    }
    update.exec(db).await.map(|_| ())
}

pub async fn delete(db: &DatabaseConnection, id: &str) -> Result<bool, DbErr> {
    let txn = super::begin_write(db).await?;
    registry_tag::Entity::delete_many()
        .filter(registry_tag::Column::RegistryId.eq(id))
        .exec(&txn)
        .await?;
    let res = registry::Entity::delete_by_id(id.to_owned())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(res.rows_affected > 0)
}

/// Every stored tag of a registry, by repository and tag.
pub async fn tags(
    db: &DatabaseConnection,
    registry_id: &str,
) -> Result<Vec<RegistryTagRow>, DbErr> {
    registry_tag::Entity::find()
        .filter(registry_tag::Column::RegistryId.eq(registry_id))
        .order_by_asc(registry_tag::Column::Repository)
        .order_by_asc(registry_tag::Column::Tag)
        .all(db)
        .await
}

/// The stored tags of some repositories of a registry.
pub async fn tags_of(
    db: &DatabaseConnection,
    registry_id: &str,
    repositories: &[String],
) -> Result<Vec<RegistryTagRow>, DbErr> {
    if repositories.is_empty() {
        return Ok(Vec::new());
    }
    registry_tag::Entity::find()
        .filter(registry_tag::Column::RegistryId.eq(registry_id))
        .filter(registry_tag::Column::Repository.is_in(repositories.iter().cloned()))
        .order_by_asc(registry_tag::Column::Repository)
        .order_by_asc(registry_tag::Column::Tag)
        .all(db)
        .await
}

/// The names of a registry's repositories (those containing `filter`, when given), sorted.
pub async fn repository_names(
    db: &DatabaseConnection,
    registry_id: &str,
    filter: Option<&str>,
) -> Result<Vec<String>, DbErr> {
    let mut query = registry_tag::Entity::find()
        .select_only()
        .column(registry_tag::Column::Repository)
        .distinct()
        .filter(registry_tag::Column::RegistryId.eq(registry_id));
    if let Some(f) = filter {
        query = query.filter(registry_tag::Column::Repository.contains(f));
    }
    query
        .order_by_asc(registry_tag::Column::Repository)
        .into_tuple::<String>()
        .all(db)
        .await
}

pub async fn repository_count(db: &DatabaseConnection, registry_id: &str) -> Result<u64, DbErr> {
    registry_tag::Entity::find()
        .select_only()
        .column(registry_tag::Column::Repository)
        .distinct()
        .filter(registry_tag::Column::RegistryId.eq(registry_id))
        .count(db)
        .await
}

pub async fn tag_count(db: &DatabaseConnection, registry_id: &str) -> Result<u64, DbErr> {
    registry_tag::Entity::find()
        .filter(registry_tag::Column::RegistryId.eq(registry_id))
        .count(db)
        .await
}

/// Brings the stored list of a registry up to date in one transaction (readers see the old list or the new
/// one): the `removed` (repository, tag) pairs are deleted and the `upserts` inserted or overwritten; rows in
/// neither are not touched, so a refresh that found nothing new writes nothing.
pub async fn update_tags(
    db: &DatabaseConnection,
    registry_id: &str,
    removed: &[(String, String)],
    upserts: Vec<RegistryTagRow>,
) -> Result<(), DbErr> {
    if removed.is_empty() && upserts.is_empty() {
        return Ok(());
    }
    let txn = super::begin_write(db).await?;
    for chunk in removed.chunks(DELETE_CHUNK) {
        let pairs = chunk
            .iter()
            .fold(Condition::any(), |any, (repository, tag)| {
                any.add(
                    Condition::all()
                        .add(registry_tag::Column::Repository.eq(repository.as_str()))
                        .add(registry_tag::Column::Tag.eq(tag.as_str())),
                )
            });
        registry_tag::Entity::delete_many()
            .filter(registry_tag::Column::RegistryId.eq(registry_id))
            .filter(pairs)
            .exec(&txn)
            .await?;
    }
    for chunk in upserts.chunks(INSERT_CHUNK) {
        registry_tag::Entity::insert_many(
            chunk
                .iter()
                .cloned()
                .map(IntoActiveModel::into_active_model),
        )
        .on_conflict(
            OnConflict::columns([
                registry_tag::Column::RegistryId,
                registry_tag::Column::Repository,
                registry_tag::Column::Tag,
            ])
            .update_columns([
                registry_tag::Column::Digest,
                registry_tag::Column::SizeBytes,
                registry_tag::Column::Architectures,
                registry_tag::Column::CreatedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    txn.commit().await
}

/// Sets (or with `None` clears) a registry's push-hook secret hash; `false` when there is no such registry.
pub async fn set_hook_secret_hash(
    db: &DatabaseConnection,
    id: &str,
    hash: Option<String>,
) -> Result<bool, DbErr> {
    let txn = super::begin_write(db).await?;
    let res = registry::Entity::update_many()
        .col_expr(registry::Column::HookSecretHash, Expr::value(hash))
        .filter(registry::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(res.rows_affected > 0)
}

/// The stored tags of `registry_ids` among `repositories` × `tags` (the caller keeps the pairs it asked for).
pub async fn tags_among(
    db: &DatabaseConnection,
    registry_ids: &[String],
    repositories: &[String],
    tags: &[String],
) -> Result<Vec<RegistryTagRow>, DbErr> {
    if registry_ids.is_empty() || repositories.is_empty() || tags.is_empty() {
        return Ok(Vec::new());
    }
    registry_tag::Entity::find()
        .filter(registry_tag::Column::RegistryId.is_in(registry_ids.iter().cloned()))
        .filter(registry_tag::Column::Repository.is_in(repositories.iter().cloned()))
        .filter(registry_tag::Column::Tag.is_in(tags.iter().cloned()))
        .all(db)
        .await
}
