//! Queries on `api_tokens`.

use super::entities::api_token;
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    sea_query::Expr,
};

pub use api_token::Model as TokenRow;

pub async fn insert(db: &DatabaseConnection, row: TokenRow) -> Result<TokenRow, DbErr> {
    api_token::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

pub async fn for_user(db: &DatabaseConnection, user_id: &str) -> Result<Vec<TokenRow>, DbErr> {
    api_token::Entity::find()
        .filter(api_token::Column::UserId.eq(user_id))
        .order_by_desc(api_token::Column::CreatedAt)
        .all(db)
        .await
}

pub async fn by_secret_hash(
    db: &DatabaseConnection,
    hash: &str,
) -> Result<Option<TokenRow>, DbErr> {
    api_token::Entity::find()
        .filter(api_token::Column::SecretHash.eq(hash))
        .one(db)
        .await
}

/// Deletes the user's token; `false` when there was no such token of that user.
pub async fn delete(db: &DatabaseConnection, user_id: &str, id: &str) -> Result<bool, DbErr> {
    let res = api_token::Entity::delete_many()
        .filter(api_token::Column::Id.eq(id))
        .filter(api_token::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

pub async fn touch(db: &DatabaseConnection, id: &str, at: DateTime<Utc>) -> Result<(), DbErr> {
    let txn = super::begin_write(db).await?;
    api_token::Entity::update_many()
        .col_expr(api_token::Column::LastUsedAt, Expr::value(at))
        .filter(api_token::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    txn.commit().await
}

/// Deletes a token whoever owns it (an admin revoking another user's token).
pub async fn delete_any(db: &DatabaseConnection, id: &str) -> Result<bool, DbErr> {
    let res = api_token::Entity::delete_many()
        .filter(api_token::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}
