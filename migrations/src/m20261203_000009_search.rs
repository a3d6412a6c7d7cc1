//! Indexes for the lists' text search, so a search reads the matching rows rather than every row. SQLite: FTS5
//! tables with the trigram tokenizer (substring matches of 3 characters and more, any case) over the definitions'
//! name and image and the inventory's `search` text, kept by triggers and keyed by the tables' rowids (Berth never
//! runs VACUUM, which may renumber them; after a manual VACUUM, `INSERT INTO containers_fts(containers_fts)
//! VALUES('rebuild')` and the same for `docker_containers_fts` restore them). PostgreSQL: `pg_trgm` GIN indexes on
//! the same lower-cased text, when the extension can be created (else the search scans, as before).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE containers_fts USING fts5(name, image, content='containers', content_rowid='rowid', \
     tokenize='trigram')",
    "CREATE TRIGGER containers_fts_insert AFTER INSERT ON containers BEGIN \
     INSERT INTO containers_fts(rowid, name, image) VALUES (new.rowid, new.name, new.image); END",
    "CREATE TRIGGER containers_fts_delete AFTER DELETE ON containers BEGIN \
     INSERT INTO containers_fts(containers_fts, rowid, name, image) VALUES ('delete', old.rowid, old.name, old.image); \
     END",
    "CREATE TRIGGER containers_fts_update AFTER UPDATE OF name, image ON containers BEGIN \
     INSERT INTO containers_fts(containers_fts, rowid, name, image) VALUES ('delete', old.rowid, old.name, old.image); \
     INSERT INTO containers_fts(rowid, name, image) VALUES (new.rowid, new.name, new.image); END",
    "INSERT INTO containers_fts(containers_fts) VALUES ('rebuild')",
    "CREATE VIRTUAL TABLE docker_containers_fts USING fts5(search, content='docker_containers', \
     content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER docker_containers_fts_insert AFTER INSERT ON docker_containers BEGIN \
     INSERT INTO docker_containers_fts(rowid, search) VALUES (new.rowid, new.search); END",
    "CREATE TRIGGER docker_containers_fts_delete AFTER DELETE ON docker_containers BEGIN \
     INSERT INTO docker_containers_fts(docker_containers_fts, rowid, search) VALUES ('delete', old.rowid, old.search); \
     END",
    "CREATE TRIGGER docker_containers_fts_update AFTER UPDATE OF search ON docker_containers BEGIN \
     INSERT INTO docker_containers_fts(docker_containers_fts, rowid, search) VALUES ('delete', old.rowid, old.search); \
     INSERT INTO docker_containers_fts(rowid, search) VALUES (new.rowid, new.search); END",
    "INSERT INTO docker_containers_fts(docker_containers_fts) VALUES ('rebuild')",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS containers_fts_insert",
    "DROP TRIGGER IF EXISTS containers_fts_delete",
    "DROP TRIGGER IF EXISTS containers_fts_update",
    "DROP TABLE IF EXISTS containers_fts",
    "DROP TRIGGER IF EXISTS docker_containers_fts_insert",
    "DROP TRIGGER IF EXISTS docker_containers_fts_delete",
    "DROP TRIGGER IF EXISTS docker_containers_fts_update",
    "DROP TABLE IF EXISTS docker_containers_fts",
];

/// The extension in a block of its own (a refusal, for want of the right, is a notice rather than an aborted
/// migration), then the indexes when it is there.
const POSTGRES_UP: &str = "DO $$ BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'pg_trgm is not available (%): text search scans the lists', SQLERRM;
    END;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX IF NOT EXISTS ix_containers_name_trgm ON containers USING gin (lower(name) gin_trgm_ops);
        CREATE INDEX IF NOT EXISTS ix_containers_image_trgm ON containers USING gin (lower(image) gin_trgm_ops);
        CREATE INDEX IF NOT EXISTS ix_docker_containers_search_trgm
            ON docker_containers USING gin (search gin_trgm_ops);
    END IF;
END $$";

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS ix_containers_name_trgm",
    "DROP INDEX IF EXISTS ix_containers_image_trgm",
    "DROP INDEX IF EXISTS ix_docker_containers_search_trgm",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match db.get_database_backend() {
            DbBackend::Sqlite => {
                for sql in SQLITE_UP {
                    db.execute_unprepared(sql).await?;
                }
            }
            DbBackend::Postgres => {
                db.execute_unprepared(POSTGRES_UP).await?;
            }
            _ => {}
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statements = match db.get_database_backend() {
            DbBackend::Sqlite => SQLITE_DOWN,
            DbBackend::Postgres => POSTGRES_DOWN,
            _ => &[],
        };
        for sql in statements {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
