//! Update policy per definition (`containers.update_policy`: OFF, NOTIFY or AUTO; NOTIFY, what every definition
//! did before, for those that exist).

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
                        ColumnDef::new(Alias::new("update_policy"))
                            .string()
                            .not_null()
                            .default("NOTIFY"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("containers"))
                    .drop_column(Alias::new("update_policy"))
                    .to_owned(),
            )
            .await
    }
}
