//! Database schema migrations for Berth; they run at server start-up on SQLite and PostgreSQL alike.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_auth;
mod m20261128_000002_hosts;
mod m20261128_000003_registries;
mod m20261128_000004_containers;
mod m20261128_000005_audit;
mod m20261203_000006_inventory;
mod m20261203_000007_health;
mod m20261203_000008_stats;
mod m20261203_000009_search;
mod m20261203_000010_host_index;
mod m20261204_000011_search_triggers;
mod m20261204_000012_container_hosts;
mod m20261204_000013_alerts;
mod m20261204_000014_alert_thresholds;
mod m20261204_000015_image_updates;
mod m20261204_000016_rollouts;
mod m20261204_000017_deploy_hooks;
mod m20261204_000018_update_policy;
mod m20261204_000019_update_window;
mod m20261204_000020_cluster;

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_auth::Migration),
            Box::new(m20261128_000002_hosts::Migration),
            Box::new(m20261128_000003_registries::Migration),
            Box::new(m20261128_000004_containers::Migration),
            Box::new(m20261128_000005_audit::Migration),
            Box::new(m20261203_000006_inventory::Migration),
            Box::new(m20261203_000007_health::Migration),
            Box::new(m20261203_000008_stats::Migration),
            Box::new(m20261203_000009_search::Migration),
            Box::new(m20261203_000010_host_index::Migration),
            Box::new(m20261204_000011_search_triggers::Migration),
            Box::new(m20261204_000012_container_hosts::Migration),
            Box::new(m20261204_000013_alerts::Migration),
            Box::new(m20261204_000014_alert_thresholds::Migration),
            Box::new(m20261204_000015_image_updates::Migration),
            Box::new(m20261204_000016_rollouts::Migration),
            Box::new(m20261204_000017_deploy_hooks::Migration),
            Box::new(m20261204_000018_update_policy::Migration),
            Box::new(m20261204_000019_update_window::Migration),
            Box::new(m20261204_000020_cluster::Migration),
        ]
    }
}
