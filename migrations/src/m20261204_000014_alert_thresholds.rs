//! Host threshold rules (`HOST_CPU_HIGH`, `HOST_MEMORY_HIGH`): `alert_rules.threshold_percent`, the share of the
//! host's CPUs or memory (1 to 100) its containers may use before the rule fires.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("alert_rules"))
                    .add_column(
                        ColumnDef::new(Alias::new("threshold_percent"))
                            .integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("alert_rules"))
                    .drop_column(Alias::new("threshold_percent"))
                    .to_owned(),
            )
            .await
    }
}
