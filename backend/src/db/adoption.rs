//! Queries on `containers.adopted_docker_id`: the Docker container a definition was adopted from, until its first
//! run removes it.

use super::entities::container;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

/// The name of the definition adopted from this Docker container and not yet run, if any.
pub async fn adopted_by(db: &DatabaseConnection, docker_id: &str) -> Result<Option<String>, DbErr> {
    Ok(container::Entity::find()
        .filter(container::Column::AdoptedDockerId.eq(docker_id))
        .one(db)
        .await?
        .map(|row| row.name))
}

/// Clears a definition's adopted Docker id if it is still `docker_id` (one UPDATE; neither the version nor the
/// summary moves: it is not an edit).
pub async fn clear_adopted_docker_id(
    db: &DatabaseConnection,
    id: &str,
    docker_id: &str,
) -> Result<(), DbErr> {
    container::Entity::update_many()
        .col_expr(
            container::Column::AdoptedDockerId,
            Expr::value(Option::<String>::None),
        )
        .filter(container::Column::Id.eq(id))
        .filter(container::Column::AdoptedDockerId.eq(docker_id))
        .exec(db)
        .await?;
    Ok(())
}
