//! The fleet inventory (every Docker container on every host, Berth's and everyone else's) and the columns and
//! indexes that let the definitions list filter, sort and page in SQL.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DockerContainers {
    Table,
    Id,
    HostId,
    HostName,
    DockerId,
    Name,
    Image,
    ImageId,
    Command,
    State,
    Status,
    Health,
    ExitCode,
    CreatedAt,
    StartedAt,
    Ports,
    Labels,
    ComposeProject,
    ComposeService,
    ContainerId,
    InstanceId,
    Search,
    Current,
    LastSeenAt,
}

#[derive(DeriveIden)]
enum Containers {
    Table,
    Id,
    Name,
    Image,
    CreatedAt,
    StatusSummary,
    AdoptedDockerId,
}

/// One index: name, table, columns.
fn index(name: &str, cols: Vec<DockerContainers>) -> IndexCreateStatement {
    let mut ix = Index::create();
    ix.name(name).table(DockerContainers::Table);
    for c in cols {
        ix.col(c);
    }
    ix.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use DockerContainers as D;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(D::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(D::HostId).string().not_null())
                    .col(ColumnDef::new(D::HostName).string().not_null())
                    .col(ColumnDef::new(D::DockerId).string().not_null())
                    .col(ColumnDef::new(D::Name).string().not_null())
                    .col(ColumnDef::new(D::Image).text().not_null())
                    .col(ColumnDef::new(D::ImageId).string().not_null())
                    .col(ColumnDef::new(D::Command).text().not_null())
                    .col(ColumnDef::new(D::State).string().not_null())
                    .col(ColumnDef::new(D::Status).text().not_null())
                    .col(ColumnDef::new(D::Health).string().null())
                    .col(ColumnDef::new(D::ExitCode).big_integer().null())
                    .col(
                        ColumnDef::new(D::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(D::StartedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(D::Ports).text().not_null())
                    .col(ColumnDef::new(D::Labels).text().not_null())
                    .col(ColumnDef::new(D::ComposeProject).string().null())
                    .col(ColumnDef::new(D::ComposeService).string().null())
                    .col(ColumnDef::new(D::ContainerId).string().null())
                    .col(ColumnDef::new(D::InstanceId).string().null())
                    .col(ColumnDef::new(D::Search).text().not_null())
                    .col(ColumnDef::new(D::Current).boolean().not_null())
                    .col(
                        ColumnDef::new(D::LastSeenAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // One row per Docker container of a host; every sort order ends on the id so keyset cursors are total.
        let mut unique = index(
            "ux_docker_containers_host_docker",
            vec![D::HostId, D::DockerId],
        );
        manager.create_index(unique.unique().to_owned()).await?;
        for (name, cols) in [
            ("ix_docker_containers_name", vec![D::Name, D::Id]),
            (
                "ix_docker_containers_host_name",
                vec![D::HostName, D::Name, D::Id],
            ),
            ("ix_docker_containers_host", vec![D::HostId, D::Name, D::Id]),
            ("ix_docker_containers_image", vec![D::Image, D::Id]),
            ("ix_docker_containers_state", vec![D::State, D::Name, D::Id]),
            ("ix_docker_containers_created", vec![D::CreatedAt, D::Id]),
            ("ix_docker_containers_container", vec![D::ContainerId]),
            (
                "ix_docker_containers_compose",
                vec![D::ComposeProject, D::Name, D::Id],
            ),
        ] {
            manager.create_index(index(name, cols)).await?;
        }
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Containers::Table)
                    .add_column(
                        ColumnDef::new(Containers::StatusSummary)
                            .string()
                            .not_null()
                            .default("STOPPED"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Containers::Table)
                    .add_column(ColumnDef::new(Containers::AdoptedDockerId).string().null())
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "ix_containers_image",
                vec![Containers::Image, Containers::Id],
            ),
            (
                "ix_containers_created",
                vec![Containers::CreatedAt, Containers::Id],
            ),
            (
                "ix_containers_status",
                vec![Containers::StatusSummary, Containers::Name, Containers::Id],
            ),
        ] {
            let mut ix = Index::create();
            ix.name(name).table(Containers::Table);
            for c in cols {
                ix.col(c);
            }
            manager.create_index(ix.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "ix_containers_image",
            "ix_containers_created",
            "ix_containers_status",
        ] {
            manager
                .drop_index(Index::drop().name(name).table(Containers::Table).to_owned())
                .await?;
        }
        for col in [Containers::AdoptedDockerId, Containers::StatusSummary] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Containers::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(DockerContainers::Table).to_owned())
            .await
    }
}
