//! Queries on `container_stats`: samples written in batches, an instance's history (averages, then the newest
//! samples), the latest samples of a host, 5-minute averages made in SQL one bucket at a time, and pruning in
//! bounded batches.

use super::entities::container_stat::{self, Column as C};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

pub use container_stat::Model as StatsRow;

/// Resolution of a raw sample.
pub const RAW: i32 = 0;

/// A sample to store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewSample {
    pub instance_id: String,
    pub host_id: String,
    pub at_ms: i64,
    pub cpu_percent: Option<f64>,
    pub memory_bytes: i64,
    pub memory_limit_bytes: Option<i64>,
    pub net_rx_bytes: i64,
    pub net_tx_bytes: i64,
    pub block_read_bytes: i64,
    pub block_write_bytes: i64,
}

/// Stores raw samples in one statement.
pub async fn insert_samples(db: &DatabaseConnection, samples: Vec<NewSample>) -> Result<(), DbErr> {
    if samples.is_empty() {
        return Ok(());
    }
    let rows = samples.into_iter().map(|s| container_stat::ActiveModel {
        instance_id: Set(s.instance_id),
        host_id: Set(s.host_id),
        at_ms: Set(s.at_ms),
        resolution: Set(RAW),
        cpu_percent: Set(s.cpu_percent),
        memory_bytes: Set(s.memory_bytes),
        memory_limit_bytes: Set(s.memory_limit_bytes),
        net_rx_bytes: Set(s.net_rx_bytes),
        net_tx_bytes: Set(s.net_tx_bytes),
        block_read_bytes: Set(s.block_read_bytes),
        block_write_bytes: Set(s.block_write_bytes),
        ..Default::default()
    });
    container_stat::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// An instance's history from `since_ms` on, oldest first, at most `max_points`: the newest raw samples (at
/// most `max_raw`), preceded by the averages of `resolution` from before the first of them.
pub async fn history(
    db: &DatabaseConnection,
    instance_id: &str,
    since_ms: i64,
    resolution: i32,
    max_raw: u64,
    max_points: u64,
) -> Result<Vec<StatsRow>, DbErr> {
    let mut raw = container_stat::Entity::find()
        .filter(C::InstanceId.eq(instance_id))
        .filter(C::Resolution.eq(RAW))
        .filter(C::AtMs.gte(since_ms))
        .order_by_desc(C::AtMs)
        .limit(std::cmp::Ord::min(max_raw, max_points))
        .all(db)
        .await?;
    raw.reverse();
    let before = raw.first().map_or(i64::MAX, |r| r.at_ms);
    let room = max_points.saturating_sub(raw.len() as u64);
    let mut averages = if room == 0 {
        Vec::new()
    } else {
        container_stat::Entity::find()
            .filter(C::InstanceId.eq(instance_id))
            .filter(C::Resolution.eq(resolution))
            .filter(C::AtMs.gte(since_ms))
            .filter(C::AtMs.lt(before))
            .order_by_desc(C::AtMs)
            .limit(room)
            .all(db)
            .await?
    };
    averages.reverse();
    averages.extend(raw);
    Ok(averages)
}

/// Raw samples of a host's instances from `since_ms` on, newest first.
pub async fn recent_of_host(
    db: &DatabaseConnection,
    host_id: &str,
    since_ms: i64,
) -> Result<Vec<StatsRow>, DbErr> {
    container_stat::Entity::find()
        .filter(C::HostId.eq(host_id))
        .filter(C::Resolution.eq(RAW))
        .filter(C::AtMs.gte(since_ms))
        .order_by_desc(C::AtMs)
        .all(db)
        .await
}

/// The time of the newest average of `resolution`, or of the oldest raw sample when there is none.
pub async fn downsample_start(
    db: &DatabaseConnection,
    resolution: i32,
) -> Result<(Option<i64>, Option<i64>), DbErr> {
    let newest_average = container_stat::Entity::find()
        .filter(C::Resolution.eq(resolution))
        .order_by_desc(C::AtMs)
        .one(db)
        .await?
        .map(|r| r.at_ms);
    let oldest_raw = container_stat::Entity::find()
        .filter(C::Resolution.eq(RAW))
        .order_by_asc(C::AtMs)
        .one(db)
        .await?
        .map(|r| r.at_ms);
    Ok((newest_average, oldest_raw))
}

/// Writes one average per instance of the raw samples in `[start_ms, start_ms + resolution s)`, stamped
/// `start_ms`: CPU and memory averaged, the limit and the counters (network, block I/O) at their highest.
pub async fn downsample_bucket(
    db: &DatabaseConnection,
    start_ms: i64,
    resolution: i32,
) -> Result<u64, DbErr> {
    let end_ms = start_ms + i64::from(resolution) * 1000;
    let mut select = Query::select();
    select
        .column(C::InstanceId)
        .column(C::HostId)
        .expr(Expr::value(start_ms))
        .expr(Expr::value(resolution))
        .expr(Expr::cust("AVG(cpu_percent)"))
        .expr(Expr::cust("CAST(AVG(memory_bytes) AS BIGINT)"))
        .expr(Expr::cust("MAX(memory_limit_bytes)"))
        .expr(Expr::cust("MAX(net_rx_bytes)"))
        .expr(Expr::cust("MAX(net_tx_bytes)"))
        .expr(Expr::cust("MAX(block_read_bytes)"))
        .expr(Expr::cust("MAX(block_write_bytes)"))
        .from(container_stat::Entity)
        .and_where(Expr::col(C::Resolution).eq(RAW))
        .and_where(Expr::col(C::AtMs).gte(start_ms))
        .and_where(Expr::col(C::AtMs).lt(end_ms))
        .group_by_columns([C::InstanceId, C::HostId]);
    let insert = Query::insert()
        .into_table(container_stat::Entity)
        .columns([
            C::InstanceId,
            C::HostId,
            C::AtMs,
            C::Resolution,
            C::CpuPercent,
            C::MemoryBytes,
            C::MemoryLimitBytes,
            C::NetRxBytes,
            C::NetTxBytes,
            C::BlockReadBytes,
            C::BlockWriteBytes,
        ])
        .select_from(select)
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .to_owned();
    Ok(db.execute(&insert).await?.rows_affected())
}

/// Deletes at most `limit` rows of `resolution` older than `before_ms`; the number deleted.
pub async fn prune(
    db: &DatabaseConnection,
    resolution: i32,
    before_ms: i64,
    limit: u64,
) -> Result<u64, DbErr> {
    let delete = Query::delete()
        .from_table(container_stat::Entity)
        .and_where(
            Expr::col(C::Seq).in_subquery(
                Query::select()
                    .column(C::Seq)
                    .from(container_stat::Entity)
                    .and_where(Expr::col(C::Resolution).eq(resolution))
                    .and_where(Expr::col(C::AtMs).lt(before_ms))
                    .limit(limit)
                    .to_owned(),
            ),
        )
        .to_owned();
    Ok(db.execute(&delete).await?.rows_affected())
}

/// A running instance to sample: (instance id, host id, Docker id).
pub type RunningInstance = (String, String, String);

/// Every instance recorded RUNNING with a Docker container, optionally on one host (three columns only).
pub async fn running_instances(
    db: &DatabaseConnection,
    host_id: Option<&str>,
) -> Result<Vec<RunningInstance>, DbErr> {
    use super::entities::container_instance::{self, Column as I};
    let mut select = container_instance::Entity::find()
        .select_only()
        .column(I::Id)
        .column(I::HostId)
        .column(I::DockerId)
        .filter(I::Status.eq(berth_shared::InstanceStatus::Running.as_str()))
        .filter(I::DockerId.is_not_null())
        .filter(I::HostId.is_not_null());
    if let Some(host) = host_id {
        select = select.filter(I::HostId.eq(host));
    }
    let rows: Vec<(String, Option<String>, Option<String>)> = select.into_tuple().all(db).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, host, docker)| Some((id, host?, docker?)))
        .collect())
}
