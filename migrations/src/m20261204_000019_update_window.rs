//! The daily window of update policy AUTO (`containers.update_window`, `HH:MM-HH:MM` in UTC; null: any time), and
//! an index on `update_policy` for the minute tick that looks for AUTO definitions with a window.

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
                    .add_column(ColumnDef::new(Alias::new("update_window")).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_containers_update_policy")
                    .table(Alias::new("containers"))
                    .col(Alias::new("update_policy"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_containers_update_policy")
                    .table(Alias::new("containers"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("containers"))
                    .drop_column(Alias::new("update_window"))
                    .to_owned(),
            )
            .await
    }
}
