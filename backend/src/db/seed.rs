//! Synthetic container definitions for benchmarks: many definitions with their instances written straight into
//! `containers` and `container_instances` in batched transactions (the code that reads them is the real one).
//!
//! The records are ones the reconciler leaves as they are when their hosts have Docker support switched off
//! (what runs there is not Berth's to check): RUNNING definitions whose replicas all run, STOPPED ones whose
//! replicas are recorded stopped (with the exit code they stopped with), and a few RUNNING ones under restart
//! policy ALWAYS whose replicas exited (Docker restarts those itself; Berth's check of that is set hours away so
//! a benchmark run sees no churn from them). `status_summary` is computed with the service's rule
//! (`berth_shared::summary_status`), as every write of a definition keeps it.

use super::entities::{container, container_instance};
use berth_shared::{DesiredState, InstanceStatus, summary_status};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, IntoActiveModel};
use std::collections::BTreeMap;

/// Definitions per transaction.
const BATCH: usize = 1_000;
/// Rows per INSERT (SQLite allows 32,766 variables; a definition row has 22 columns, an instance row 14).
const CHUNK: usize = 500;

/// What [`definitions`] wrote.
#[derive(Clone, Debug, Default)]
pub struct Seeded {
    /// The definitions' ids, in the order written.
    pub ids: Vec<String>,
    /// How many definitions have each summary status (`RUNNING`, `STOPPED`, `EXITED`).
    pub by_status: BTreeMap<String, usize>,
    /// How many instance rows were written.
    pub instances: usize,
}

const SERVICES: [&str; 24] = [
    "accounts",
    "billing",
    "catalog",
    "checkout",
    "search",
    "gateway",
    "auth",
    "mailer",
    "reports",
    "ledger",
    "inventory",
    "pricing",
    "shipping",
    "notify",
    "media",
    "ingest",
    "scheduler",
    "metrics",
    "audit",
    "cart",
    "profile",
    "payments",
    "orders",
    "export",
];
const ROLES: [&str; 8] = [
    "api", "worker", "web", "cron", "db", "cache", "queue", "proxy",
];
const ENVS: [&str; 4] = ["prod", "staging", "dev", "qa"];
/// Images as definitions store them (normalised references).
const IMAGES: [&str; 12] = [
    "docker.io/library/nginx:1.27",
    "docker.io/library/redis:7.4",
    "docker.io/library/postgres:16.4",
    "docker.io/library/python:3.12-slim",
    "docker.io/library/node:22-alpine",
    "docker.io/library/golang:1.23",
    "docker.io/library/rabbitmq:3.13-management",
    "docker.io/grafana/grafana:11.2.0",
    "docker.io/prom/prometheus:v2.54.1",
    "ghcr.io/acme/shop-api:2.14.3",
    "registry.example.com/team/worker:1.8.0",
    "quay.io/keycloak/keycloak:25.0",
];

/// Inserts `count` definitions with `replicas` instances each, spread over `host_ids` (pinned to none: the
/// scheduler placed them), named `<prefix><service>-<role>-<env>-<n>`. About three in four run, one in five
/// is stopped, the rest should run but their replicas exited (restart policy ALWAYS, checked in six hours).
pub async fn definitions(
    db: &DatabaseConnection,
    host_ids: &[String],
    prefix: &str,
    count: usize,
    replicas: usize,
) -> Result<Seeded, DbErr> {
    if host_ids.is_empty() {
        return Err(DbErr::Custom(
            "seeding instances needs at least one host".into(),
        ));
    }
    let now = Utc::now();
    let replicas_i32 = i32::try_from(replicas).map_err(|e| DbErr::Custom(e.to_string()))?;
    let mut out = Seeded::default();
    let mut n = 0;
    while n < count {
        let end = (n + BATCH).min(count);
        let mut rows = Vec::with_capacity(end - n);
        let mut instances = Vec::with_capacity((end - n) * replicas);
        for k in n..end {
            let (row, mine) = definition(k, prefix, host_ids, replicas_i32, now);
            *out.by_status.entry(row.status_summary.clone()).or_default() += 1;
            out.ids.push(row.id.clone());
            rows.push(row);
            instances.extend(mine);
        }
        out.instances += instances.len();
        let txn = super::begin_write(db).await?;
        for chunk in rows.chunks(CHUNK) {
            container::Entity::insert_many(
                chunk
                    .iter()
                    .cloned()
                    .map(IntoActiveModel::into_active_model),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        for chunk in instances.chunks(CHUNK) {
            container_instance::Entity::insert_many(
                chunk
                    .iter()
                    .cloned()
                    .map(IntoActiveModel::into_active_model),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        txn.commit().await?;
        n = end;
    }
    Ok(out)
}

/// The `k`-th definition and its instances.
fn definition(
    k: usize,
    prefix: &str,
    host_ids: &[String],
    replicas: i32,
    now: DateTime<Utc>,
) -> (container::Model, Vec<container_instance::Model>) {
    // Spread the pattern so neighbouring names do not share everything.
    let mix = k.wrapping_mul(2_654_435_761) % 1_000_003;
    let service = SERVICES[k % SERVICES.len()];
    let role = ROLES[(k / SERVICES.len()) % ROLES.len()];
    let env = ENVS[mix % ENVS.len()];
    let image = IMAGES[(k * 7 + mix) % IMAGES.len()];
    // 75 % running, 20 % stopped, 5 % running with exited replicas.
    let kind = mix % 20;
    let (desired, status) = match kind {
        0..=14 => (DesiredState::Running, InstanceStatus::Running),
        15..=18 => (DesiredState::Stopped, InstanceStatus::Stopped),
        _ => (DesiredState::Running, InstanceStatus::Exited),
    };
    let policy = if status == InstanceStatus::Exited {
        "ALWAYS"
    } else {
        ["UNLESS_STOPPED", "ALWAYS", "NO", "ON_FAILURE"][k % 4]
    };
    let created = now - Duration::minutes(i64::try_from(mix % 525_600).unwrap_or(0));
    let started = created + Duration::seconds(3);
    let id = uuid::Uuid::new_v4().to_string();
    let port = 8000 + (k % 1000);
    let ports = match role {
        "api" | "web" | "proxy" => format!(r#"["{port}/tcp"]"#),
        _ => "[]".to_owned(),
    };
    let env_vars = format!(
        r#"[["APP_ENV","{env}"],["SERVICE","{service}-{role}"],["LOG_LEVEL","{}"]]"#,
        if env == "prod" { "info" } else { "debug" }
    );
    let command = match role {
        "worker" | "queue" => Some(format!(r#"["{service}","work","--concurrency","4"]"#)),
        "cron" => Some(format!(r#"["{service}","schedule"]"#)),
        _ => None,
    };
    let instances: Vec<container_instance::Model> = (0..replicas)
        .map(|replica| {
            let r = usize::try_from(replica).unwrap_or(0);
            let host = &host_ids[(k + r) % host_ids.len()];
            let (exit_code, finished, next, error) = match status {
                InstanceStatus::Stopped => (Some(0), Some(now - Duration::minutes(30)), None, None),
                InstanceStatus::Exited => (
                    Some(1),
                    Some(now - Duration::minutes(2)),
                    Some(now + Duration::hours(6)),
                    Some("exited with code 1".to_owned()),
                ),
                _ => (None, None, None, None),
            };
            container_instance::Model {
                id: uuid::Uuid::new_v4().to_string(),
                container_id: id.clone(),
                replica,
                host_id: Some(host.clone()),
                docker_id: Some(format!("{:016x}{:048x}", mix, k * 8 + r)),
                status,
                exit_code,
                error,
                definition_version: 1,
                attempts: i32::from(status == InstanceStatus::Exited),
                next_attempt_at: next,
                started_at: Some(started),
                finished_at: finished,
                updated_at: finished.unwrap_or(started),
                health: None,
                health_output: None,
                unhealthy_since: None,
                image_digest: None,
                revision: None,
            }
        })
        .collect();
    let statuses: Vec<InstanceStatus> = vec![status; instances.len()];
    let summary = summary_status(desired, usize::try_from(replicas).unwrap_or(0), &statuses);
    let row = container::Model {
        id,
        name: format!("{prefix}{service}-{role}-{env}-{k:05}"),
        image: image.to_owned(),
        command,
        entrypoint: None,
        env: env_vars,
        ports,
        cpus: k.is_multiple_of(3).then_some(0.5),
        memory_bytes: k.is_multiple_of(2).then_some(256 << 20),
        cpu_shares: None,
        restart_policy: policy.to_owned(),
        host_id: None,
        replicas,
        mounts: "[]".to_owned(),
        desired_state: desired.as_str().to_owned(),
        status_summary: summary.as_str().to_owned(),
        adopted_docker_id: None,
        health_check: None,
        replace_unhealthy_after_secs: None,
        rollout_state: None,
        rollout_reason: None,
        rollout_from: None,
        rollout_to: None,
        max_parallel: 1,
        min_healthy_secs: 5,
        deploy_hook_hash: None,
        update_policy: "NOTIFY".to_owned(),
        update_window: None,
        version: 1,
        created_at: created,
        updated_at: created,
    };
    (row, instances)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_definitions_are_valid_and_their_summary_follows_the_rule() {
        let hosts = vec!["a".to_owned(), "b".to_owned()];
        let now = Utc::now();
        let mut names = std::collections::HashSet::new();
        for k in 0..500 {
            let (row, instances) = definition(k, "", &hosts, 2, now);
            berth_shared::validate_container_name(&row.name).unwrap();
            assert!(names.insert(row.name.clone()), "unique names");
            assert_eq!(instances.len(), 2);
            let statuses: Vec<InstanceStatus> = instances.iter().map(|i| i.status).collect();
            let desired: DesiredState = row.desired_state.parse().unwrap();
            assert_eq!(
                row.status_summary,
                summary_status(desired, 2, &statuses).as_str()
            );
            let ports: Vec<berth_shared::PortSpec> = serde_json::from_str(&row.ports).unwrap();
            assert!(ports.len() <= 1);
            let env: Vec<(String, String)> = serde_json::from_str(&row.env).unwrap();
            assert_eq!(env.len(), 3);
        }
    }
}
