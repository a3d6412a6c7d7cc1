//! Queries on the alert tables: channels, rules, silences, alerts (opened with their outbox rows in one
//! transaction) and the delivery outbox (claimed by lease, every attempt kept).

use super::begin_write;
use super::entities::{alert, alert_attempt, alert_channel, alert_delivery, alert_rule, silence};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

pub use alert::Model as AlertRow;
pub use alert_attempt::Model as AttemptRow;
pub use alert_channel::Model as ChannelRow;
pub use alert_delivery::Model as DeliveryRow;
pub use alert_rule::Model as RuleRow;
pub use silence::Model as SilenceRow;

pub const OPEN: &str = "OPEN";
pub const ACKNOWLEDGED: &str = "ACKNOWLEDGED";
pub const RESOLVED: &str = "RESOLVED";
pub const PENDING: &str = "PENDING";
pub const DELIVERED: &str = "DELIVERED";
pub const FAILED: &str = "FAILED";

// Channels.

pub async fn channels(db: &DatabaseConnection) -> Result<Vec<ChannelRow>, DbErr> {
    alert_channel::Entity::find()
        .order_by_asc(alert_channel::Column::Name)
        .all(db)
        .await
}

pub async fn channel(db: &DatabaseConnection, id: &str) -> Result<Option<ChannelRow>, DbErr> {
    alert_channel::Entity::find_by_id(id.to_owned())
        .one(db)
        .await
}

pub async fn channel_by_name(
    db: &DatabaseConnection,
    name: &str,
) -> Result<Option<ChannelRow>, DbErr> {
    alert_channel::Entity::find()
        .filter(alert_channel::Column::Name.eq(name))
        .one(db)
        .await
}

pub async fn put_channel(
    db: &DatabaseConnection,
    row: ChannelRow,
    exists: bool,
) -> Result<(), DbErr> {
    if exists {
        row.into_active_model().reset_all().update(db).await?;
    } else {
        alert_channel::Entity::insert(row.into_active_model())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Deletes a channel, its pending deliveries and its place in every rule's list.
pub async fn delete_channel(db: &DatabaseConnection, id: &str) -> Result<bool, DbErr> {
    let txn = begin_write(db).await?;
    let gone = alert_channel::Entity::delete_by_id(id.to_owned())
        .exec(&txn)
        .await?
        .rows_affected
        > 0;
    alert_delivery::Entity::update_many()
        .col_expr(alert_delivery::Column::State, Expr::value(FAILED))
        .col_expr(
            alert_delivery::Column::LastError,
            Expr::value("the channel was deleted"),
        )
        .filter(alert_delivery::Column::ChannelId.eq(id))
        .filter(alert_delivery::Column::State.eq(PENDING))
        .exec(&txn)
        .await?;
    for rule in alert_rule::Entity::find().all(&txn).await? {
        let ids: Vec<String> = serde_json::from_str(&rule.channel_ids).unwrap_or_default();
        if ids.iter().any(|c| c == id) {
            let kept: Vec<&String> = ids.iter().filter(|c| *c != id).collect();
            let mut active = rule.into_active_model();
            active.channel_ids = Set(serde_json::to_string(&kept).unwrap_or_else(|_| "[]".into()));
            active.update(&txn).await?;
        }
    }
    txn.commit().await?;
    Ok(gone)
}

// Rules.

pub async fn rules(db: &DatabaseConnection) -> Result<Vec<RuleRow>, DbErr> {
    alert_rule::Entity::find()
        .order_by_asc(alert_rule::Column::Name)
        .all(db)
        .await
}

pub async fn rule(db: &DatabaseConnection, id: &str) -> Result<Option<RuleRow>, DbErr> {
    alert_rule::Entity::find_by_id(id.to_owned()).one(db).await
}

pub async fn rule_by_name(db: &DatabaseConnection, name: &str) -> Result<Option<RuleRow>, DbErr> {
    alert_rule::Entity::find()
        .filter(alert_rule::Column::Name.eq(name))
        .one(db)
        .await
}

pub async fn put_rule(db: &DatabaseConnection, row: RuleRow, exists: bool) -> Result<(), DbErr> {
    if exists {
        row.into_active_model().reset_all().update(db).await?;
    } else {
        alert_rule::Entity::insert(row.into_active_model())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Deletes a rule; its alerts still open are resolved (returned), without notifications.
pub async fn delete_rule(
    db: &DatabaseConnection,
    id: &str,
    at: DateTime<Utc>,
) -> Result<Option<Vec<String>>, DbErr> {
    let txn = begin_write(db).await?;
    let gone = alert_rule::Entity::delete_by_id(id.to_owned())
        .exec(&txn)
        .await?
        .rows_affected
        > 0;
    if !gone {
        return Ok(None);
    }
    let open: Vec<String> = alert::Entity::find()
        .filter(alert::Column::RuleId.eq(id))
        .filter(alert::Column::State.ne(RESOLVED))
        .all(&txn)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    alert::Entity::update_many()
        .col_expr(alert::Column::State, Expr::value(RESOLVED))
        .col_expr(alert::Column::ResolvedAt, Expr::value(at))
        .col_expr(
            alert::Column::ResolveMessage,
            Expr::value("its rule was deleted"),
        )
        .col_expr(
            alert::Column::NextRepeatAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(alert::Column::RuleId.eq(id))
        .filter(alert::Column::State.ne(RESOLVED))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(Some(open))
}

// Silences.

pub async fn silences(db: &DatabaseConnection) -> Result<Vec<SilenceRow>, DbErr> {
    silence::Entity::find()
        .order_by_desc(silence::Column::EndsAt)
        .all(db)
        .await
}

/// Silences that end after `now`.
pub async fn active_silences(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> Result<Vec<SilenceRow>, DbErr> {
    silence::Entity::find()
        .filter(silence::Column::EndsAt.gt(now))
        .all(db)
        .await
}

pub async fn insert_silence(db: &DatabaseConnection, row: SilenceRow) -> Result<(), DbErr> {
    silence::Entity::insert(row.into_active_model())
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

pub async fn delete_silence(db: &DatabaseConnection, id: &str) -> Result<bool, DbErr> {
    Ok(silence::Entity::delete_by_id(id.to_owned())
        .exec(db)
        .await?
        .rows_affected
        > 0)
}

// Alerts.

/// A new delivery row (the outbox).
pub fn delivery(
    id: String,
    alert_id: Option<String>,
    channel_id: String,
    event: &str,
    payload: String,
    at: DateTime<Utc>,
) -> DeliveryRow {
    DeliveryRow {
        seq: 0,
        id,
        alert_id,
        channel_id,
        event: event.to_owned(),
        payload,
        state: PENDING.to_owned(),
        attempts: 0,
        next_attempt_at: at,
        created_at: at,
        delivered_at: None,
        last_status: None,
        last_error: None,
    }
}

async fn insert_deliveries(
    db: &impl ConnectionTrait,
    deliveries: Vec<DeliveryRow>,
) -> Result<(), DbErr> {
    for d in deliveries {
        let mut active = d.into_active_model();
        active.seq = sea_orm::ActiveValue::NotSet;
        alert_delivery::Entity::insert(active)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Opens an alert with its outbox rows in one transaction. `false` when the rule already has one open for the
/// subject (then nothing is written).
pub async fn open(
    db: &DatabaseConnection,
    row: AlertRow,
    deliveries: Vec<DeliveryRow>,
) -> Result<bool, DbErr> {
    let txn = begin_write(db).await?;
    let taken = alert::Entity::find()
        .filter(alert::Column::RuleId.eq(row.rule_id.clone()))
        .filter(alert::Column::SubjectKey.eq(row.subject_key.clone()))
        .filter(alert::Column::State.ne(RESOLVED))
        .count(&txn)
        .await?
        > 0;
    if taken {
        return Ok(false);
    }
    let mut active = row.into_active_model();
    active.seq = sea_orm::ActiveValue::NotSet;
    let inserted = alert::Entity::insert(active)
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .exec_without_returning(&txn)
        .await?;
    if inserted == 0 {
        return Ok(false);
    }
    insert_deliveries(&txn, deliveries).await?;
    txn.commit().await?;
    Ok(true)
}

/// The alerts not resolved.
pub async fn unresolved(db: &DatabaseConnection) -> Result<Vec<AlertRow>, DbErr> {
    alert::Entity::find()
        .filter(alert::Column::State.ne(RESOLVED))
        .all(db)
        .await
}

/// The unresolved alerts of a condition and subject.
pub async fn unresolved_of(
    db: &DatabaseConnection,
    condition: &str,
    subject_key: &str,
) -> Result<Vec<AlertRow>, DbErr> {
    alert::Entity::find()
        .filter(alert::Column::Condition.eq(condition))
        .filter(alert::Column::SubjectKey.eq(subject_key))
        .filter(alert::Column::State.ne(RESOLVED))
        .all(db)
        .await
}

/// Resolves an alert with its outbox rows; `false` when it was resolved already.
pub async fn resolve(
    db: &DatabaseConnection,
    id: &str,
    at: DateTime<Utc>,
    message: &str,
    deliveries: Vec<DeliveryRow>,
) -> Result<bool, DbErr> {
    let txn = begin_write(db).await?;
    let done = alert::Entity::update_many()
        .col_expr(alert::Column::State, Expr::value(RESOLVED))
        .col_expr(alert::Column::ResolvedAt, Expr::value(at))
        .col_expr(alert::Column::ResolveMessage, Expr::value(message))
        .col_expr(
            alert::Column::NextRepeatAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(alert::Column::Id.eq(id))
        .filter(alert::Column::State.ne(RESOLVED))
        .exec(&txn)
        .await?
        .rows_affected
        > 0;
    if done {
        insert_deliveries(&txn, deliveries).await?;
    }
    txn.commit().await?;
    Ok(done)
}

/// OPEN → ACKNOWLEDGED (reminders stop); `false` when it was not open.
pub async fn acknowledge(
    db: &DatabaseConnection,
    id: &str,
    by: &str,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    Ok(alert::Entity::update_many()
        .col_expr(alert::Column::State, Expr::value(ACKNOWLEDGED))
        .col_expr(alert::Column::AcknowledgedAt, Expr::value(at))
        .col_expr(alert::Column::AcknowledgedBy, Expr::value(by))
        .col_expr(
            alert::Column::NextRepeatAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(alert::Column::Id.eq(id))
        .filter(alert::Column::State.eq(OPEN))
        .exec(db)
        .await?
        .rows_affected
        > 0)
}

pub async fn alert(db: &DatabaseConnection, id: &str) -> Result<Option<AlertRow>, DbErr> {
    alert::Entity::find()
        .filter(alert::Column::Id.eq(id))
        .one(db)
        .await
}

/// Newest first: up to `limit` alerts in `states` (all when empty) older than `before_seq`, and how many match
/// without the cursor.
pub async fn page(
    db: &DatabaseConnection,
    states: &[&str],
    host_id: Option<&str>,
    before_seq: Option<i64>,
    limit: u64,
) -> Result<(Vec<AlertRow>, u64), DbErr> {
    let mut select = alert::Entity::find();
    if !states.is_empty() {
        select = select.filter(alert::Column::State.is_in(states.iter().copied()));
    }
    if let Some(h) = host_id {
        select = select.filter(alert::Column::HostId.eq(h));
    }
    let total = select.clone().count(db).await?;
    if let Some(b) = before_seq {
        select = select.filter(alert::Column::Seq.lt(b));
    }
    let rows = select
        .order_by_desc(alert::Column::Seq)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

pub async fn count_open(db: &DatabaseConnection) -> Result<u64, DbErr> {
    alert::Entity::find()
        .filter(alert::Column::State.eq(OPEN))
        .count(db)
        .await
}

/// Open alerts whose reminder is due.
pub async fn due_repeats(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<AlertRow>, DbErr> {
    alert::Entity::find()
        .filter(alert::Column::State.eq(OPEN))
        .filter(alert::Column::NextRepeatAt.lte(now))
        .order_by_asc(alert::Column::NextRepeatAt)
        .limit(limit)
        .all(db)
        .await
}

/// Records a reminder: the next one's time and its outbox rows.
pub async fn repeated(
    db: &DatabaseConnection,
    id: &str,
    next: DateTime<Utc>,
    deliveries: Vec<DeliveryRow>,
) -> Result<(), DbErr> {
    let txn = begin_write(db).await?;
    let still_open = alert::Entity::update_many()
        .col_expr(alert::Column::NextRepeatAt, Expr::value(next))
        .filter(alert::Column::Id.eq(id))
        .filter(alert::Column::State.eq(OPEN))
        .exec(&txn)
        .await?
        .rows_affected
        > 0;
    if still_open {
        insert_deliveries(&txn, deliveries).await?;
    }
    txn.commit().await
}

// The outbox.

/// Inserts a delivery alone (a channel's test).
pub async fn insert_delivery(db: &DatabaseConnection, row: DeliveryRow) -> Result<(), DbErr> {
    insert_deliveries(db, vec![row]).await
}

/// Channels with a delivery due by `now`, with their earliest due time; and the earliest due time after `now`.
pub async fn due_channels(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> Result<(Vec<String>, Option<DateTime<Utc>>), DbErr> {
    let due: Vec<String> = alert_delivery::Entity::find()
        .select_only()
        .column(alert_delivery::Column::ChannelId)
        .distinct()
        .filter(alert_delivery::Column::State.eq(PENDING))
        .filter(alert_delivery::Column::NextAttemptAt.lte(now))
        .into_tuple()
        .all(db)
        .await?;
    let next: Option<DateTime<Utc>> = alert_delivery::Entity::find()
        .select_only()
        .column(alert_delivery::Column::NextAttemptAt)
        .filter(alert_delivery::Column::State.eq(PENDING))
        .filter(alert_delivery::Column::NextAttemptAt.gt(now))
        .order_by_asc(alert_delivery::Column::NextAttemptAt)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    Ok((due, next))
}

/// Takes up to `n` due deliveries of a channel, oldest first, leasing them until `lease_until` (a crash in the
/// middle leaves them due again then).
pub async fn claim(
    db: &DatabaseConnection,
    channel_id: &str,
    now: DateTime<Utc>,
    n: u64,
    lease_until: DateTime<Utc>,
) -> Result<Vec<DeliveryRow>, DbErr> {
    let txn = begin_write(db).await?;
    let rows = alert_delivery::Entity::find()
        .filter(alert_delivery::Column::State.eq(PENDING))
        .filter(alert_delivery::Column::ChannelId.eq(channel_id))
        .filter(alert_delivery::Column::NextAttemptAt.lte(now))
        .order_by_asc(alert_delivery::Column::NextAttemptAt)
        .order_by_asc(alert_delivery::Column::Seq)
        .limit(n)
        .all(&txn)
        .await?;
    if !rows.is_empty() {
        alert_delivery::Entity::update_many()
            .col_expr(
                alert_delivery::Column::NextAttemptAt,
                Expr::value(lease_until),
            )
            .filter(alert_delivery::Column::Id.is_in(rows.iter().map(|r| r.id.clone())))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(rows)
}

/// What one attempt did.
pub struct AttemptOutcome {
    pub at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
    /// DELIVERED, PENDING (again at `next_attempt_at`) or FAILED.
    pub state: &'static str,
    pub next_attempt_at: DateTime<Utc>,
}

/// Records an attempt of each delivery (one request may carry several).
pub async fn record_attempt(
    db: &DatabaseConnection,
    delivery_ids: &[String],
    outcome: &AttemptOutcome,
) -> Result<(), DbErr> {
    let txn = begin_write(db).await?;
    for id in delivery_ids {
        alert_attempt::Entity::insert(alert_attempt::ActiveModel {
            delivery_id: Set(id.clone()),
            at: Set(outcome.at),
            status_code: Set(outcome.status_code),
            error: Set(outcome.error.clone()),
            duration_ms: Set(outcome.duration_ms),
            ..Default::default()
        })
        .exec_without_returning(&txn)
        .await?;
    }
    let delivered_at = (outcome.state == DELIVERED).then_some(outcome.at);
    alert_delivery::Entity::update_many()
        .col_expr(alert_delivery::Column::State, Expr::value(outcome.state))
        .col_expr(
            alert_delivery::Column::Attempts,
            Expr::col(alert_delivery::Column::Attempts).add(1),
        )
        .col_expr(
            alert_delivery::Column::NextAttemptAt,
            Expr::value(outcome.next_attempt_at),
        )
        .col_expr(
            alert_delivery::Column::DeliveredAt,
            Expr::value(delivered_at),
        )
        .col_expr(
            alert_delivery::Column::LastStatus,
            Expr::value(outcome.status_code),
        )
        .col_expr(
            alert_delivery::Column::LastError,
            Expr::value(outcome.error.clone()),
        )
        .filter(alert_delivery::Column::Id.is_in(delivery_ids.iter().cloned()))
        .exec(&txn)
        .await?;
    txn.commit().await
}

/// At start-up nothing is in flight: leases of pending deliveries end now.
pub async fn release_leases(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DbErr> {
    Ok(alert_delivery::Entity::update_many()
        .col_expr(alert_delivery::Column::NextAttemptAt, Expr::value(now))
        .filter(alert_delivery::Column::State.eq(PENDING))
        .filter(alert_delivery::Column::NextAttemptAt.gt(now))
        .filter(alert_delivery::Column::Attempts.eq(0))
        .exec(db)
        .await?
        .rows_affected)
}

pub async fn delivery_by_id(
    db: &DatabaseConnection,
    id: &str,
) -> Result<Option<DeliveryRow>, DbErr> {
    alert_delivery::Entity::find()
        .filter(alert_delivery::Column::Id.eq(id))
        .one(db)
        .await
}

/// An alert's deliveries, oldest first (at most 200), with their attempts.
pub async fn deliveries_of(
    db: &DatabaseConnection,
    alert_id: &str,
) -> Result<Vec<(DeliveryRow, Vec<AttemptRow>)>, DbErr> {
    let rows = alert_delivery::Entity::find()
        .filter(alert_delivery::Column::AlertId.eq(alert_id))
        .order_by_asc(alert_delivery::Column::Seq)
        .limit(200)
        .all(db)
        .await?;
    // Their attempts in one query (oldest first, at most 50 kept per delivery).
    let attempts = alert_attempt::Entity::find()
        .filter(alert_attempt::Column::DeliveryId.is_in(rows.iter().map(|d| d.id.clone())))
        .order_by_asc(alert_attempt::Column::Seq)
        .limit(200 * 50)
        .all(db)
        .await?;
    let mut by_delivery: std::collections::HashMap<String, Vec<AttemptRow>> =
        std::collections::HashMap::new();
    for a in attempts {
        let list = by_delivery.entry(a.delivery_id.clone()).or_default();
        if list.len() < 50 {
            list.push(a);
        }
    }
    Ok(rows
        .into_iter()
        .map(|d| {
            let attempts = by_delivery.remove(&d.id).unwrap_or_default();
            (d, attempts)
        })
        .collect())
}

pub async fn attempts_of(
    db: &DatabaseConnection,
    delivery_id: &str,
) -> Result<Vec<AttemptRow>, DbErr> {
    alert_attempt::Entity::find()
        .filter(alert_attempt::Column::DeliveryId.eq(delivery_id))
        .order_by_asc(alert_attempt::Column::Seq)
        .limit(50)
        .all(db)
        .await
}

/// Tests: every scheduled reminder falls due now (as if its interval had passed); how many were scheduled.
pub async fn reminders_due_for_tests(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let txn = begin_write(db).await?;
    let n = alert::Entity::update_many()
        .col_expr(alert::Column::NextRepeatAt, Expr::value(now))
        .filter(alert::Column::NextRepeatAt.is_not_null())
        .exec(&txn)
        .await?
        .rows_affected;
    txn.commit().await?;
    Ok(n)
}
