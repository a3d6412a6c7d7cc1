//! An index on the host a definition is pinned to: with `ix_container_instances_host` it lets a count of a host's
//! definitions read that host's entries only.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Containers {
    Table,
    HostId,
}

const NAME: &str = "ix_containers_host";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(Containers::Table)
                    .col(Containers::HostId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(NAME).table(Containers::Table).to_owned())
            .await
    }
}
