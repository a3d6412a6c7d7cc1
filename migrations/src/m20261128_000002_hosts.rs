//! Docker hosts and the record of each host's local images.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Hosts {
    Table,
    Id,
    Name,
    Endpoint,
    DockerSupport,
    Maintenance,
    TlsCaPem,
    TlsCertPem,
    TlsKeySealed,
    Status,
    LastSeenAt,
    LastError,
    Capabilities,
    CheckedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum HostImages {
    Table,
    HostId,
    Reference,
    ImageId,
    Digest,
    SizeBytes,
    PulledAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Hosts::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Hosts::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(Hosts::Name).string().not_null().unique_key())
                    .col(ColumnDef::new(Hosts::Endpoint).string().not_null())
                    .col(ColumnDef::new(Hosts::DockerSupport).boolean().not_null())
                    .col(
                        ColumnDef::new(Hosts::Maintenance)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ColumnDef::new(Hosts::TlsCaPem).text().null())
                    .col(ColumnDef::new(Hosts::TlsCertPem).text().null())
                    .col(ColumnDef::new(Hosts::TlsKeySealed).text().null())
                    .col(ColumnDef::new(Hosts::Status).string().not_null())
                    .col(
                        ColumnDef::new(Hosts::LastSeenAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(Hosts::LastError).text().null())
                    .col(ColumnDef::new(Hosts::Capabilities).text().null())
                    .col(
                        ColumnDef::new(Hosts::CheckedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Hosts::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(HostImages::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(HostImages::HostId).string().not_null())
                    .col(ColumnDef::new(HostImages::Reference).string().not_null())
                    .col(ColumnDef::new(HostImages::ImageId).string().not_null())
                    .col(ColumnDef::new(HostImages::Digest).string().null())
                    .col(
                        ColumnDef::new(HostImages::SizeBytes)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(HostImages::PulledAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(HostImages::HostId)
                            .col(HostImages::Reference),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_host_images_host")
                            .from(HostImages::Table, HostImages::HostId)
                            .to(Hosts::Table, Hosts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(HostImages::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Hosts::Table).to_owned())
            .await
    }
}
