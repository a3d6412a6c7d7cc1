//! Queries on `container_stats`: samples written in batches, an instance's history (averages, then the newest
//! samples), the latest samples of a host, a host's totals per time bucket and the trends of many instances (both
//! summed or averaged in SQL, one query), 5-minute averages made in SQL one bucket at a time, and pruning in
//! bounded batches.

use super::entities::container_stat::{self, Column as C};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query};
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
    let txn = super::begin_write(db).await?;
    container_stat::Entity::insert_many(rows)
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await
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
    let txn = super::begin_write(db).await?;
    let n = txn.execute(&insert).await?.rows_affected();
    txn.commit().await?;
    Ok(n)
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
    let txn = super::begin_write(db).await?;
    let n = txn.execute(&delete).await?.rows_affected();
    txn.commit().await?;
    Ok(n)
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

/// A host's totals in one time bucket: each instance's samples in the bucket averaged (CPU, memory) or at their
/// highest (counters), then summed over the instances.
#[derive(Clone, Debug, PartialEq)]
pub struct HostBucket {
    /// Start of the bucket.
    pub at_ms: i64,
    pub cpu_percent: Option<f64>,
    pub memory_bytes: i64,
    pub net_rx_bytes: i64,
    pub net_tx_bytes: i64,
    pub block_read_bytes: i64,
    pub block_write_bytes: i64,
    /// Instances with a sample in the bucket.
    pub containers: i64,
}

/// A host's totals per `bucket_ms` from rows of `resolution` with `from_ms <= at_ms < to_ms`, oldest first, summed
/// in SQL (at most `(to_ms - from_ms) / bucket_ms + 1` rows).
pub async fn host_buckets(
    db: &DatabaseConnection,
    host_id: &str,
    resolution: i32,
    from_ms: i64,
    to_ms: i64,
    bucket_ms: i64,
) -> Result<Vec<HostBucket>, DbErr> {
    // `bucket_ms` is a number of ours (never user text): written into the SQL so that both databases group by
    // the same expression.
    let bucket_ms = std::cmp::Ord::max(bucket_ms, 1);
    let mut inner = Query::select();
    inner
        .expr_as(
            Expr::cust(format!("at_ms - (at_ms % {bucket_ms})")),
            Alias::new("bucket"),
        )
        .column(C::InstanceId)
        .expr_as(Expr::cust("AVG(cpu_percent)"), Alias::new("cpu"))
        .expr_as(Expr::cust("AVG(memory_bytes)"), Alias::new("mem"))
        .expr_as(Expr::cust("MAX(net_rx_bytes)"), Alias::new("rx"))
        .expr_as(Expr::cust("MAX(net_tx_bytes)"), Alias::new("tx"))
        .expr_as(Expr::cust("MAX(block_read_bytes)"), Alias::new("br"))
        .expr_as(Expr::cust("MAX(block_write_bytes)"), Alias::new("bw"))
        .from(container_stat::Entity)
        .and_where(Expr::col(C::HostId).eq(host_id))
        .and_where(Expr::col(C::Resolution).eq(resolution))
        .and_where(Expr::col(C::AtMs).gte(from_ms))
        .and_where(Expr::col(C::AtMs).lt(to_ms))
        .group_by_col(Alias::new("bucket"))
        .group_by_col(C::InstanceId);
    let outer = Query::select()
        .column(Alias::new("bucket"))
        .expr_as(Expr::cust("SUM(cpu)"), Alias::new("cpu"))
        .expr_as(Expr::cust("CAST(SUM(mem) AS BIGINT)"), Alias::new("mem"))
        .expr_as(Expr::cust("CAST(SUM(rx) AS BIGINT)"), Alias::new("rx"))
        .expr_as(Expr::cust("CAST(SUM(tx) AS BIGINT)"), Alias::new("tx"))
        .expr_as(Expr::cust("CAST(SUM(br) AS BIGINT)"), Alias::new("br"))
        .expr_as(Expr::cust("CAST(SUM(bw) AS BIGINT)"), Alias::new("bw"))
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
        .from_subquery(inner, Alias::new("per_instance"))
        .group_by_col(Alias::new("bucket"))
        .order_by(Alias::new("bucket"), Order::Asc)
        .to_owned();
    let rows = db.query_all(&outer).await?;
    rows.iter()
        .map(|row| {
            Ok(HostBucket {
                at_ms: row.try_get("", "bucket")?,
                cpu_percent: row.try_get("", "cpu")?,
                memory_bytes: row.try_get::<Option<i64>>("", "mem")?.unwrap_or_default(),
                net_rx_bytes: row.try_get::<Option<i64>>("", "rx")?.unwrap_or_default(),
                net_tx_bytes: row.try_get::<Option<i64>>("", "tx")?.unwrap_or_default(),
                block_read_bytes: row.try_get::<Option<i64>>("", "br")?.unwrap_or_default(),
                block_write_bytes: row.try_get::<Option<i64>>("", "bw")?.unwrap_or_default(),
                containers: row.try_get("", "n")?,
            })
        })
        .collect()
}

/// A point of an instance's trend: its raw samples in one bucket averaged.
#[derive(Clone, Debug, PartialEq)]
pub struct TrendPoint {
    pub instance_id: String,
    /// Start of the bucket.
    pub at_ms: i64,
    pub cpu_percent: Option<f64>,
    pub memory_bytes: i64,
}

/// The raw samples of `instance_ids` from `since_ms` on averaged per `bucket_ms`, in one query, by instance then
/// time.
pub async fn trends(
    db: &DatabaseConnection,
    instance_ids: &[String],
    since_ms: i64,
    bucket_ms: i64,
) -> Result<Vec<TrendPoint>, DbErr> {
    if instance_ids.is_empty() {
        return Ok(Vec::new());
    }
    let bucket_ms = std::cmp::Ord::max(bucket_ms, 1);
    let select = Query::select()
        .column(C::InstanceId)
        .expr_as(
            Expr::cust(format!("at_ms - (at_ms % {bucket_ms})")),
            Alias::new("bucket"),
        )
        .expr_as(Expr::cust("AVG(cpu_percent)"), Alias::new("cpu"))
        .expr_as(
            Expr::cust("CAST(AVG(memory_bytes) AS BIGINT)"),
            Alias::new("mem"),
        )
        .from(container_stat::Entity)
        .and_where(Expr::col(C::InstanceId).is_in(instance_ids.iter().cloned()))
        .and_where(Expr::col(C::Resolution).eq(RAW))
        .and_where(Expr::col(C::AtMs).gte(since_ms))
        .group_by_col(C::InstanceId)
        .group_by_col(Alias::new("bucket"))
        .order_by(C::InstanceId, Order::Asc)
        .order_by(Alias::new("bucket"), Order::Asc)
        .to_owned();
    let rows = db.query_all(&select).await?;
    rows.iter()
        .map(|row| {
            Ok(TrendPoint {
                instance_id: row.try_get("", "instance_id")?,
                at_ms: row.try_get("", "bucket")?,
                cpu_percent: row.try_get("", "cpu")?,
                memory_bytes: row.try_get::<Option<i64>>("", "mem")?.unwrap_or_default(),
            })
        })
        .collect()
}

/// The oldest raw sample of `instance_ids` from `since_ms` on.
pub async fn oldest_sample(
    db: &DatabaseConnection,
    instance_ids: &[String],
    since_ms: i64,
) -> Result<Option<i64>, DbErr> {
    if instance_ids.is_empty() {
        return Ok(None);
    }
    let oldest: Option<Option<i64>> = container_stat::Entity::find()
        .select_only()
        .expr(Expr::col(C::AtMs).min())
        .filter(C::InstanceId.is_in(instance_ids.iter().cloned()))
        .filter(C::Resolution.eq(RAW))
        .filter(C::AtMs.gte(since_ms))
        .into_tuple()
        .one(db)
        .await?;
    Ok(oldest.flatten())
}
