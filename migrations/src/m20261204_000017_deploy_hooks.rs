//! Deploy hooks: the SHA-256 of a definition's deploy-hook token (`containers.deploy_hook_hash`; the token itself
//! is shown once and never stored), indexed so `POST /hooks/deploy/{token}` finds its definition in one read.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("containers"))
                    .add_column(
                        ColumnDef::new(Alias::new("deploy_hook_hash"))
                            .string()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("ix_containers_deploy_hook")
                    .table(Alias::new("containers"))
                    .col(Alias::new("deploy_hook_hash"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .if_exists()
                    .name("ix_containers_deploy_hook")
                    .table(Alias::new("containers"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("containers"))
                    .drop_column(Alias::new("deploy_hook_hash"))
                    .to_owned(),
            )
            .await
    }
}
