//! SQLite: `container_hosts`, which definitions are on which host (pinned there, or with instances there) with
//! the definition's name, kept by triggers on `containers` and `container_instances` (`refs` counts the pin and
//! the instances behind each pair). A page of one host's definitions in name order then reads that host's range
//! of `ix_container_hosts_name` from its start (51 entries for a page of 50) instead of walking every definition's
//! name and probing its instances, and counts them from the same range. PostgreSQL keeps its plan (a hashed
//! subplan over `ix_container_instances_host`) and has nothing to change.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Adds one reference to (`$H`, `$C`), with the definition's current name; nothing when the definition is gone.
fn add(host: &str, container: &str) -> String {
    format!(
        "INSERT INTO container_hosts(host_id, container_id, name, refs) \
         SELECT {host}, c.id, c.name, 1 FROM containers c WHERE c.id = {container} AND {host} IS NOT NULL \
         ON CONFLICT(host_id, container_id) DO UPDATE SET refs = refs + 1;"
    )
}

/// Takes one reference from (`host`, `container`), dropping the pair at zero.
fn remove(host: &str, container: &str) -> String {
    format!(
        "UPDATE container_hosts SET refs = refs - 1 WHERE host_id = {host} AND container_id = {container}; \
         DELETE FROM container_hosts WHERE host_id = {host} AND container_id = {container} AND refs <= 0;"
    )
}

fn up_statements() -> Vec<String> {
    vec![
        "CREATE TABLE IF NOT EXISTS container_hosts (host_id TEXT NOT NULL, container_id TEXT NOT NULL, \
         name TEXT NOT NULL, refs INTEGER NOT NULL, PRIMARY KEY (host_id, container_id))"
            .to_owned(),
        "CREATE INDEX IF NOT EXISTS ix_container_hosts_name ON container_hosts (host_id, name, container_id)"
            .to_owned(),
        "CREATE INDEX IF NOT EXISTS ix_container_hosts_container ON container_hosts (container_id)".to_owned(),
        "DELETE FROM container_hosts".to_owned(),
        "INSERT INTO container_hosts(host_id, container_id, name, refs) \
         SELECT x.host_id, c.id, c.name, COUNT(*) FROM ( \
           SELECT host_id, id AS container_id FROM containers WHERE host_id IS NOT NULL \
           UNION ALL \
           SELECT host_id, container_id FROM container_instances WHERE host_id IS NOT NULL \
         ) x JOIN containers c ON c.id = x.container_id GROUP BY x.host_id, c.id"
            .to_owned(),
        format!(
            "CREATE TRIGGER container_hosts_pin_insert AFTER INSERT ON containers BEGIN {} END",
            add("new.host_id", "new.id")
        ),
        format!(
            "CREATE TRIGGER container_hosts_pin_update AFTER UPDATE OF host_id ON containers \
             WHEN old.host_id IS NOT new.host_id BEGIN {} {} END",
            remove("old.host_id", "old.id"),
            add("new.host_id", "new.id")
        ),
        "CREATE TRIGGER container_hosts_rename AFTER UPDATE OF name ON containers \
         WHEN old.name IS NOT new.name BEGIN \
         UPDATE container_hosts SET name = new.name WHERE container_id = new.id; END"
            .to_owned(),
        "CREATE TRIGGER container_hosts_definition_delete AFTER DELETE ON containers BEGIN \
         DELETE FROM container_hosts WHERE container_id = old.id; END"
            .to_owned(),
        format!(
            "CREATE TRIGGER container_hosts_instance_insert AFTER INSERT ON container_instances BEGIN {} END",
            add("new.host_id", "new.container_id")
        ),
        format!(
            "CREATE TRIGGER container_hosts_instance_update AFTER UPDATE OF host_id, container_id \
             ON container_instances WHEN old.host_id IS NOT new.host_id OR old.container_id IS NOT new.container_id \
             BEGIN {} {} END",
            remove("old.host_id", "old.container_id"),
            add("new.host_id", "new.container_id")
        ),
        format!(
            "CREATE TRIGGER container_hosts_instance_delete AFTER DELETE ON container_instances BEGIN {} END",
            remove("old.host_id", "old.container_id")
        ),
    ]
}

const DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS container_hosts_pin_insert",
    "DROP TRIGGER IF EXISTS container_hosts_pin_update",
    "DROP TRIGGER IF EXISTS container_hosts_rename",
    "DROP TRIGGER IF EXISTS container_hosts_definition_delete",
    "DROP TRIGGER IF EXISTS container_hosts_instance_insert",
    "DROP TRIGGER IF EXISTS container_hosts_instance_update",
    "DROP TRIGGER IF EXISTS container_hosts_instance_delete",
    "DROP TABLE IF EXISTS container_hosts",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Sqlite {
            // One call, so every statement runs on one connection (see `m20261204_000011_search_triggers`).
            db.execute_unprepared(&up_statements().join(";\n")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Sqlite {
            db.execute_unprepared(&DOWN.join(";\n")).await?;
        }
        Ok(())
    }
}
