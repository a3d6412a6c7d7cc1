//! Queries on `hosts` and `host_images`.

use super::entities::{host, host_image};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, Set,
};

pub use host::Model as HostRow;
pub use host_image::Model as HostImageRow;

pub async fn all(db: &DatabaseConnection) -> Result<Vec<HostRow>, DbErr> {
    host::Entity::find()
        .order_by_asc(host::Column::Name)
        .all(db)
        .await
}

pub async fn by_id(db: &DatabaseConnection, id: &str) -> Result<Option<HostRow>, DbErr> {
    host::Entity::find_by_id(id.to_owned()).one(db).await
}

/// The hosts among `ids` (one query; ids that name nothing are left out).
pub async fn by_ids(db: &DatabaseConnection, ids: &[String]) -> Result<Vec<HostRow>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    host::Entity::find()
        .filter(host::Column::Id.is_in(ids.iter().cloned()))
        .all(db)
        .await
}

pub async fn by_name(db: &DatabaseConnection, name: &str) -> Result<Option<HostRow>, DbErr> {
    host::Entity::find()
        .filter(host::Column::Name.eq(name))
        .one(db)
        .await
}

pub async fn insert(db: &DatabaseConnection, row: HostRow) -> Result<HostRow, DbErr> {
    host::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

/// Replaces the user-editable settings of a host.
pub async fn update_settings(db: &DatabaseConnection, row: HostRow) -> Result<HostRow, DbErr> {
    let active = host::ActiveModel {
        id: Set(row.id.clone()),
        name: Set(row.name.clone()),
        endpoint: Set(row.endpoint.clone()),
        docker_support: Set(row.docker_support),
        tls_ca_pem: Set(row.tls_ca_pem.clone()),
        tls_cert_pem: Set(row.tls_cert_pem.clone()),
        tls_key_sealed: Set(row.tls_key_sealed.clone()),
        ..Default::default()
    };
    active.update(db).await
}

pub async fn set_maintenance(db: &DatabaseConnection, id: &str, on: bool) -> Result<(), DbErr> {
    host::Entity::update_many()
        .col_expr(host::Column::Maintenance, Expr::value(on))
        .filter(host::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Records a status observation of the host monitor.
pub async fn set_status(
    db: &DatabaseConnection,
    id: &str,
    status: berth_shared::HostStatus,
    error: Option<String>,
    seen_at: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    let mut update = host::Entity::update_many()
        .col_expr(host::Column::Status, Expr::value(status))
        .col_expr(host::Column::LastError, Expr::value(error))
        .filter(host::Column::Id.eq(id));
    if let Some(at) = seen_at {
        update = update.col_expr(host::Column::LastSeenAt, Expr::value(at));
    }
    let txn = super::begin_write(db).await?;
    update.exec(&txn).await?;
    txn.commit().await
}

pub async fn set_capabilities(
    db: &DatabaseConnection,
    id: &str,
    capabilities_json: String,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    host::Entity::update_many()
        .col_expr(host::Column::Capabilities, Expr::value(capabilities_json))
        .col_expr(host::Column::CheckedAt, Expr::value(at))
        .filter(host::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}

pub async fn delete(db: &DatabaseConnection, id: &str) -> Result<bool, DbErr> {
    let txn = super::begin_write(db).await?;
    host_image::Entity::delete_many()
        .filter(host_image::Column::HostId.eq(id))
        .exec(&txn)
        .await?;
    let res = host::Entity::delete_by_id(id.to_owned()).exec(&txn).await?;
    txn.commit().await?;
    Ok(res.rows_affected > 0)
}

pub async fn images(db: &DatabaseConnection, host_id: &str) -> Result<Vec<HostImageRow>, DbErr> {
    host_image::Entity::find()
        .filter(host_image::Column::HostId.eq(host_id))
        .order_by_asc(host_image::Column::Reference)
        .all(db)
        .await
}

/// The cached images of `host_ids` whose image id is among `image_ids`, in one query (a page of the inventory
/// asks for the registry digests of the images its containers run).
pub async fn images_by_id(
    db: &DatabaseConnection,
    host_ids: &[String],
    image_ids: &[String],
) -> Result<Vec<HostImageRow>, DbErr> {
    if host_ids.is_empty() || image_ids.is_empty() {
        return Ok(Vec::new());
    }
    host_image::Entity::find()
        .filter(host_image::Column::HostId.is_in(host_ids.iter().cloned()))
        .filter(host_image::Column::ImageId.is_in(image_ids.iter().cloned()))
        .all(db)
        .await
}

/// Makes the cache of a host equal to `rows`, keeping `pulled_at` of references that stay.
pub async fn replace_images(
    db: &DatabaseConnection,
    host_id: &str,
    rows: Vec<HostImageRow>,
) -> Result<(), DbErr> {
    // Read before the transaction (callers serialise writers of one host's cache), so the transaction
    // starts with a write: a SQLite transaction that reads first and then writes fails at once with
    // SQLITE_BUSY when another connection committed in between, whatever the busy timeout.
    let existing = host_image::Entity::find()
        .filter(host_image::Column::HostId.eq(host_id))
        .all(db)
        .await?;
    let txn = super::begin_write(db).await?;
    host_image::Entity::delete_many()
        .filter(host_image::Column::HostId.eq(host_id))
        .exec(&txn)
        .await?;
    let mut rows = rows;
    for row in &mut rows {
        if let Some(old) = existing.iter().find(|o| o.reference == row.reference) {
            row.pulled_at = row.pulled_at.or(old.pulled_at);
        }
    }
    if !rows.is_empty() {
        host_image::Entity::insert_many(rows.into_iter().map(IntoActiveModel::into_active_model))
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await
}

pub async fn mark_pulled(
    db: &DatabaseConnection,
    host_id: &str,
    reference: &str,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    host_image::Entity::update_many()
        .col_expr(host_image::Column::PulledAt, Expr::value(at))
        .filter(host_image::Column::HostId.eq(host_id))
        .filter(host_image::Column::Reference.eq(reference))
        .exec(db)
        .await
        .map(|_| ())
}
