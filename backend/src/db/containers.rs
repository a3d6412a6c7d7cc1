//! Queries on `containers`, `container_instances`, `disks` and the installation id in `settings`.

use super::entities::{container, container_instance, container_revision, setting};
use super::keyset::{self, SeekKey};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func, JoinType, LikeExpr, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend,
    DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};

pub use container::Model as ContainerRow;
pub use container_instance::Model as InstanceRow;
pub use container_revision::Model as RevisionRow;

const INSTALLATION_KEY: &str = "installation_id";

/// This installation's id, created at the first call.
pub async fn installation_id(db: &DatabaseConnection) -> Result<String, DbErr> {
    if let Some(row) = setting::Entity::find_by_id(INSTALLATION_KEY.to_owned())
        .one(db)
        .await?
    {
        return Ok(row.value);
    }
    let fresh = setting::Model {
        key: INSTALLATION_KEY.to_owned(),
        value: uuid::Uuid::new_v4().simple().to_string(),
    };
    // Two servers starting at once on one database: the first insert wins, both read it back.
    setting::Entity::insert(fresh.into_active_model())
        .on_conflict(
            OnConflict::column(setting::Column::Key)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    setting::Entity::find_by_id(INSTALLATION_KEY.to_owned())
        .one(db)
        .await?
        .map(|r| r.value)
        .ok_or_else(|| DbErr::RecordNotFound("installation id".into()))
}

pub async fn all(db: &DatabaseConnection) -> Result<Vec<ContainerRow>, DbErr> {
    container::Entity::find()
        .order_by_asc(container::Column::Name)
        .all(db)
        .await
}

pub async fn by_id(db: &DatabaseConnection, id: &str) -> Result<Option<ContainerRow>, DbErr> {
    container::Entity::find_by_id(id.to_owned()).one(db).await
}

pub async fn by_name(db: &DatabaseConnection, name: &str) -> Result<Option<ContainerRow>, DbErr> {
    container::Entity::find()
        .filter(container::Column::Name.eq(name))
        .one(db)
        .await
}

pub async fn insert(db: &DatabaseConnection, row: ContainerRow) -> Result<ContainerRow, DbErr> {
    container::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

/// The summary status of a definition with these instances (the service's rule), as stored in
/// `status_summary`.
pub type Summarize<'a> = &'a (dyn Fn(&ContainerRow, &[InstanceRow]) -> String + Send + Sync);

/// Takes the definition's row lock for the rest of `txn` with a write that changes nothing: PostgreSQL locks the
/// row, SQLite takes its one write lock (a transaction that writes first never fails on a stale snapshot). Every
/// write of a definition's desired state, replica count or instances holds it while it recomputes the summary,
/// so two of them never both compute from what the other has not yet written. `false` when there is no such
/// definition.
async fn lock_definition(txn: &super::WriteTxn, id: &str) -> Result<bool, DbErr> {
    let res = container::Entity::update_many()
        .col_expr(
            container::Column::StatusSummary,
            Expr::col(container::Column::StatusSummary),
        )
        .filter(container::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Recomputes a definition's `status_summary` under its row lock (see [`lock_definition`]) and writes it when it
/// changed; returns the definition (with the summary as stored now) and its instances by replica, as read in
/// the transaction.
async fn resummarize(
    txn: &super::WriteTxn,
    id: &str,
    summarize: Summarize<'_>,
) -> Result<Option<(ContainerRow, Vec<InstanceRow>)>, DbErr> {
    let Some(mut row) = container::Entity::find_by_id(id.to_owned())
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    let instances = instances_of(txn, id).await?;
    let summary = summarize(&row, &instances);
    if summary != row.status_summary {
        container::Entity::update_many()
            .col_expr(
                container::Column::StatusSummary,
                Expr::value(summary.clone()),
            )
            .filter(container::Column::Id.eq(id))
            .exec(txn)
            .await?;
        row.status_summary = summary;
    }
    Ok(Some((row, instances)))
}

/// Replaces a definition if it is still at `expected_version` (the row carries the next version) and recomputes
/// its summary (the replica count may have changed); `status_summary` and `adopted_docker_id` are not the
/// editor's and keep their stored values. `false` when somebody else changed it first.
pub async fn update_if_version(
    db: &DatabaseConnection,
    row: ContainerRow,
    expected_version: i32,
    summarize: Summarize<'_>,
) -> Result<bool, DbErr> {
    let id = row.id.clone();
    let mut model = row.into_active_model().reset_all();
    model.status_summary = ActiveValue::NotSet;
    model.adopted_docker_id = ActiveValue::NotSet;
    // The rollout is the reconciler's.
    model.rollout_state = ActiveValue::NotSet;
    model.rollout_reason = ActiveValue::NotSet;
    model.rollout_from = ActiveValue::NotSet;
    model.rollout_to = ActiveValue::NotSet;
    model.deploy_hook_hash = ActiveValue::NotSet;
    let txn = super::begin_write(db).await?;
    let res = container::Entity::update_many()
        .set(model)
        .filter(container::Column::Id.eq(id.as_str()))
        .filter(container::Column::Version.eq(expected_version))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    resummarize(&txn, &id, summarize).await?;
    txn.commit().await?;
    Ok(true)
}

pub async fn set_desired_state(
    db: &DatabaseConnection,
    id: &str,
    state: &str,
    at: chrono::DateTime<chrono::Utc>,
    summarize: Summarize<'_>,
) -> Result<(), DbErr> {
    let txn = super::begin_write(db).await?;
    container::Entity::update_many()
        .col_expr(container::Column::DesiredState, Expr::value(state))
        .col_expr(container::Column::UpdatedAt, Expr::value(at))
        .filter(container::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    resummarize(&txn, id, summarize).await?;
    txn.commit().await
}

/// Recomputes one definition's summary under its lock; `false` when it was stored right already (or the
/// definition is gone).
pub async fn refresh_summary(
    db: &DatabaseConnection,
    id: &str,
    summarize: Summarize<'_>,
) -> Result<bool, DbErr> {
    let txn = super::begin_write(db).await?;
    if !lock_definition(&txn, id).await? {
        txn.rollback().await?;
        return Ok(false);
    }
    let before = container::Entity::find_by_id(id.to_owned())
        .one(&txn)
        .await?
        .map(|r| r.status_summary);
    let after = resummarize(&txn, id, summarize)
        .await?
        .map(|(r, _)| r.status_summary);
    txn.commit().await?;
    Ok(before != after)
}

/// Overwrites a stored summary (tests of the repair).
#[cfg(test)]
pub async fn set_summary_for_tests(db: &DatabaseConnection, id: &str, summary: &str) {
    container::Entity::update_many()
        .col_expr(container::Column::StatusSummary, Expr::value(summary))
        .filter(container::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
        .unwrap_or_else(|e| panic!("setting a summary: {e}"));
}

/// Inserts many definitions and instances at once (benchmarks).
#[cfg(test)]
pub async fn insert_many_for_tests(
    db: &DatabaseConnection,
    containers: Vec<ContainerRow>,
    instances: Vec<InstanceRow>,
) {
    let txn = super::begin_write(db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for chunk in containers.chunks(500) {
        container::Entity::insert_many(
            chunk
                .iter()
                .cloned()
                .map(IntoActiveModel::into_active_model),
        )
        .exec_without_returning(&txn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    for chunk in instances.chunks(500) {
        container_instance::Entity::insert_many(
            chunk
                .iter()
                .cloned()
                .map(IntoActiveModel::into_active_model),
        )
        .exec_without_returning(&txn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
}

/// `container_hosts` as stored (SQLite), and as the definitions and instances say it should be: sorted
/// (host, definition, name, references).
#[cfg(test)]
#[allow(clippy::type_complexity)]
pub async fn container_hosts_for_tests(
    db: &DatabaseConnection,
) -> (
    Vec<(String, String, String, i64)>,
    Vec<(String, String, String, i64)>,
) {
    use sea_orm::{FromQueryResult, Statement};
    #[derive(FromQueryResult)]
    struct Pair {
        host_id: String,
        container_id: String,
        name: String,
        refs: i64,
    }
    let read = |sql: &str| {
        Pair::find_by_statement(Statement::from_string(DbBackend::Sqlite, sql.to_owned()))
    };
    let stored =
        read("SELECT host_id, container_id, name, refs FROM container_hosts ORDER BY 1, 2")
            .all(db)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    let expected = read(
        "SELECT x.host_id, c.id AS container_id, c.name, COUNT(*) AS refs FROM ( \
         SELECT host_id, id AS container_id FROM containers WHERE host_id IS NOT NULL UNION ALL \
         SELECT host_id, container_id FROM container_instances WHERE host_id IS NOT NULL \
         ) x JOIN containers c ON c.id = x.container_id GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .all(db)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let flat = |v: Vec<Pair>| {
        v.into_iter()
            .map(|p| (p.host_id, p.container_id, p.name, p.refs))
            .collect()
    };
    (flat(stored), flat(expected))
}

/// The plan SQLite makes for `sql` (`EXPLAIN QUERY PLAN`), one line per step.
#[cfg(test)]
pub async fn plan_for_tests(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(sea_orm::Statement::from_string(
        DbBackend::Sqlite,
        format!("EXPLAIN QUERY PLAN {sql}"),
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .iter()
    .map(|r| r.try_get::<String>("", "detail").unwrap_or_default())
    .collect()
}

/// The SQL of a page query on SQLite, values inlined (for [`plan_for_tests`]).
#[cfg(test)]
pub fn page_sql_for_tests(q: &ContainerPageQuery) -> String {
    page_select(q, DbBackend::Sqlite)
        .map(|s| s.build(DbBackend::Sqlite).to_string())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `ANALYZE` (benchmarks on PostgreSQL).
#[cfg(test)]
pub async fn analyze_for_tests(db: &DatabaseConnection) {
    db.execute_unprepared("ANALYZE")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Every definition's id with its stored summary, desired state and replica count, and every instance's
/// container id, status and health: what checking every summary needs (start-up repair), nothing more.
#[allow(clippy::type_complexity)]
pub async fn summary_inputs(
    db: &DatabaseConnection,
) -> Result<
    (
        Vec<(String, String, String, i32)>,
        Vec<(
            String,
            berth_shared::InstanceStatus,
            Option<berth_shared::Health>,
        )>,
    ),
    DbErr,
> {
    let definitions = container::Entity::find()
        .select_only()
        .column(container::Column::Id)
        .column(container::Column::StatusSummary)
        .column(container::Column::DesiredState)
        .column(container::Column::Replicas)
        .into_tuple()
        .all(db)
        .await?;
    let instances = container_instance::Entity::find()
        .select_only()
        .column(container_instance::Column::ContainerId)
        .column(container_instance::Column::Status)
        .column(container_instance::Column::Health)
        .into_tuple()
        .all(db)
        .await?;
    Ok((definitions, instances))
}

/// Deletes a definition and its instance rows (the definition first: its row lock comes before instance rows,
/// as in every other write).
pub async fn delete(db: &DatabaseConnection, id: &str) -> Result<bool, DbErr> {
    let txn = super::begin_write(db).await?;
    let res = container::Entity::delete_by_id(id.to_owned())
        .exec(&txn)
        .await?;
    container_instance::Entity::delete_many()
        .filter(container_instance::Column::ContainerId.eq(id))
        .exec(&txn)
        .await?;
    container_revision::Entity::delete_many()
        .filter(container_revision::Column::ContainerId.eq(id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(res.rows_affected > 0)
}

/// The sort orders of the definitions list; each ends on the id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerOrder {
    /// `(name, id)` (names are unique).
    Name,
    /// `(image, id)`, index `ix_containers_image`.
    Image,
    /// `(status_summary, name, id)`, index `ix_containers_status`.
    Status,
    /// `(created_at, id)`, index `ix_containers_created`.
    Created,
}

/// A value of a sort column in a keyset cursor.
#[derive(Clone, Debug, PartialEq)]
pub enum SeekValue {
    Text(String),
    Time(chrono::DateTime<chrono::Utc>),
}

/// One page of definitions: filter, order, the row to continue after and the number of rows to read.
#[derive(Clone, Debug)]
pub struct ContainerPageQuery {
    /// Lower-case text that the name or the image contains.
    pub search: Option<String>,
    /// Pinned to this host, or with an instance on it.
    pub host_id: Option<String>,
    /// Stored summary status.
    pub status: Option<String>,
    pub order: ContainerOrder,
    pub desc: bool,
    /// The last row's sort values (as [`ContainerOrder::columns`] lists them) and id.
    pub after: Option<(Vec<SeekValue>, String)>,
    pub limit: u64,
}

impl ContainerOrder {
    /// The sort columns before the id.
    pub fn columns(self) -> &'static [container::Column] {
        use container::Column as C;
        match self {
            ContainerOrder::Name => &[C::Name],
            ContainerOrder::Image => &[C::Image],
            ContainerOrder::Status => &[C::StatusSummary, C::Name],
            ContainerOrder::Created => &[C::CreatedAt],
        }
    }

    /// A row's values of the sort columns.
    pub fn values_of(self, row: &ContainerRow) -> Vec<SeekValue> {
        match self {
            ContainerOrder::Name => vec![SeekValue::Text(row.name.clone())],
            ContainerOrder::Image => vec![SeekValue::Text(row.image.clone())],
            ContainerOrder::Status => vec![
                SeekValue::Text(row.status_summary.clone()),
                SeekValue::Text(row.name.clone()),
            ],
            ContainerOrder::Created => vec![SeekValue::Time(row.created_at)],
        }
    }
}

/// The filter of [`ContainerPageQuery`] as a condition: search in the name or image (SQLite: through the trigram
/// index, 3 characters and more; else with `LIKE`, which PostgreSQL's `pg_trgm` indexes serve), the host as the
/// pinned host or any instance's host, the status on the stored summary. `counting`: for a count of every match
/// rather than a page that stops early.
fn page_filter(q: &ContainerPageQuery, backend: DbBackend, counting: bool) -> Condition {
    use container::Column as C;
    use container_instance::Column as I;
    let mut cond = Condition::all();
    let search = q.search.as_deref().filter(|s| !s.is_empty());
    let phrase = search
        .and_then(keyset::trigram_phrase)
        .filter(|_| backend == DbBackend::Sqlite);
    if let Some(phrase) = phrase {
        // SQLite: the matching rows from the trigram index of name and image (`containers_fts`).
        cond = cond.add(Expr::cust_with_values(
            "containers.rowid IN (SELECT rowid FROM containers_fts WHERE containers_fts MATCH ?)",
            [phrase],
        ));
    } else if let Some(search) = search {
        let pattern = keyset::contains_pattern(search);
        let like = |col: C| {
            // SQLite's LIKE ignores ASCII case already (and its lower() knows only ASCII): lower() would only
            // double the cost of the scan there.
            let text = match backend {
                DbBackend::Sqlite => Expr::col(col),
                _ => Expr::expr(Func::lower(Expr::col(col))),
            };
            text.like(LikeExpr::new(pattern.clone()).escape(keyset::LIKE_ESCAPE))
        };
        cond = cond.add(Condition::any().add(like(C::Name)).add(like(C::Image)));
    }
    if let Some(host) = &q.host_id {
        if backend == DbBackend::Sqlite && (counting || q.order == ContainerOrder::Name) {
            // SQLite: the host's definitions are one range of `container_hosts`. A page in name order joins it
            // (see `page`); a count reads the range (`ix_container_hosts_name`) and finds each definition by id.
            if counting {
                let ids = Query::select()
                    .column(HOSTS_CONTAINER)
                    .from(CONTAINER_HOSTS)
                    .and_where(Expr::col(HOSTS_HOST).eq(host.as_str()))
                    .to_owned();
                cond = cond.add(Expr::col((container::Entity, C::Id)).in_subquery(ids));
            }
            return status_filter(cond, q);
        }
        let pinned = Expr::col((container::Entity, C::HostId)).eq(host.as_str());
        let on_host = if backend == DbBackend::Sqlite && !counting {
            // Correlated, so a page stops at its last row. The host is compared as an expression so that SQLite,
            // which keeps no statistics, probes each definition's instances by `ux_container_instances_replica`
            // instead of walking every instance on the host (`ix_container_instances_host`) for each definition.
            Expr::exists(
                Query::select()
                    .expr(Expr::value(1))
                    .from_as(container_instance::Entity, INSTANCE)
                    .and_where(
                        Expr::col((INSTANCE, I::ContainerId)).equals((container::Entity, C::Id)),
                    )
                    .and_where(
                        Expr::expr(Func::coalesce([
                            Expr::col((INSTANCE, I::HostId)),
                            Expr::value(""),
                        ]))
                        .eq(host.as_str()),
                    )
                    .to_owned(),
            )
        } else {
            // One list of the host's definitions (from `ix_container_instances_host`), probed for each row: what
            // a count over every definition wants, and what PostgreSQL makes of either form (a hashed subplan; a
            // correlated EXISTS under OR only costs it more).
            Expr::col((container::Entity, C::Id)).in_subquery(
                Query::select()
                    .column(I::ContainerId)
                    .from(container_instance::Entity)
                    .and_where(Expr::col(I::HostId).eq(host.as_str()))
                    .to_owned(),
            )
        };
        cond = cond.add(Condition::any().add(pinned).add(on_host));
    }
    status_filter(cond, q)
}

/// `cond` and the status filter, on the stored summary.
fn status_filter(cond: Condition, q: &ContainerPageQuery) -> Condition {
    match &q.status {
        Some(status) => cond.add(container::Column::StatusSummary.eq(status.as_str())),
        None => cond,
    }
}

/// The alias of `container_instances` in the host filter's subquery.
const INSTANCE: &str = "ci";
/// SQLite's table of which definitions are on which host, kept by triggers (`m20261204_000012_container_hosts`).
const CONTAINER_HOSTS: &str = "container_hosts";
const HOSTS_HOST: &str = "host_id";
const HOSTS_CONTAINER: &str = "container_id";
const HOSTS_NAME: &str = "name";

/// Up to `limit` definitions of the filter in the order asked, after the given row; reads only those rows (and
/// the index entries before them within the filter).
pub async fn page(
    db: &DatabaseConnection,
    q: &ContainerPageQuery,
) -> Result<Vec<ContainerRow>, DbErr> {
    page_select(q, db.get_database_backend())?.all(db).await
}

/// The query of [`page`].
fn page_select(
    q: &ContainerPageQuery,
    backend: DbBackend,
) -> Result<sea_orm::Select<container::Entity>, DbErr> {
    let cols = q.order.columns();
    let mut select = container::Entity::find().filter(page_filter(q, backend, false));
    // SQLite, one host, name order: walk that host's range of `ix_container_hosts_name` (name and id equal the
    // definition's), so the page reads its own rows and nothing before them.
    let host_range = match &q.host_id {
        Some(host) if backend == DbBackend::Sqlite && q.order == ContainerOrder::Name => {
            QueryTrait::query(&mut select).join(
                JoinType::InnerJoin,
                CONTAINER_HOSTS,
                Expr::col((CONTAINER_HOSTS, HOSTS_CONTAINER))
                    .equals((container::Entity, container::Column::Id)),
            );
            select = select.filter(Expr::col((CONTAINER_HOSTS, HOSTS_HOST)).eq(host.as_str()));
            true
        }
        _ => false,
    };
    let sort_expr = |c: container::Column| match (host_range, c) {
        (true, container::Column::Name) => Expr::col((CONTAINER_HOSTS, HOSTS_NAME)),
        (true, container::Column::Id) => Expr::col((CONTAINER_HOSTS, HOSTS_CONTAINER)),
        _ => Expr::col((container::Entity, c)),
    };
    if let Some((values, id)) = &q.after {
        if values.len() != cols.len() {
            return Err(DbErr::Custom(
                "a cursor's values do not match its sort order".into(),
            ));
        }
        let mut keys: Vec<SeekKey> = cols
            .iter()
            .zip(values)
            .map(|(c, v)| {
                let value: sea_orm::Value = match v {
                    SeekValue::Text(t) => t.clone().into(),
                    SeekValue::Time(t) => (*t).into(),
                };
                SeekKey::new(sort_expr(*c), value)
            })
            .collect();
        keys.push(SeekKey::new(sort_expr(container::Column::Id), id.clone()));
        if let Some(cond) = keyset::after(&keys, q.desc) {
            select = select.filter(cond);
        }
    }
    let exprs = cols
        .iter()
        .chain(std::iter::once(&container::Column::Id))
        .map(|c| sort_expr(*c));
    Ok(keyset::order_by(select, exprs, q.desc).limit(q.limit))
}

/// How many definitions the filter of `q` matches.
pub async fn page_count(db: &DatabaseConnection, q: &ContainerPageQuery) -> Result<u64, DbErr> {
    container::Entity::find()
        .filter(page_filter(q, db.get_database_backend(), true))
        .count(db)
        .await
}

/// The ids of the definitions with an instance on `host_id` (over the instances' host index).
pub async fn container_ids_on_host(
    db: &DatabaseConnection,
    host_id: &str,
) -> Result<Vec<String>, DbErr> {
    container_instance::Entity::find()
        .select_only()
        .column(container_instance::Column::ContainerId)
        .filter(container_instance::Column::HostId.eq(host_id))
        .distinct()
        .into_tuple::<String>()
        .all(db)
        .await
}

/// Which of `ids` name a definition (by primary key, 500 at a time).
pub async fn existing_ids(db: &DatabaseConnection, ids: &[String]) -> Result<Vec<String>, DbErr> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(
            container::Entity::find()
                .select_only()
                .column(container::Column::Id)
                .filter(container::Column::Id.is_in(chunk.iter().cloned()))
                .into_tuple::<String>()
                .all(db)
                .await?,
        );
    }
    Ok(out)
}

/// The instances of these definitions, by definition and replica (one query).
pub async fn instances_of_many(
    db: &DatabaseConnection,
    container_ids: &[String],
) -> Result<Vec<InstanceRow>, DbErr> {
    if container_ids.is_empty() {
        return Ok(Vec::new());
    }
    container_instance::Entity::find()
        .filter(container_instance::Column::ContainerId.is_in(container_ids.iter().cloned()))
        .order_by_asc(container_instance::Column::ContainerId)
        .order_by_asc(container_instance::Column::Replica)
        .all(db)
        .await
}

pub async fn instances_of(
    db: &impl ConnectionTrait,
    container_id: &str,
) -> Result<Vec<InstanceRow>, DbErr> {
    container_instance::Entity::find()
        .filter(container_instance::Column::ContainerId.eq(container_id))
        .order_by_asc(container_instance::Column::Replica)
        .all(db)
        .await
}

pub async fn all_instances(db: &DatabaseConnection) -> Result<Vec<InstanceRow>, DbErr> {
    container_instance::Entity::find()
        .order_by_asc(container_instance::Column::ContainerId)
        .order_by_asc(container_instance::Column::Replica)
        .all(db)
        .await
}

pub async fn instance(db: &DatabaseConnection, id: &str) -> Result<Option<InstanceRow>, DbErr> {
    container_instance::Entity::find_by_id(id.to_owned())
        .one(db)
        .await
}

/// Inserts or replaces an instance row (by id), in one transaction with its definition's summary: when the
/// status differs from the stored one (or `snapshot` is asked for) the summary is recomputed under the
/// definition's lock, and the definition and its instances as read then are returned (`None` otherwise, or when
/// the definition is gone).
pub async fn save_instance(
    db: &DatabaseConnection,
    row: InstanceRow,
    snapshot: bool,
    summarize: Summarize<'_>,
) -> Result<Option<(ContainerRow, Vec<InstanceRow>)>, DbErr> {
    let txn = super::begin_write(db).await?;
    let defined = lock_definition(&txn, &row.container_id).await?;
    let stored = container_instance::Entity::find_by_id(row.id.clone())
        .one(&txn)
        .await?;
    // The summary depends on the status and, for a running replica, its health.
    let changed = stored
        .as_ref()
        .is_none_or(|s| s.status != row.status || s.health != row.health);
    let container_id = row.container_id.clone();
    if stored.is_some() {
        row.into_active_model().reset_all().update(&txn).await?;
    } else {
        container_instance::Entity::insert(row.into_active_model())
            .exec_without_returning(&txn)
            .await?;
    }
    let out = if defined && (changed || snapshot) {
        resummarize(&txn, &container_id, summarize).await?
    } else {
        None
    };
    txn.commit().await?;
    Ok(out)
}

/// Deletes an instance row and recomputes its definition's summary in the same transaction.
pub async fn delete_instance(
    db: &DatabaseConnection,
    id: &str,
    summarize: Summarize<'_>,
) -> Result<(), DbErr> {
    // An instance never changes its definition, so this read need not be in the transaction (which must write
    // first, see `lock_definition`).
    let Some(stored) = container_instance::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let txn = super::begin_write(db).await?;
    let defined = lock_definition(&txn, &stored.container_id).await?;
    container_instance::Entity::delete_by_id(id.to_owned())
        .exec(&txn)
        .await?;
    if defined {
        resummarize(&txn, &stored.container_id, summarize).await?;
    }
    txn.commit().await
}

use super::entities::disk;
pub use super::entities::disk::Model as DiskRow;

pub async fn disks(db: &DatabaseConnection) -> Result<Vec<DiskRow>, DbErr> {
    disk::Entity::find()
        .order_by_asc(disk::Column::Name)
        .all(db)
        .await
}

pub async fn disk(db: &DatabaseConnection, id: &str) -> Result<Option<DiskRow>, DbErr> {
    disk::Entity::find_by_id(id.to_owned()).one(db).await
}

pub async fn disk_by_name(db: &DatabaseConnection, name: &str) -> Result<Option<DiskRow>, DbErr> {
    disk::Entity::find()
        .filter(disk::Column::Name.eq(name))
        .one(db)
        .await
}

pub async fn insert_disk(db: &DatabaseConnection, row: DiskRow) -> Result<DiskRow, DbErr> {
    disk::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

pub async fn delete_disk(db: &DatabaseConnection, id: &str) -> Result<(), DbErr> {
    disk::Entity::delete_by_id(id.to_owned())
        .exec(db)
        .await
        .map(|_| ())
}

/// Sets a definition's replica count, bumping its version, and recomputes its summary.
pub async fn set_replicas(
    db: &DatabaseConnection,
    id: &str,
    replicas: i32,
    at: chrono::DateTime<chrono::Utc>,
    summarize: Summarize<'_>,
) -> Result<(), DbErr> {
    let txn = super::begin_write(db).await?;
    container::Entity::update_many()
        .col_expr(container::Column::Replicas, Expr::value(replicas))
        .col_expr(
            container::Column::Version,
            Expr::col(container::Column::Version).add(1),
        )
        .col_expr(container::Column::UpdatedAt, Expr::value(at))
        .filter(container::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    resummarize(&txn, id, summarize).await?;
    txn.commit().await
}

/// The definitions (id, name, image) whose image is one of `names` (a repository as written, such as
/// `127.0.0.1:5000/web/nginx` or `nginx`) with or without a tag: ranges of `ix_containers_image` (`name` itself,
/// and from `name:` to just before `name;`), never every definition.
pub async fn with_repository(
    db: &DatabaseConnection,
    names: &[String],
) -> Result<Vec<(String, String, String)>, DbErr> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let any = names.iter().fold(Condition::any(), |any, name| {
        any.add(container::Column::Image.eq(name.as_str())).add(
            Condition::all()
                .add(container::Column::Image.gte(format!("{name}:")))
                .add(container::Column::Image.lt(format!("{name};"))),
        )
    });
    container::Entity::find()
        .select_only()
        .column(container::Column::Id)
        .column(container::Column::Name)
        .column(container::Column::Image)
        .filter(any)
        .into_tuple()
        .all(db)
        .await
}

/// The distinct image references of the definitions (an ordered scan of `ix_containers_image`).
/// Ids of the definitions with update policy AUTO and a daily window.
pub async fn auto_with_window(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    container::Entity::find()
        .select_only()
        .column(container::Column::Id)
        .filter(container::Column::UpdatePolicy.eq("AUTO"))
        .filter(container::Column::UpdateWindow.is_not_null())
        .into_tuple()
        .all(db)
        .await
}

pub async fn distinct_images(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    container::Entity::find()
        .select_only()
        .column(container::Column::Image)
        .distinct()
        .order_by_asc(container::Column::Image)
        .into_tuple()
        .all(db)
        .await
}

/// Instances by status: (status word, count); one aggregate over `container_instances`.
pub async fn instance_status_counts(db: &DatabaseConnection) -> Result<Vec<(String, i64)>, DbErr> {
    container_instance::Entity::find()
        .select_only()
        .column(container_instance::Column::Status)
        .column_as(container_instance::Column::Id.count(), "n")
        .group_by(container_instance::Column::Status)
        .into_tuple()
        .all(db)
        .await
}

/// The replicas of the definitions asked to run, summed.
pub async fn desired_replicas(db: &DatabaseConnection) -> Result<i64, DbErr> {
    let sum: Option<Option<i64>> = container::Entity::find()
        .select_only()
        .column_as(
            Expr::col(container::Column::Replicas)
                .sum()
                .cast_as("BIGINT"),
            "n",
        )
        .filter(container::Column::DesiredState.eq("RUNNING"))
        .into_tuple()
        .one(db)
        .await?;
    Ok(sum.flatten().unwrap_or(0))
}

/// The rollout columns of a definition: state, reason, from and to revision (all `None` clears them).
pub async fn set_rollout(
    db: &DatabaseConnection,
    id: &str,
    rollout: Option<(String, Option<String>, i32, i32)>,
) -> Result<(), DbErr> {
    let (state, reason, from, to) = match rollout {
        Some((s, r, f, t)) => (Some(s), r, Some(f), Some(t)),
        None => (None, None, None, None),
    };
    let txn = super::begin_write(db).await?;
    container::Entity::update_many()
        .col_expr(container::Column::RolloutState, Expr::value(state))
        .col_expr(container::Column::RolloutReason, Expr::value(reason))
        .col_expr(container::Column::RolloutFrom, Expr::value(from))
        .col_expr(container::Column::RolloutTo, Expr::value(to))
        .filter(container::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    txn.commit().await
}

/// Sets (or with `None` clears) the hash of a definition's deploy-hook token; `false` when there is no such
/// definition.
pub async fn set_deploy_hook_hash(
    db: &DatabaseConnection,
    id: &str,
    hash: Option<String>,
) -> Result<bool, DbErr> {
    let txn = super::begin_write(db).await?;
    let res = container::Entity::update_many()
        .col_expr(container::Column::DeployHookHash, Expr::value(hash))
        .filter(container::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(res.rows_affected == 1)
}

/// The definition whose deploy-hook token hashes to `hash` (index `ix_containers_deploy_hook`).
pub async fn by_deploy_hook_hash(
    db: &DatabaseConnection,
    hash: &str,
) -> Result<Option<ContainerRow>, DbErr> {
    container::Entity::find()
        .filter(container::Column::DeployHookHash.eq(hash))
        .one(db)
        .await
}

/// A container's revisions, newest first (at most `limit`).
pub async fn revisions(
    db: &DatabaseConnection,
    container_id: &str,
    limit: u64,
) -> Result<Vec<RevisionRow>, DbErr> {
    container_revision::Entity::find()
        .filter(container_revision::Column::ContainerId.eq(container_id))
        .order_by_desc(container_revision::Column::Number)
        .limit(limit)
        .all(db)
        .await
}

/// One revision of a container by its number.
pub async fn revision(
    db: &DatabaseConnection,
    container_id: &str,
    number: i32,
) -> Result<Option<RevisionRow>, DbErr> {
    container_revision::Entity::find()
        .filter(container_revision::Column::ContainerId.eq(container_id))
        .filter(container_revision::Column::Number.eq(number))
        .one(db)
        .await
}

/// Records a revision numbered one past the container's highest (under the write lock, so two never get the
/// same number); returns it.
pub async fn insert_revision(
    db: &DatabaseConnection,
    mut row: RevisionRow,
) -> Result<RevisionRow, DbErr> {
    let txn = super::begin_write(db).await?;
    let highest = container_revision::Entity::find()
        .filter(container_revision::Column::ContainerId.eq(row.container_id.as_str()))
        .order_by_desc(container_revision::Column::Number)
        .one(&txn)
        .await?
        .map_or(0, |r| r.number);
    row.number = highest + 1;
    container_revision::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok(row)
}
