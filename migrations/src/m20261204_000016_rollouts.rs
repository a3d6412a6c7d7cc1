//! Revisions and rollouts: `container_revisions` (every image digest and definition version a container was
//! rolled out with, numbered per container), the revision each replica runs (`container_instances.revision`),
//! and on `containers` the rollout in progress or last finished (state, reason, from and to revision) with its
//! pace (`max_parallel` replicas at a time, each running healthy for `min_healthy_secs` before the next).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn add(table: &str, column: ColumnDef) -> TableAlterStatement {
    Table::alter()
        .table(Alias::new(table))
        .add_column(column)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("container_revisions"))
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Alias::new("id"))
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Alias::new("container_id"))
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Alias::new("number")).integer().not_null())
                    .col(ColumnDef::new(Alias::new("version")).integer().not_null())
                    .col(ColumnDef::new(Alias::new("image")).text().not_null())
                    .col(ColumnDef::new(Alias::new("image_digest")).string().null())
                    .col(
                        ColumnDef::new(Alias::new("created_at"))
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Alias::new("created_by")).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .unique()
                    .name("ux_container_revisions_number")
                    .table(Alias::new("container_revisions"))
                    .col(Alias::new("container_id"))
                    .col(Alias::new("number"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(add(
                "container_instances",
                ColumnDef::new(Alias::new("revision"))
                    .integer()
                    .null()
                    .to_owned(),
            ))
            .await?;
        for column in [
            ColumnDef::new(Alias::new("rollout_state"))
                .string()
                .null()
                .to_owned(),
            ColumnDef::new(Alias::new("rollout_reason"))
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(Alias::new("rollout_from"))
                .integer()
                .null()
                .to_owned(),
            ColumnDef::new(Alias::new("rollout_to"))
                .integer()
                .null()
                .to_owned(),
            ColumnDef::new(Alias::new("max_parallel"))
                .integer()
                .not_null()
                .default(1)
                .to_owned(),
            ColumnDef::new(Alias::new("min_healthy_secs"))
                .integer()
                .not_null()
                .default(5)
                .to_owned(),
        ] {
            manager.alter_table(add("containers", column)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            "min_healthy_secs",
            "max_parallel",
            "rollout_to",
            "rollout_from",
            "rollout_reason",
            "rollout_state",
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("containers"))
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("container_instances"))
                    .drop_column(Alias::new("revision"))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new("container_revisions"))
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
