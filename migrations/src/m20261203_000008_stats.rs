//! Container stats history: one row per sample of a Berth instance (resolution 0, kept for a recent window) and
//! per 5-minute average (resolution 300, kept for two days), pruned as samples are written. Stats are not status:
//! they never touch the instance row.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ContainerStats {
    Table,
    Seq,
    InstanceId,
    HostId,
    AtMs,
    Resolution,
    CpuPercent,
    MemoryBytes,
    MemoryLimitBytes,
    NetRxBytes,
    NetTxBytes,
    BlockReadBytes,
    BlockWriteBytes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ContainerStats::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ContainerStats::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ContainerStats::InstanceId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ContainerStats::HostId).string().not_null())
                    .col(
                        ColumnDef::new(ContainerStats::AtMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ContainerStats::Resolution)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ContainerStats::CpuPercent).double().null())
                    .col(
                        ColumnDef::new(ContainerStats::MemoryBytes)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ContainerStats::MemoryLimitBytes)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(ContainerStats::NetRxBytes)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ContainerStats::NetTxBytes)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ContainerStats::BlockReadBytes)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ContainerStats::BlockWriteBytes)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // An instance's history in time order; the pruning and downsampling scans by time.
        manager
            .create_index(
                Index::create()
                    .name("ix_container_stats_instance")
                    .table(ContainerStats::Table)
                    .col(ContainerStats::InstanceId)
                    .col(ContainerStats::Resolution)
                    .col(ContainerStats::AtMs)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_container_stats_time")
                    .table(ContainerStats::Table)
                    .col(ContainerStats::Resolution)
                    .col(ContainerStats::AtMs)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_container_stats_host")
                    .table(ContainerStats::Table)
                    .col(ContainerStats::HostId)
                    .col(ContainerStats::Resolution)
                    .col(ContainerStats::AtMs)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ContainerStats::Table).to_owned())
            .await
    }
}
