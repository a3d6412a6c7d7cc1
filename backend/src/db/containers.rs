//! Queries on `containers`, `container_instances`, `disks` and the installation id in `settings`.

use super::entities::{container, container_instance, setting};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, TransactionTrait,
};

pub use container::Model as ContainerRow;
pub use container_instance::Model as InstanceRow;

const INSTALLATION_KEY: &str = "installation_id";

/// This installation's id, created at the first call.
pub async fn installation_id(db: &DatabaseConnection) -> Result<String, DbErr> {
    if let Some(row) = setting::Entity::find_by_id(INSTALLATION_KEY.to_owned())
        .one(db)
        .await?
    {
        return Ok(row.value);
    }
    let fresh = setting::Model {
        key: INSTALLATION_KEY.to_owned(),
        value: uuid::Uuid::new_v4().simple().to_string(),
    };
    // Two servers starting at once on one database: the first insert wins, both read it back.
    setting::Entity::insert(fresh.into_active_model())
        .on_conflict(
            OnConflict::column(setting::Column::Key)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    setting::Entity::find_by_id(INSTALLATION_KEY.to_owned())
        .one(db)
        .await?
        .map(|r| r.value)
        .ok_or_else(|| DbErr::RecordNotFound("installation id".into()))
}

pub async fn all(db: &DatabaseConnection) -> Result<Vec<ContainerRow>, DbErr> {
    container::Entity::find()
        .order_by_asc(container::Column::Name)
        .all(db)
        .await
}

pub async fn by_id(db: &DatabaseConnection, id: &str) -> Result<Option<ContainerRow>, DbErr> {
    container::Entity::find_by_id(id.to_owned()).one(db).await
}

pub async fn by_name(db: &DatabaseConnection, name: &str) -> Result<Option<ContainerRow>, DbErr> {
    container::Entity::find()
        .filter(container::Column::Name.eq(name))
        .one(db)
        .await
}

pub async fn insert(db: &DatabaseConnection, row: ContainerRow) -> Result<ContainerRow, DbErr> {
    container::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

/// Replaces a definition if it is still at `expected_version` (the row carries the next version); `false` when
/// somebody else changed it first.
pub async fn update_if_version(
    db: &DatabaseConnection,
    row: ContainerRow,
    expected_version: i32,
) -> Result<bool, DbErr> {
    let id = row.id.clone();
    let res = container::Entity::update_many()
        .set(row.into_active_model().reset_all())
        .filter(container::Column::Id.eq(id))
        .filter(container::Column::Version.eq(expected_version))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn set_desired_state(
    db: &DatabaseConnection,
    id: &str,
    state: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    container::Entity::update_many()
        .col_expr(container::Column::DesiredState, Expr::value(state))
        .col_expr(container::Column::UpdatedAt, Expr::value(at))
        .filter(container::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Deletes a definition and its instance rows.
pub async fn delete(db: &DatabaseConnection, id: &str) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    container_instance::Entity::delete_many()
        .filter(container_instance::Column::ContainerId.eq(id))
        .exec(&txn)
        .await?;
    let res = container::Entity::delete_by_id(id.to_owned())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(res.rows_affected > 0)
}

pub async fn instances_of(
    db: &DatabaseConnection,
    container_id: &str,
) -> Result<Vec<InstanceRow>, DbErr> {
    container_instance::Entity::find()
        .filter(container_instance::Column::ContainerId.eq(container_id))
        .order_by_asc(container_instance::Column::Replica)
        .all(db)
        .await
}

pub async fn all_instances(db: &DatabaseConnection) -> Result<Vec<InstanceRow>, DbErr> {
    container_instance::Entity::find()
        .order_by_asc(container_instance::Column::ContainerId)
        .order_by_asc(container_instance::Column::Replica)
        .all(db)
        .await
}

pub async fn instance(db: &DatabaseConnection, id: &str) -> Result<Option<InstanceRow>, DbErr> {
    container_instance::Entity::find_by_id(id.to_owned())
        .one(db)
        .await
}

/// Inserts or replaces an instance row (by id).
pub async fn save_instance(db: &DatabaseConnection, row: InstanceRow) -> Result<(), DbErr> {
    let exists = container_instance::Entity::find_by_id(row.id.clone())
        .one(db)
        .await?
        .is_some();
    if exists {
        row.into_active_model().reset_all().update(db).await?;
    } else {
        container_instance::Entity::insert(row.into_active_model())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

pub async fn delete_instance(db: &DatabaseConnection, id: &str) -> Result<(), DbErr> {
    container_instance::Entity::delete_by_id(id.to_owned())
        .exec(db)
        .await
        .map(|_| ())
}

use super::entities::disk;
pub use super::entities::disk::Model as DiskRow;

pub async fn disks(db: &DatabaseConnection) -> Result<Vec<DiskRow>, DbErr> {
    disk::Entity::find()
        .order_by_asc(disk::Column::Name)
        .all(db)
        .await
}

pub async fn disk(db: &DatabaseConnection, id: &str) -> Result<Option<DiskRow>, DbErr> {
    disk::Entity::find_by_id(id.to_owned()).one(db).await
}

pub async fn disk_by_name(db: &DatabaseConnection, name: &str) -> Result<Option<DiskRow>, DbErr> {
    disk::Entity::find()
        .filter(disk::Column::Name.eq(name))
        .one(db)
        .await
}

pub async fn insert_disk(db: &DatabaseConnection, row: DiskRow) -> Result<DiskRow, DbErr> {
    disk::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

pub async fn delete_disk(db: &DatabaseConnection, id: &str) -> Result<(), DbErr> {
    disk::Entity::delete_by_id(id.to_owned())
        .exec(db)
        .await
        .map(|_| ())
}

/// Sets a definition's replica count, bumping its version.
pub async fn set_replicas(
    db: &DatabaseConnection,
    id: &str,
    replicas: i32,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    container::Entity::update_many()
        .col_expr(container::Column::Replicas, Expr::value(replicas))
        .col_expr(
            container::Column::Version,
            Expr::col(container::Column::Version).add(1),
        )
        .col_expr(container::Column::UpdatedAt, Expr::value(at))
        .filter(container::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}
