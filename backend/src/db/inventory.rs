//! Queries on `docker_containers`, the fleet inventory: a host's rows replaced from a listing, one row written
//! from an event, hosts marked not current, and pages filtered, sorted and cut by keyset over indexes.

use super::entities::docker_container::{self, Column};
use super::keyset;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend,
    DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Value,
};

pub use docker_container::Model as InventoryRow;

/// Rows per INSERT (23 columns each, well under SQLite's bound on variables).
const CHUNK: usize = 400;

/// What to list. Text is matched case-insensitively and literally.
#[derive(Clone, Debug, Default)]
pub struct InventoryFilter {
    pub search: Option<String>,
    pub host_id: Option<String>,
    pub state: Option<String>,
    /// `none` lists containers without a health check.
    pub health: Option<String>,
    pub managed: Option<bool>,
    pub compose_project: Option<String>,
}

/// The orders the list offers; each ends on the id, so a position in it is unique.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InventorySort {
    Name,
    Host,
    Image,
    State,
    Created,
}

impl InventorySort {
    pub fn columns(self) -> &'static [Column] {
        match self {
            InventorySort::Name => &[Column::Name, Column::Id],
            InventorySort::Host => &[Column::HostName, Column::Name, Column::Id],
            InventorySort::Image => &[Column::Image, Column::Id],
            InventorySort::State => &[Column::State, Column::Name, Column::Id],
            InventorySort::Created => &[Column::CreatedAt, Column::Id],
        }
    }

    /// The values of `row` in this order's columns, as the text a cursor carries.
    pub fn key_of(self, row: &InventoryRow) -> Vec<String> {
        self.columns()
            .iter()
            .map(|c| match c {
                Column::Name => row.name.clone(),
                Column::HostName => row.host_name.clone(),
                Column::Image => row.image.clone(),
                Column::State => row.state.clone(),
                Column::CreatedAt => row.created_at.to_rfc3339(),
                _ => row.id.clone(),
            })
            .collect()
    }

    /// A cursor's text back into column values; `None` when it does not fit this order.
    fn values(self, key: &[String]) -> Option<Vec<Value>> {
        let cols = self.columns();
        if key.len() != cols.len() {
            return None;
        }
        cols.iter()
            .zip(key)
            .map(|(c, v)| match c {
                Column::CreatedAt => chrono::DateTime::parse_from_rfc3339(v)
                    .ok()
                    .map(|t| Value::from(t.with_timezone(&chrono::Utc))),
                _ => Some(Value::from(v.clone())),
            })
            .collect()
    }
}

/// The filter as a condition. The search: on SQLite through the trigram index `docker_containers_fts` (3
/// characters and more), else `LIKE` on the lower-cased `search` text (which PostgreSQL's `pg_trgm` index serves).
fn condition(f: &InventoryFilter, backend: DbBackend) -> Condition {
    let mut c = Condition::all();
    if let Some(s) = &f.search {
        match keyset::trigram_phrase(s).filter(|_| backend == DbBackend::Sqlite) {
            Some(phrase) => {
                c = c.add(Expr::cust_with_values(
                    "docker_containers.rowid IN (SELECT rowid FROM docker_containers_fts WHERE \
                     docker_containers_fts MATCH ?)",
                    [phrase],
                ))
            }
            None => {
                c =
                    c.add(Expr::col(Column::Search).like(
                        LikeExpr::new(keyset::contains_pattern(s)).escape(keyset::LIKE_ESCAPE),
                    ))
            }
        }
    }
    if let Some(h) = &f.host_id {
        c = c.add(Column::HostId.eq(h.clone()));
    }
    if let Some(s) = &f.state {
        c = c.add(Column::State.eq(s.clone()));
    }
    match f.health.as_deref() {
        Some("none") => c = c.add(Column::Health.is_null()),
        Some(h) => c = c.add(Column::Health.eq(h)),
        None => {}
    }
    match f.managed {
        Some(true) => c = c.add(Column::ContainerId.is_not_null()),
        Some(false) => c = c.add(Column::ContainerId.is_null()),
        None => {}
    }
    if let Some(p) = &f.compose_project {
        c = c.add(Column::ComposeProject.eq(p.clone()));
    }
    c
}

/// Up to `limit` rows matching `filter` after the keyset position `from`, in `sort` order, and the number of
/// rows matching the filter. `Err(None)`-like misuse (a key of another order) is the caller's to refuse first.
pub async fn page(
    db: &DatabaseConnection,
    filter: &InventoryFilter,
    sort: InventorySort,
    desc: bool,
    from: Option<&[String]>,
    limit: u64,
) -> Result<Option<(Vec<InventoryRow>, u64)>, DbErr> {
    let cond = condition(filter, db.get_database_backend());
    let total = docker_container::Entity::find()
        .filter(cond.clone())
        .count(db)
        .await?;
    let mut select = docker_container::Entity::find().filter(cond);
    if let Some(key) = from {
        let Some(values) = sort.values(key) else {
            return Ok(None);
        };
        let keys: Vec<keyset::SeekKey> = sort
            .columns()
            .iter()
            .zip(values)
            .map(|(c, v)| keyset::SeekKey::new(Expr::col(*c), v))
            .collect();
        if let Some(expr) = keyset::after(&keys, desc) {
            select = select.filter(expr);
        }
    }
    let select = keyset::order_by(select, sort.columns().iter().map(|c| Expr::col(*c)), desc);
    let rows = select.limit(limit).all(db).await?;
    Ok(Some((rows, total)))
}

pub async fn by_id(db: &DatabaseConnection, id: &str) -> Result<Option<InventoryRow>, DbErr> {
    docker_container::Entity::find_by_id(id.to_owned())
        .one(db)
        .await
}

/// Every row of one host (what a listing of that host is compared with).
pub async fn of_host(db: &DatabaseConnection, host_id: &str) -> Result<Vec<InventoryRow>, DbErr> {
    docker_container::Entity::find()
        .filter(Column::HostId.eq(host_id))
        .all(db)
        .await
}

/// Writes a host's differences in one transaction: inserts, full updates, deletions, and every row of the host
/// marked current as of `seen_at`.
pub async fn apply_host(
    db: &DatabaseConnection,
    host_id: &str,
    inserts: Vec<InventoryRow>,
    updates: Vec<InventoryRow>,
    deletes: Vec<String>,
    seen_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    let txn = super::begin_write(db).await?;
    for chunk in inserts.chunks(CHUNK) {
        docker_container::Entity::insert_many(
            chunk
                .iter()
                .cloned()
                .map(IntoActiveModel::into_active_model),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    for row in updates {
        update(&txn, row).await?;
    }
    for chunk in deletes.chunks(CHUNK) {
        docker_container::Entity::delete_many()
            .filter(Column::Id.is_in(chunk.iter().cloned()))
            .exec(&txn)
            .await?;
    }
    // Rows of a host that was lost are current again; the others are not written (a listing that changes
    // nothing writes nothing).
    docker_container::Entity::update_many()
        .col_expr(Column::Current, Expr::value(true))
        .col_expr(Column::LastSeenAt, Expr::value(seen_at))
        .filter(Column::HostId.eq(host_id))
        .filter(Column::Current.eq(false))
        .exec(&txn)
        .await?;
    txn.commit().await
}

async fn update(db: &impl ConnectionTrait, row: InventoryRow) -> Result<(), DbErr> {
    let id = row.id.clone();
    docker_container::Entity::update_many()
        .set(row.into_active_model().reset_all())
        .filter(Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Inserts or replaces one row.
pub async fn put(db: &DatabaseConnection, row: InventoryRow, exists: bool) -> Result<(), DbErr> {
    let txn = super::begin_write(db).await?;
    if exists {
        update(&txn, row).await?;
    } else {
        docker_container::Entity::insert(row.into_active_model())
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await
}

pub async fn delete(db: &DatabaseConnection, id: &str) -> Result<(), DbErr> {
    let txn = super::begin_write(db).await?;
    docker_container::Entity::delete_by_id(id.to_owned())
        .exec(&txn)
        .await?;
    txn.commit().await
}

/// Marks a host's current rows as last known; returns how many changed.
pub async fn mark_stale(
    db: &DatabaseConnection,
    host_id: &str,
    last_seen: chrono::DateTime<chrono::Utc>,
) -> Result<u64, DbErr> {
    let txn = super::begin_write(db).await?;
    let res = docker_container::Entity::update_many()
        .col_expr(Column::Current, Expr::value(false))
        .col_expr(Column::LastSeenAt, Expr::value(last_seen))
        .filter(Column::HostId.eq(host_id))
        .filter(Column::Current.eq(true))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(res.rows_affected)
}

pub async fn delete_host(db: &impl ConnectionTrait, host_id: &str) -> Result<(), DbErr> {
    docker_container::Entity::delete_many()
        .filter(Column::HostId.eq(host_id))
        .exec(db)
        .await
        .map(|_| ())
}

pub async fn rename_host(db: &DatabaseConnection, host_id: &str, name: &str) -> Result<(), DbErr> {
    docker_container::Entity::update_many()
        .col_expr(Column::HostName, Expr::value(name))
        .filter(Column::HostId.eq(host_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Inserts `count` made-up rows for `host_id` named `<prefix>-<n>` (benchmarks and paging tests seed a fleet
/// this way; the code that reads them is the real one). Returns their ids.
pub async fn seed(
    db: &DatabaseConnection,
    host_id: &str,
    host_name: &str,
    prefix: &str,
    count: usize,
) -> Result<Vec<String>, DbErr> {
    let now = chrono::Utc::now();
    let states = ["running", "exited", "created", "paused"];
    let rows: Vec<InventoryRow> = (0..count)
        .map(|n| {
            let docker_id = format!("{prefix}{n:08}{}", "0".repeat(48));
            let name = format!("{prefix}-{n:05}");
            let image = format!("registry.example/{prefix}/app{}:1", n % 50);
            InventoryRow {
                id: format!("{host_id}:{docker_id}"),
                host_id: host_id.to_owned(),
                host_name: host_name.to_owned(),
                search: format!("{name}\n{image}\nseeded=yes").to_lowercase(),
                docker_id,
                name,
                image,
                image_id: "sha256:seeded".into(),
                command: "sleep infinity".into(),
                state: states[n % states.len()].into(),
                status: "seeded".into(),
                health: None,
                exit_code: None,
                created_at: now - chrono::Duration::seconds(i64::try_from(n).unwrap_or(0)),
                started_at: None,
                ports: "[]".into(),
                labels: r#"{"seeded":"yes"}"#.into(),
                compose_project: (n % 10 == 0).then(|| format!("{prefix}-stack")),
                compose_service: None,
                container_id: None,
                instance_id: None,
                current: true,
                last_seen_at: now,
            }
        })
        .collect();
    let ids = rows.iter().map(|r| r.id.clone()).collect();
    let txn = super::begin_write(db).await?;
    for chunk in rows.chunks(CHUNK) {
        docker_container::Entity::insert_many(
            chunk
                .iter()
                .cloned()
                .map(IntoActiveModel::into_active_model),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(ids)
}

/// The running, current containers on `host_ids` that are not one of Berth's replicas (no instance id): what the
/// stats sampler reads besides Berth's instances, as (inventory id, host id, Docker id). Walks each host's index.
pub async fn running_unmanaged(
    db: &DatabaseConnection,
    host_ids: &[String],
) -> Result<Vec<(String, String, String)>, DbErr> {
    let mut out = Vec::new();
    for host in host_ids {
        let rows: Vec<(String, String, String)> = docker_container::Entity::find()
            .select_only()
            .column(Column::Id)
            .column(Column::HostId)
            .column(Column::DockerId)
            .filter(Column::HostId.eq(host.as_str()))
            .filter(Column::State.eq("running"))
            .filter(Column::Current.eq(true))
            .filter(Column::InstanceId.is_null())
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// The images, as written, of the containers Berth did not create (each once, sorted).
pub async fn unmanaged_images(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    docker_container::Entity::find()
        .select_only()
        .column(Column::Image)
        .filter(Column::InstanceId.is_null())
        .distinct()
        .order_by_asc(Column::Image)
        .into_tuple()
        .all(db)
        .await
}

/// The instance id of each of `ids` that is one of Berth's replicas, read in chunks: (inventory id, instance id).
pub async fn instance_ids(
    db: &DatabaseConnection,
    ids: &[String],
) -> Result<Vec<(String, String)>, DbErr> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(String, Option<String>)> = docker_container::Entity::find()
            .select_only()
            .column(Column::Id)
            .column(Column::InstanceId)
            .filter(Column::Id.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(
            rows.into_iter()
                .filter_map(|(id, instance)| Some((id, instance?))),
        );
    }
    Ok(out)
}
