//! Image registries and the last good list of their repositories' tags.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Registries {
    Table,
    Id,
    Name,
    Url,
    Kind,
    Namespace,
    Username,
    PasswordSealed,
    Insecure,
    RefreshIntervalSeconds,
    Status,
    LastRefreshedAt,
    LastError,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RegistryTags {
    Table,
    RegistryId,
    Repository,
    Tag,
    Digest,
    SizeBytes,
    Architectures,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Registries::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Registries::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Registries::Name)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Registries::Url).string().not_null())
                    .col(ColumnDef::new(Registries::Kind).string().not_null())
                    .col(ColumnDef::new(Registries::Namespace).string().null())
                    .col(ColumnDef::new(Registries::Username).string().null())
                    .col(ColumnDef::new(Registries::PasswordSealed).text().null())
                    .col(
                        ColumnDef::new(Registries::Insecure)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(Registries::RefreshIntervalSeconds)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Registries::Status).string().not_null())
                    .col(
                        ColumnDef::new(Registries::LastRefreshedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(Registries::LastError).text().null())
                    .col(
                        ColumnDef::new(Registries::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RegistryTags::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(RegistryTags::RegistryId).string().not_null())
                    .col(ColumnDef::new(RegistryTags::Repository).string().not_null())
                    .col(ColumnDef::new(RegistryTags::Tag).string().not_null())
                    .col(ColumnDef::new(RegistryTags::Digest).string().null())
                    .col(ColumnDef::new(RegistryTags::SizeBytes).big_integer().null())
                    .col(
                        ColumnDef::new(RegistryTags::Architectures)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RegistryTags::CreatedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(RegistryTags::RegistryId)
                            .col(RegistryTags::Repository)
                            .col(RegistryTags::Tag),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_registry_tags_registry")
                            .from(RegistryTags::Table, RegistryTags::RegistryId)
                            .to(Registries::Table, Registries::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_registry_tags_repository")
                    .table(RegistryTags::Table)
                    .col(RegistryTags::RegistryId)
                    .col(RegistryTags::Repository)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RegistryTags::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Registries::Table).to_owned())
            .await
    }
}
