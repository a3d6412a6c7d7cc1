//! Image updates: the digest each replica runs (`container_instances.image_digest`, recorded when the reconciler
//! creates its Docker container), the hash of a registry's push-hook secret (`registries.hook_secret_hash`), and
//! an index on `containers.image` so a push finds the definitions of its repository without reading them all.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("container_instances"))
                    .add_column(ColumnDef::new(Alias::new("image_digest")).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("registries"))
                    .add_column(
                        ColumnDef::new(Alias::new("hook_secret_hash"))
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
                    .name("ix_containers_image")
                    .table(Alias::new("containers"))
                    .col(Alias::new("image"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .if_exists()
                    .name("ix_containers_image")
                    .table(Alias::new("containers"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("registries"))
                    .drop_column(Alias::new("hook_secret_hash"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("container_instances"))
                    .drop_column(Alias::new("image_digest"))
                    .to_owned(),
            )
            .await
    }
}
