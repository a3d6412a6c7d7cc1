//! Queries on `users`.

use super::entities::user;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter,
};

pub use user::Model as UserRow;

pub async fn count(db: &DatabaseConnection) -> Result<u64, DbErr> {
    user::Entity::find().count(db).await
}

pub async fn by_username(
    db: &DatabaseConnection,
    username: &str,
) -> Result<Option<UserRow>, DbErr> {
    user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(db)
        .await
}

pub async fn by_id(db: &DatabaseConnection, id: &str) -> Result<Option<UserRow>, DbErr> {
    user::Entity::find_by_id(id.to_owned()).one(db).await
}

pub async fn insert(db: &DatabaseConnection, row: UserRow) -> Result<UserRow, DbErr> {
    user::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

pub async fn set_password_hash(
    db: &DatabaseConnection,
    id: &str,
    hash: String,
) -> Result<(), DbErr> {
    let active = user::ActiveModel {
        id: sea_orm::Set(id.to_owned()),
        password_hash: sea_orm::Set(hash),
        ..Default::default()
    };
    active.update(db).await.map(|_| ())
}

pub async fn all(db: &DatabaseConnection) -> Result<Vec<UserRow>, DbErr> {
    use sea_orm::QueryOrder;
    user::Entity::find()
        .order_by_asc(user::Column::Username)
        .all(db)
        .await
}

/// Sets role and disabled flag.
pub async fn set_role_and_disabled(
    db: &DatabaseConnection,
    id: &str,
    role: &str,
    disabled: bool,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::Expr;
    user::Entity::update_many()
        .col_expr(user::Column::Role, Expr::value(role))
        .col_expr(user::Column::Disabled, Expr::value(disabled))
        .filter(user::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}
