//! `container_stats`: the stats history of running containers, raw samples (resolution 0) and 5-minute averages
//! (resolution 300); times in milliseconds since the epoch.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "container_stats")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// The sample key: the instance id of one of Berth's replicas, the inventory id (`<host id>:<docker id>`) of
    /// any other container (`service::stats::sample_key`).
    pub instance_id: String,
    pub host_id: String,
    pub at_ms: i64,
    /// 0 for a sample, else the seconds one average covers.
    pub resolution: i32,
    pub cpu_percent: Option<f64>,
    pub memory_bytes: i64,
    pub memory_limit_bytes: Option<i64>,
    pub net_rx_bytes: i64,
    pub net_tx_bytes: i64,
    pub block_read_bytes: i64,
    pub block_write_bytes: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
