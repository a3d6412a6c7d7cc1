//! Alerts in the API: channels, rules, silences (ADMIN), alerts (anyone reads, OPERATOR acknowledges), the
//! delivery log and `alertChanges`.

use super::error::{ApiError, ApiResult};
use super::paging::{KeysetCursor, PageInfo, SortDirection, count};
use super::{authorized_services, require_user, services};
use crate::bus::Event;
use crate::service::alerts::{
    self as svc, AlertChange as SvcChange, ChannelSettings, RuleSettings, SilenceSettings,
};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "berth_shared::AlertCondition")]
pub enum AlertCondition {
    ContainerExited,
    ContainerOom,
    ContainerUnhealthy,
    RestartLoop,
    Unplaceable,
    HostDown,
    RegistryFailed,
    UpdateAvailable,
    HostCpuHigh,
    HostMemoryHigh,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "berth_shared::AlertChannelKind")]
pub enum AlertChannelKind {
    Webhook,
    Slack,
    Ntfy,
    Email,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "berth_shared::AlertState")]
pub enum AlertState {
    Open,
    Acknowledged,
    Resolved,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "berth_shared::SmtpSecurity")]
pub enum SmtpSecurity {
    Starttls,
    Tls,
    None,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AlertChangeKind {
    Opened,
    Acknowledged,
    Resolved,
}

/// Where notifications go. Secrets (the URL's path, the signing key, the SMTP password) are never returned.
#[derive(SimpleObject, Clone, Debug)]
pub struct AlertChannel {
    pub id: ID,
    pub name: String,
    pub kind: AlertChannelKind,
    /// The receiver's scheme, host and port (the rest may carry a token).
    pub url: Option<String>,
    pub has_secret: bool,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<i32>,
    pub smtp_security: Option<SmtpSecurity>,
    pub smtp_username: Option<String>,
    pub has_smtp_password: bool,
    pub email_from: Option<String>,
    pub email_to: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
}

impl From<svc::AlertChannel> for AlertChannel {
    fn from(c: svc::AlertChannel) -> Self {
        AlertChannel {
            id: ID(c.id),
            name: c.name,
            kind: c.kind.into(),
            url: c.url_shown,
            has_secret: c.has_secret,
            smtp_host: c.smtp_host,
            smtp_port: c.smtp_port.map(i32::from),
            smtp_security: c.smtp_security.map(Into::into),
            smtp_username: c.smtp_username,
            has_smtp_password: c.has_smtp_password,
            email_from: c.email_from,
            email_to: c.email_to,
            enabled: c.enabled,
            created_at: c.created_at,
        }
    }
}

#[derive(InputObject, Clone, Debug)]
pub struct AlertChannelInput {
    pub name: String,
    /// Required when creating; a channel's kind never changes.
    pub kind: Option<AlertChannelKind>,
    /// WEBHOOK, SLACK, NTFY: the receiver's http(s) URL. On update, null keeps the stored one.
    pub url: Option<String>,
    /// WEBHOOK: the key of the `X-Berth-Signature` HMAC. On update, null keeps it and "" removes it.
    pub secret: Option<String>,
    pub smtp_host: Option<String>,
    /// Default: 587 (STARTTLS), 465 (TLS), 25 (NONE).
    pub smtp_port: Option<i32>,
    pub smtp_security: Option<SmtpSecurity>,
    pub smtp_username: Option<String>,
    /// On update, null keeps the stored one and "" removes it.
    pub smtp_password: Option<String>,
    pub email_from: Option<String>,
    #[graphql(default)]
    pub email_to: Vec<String>,
    pub enabled: Option<bool>,
}

impl From<AlertChannelInput> for ChannelSettings {
    fn from(i: AlertChannelInput) -> Self {
        ChannelSettings {
            name: i.name,
            kind: i.kind.map(Into::into),
            url: i.url,
            secret: i.secret,
            smtp_host: i.smtp_host,
            smtp_port: i.smtp_port,
            smtp_security: i.smtp_security.map(Into::into),
            smtp_username: i.smtp_username,
            smtp_password: i.smtp_password,
            email_from: i.email_from,
            email_to: i.email_to,
            enabled: i.enabled,
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct AlertRule {
    pub id: ID,
    pub name: String,
    pub condition: AlertCondition,
    pub host_id: Option<ID>,
    pub container_id: Option<ID>,
    pub label_selector: Option<String>,
    pub channel_ids: Vec<ID>,
    /// Seconds between reminders while the alert stays open and unacknowledged; 0: none.
    pub repeat_secs: i32,
    /// RESTART_LOOP: alert at this many starts …
    pub restart_count: Option<i32>,
    /// … within this many seconds.
    pub restart_window_secs: Option<i32>,
    /// HOST_CPU_HIGH / HOST_MEMORY_HIGH: the share of the host's CPUs or memory, in percent, its containers may
    /// use; the alert opens when two readings in a row (one stats interval apart) reach it and resolves when two
    /// in a row stay under it.
    pub threshold_percent: Option<i32>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
}

impl From<svc::AlertRule> for AlertRule {
    fn from(r: svc::AlertRule) -> Self {
        AlertRule {
            id: ID(r.id),
            name: r.name,
            condition: r.condition.into(),
            host_id: r.host_id.map(ID),
            container_id: r.container_id.map(ID),
            label_selector: r.label_selector,
            channel_ids: r.channel_ids.into_iter().map(ID).collect(),
            repeat_secs: r.repeat_secs,
            restart_count: r.restart_count,
            restart_window_secs: r.restart_window_secs,
            threshold_percent: r.threshold_percent,
            enabled: r.enabled,
            created_at: r.created_at,
        }
    }
}

#[derive(InputObject, Clone, Debug)]
pub struct AlertRuleInput {
    pub name: String,
    /// Required when creating.
    pub condition: Option<AlertCondition>,
    /// Scope: only this host (empty: every host).
    pub host_id: Option<ID>,
    /// Scope: only this container definition's replicas.
    pub container_id: Option<ID>,
    /// Scope: only containers with this label: `key` or `key=value`.
    pub label_selector: Option<String>,
    #[graphql(default)]
    pub channel_ids: Vec<ID>,
    /// 0 (default): notify once; else 60 s to a week.
    pub repeat_secs: Option<i32>,
    /// RESTART_LOOP: alert at this many starts (2–100, default 3) …
    pub restart_count: Option<i32>,
    /// … within this many seconds (60 s to a day, default 300).
    pub restart_window_secs: Option<i32>,
    /// HOST_CPU_HIGH / HOST_MEMORY_HIGH (required for them): percent of the host, 1 to 100.
    pub threshold_percent: Option<i32>,
    pub enabled: Option<bool>,
}

impl From<AlertRuleInput> for RuleSettings {
    fn from(i: AlertRuleInput) -> Self {
        RuleSettings {
            name: i.name,
            condition: i.condition.map(Into::into),
            host_id: i.host_id.map(|h| h.0),
            container_id: i.container_id.map(|c| c.0),
            label_selector: i.label_selector,
            channel_ids: i.channel_ids.into_iter().map(|c| c.0).collect(),
            repeat_secs: i.repeat_secs.map(i64::from),
            restart_count: i.restart_count.map(i64::from),
            restart_window_secs: i.restart_window_secs.map(i64::from),
            threshold_percent: i.threshold_percent.map(i64::from),
            enabled: i.enabled,
        }
    }
}

/// Mutes the alerts it matches (empty parts match anything) until it ends.
#[derive(SimpleObject, Clone, Debug)]
pub struct Silence {
    pub id: ID,
    pub rule_id: Option<ID>,
    pub condition: Option<AlertCondition>,
    pub host_id: Option<ID>,
    pub container_id: Option<ID>,
    pub label_selector: Option<String>,
    pub comment: String,
    pub ends_at: DateTime<Utc>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub active: bool,
}

impl From<svc::Silence> for Silence {
    fn from(s: svc::Silence) -> Self {
        Silence {
            id: ID(s.id),
            rule_id: s.rule_id.map(ID),
            condition: s.condition.map(Into::into),
            host_id: s.host_id.map(ID),
            container_id: s.container_id.map(ID),
            label_selector: s.label_selector,
            comment: s.comment,
            active: s.ends_at > Utc::now(),
            ends_at: s.ends_at,
            created_by: s.created_by,
            created_at: s.created_at,
        }
    }
}

#[derive(InputObject, Clone, Debug)]
pub struct SilenceInput {
    pub rule_id: Option<ID>,
    pub condition: Option<AlertCondition>,
    pub host_id: Option<ID>,
    pub container_id: Option<ID>,
    pub label_selector: Option<String>,
    #[graphql(default)]
    pub comment: String,
    pub ends_at: Option<DateTime<Utc>>,
}

/// What an alert is about.
#[derive(SimpleObject, Clone, Debug)]
pub struct AlertSubject {
    pub key: String,
    pub host_id: Option<ID>,
    pub host_name: Option<String>,
    pub container_id: Option<ID>,
    pub container_name: Option<String>,
    pub instance_id: Option<ID>,
    /// The fleet inventory's id (`dockerContainer(id:)`).
    pub docker_container_id: Option<ID>,
    pub docker_id: Option<String>,
    pub docker_name: Option<String>,
    pub image: Option<String>,
    pub exit_code: Option<i32>,
    pub registry_id: Option<ID>,
    pub registry_name: Option<String>,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Alert {
    pub id: ID,
    pub rule_id: ID,
    pub rule_name: String,
    pub condition: AlertCondition,
    pub subject: AlertSubject,
    pub message: String,
    pub state: AlertState,
    /// Opened while a silence matched: nothing was sent.
    pub silenced: bool,
    pub opened_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolve_message: Option<String>,
}

impl From<svc::Alert> for Alert {
    fn from(a: svc::Alert) -> Self {
        let s = a.subject;
        Alert {
            id: ID(a.id),
            rule_id: ID(a.rule_id),
            rule_name: a.rule_name,
            condition: a.condition.into(),
            subject: AlertSubject {
                key: s.key,
                host_id: s.host_id.map(ID),
                host_name: s.host_name,
                container_id: s.container_id.map(ID),
                container_name: s.container_name,
                instance_id: s.instance_id.map(ID),
                docker_container_id: s.inventory_id.map(ID),
                docker_id: s.docker_id,
                docker_name: s.docker_name,
                image: s.image,
                exit_code: s.exit_code.and_then(|c| i32::try_from(c).ok()),
                registry_id: s.registry_id.map(ID),
                registry_name: s.registry_name,
            },
            message: a.message,
            state: a.state.into(),
            silenced: a.silenced,
            opened_at: a.opened_at,
            acknowledged_at: a.acknowledged_at,
            acknowledged_by: a.acknowledged_by,
            resolved_at: a.resolved_at,
            resolve_message: a.resolve_message,
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct AlertDeliveryAttempt {
    pub at: DateTime<Utc>,
    /// The receiver's answer (HTTP status, SMTP reply code), when it answered.
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i32,
}

/// One notification to one channel (the idempotency key is its `id`) and its attempts.
#[derive(SimpleObject, Clone, Debug)]
pub struct AlertDelivery {
    pub id: ID,
    pub alert_id: Option<ID>,
    pub channel_id: ID,
    /// OPENED, RESOLVED, REPEAT or TEST.
    pub event: String,
    /// PENDING, DELIVERED or FAILED (given up after a day).
    pub state: String,
    pub attempt_count: i32,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub attempts: Vec<AlertDeliveryAttempt>,
}

impl From<svc::Delivery> for AlertDelivery {
    fn from(d: svc::Delivery) -> Self {
        AlertDelivery {
            id: ID(d.id),
            alert_id: d.alert_id.map(ID),
            channel_id: ID(d.channel_id),
            next_attempt_at: (d.state == "PENDING").then_some(d.next_attempt_at),
            event: d.event,
            state: d.state,
            attempt_count: d.attempts,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
            last_status_code: d.last_status,
            last_error: d.last_error,
            attempts: d
                .attempt_log
                .into_iter()
                .map(|a| AlertDeliveryAttempt {
                    at: a.at,
                    status_code: a.status_code,
                    error: a.error,
                    duration_ms: i32::try_from(a.duration_ms).unwrap_or(i32::MAX),
                })
                .collect(),
        }
    }
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct AlertFilter {
    /// Only alerts in these states (all when empty).
    #[graphql(default)]
    pub state: Vec<AlertState>,
    pub host_id: Option<ID>,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct AlertConnection {
    pub edges: Vec<AlertEdge>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct AlertEdge {
    pub cursor: String,
    pub node: Alert,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct AlertChangeEvent {
    pub kind: AlertChangeKind,
    pub alert: Alert,
    /// Open alerts after the change (the header's count).
    pub open_count: i32,
}

/// Alerts are listed newest first: the cursor is the alert's place in that order.
const ORDER: &str = "NEWEST";

#[derive(Default)]
pub struct AlertQuery;

#[Object]
impl AlertQuery {
    /// Alerts, newest first (anyone logged in).
    async fn alerts(
        &self,
        ctx: &Context<'_>,
        filter: Option<AlertFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<AlertConnection> {
        require_user(ctx)?;
        let first = u64::try_from(first.unwrap_or(50).clamp(1, 500)).unwrap_or(50);
        let before = match after.as_deref() {
            Some(a) => {
                let c = KeysetCursor::decode_for(a, ORDER, SortDirection::Desc, 1)?;
                Some(c.id.parse::<i64>().map_err(|_| {
                    crate::service::ServiceError::bad_input(
                        "after",
                        "not a cursor of this connection",
                    )
                })?)
            }
            None => None,
        };
        let f = filter.unwrap_or_default();
        let states: Vec<berth_shared::AlertState> = f.state.into_iter().map(Into::into).collect();
        let (alerts, total) = services(ctx)?
            .alerts
            .page(
                &states,
                f.host_id.as_ref().map(|h| h.as_str()),
                before,
                first + 1,
            )
            .await?;
        let has_next = alerts.len() as u64 > first;
        let edges: Vec<AlertEdge> = alerts
            .into_iter()
            .take(usize::try_from(first).unwrap_or(50))
            .map(|a| AlertEdge {
                cursor: KeysetCursor::new(ORDER, SortDirection::Desc, vec![], a.seq.to_string())
                    .encode(),
                node: a.into(),
            })
            .collect();
        Ok(AlertConnection {
            page_info: PageInfo {
                has_next_page: has_next,
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total_count: count(usize::try_from(total).unwrap_or(usize::MAX)),
        })
    }

    async fn alert(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Alert>> {
        require_user(ctx)?;
        Ok(services(ctx)?.alerts.get(&id).await?.map(Into::into))
    }

    /// How many alerts are open (not acknowledged, not resolved).
    async fn open_alert_count(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        require_user(ctx)?;
        let n = services(ctx)?.alerts.open_count().await?;
        Ok(count(usize::try_from(n).unwrap_or(usize::MAX)))
    }

    /// An alert's notifications, oldest first, with every attempt.
    async fn alert_deliveries(
        &self,
        ctx: &Context<'_>,
        alert_id: ID,
    ) -> ApiResult<Vec<AlertDelivery>> {
        require_user(ctx)?;
        Ok(services(ctx)?
            .alerts
            .deliveries(&alert_id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn alert_channels(&self, ctx: &Context<'_>) -> ApiResult<Vec<AlertChannel>> {
        require_user(ctx)?;
        Ok(services(ctx)?
            .alerts
            .channels()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn alert_rules(&self, ctx: &Context<'_>) -> ApiResult<Vec<AlertRule>> {
        require_user(ctx)?;
        Ok(services(ctx)?
            .alerts
            .rules()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn silences(&self, ctx: &Context<'_>) -> ApiResult<Vec<Silence>> {
        require_user(ctx)?;
        Ok(services(ctx)?
            .alerts
            .silences()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

#[derive(Default)]
pub struct AlertMutation;

#[Object]
impl AlertMutation {
    async fn create_alert_channel(
        &self,
        ctx: &Context<'_>,
        input: AlertChannelInput,
    ) -> ApiResult<AlertChannel> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .alerts
            .create_channel(actor, input.into())
            .await?
            .into())
    }

    async fn update_alert_channel(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: AlertChannelInput,
    ) -> ApiResult<AlertChannel> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .alerts
            .update_channel(actor, &id, input.into())
            .await?
            .into())
    }

    /// Deletes a channel; its pending notifications are dropped (marked FAILED) and rules forget it.
    async fn delete_alert_channel(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let actor = require_user(ctx)?;
        services(ctx)?.alerts.delete_channel(actor, &id).await?;
        Ok(true)
    }

    /// Sends a test notification through the channel and answers with its first attempt (waiting up to 15 s).
    async fn test_alert_channel(&self, ctx: &Context<'_>, id: ID) -> ApiResult<AlertDelivery> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?.alerts.test_channel(actor, &id).await?.into())
    }

    async fn create_alert_rule(
        &self,
        ctx: &Context<'_>,
        input: AlertRuleInput,
    ) -> ApiResult<AlertRule> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .alerts
            .create_rule(actor, input.into())
            .await?
            .into())
    }

    async fn update_alert_rule(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: AlertRuleInput,
    ) -> ApiResult<AlertRule> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .alerts
            .update_rule(actor, &id, input.into())
            .await?
            .into())
    }

    /// Deletes a rule; its open alerts are resolved without notifications.
    async fn delete_alert_rule(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let actor = require_user(ctx)?;
        services(ctx)?.alerts.delete_rule(actor, &id).await?;
        Ok(true)
    }

    /// Stops an open alert's reminders (OPERATOR); it still resolves by itself.
    async fn acknowledge_alert(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Alert> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?.alerts.acknowledge(actor, &id).await?.into())
    }

    async fn create_silence(&self, ctx: &Context<'_>, input: SilenceInput) -> ApiResult<Silence> {
        let actor = require_user(ctx)?;
        Ok(services(ctx)?
            .alerts
            .create_silence(
                actor,
                SilenceSettings {
                    rule_id: input.rule_id.map(|r| r.0),
                    condition: input.condition.map(Into::into),
                    host_id: input.host_id.map(|h| h.0),
                    container_id: input.container_id.map(|c| c.0),
                    label_selector: input.label_selector,
                    comment: input.comment,
                    ends_at: input.ends_at,
                },
            )
            .await?
            .into())
    }

    async fn delete_silence(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let actor = require_user(ctx)?;
        services(ctx)?.alerts.delete_silence(actor, &id).await?;
        Ok(true)
    }
}

#[derive(Default)]
pub struct AlertSubscription;

#[Subscription]
impl AlertSubscription {
    /// Every alert opened, acknowledged or resolved, with the open count after it.
    async fn alert_changes(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = AlertChangeEvent> + use<>, ApiError> {
        let services = authorized_services(ctx)?;
        Ok(services.bus.stream().filter_map(move |event| {
            let services = services.clone();
            async move {
                let Event::Alert { alert_id, change } = &*event else {
                    return None;
                };
                let alert = services.alerts.get(alert_id).await.ok().flatten()?;
                let open = services.alerts.open_count().await.unwrap_or(0);
                Some(AlertChangeEvent {
                    kind: match change {
                        SvcChange::Opened => AlertChangeKind::Opened,
                        SvcChange::Acknowledged => AlertChangeKind::Acknowledged,
                        SvcChange::Resolved => AlertChangeKind::Resolved,
                    },
                    alert: alert.into(),
                    open_count: count(usize::try_from(open).unwrap_or(usize::MAX)),
                })
            }
        }))
    }
}
