//! Health checks: the check a definition sets (JSON, null = the image's own) and how long a replica may stay
//! unhealthy before it is replaced; each instance's last observed health, the last probe's output and since when
//! it has been unhealthy.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Containers {
    Table,
    HealthCheck,
    ReplaceUnhealthyAfterSecs,
}

#[derive(DeriveIden)]
enum ContainerInstances {
    Table,
    Health,
    HealthOutput,
    UnhealthySince,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [
            ColumnDef::new(Containers::HealthCheck)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(Containers::ReplaceUnhealthyAfterSecs)
                .big_integer()
                .null()
                .to_owned(),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Containers::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            ColumnDef::new(ContainerInstances::Health)
                .string()
                .null()
                .to_owned(),
            ColumnDef::new(ContainerInstances::HealthOutput)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(ContainerInstances::UnhealthySince)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(ContainerInstances::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            ContainerInstances::UnhealthySince,
            ContainerInstances::HealthOutput,
            ContainerInstances::Health,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ContainerInstances::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            Containers::ReplaceUnhealthyAfterSecs,
            Containers::HealthCheck,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Containers::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
