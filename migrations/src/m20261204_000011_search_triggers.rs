//! The SQLite search indexes' update triggers fire only when the indexed text changes: a row rewritten whole (the
//! inventory's re-read after every event, a definition's summary) names every column, so `UPDATE OF` alone
//! re-indexed it each time. PostgreSQL has nothing to change. Each trigger is dropped and created in one call, so on
//! one connection: another connection of the pool may still have the old trigger in its schema cache and refuse
//! the new one as existing.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "DROP TRIGGER IF EXISTS containers_fts_update; CREATE TRIGGER containers_fts_update AFTER UPDATE OF name, image ON containers \
     WHEN old.name IS NOT new.name OR old.image IS NOT new.image BEGIN \
     INSERT INTO containers_fts(containers_fts, rowid, name, image) VALUES ('delete', old.rowid, old.name, old.image); \
     INSERT INTO containers_fts(rowid, name, image) VALUES (new.rowid, new.name, new.image); END",
    "DROP TRIGGER IF EXISTS docker_containers_fts_update; CREATE TRIGGER docker_containers_fts_update AFTER UPDATE OF search ON docker_containers \
     WHEN old.search IS NOT new.search BEGIN \
     INSERT INTO docker_containers_fts(docker_containers_fts, rowid, search) VALUES ('delete', old.rowid, old.search); \
     INSERT INTO docker_containers_fts(rowid, search) VALUES (new.rowid, new.search); END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS containers_fts_update; CREATE TRIGGER containers_fts_update AFTER UPDATE OF name, image ON containers BEGIN \
     INSERT INTO containers_fts(containers_fts, rowid, name, image) VALUES ('delete', old.rowid, old.name, old.image); \
     INSERT INTO containers_fts(rowid, name, image) VALUES (new.rowid, new.name, new.image); END",
    "DROP TRIGGER IF EXISTS docker_containers_fts_update; CREATE TRIGGER docker_containers_fts_update AFTER UPDATE OF search ON docker_containers BEGIN \
     INSERT INTO docker_containers_fts(docker_containers_fts, rowid, search) VALUES ('delete', old.rowid, old.search); \
     INSERT INTO docker_containers_fts(rowid, search) VALUES (new.rowid, new.search); END",
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    if db.get_database_backend() == DbBackend::Sqlite {
        for sql in statements {
            db.execute_unprepared(sql).await?;
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, SQLITE_DOWN).await
    }
}
