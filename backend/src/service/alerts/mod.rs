//! Alerts: channels (validated; URLs, signing keys and SMTP passwords sealed and never returned), rules,
//! silences, and the alerts themselves. Findings (`detect`) open an alert once per rule and subject and resolve it
//! when the condition clears; every notification is written to the outbox in the same transaction as the change
//! it announces, then delivered by the engine's deliverer (`deliver_due`), retried with back-off until it lands.

pub mod detect;

use crate::bus::{Bus, Event};
use crate::db::alerts::{self as q, AlertRow, ChannelRow, DeliveryRow, RuleRow, SilenceRow};
use crate::notify::{Message, Notifier, NotifyError, SmtpTarget, Target};
use crate::secrets::SecretBox;
use crate::service::ServiceError;
use crate::service::auth::User;
use crate::service::authz::{self, Action};
use crate::service::hosts::HostService;
use berth_shared::{
    AlertChannelKind, AlertCondition, AlertState, HostStatus, LabelSelector, SmtpSecurity,
    parse_email_list, parse_http_url, validate_email, validate_repeat_secs,
};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use detect::{Finding, Subject};
use sea_orm::DatabaseConnection;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::Notify;

/// Names of channels, rules: 1–100 characters, no control characters.
const NAME_MAX: usize = 100;
/// Deliveries of one channel in flight at once.
pub const PER_CHANNEL_IN_FLIGHT: usize = 4;
/// Alerts carried by one grouped message (Slack, ntfy, email).
pub const GROUP_MAX: u64 = 50;
/// A restart-loop rule's defaults: this many starts within this many seconds.
const RESTART_COUNT_DEFAULT: i32 = 3;
const RESTART_WINDOW_DEFAULT: i32 = 300;
/// A delivery is given up after this long.
const GIVE_UP_AFTER_HOURS: i64 = 24;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertChannel {
    pub id: String,
    pub name: String,
    pub kind: AlertChannelKind,
    /// Scheme, host and port only.
    pub url_shown: Option<String>,
    pub has_secret: bool,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_security: Option<SmtpSecurity>,
    pub smtp_username: Option<String>,
    pub has_smtp_password: bool,
    pub email_from: Option<String>,
    pub email_to: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
}

/// What a user submits for a channel. On update, a `None` URL, secret or password keeps the stored one (an
/// empty secret or password removes it).
#[derive(Clone, Debug, Default)]
pub struct ChannelSettings {
    pub name: String,
    pub kind: Option<AlertChannelKind>,
    pub url: Option<String>,
    pub secret: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<i32>,
    pub smtp_security: Option<SmtpSecurity>,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<String>,
    pub email_from: Option<String>,
    pub email_to: Vec<String>,
    pub enabled: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRule {
    pub id: String,
    pub name: String,
    pub condition: AlertCondition,
    pub host_id: Option<String>,
    pub container_id: Option<String>,
    pub label_selector: Option<String>,
    pub channel_ids: Vec<String>,
    pub repeat_secs: i32,
    /// RESTART_LOOP: this many starts …
    pub restart_count: Option<i32>,
    /// … within this many seconds.
    pub restart_window_secs: Option<i32>,
    /// HOST_CPU_HIGH / HOST_MEMORY_HIGH: percent of the host's CPUs or memory.
    pub threshold_percent: Option<i32>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default)]
pub struct RuleSettings {
    pub name: String,
    pub condition: Option<AlertCondition>,
    pub host_id: Option<String>,
    pub container_id: Option<String>,
    pub label_selector: Option<String>,
    pub channel_ids: Vec<String>,
    pub repeat_secs: Option<i64>,
    pub restart_count: Option<i64>,
    pub restart_window_secs: Option<i64>,
    pub threshold_percent: Option<i64>,
    pub enabled: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Silence {
    pub id: String,
    pub rule_id: Option<String>,
    pub condition: Option<AlertCondition>,
    pub host_id: Option<String>,
    pub container_id: Option<String>,
    pub label_selector: Option<String>,
    pub comment: String,
    pub ends_at: DateTime<Utc>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default)]
pub struct SilenceSettings {
    pub rule_id: Option<String>,
    pub condition: Option<AlertCondition>,
    pub host_id: Option<String>,
    pub container_id: Option<String>,
    pub label_selector: Option<String>,
    pub comment: String,
    pub ends_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub seq: i64,
    pub id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub condition: AlertCondition,
    pub subject: Subject,
    pub message: String,
    pub state: AlertState,
    pub silenced: bool,
    pub opened_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolve_message: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub alert_id: Option<String>,
    pub channel_id: String,
    pub event: String,
    pub state: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub attempt_log: Vec<Attempt>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

pub use crate::model::alerts::AlertChange;

fn to_channel(r: ChannelRow) -> AlertChannel {
    AlertChannel {
        kind: r.kind.parse().unwrap_or(AlertChannelKind::Webhook),
        id: r.id,
        name: r.name,
        url_shown: r.url_shown,
        has_secret: r.secret_sealed.is_some(),
        smtp_host: r.smtp_host,
        smtp_port: r.smtp_port.and_then(|p| u16::try_from(p).ok()),
        smtp_security: r.smtp_security.and_then(|s| s.parse().ok()),
        smtp_username: r.smtp_username,
        has_smtp_password: r.smtp_password_sealed.is_some(),
        email_from: r.email_from,
        email_to: r
            .email_to
            .map(|t| {
                t.split(',')
                    .map(str::to_owned)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        enabled: r.enabled,
        created_at: r.created_at,
    }
}

fn to_rule(r: RuleRow) -> AlertRule {
    AlertRule {
        condition: r
            .condition
            .parse()
            .unwrap_or(AlertCondition::ContainerExited),
        channel_ids: serde_json::from_str(&r.channel_ids).unwrap_or_default(),
        id: r.id,
        name: r.name,
        host_id: r.host_id,
        container_id: r.container_id,
        label_selector: r.label_selector,
        repeat_secs: r.repeat_secs,
        restart_count: r.restart_count,
        restart_window_secs: r.restart_window_secs,
        threshold_percent: r.threshold_percent,
        enabled: r.enabled,
        created_at: r.created_at,
    }
}

fn to_silence(r: SilenceRow) -> Silence {
    Silence {
        condition: r.condition.and_then(|c| c.parse().ok()),
        id: r.id,
        rule_id: r.rule_id,
        host_id: r.host_id,
        container_id: r.container_id,
        label_selector: r.label_selector,
        comment: r.comment,
        ends_at: r.ends_at,
        created_by: r.created_by,
        created_at: r.created_at,
    }
}

fn to_alert(r: AlertRow) -> Alert {
    Alert {
        seq: r.seq,
        condition: r
            .condition
            .parse()
            .unwrap_or(AlertCondition::ContainerExited),
        subject: serde_json::from_str(&r.subject).unwrap_or_default(),
        state: r.state.parse().unwrap_or(AlertState::Open),
        id: r.id,
        rule_id: r.rule_id,
        rule_name: r.rule_name,
        message: r.message,
        silenced: r.silenced,
        opened_at: r.opened_at,
        acknowledged_at: r.acknowledged_at,
        acknowledged_by: r.acknowledged_by,
        resolved_at: r.resolved_at,
        resolve_message: r.resolve_message,
    }
}

fn to_delivery(d: DeliveryRow, attempts: Vec<q::AttemptRow>) -> Delivery {
    Delivery {
        id: d.id,
        alert_id: d.alert_id,
        channel_id: d.channel_id,
        event: d.event,
        state: d.state,
        attempts: d.attempts,
        created_at: d.created_at,
        delivered_at: d.delivered_at,
        next_attempt_at: d.next_attempt_at,
        last_status: d.last_status,
        last_error: d.last_error,
        attempt_log: attempts
            .into_iter()
            .map(|a| Attempt {
                at: a.at,
                status_code: a.status_code,
                error: a.error,
                duration_ms: a.duration_ms,
            })
            .collect(),
    }
}

fn check_name(name: &str, what: &str) -> Result<String, ServiceError> {
    let n = name.trim();
    if n.is_empty() {
        return Err(ServiceError::bad_input(
            "name",
            format!("give the {what} a name"),
        ));
    }
    if n.chars().count() > NAME_MAX || n.chars().any(char::is_control) {
        return Err(ServiceError::bad_input(
            "name",
            format!("a {what} name has 1 to {NAME_MAX} characters and no control characters"),
        ));
    }
    Ok(n.to_owned())
}

/// Whether a rule's (or silence's) scope takes a subject.
fn scope_matches(
    host_id: Option<&str>,
    container_id: Option<&str>,
    label_selector: Option<&str>,
    subject: &Subject,
) -> bool {
    if let Some(h) = host_id
        && subject.host_id.as_deref() != Some(h)
    {
        return false;
    }
    if let Some(c) = container_id
        && subject.container_id.as_deref() != Some(c)
    {
        return false;
    }
    if let Some(sel) = label_selector {
        let Ok(sel) = LabelSelector::parse(sel) else {
            return false;
        };
        if !sel.matches(subject.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
            return false;
        }
    }
    true
}

/// The delay before attempt `n + 1` after `n` failed: 1 s doubling, at most `max`.
pub fn retry_delay(attempts: i32, max: std::time::Duration) -> std::time::Duration {
    let exp = u32::try_from(attempts.clamp(0, 20)).unwrap_or(20);
    std::time::Duration::from_secs(1u64 << exp).min(max)
}

/// (condition, subject key) pairs.
type OpenKeys = HashSet<(String, String)>;

#[derive(Clone)]
pub struct AlertService {
    db: DatabaseConnection,
    secrets: SecretBox,
    bus: Bus,
    hosts: HostService,
    notifier: Option<Notifier>,
    /// The port Berth listens on, to refuse a receiver URL pointing back at Berth.
    own_port: Arc<OnceLock<u16>>,
    /// (condition, subject key) of every unresolved alert: a change that clears a condition looks here before
    /// the database. May hold keys already resolved (then the database says so); never misses an open one.
    unresolved: Arc<Mutex<Option<OpenKeys>>>,
    /// Woken when the outbox gets rows.
    outbox: Arc<Notify>,
    /// Recent starts of containers, for restart-loop rules.
    starts: Arc<Mutex<detect::StartLog>>,
    retry_max: std::time::Duration,
}

impl AlertService {
    pub fn new(
        db: DatabaseConnection,
        secrets: SecretBox,
        bus: Bus,
        hosts: HostService,
        retry_max: std::time::Duration,
    ) -> Self {
        let notifier = match Notifier::new() {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::error!(error = %e, "alert deliveries cannot start");
                None
            }
        };
        Self {
            db,
            secrets,
            bus,
            hosts,
            notifier,
            own_port: Arc::new(OnceLock::new()),
            unresolved: Arc::new(Mutex::new(None)),
            outbox: Arc::new(Notify::new()),
            starts: Arc::default(),
            retry_max,
        }
    }

    /// The port the server listens on (set once bound).
    pub fn set_own_port(&self, port: u16) {
        let _ = self.own_port.set(port);
    }

    /// Woken whenever the outbox gets rows.
    pub fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox.clone()
    }

    // Channels.

    pub async fn channels(&self) -> Result<Vec<AlertChannel>, ServiceError> {
        Ok(q::channels(&self.db)
            .await?
            .into_iter()
            .map(to_channel)
            .collect())
    }

    pub async fn channel(&self, id: &str) -> Result<Option<AlertChannel>, ServiceError> {
        Ok(q::channel(&self.db, id).await?.map(to_channel))
    }

    fn seal(&self, text: &str) -> Result<String, ServiceError> {
        self.secrets
            .seal(text)
            .map_err(|e| ServiceError::Unexpected(anyhow::anyhow!("sealing a secret: {e}")))
    }

    /// Checks a receiver URL: http(s), resolvable, and not Berth itself.
    async fn check_url(&self, url: &str) -> Result<String, ServiceError> {
        let parsed = parse_http_url(url).map_err(|m| ServiceError::bad_input("url", m))?;
        let addrs: Vec<std::net::SocketAddr> = match tokio::time::timeout(
            std::time::Duration::from_secs(5),
            tokio::net::lookup_host((parsed.host.as_str(), parsed.port)),
        )
        .await
        {
            Ok(Ok(a)) => a.collect(),
            Ok(Err(e)) => {
                return Err(ServiceError::bad_input(
                    "url",
                    format!("the host {} cannot be resolved: {e}", parsed.host),
                ));
            }
            Err(_) => {
                return Err(ServiceError::bad_input(
                    "url",
                    format!("resolving {} took longer than 5 s", parsed.host),
                ));
            }
        };
        if addrs.is_empty() {
            return Err(ServiceError::bad_input(
                "url",
                format!("the host {} has no address", parsed.host),
            ));
        }
        if let Some(own) = self.own_port.get()
            && addrs
                .iter()
                .any(|a| a.port() == *own && (a.ip().is_loopback() || a.ip().is_unspecified()))
        {
            return Err(ServiceError::bad_input(
                "url",
                "this URL points at Berth itself: alerts would loop back into it",
            ));
        }
        Ok(parsed.shown())
    }

    async fn build_channel(
        &self,
        s: ChannelSettings,
        old: Option<ChannelRow>,
    ) -> Result<ChannelRow, ServiceError> {
        let name = check_name(&s.name, "channel")?;
        let kind = match (s.kind, &old) {
            (Some(k), _) => k,
            (None, Some(o)) => o.kind.parse().unwrap_or(AlertChannelKind::Webhook),
            (None, None) => {
                return Err(ServiceError::bad_input(
                    "kind",
                    "choose the kind of channel",
                ));
            }
        };
        if let Some(o) = &old
            && o.kind != kind.as_str()
        {
            return Err(ServiceError::bad_input(
                "kind",
                "a channel's kind cannot change: create another channel",
            ));
        }
        let taken = q::channel_by_name(&self.db, &name).await?;
        if taken.is_some_and(|t| old.as_ref().is_none_or(|o| o.id != t.id)) {
            return Err(ServiceError::ConflictOn {
                field: "name".into(),
                message: format!("a channel named {name} exists already"),
            });
        }
        let mut row = old.clone().unwrap_or(ChannelRow {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.clone(),
            kind: kind.as_str().to_owned(),
            url_sealed: None,
            url_shown: None,
            secret_sealed: None,
            smtp_host: None,
            smtp_port: None,
            smtp_security: None,
            smtp_username: None,
            smtp_password_sealed: None,
            email_from: None,
            email_to: None,
            enabled: true,
            created_at: Utc::now(),
        });
        row.name = name;
        if let Some(e) = s.enabled {
            row.enabled = e;
        }
        match kind {
            AlertChannelKind::Email => {
                let host = s.smtp_host.unwrap_or_default().trim().to_owned();
                if host.is_empty()
                    || host.len() > 253
                    || host.chars().any(|c| c.is_whitespace() || c == '/')
                {
                    return Err(ServiceError::bad_input(
                        "smtpHost",
                        "enter the SMTP server's host name, such as smtp.example.com",
                    ));
                }
                let security = s.smtp_security.unwrap_or(SmtpSecurity::Starttls);
                let port = match s.smtp_port {
                    None => security.default_port(),
                    Some(p) => u16::try_from(p).ok().filter(|p| *p > 0).ok_or_else(|| {
                        ServiceError::bad_input("smtpPort", "a port is 1 to 65535")
                    })?,
                };
                let from = s.email_from.unwrap_or_default().trim().to_owned();
                validate_email(&from).map_err(|m| ServiceError::bad_input("emailFrom", m))?;
                let to = parse_email_list(&s.email_to.join(","))
                    .map_err(|m| ServiceError::bad_input("emailTo", m))?;
                row.smtp_host = Some(host);
                row.smtp_port = Some(i32::from(port));
                row.smtp_security = Some(security.as_str().to_owned());
                row.smtp_username = s
                    .smtp_username
                    .map(|u| u.trim().to_owned())
                    .filter(|u| !u.is_empty());
                match s.smtp_password {
                    Some(p) if p.is_empty() => row.smtp_password_sealed = None,
                    Some(p) => row.smtp_password_sealed = Some(self.seal(&p)?),
                    None => {}
                }
                if row.smtp_username.is_some() != row.smtp_password_sealed.is_some() {
                    return Err(ServiceError::bad_input(
                        if row.smtp_username.is_some() {
                            "smtpPassword"
                        } else {
                            "smtpUsername"
                        },
                        "SMTP login needs both a user name and a password (or neither)",
                    ));
                }
                row.email_from = Some(from);
                row.email_to = Some(to.join(","));
            }
            _ => {
                match s.url {
                    Some(url) => {
                        row.url_shown = Some(self.check_url(&url).await?);
                        row.url_sealed = Some(self.seal(url.trim())?);
                    }
                    None if row.url_sealed.is_none() => {
                        return Err(ServiceError::bad_input("url", "enter the receiver's URL"));
                    }
                    None => {}
                }
                if kind == AlertChannelKind::Webhook {
                    match s.secret {
                        Some(k) if k.is_empty() => row.secret_sealed = None,
                        Some(k) if k.len() > 1024 => {
                            return Err(ServiceError::bad_input(
                                "secret",
                                "a signing key has at most 1024 characters",
                            ));
                        }
                        Some(k) => row.secret_sealed = Some(self.seal(&k)?),
                        None => {}
                    }
                } else if s.secret.is_some_and(|k| !k.is_empty()) {
                    return Err(ServiceError::bad_input(
                        "secret",
                        "only webhook channels sign their requests",
                    ));
                }
            }
        }
        Ok(row)
    }

    pub async fn create_channel(
        &self,
        actor: &User,
        s: ChannelSettings,
    ) -> Result<AlertChannel, ServiceError> {
        authz::require(actor, Action::ManageAlerts)?;
        let row = self.build_channel(s, None).await?;
        q::put_channel(&self.db, row.clone(), false).await?;
        Ok(to_channel(row))
    }

    pub async fn update_channel(
        &self,
        actor: &User,
        id: &str,
        s: ChannelSettings,
    ) -> Result<AlertChannel, ServiceError> {
        authz::require(actor, Action::ManageAlerts)?;
        let old = q::channel(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no alert channel with id {id}")))?;
        let row = self.build_channel(s, Some(old)).await?;
        q::put_channel(&self.db, row.clone(), true).await?;
        Ok(to_channel(row))
    }

    pub async fn delete_channel(&self, actor: &User, id: &str) -> Result<(), ServiceError> {
        authz::require(actor, Action::ManageAlerts)?;
        if !q::delete_channel(&self.db, id).await? {
            return Err(ServiceError::NotFound(format!(
                "no alert channel with id {id}"
            )));
        }
        Ok(())
    }

    /// Queues a test message to a channel and waits (up to 15 s) for its first attempt.
    pub async fn test_channel(&self, actor: &User, id: &str) -> Result<Delivery, ServiceError> {
        authz::require(actor, Action::ManageAlerts)?;
        let channel = q::channel(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no alert channel with id {id}")))?;
        let now = Utc::now();
        let delivery_id = uuid::Uuid::new_v4().to_string();
        let payload = serde_json::json!({
            "id": delivery_id,
            "event": "TEST",
            "state": "TEST",
            "message": format!("A test of the Berth channel {} sent by {}", channel.name, actor.username),
            "openedAt": now,
        });
        q::insert_delivery(
            &self.db,
            q::delivery(
                delivery_id.clone(),
                None,
                id.to_owned(),
                "TEST",
                payload.to_string(),
                now,
            ),
        )
        .await?;
        self.outbox.notify_one();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            if let Some(d) = q::delivery_by_id(&self.db, &delivery_id).await?
                && d.attempts > 0
            {
                let attempts = q::attempts_of(&self.db, &delivery_id).await?;
                return Ok(to_delivery(d, attempts));
            }
            if tokio::time::Instant::now() >= deadline {
                let d = q::delivery_by_id(&self.db, &delivery_id)
                    .await?
                    .ok_or_else(|| {
                        ServiceError::Unexpected(anyhow::anyhow!("the test delivery vanished"))
                    })?;
                return Ok(to_delivery(d, Vec::new()));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    // Rules.

    pub async fn rules(&self) -> Result<Vec<AlertRule>, ServiceError> {
        Ok(q::rules(&self.db).await?.into_iter().map(to_rule).collect())
    }

    async fn build_rule(
        &self,
        s: RuleSettings,
        old: Option<RuleRow>,
    ) -> Result<RuleRow, ServiceError> {
        let name = check_name(&s.name, "rule")?;
        let condition = match (s.condition, &old) {
            (Some(c), _) => c,
            (None, Some(o)) => o
                .condition
                .parse()
                .unwrap_or(AlertCondition::ContainerExited),
            (None, None) => return Err(ServiceError::bad_input("condition", "choose a condition")),
        };
        let taken = q::rule_by_name(&self.db, &name).await?;
        if taken.is_some_and(|t| old.as_ref().is_none_or(|o| o.id != t.id)) {
            return Err(ServiceError::ConflictOn {
                field: "name".into(),
                message: format!("a rule named {name} exists already"),
            });
        }
        let host_id = s.host_id.filter(|h| !h.is_empty());
        if let Some(h) = &host_id
            && self.hosts.get(h).await?.is_none()
        {
            return Err(ServiceError::bad_input(
                "hostId",
                format!("no host with id {h}"),
            ));
        }
        let container_id = s.container_id.filter(|c| !c.is_empty());
        if let Some(c) = &container_id {
            if !condition.about_containers() {
                return Err(ServiceError::bad_input(
                    "containerId",
                    format!(
                        "{} is not about containers: leave the container empty",
                        condition.label()
                    ),
                ));
            }
            if crate::db::containers::by_id(&self.db, c).await?.is_none() {
                return Err(ServiceError::bad_input(
                    "containerId",
                    format!("no container with id {c}"),
                ));
            }
        }
        let label_selector = match s
            .label_selector
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
        {
            Some(l) => {
                if !condition.about_containers() {
                    return Err(ServiceError::bad_input(
                        "labelSelector",
                        format!(
                            "{} is not about containers: leave the label empty",
                            condition.label()
                        ),
                    ));
                }
                Some(
                    LabelSelector::parse(&l)
                        .map_err(|m| ServiceError::bad_input("labelSelector", m))?
                        .to_string(),
                )
            }
            None => None,
        };
        let repeat = s
            .repeat_secs
            .unwrap_or_else(|| old.as_ref().map_or(0, |o| i64::from(o.repeat_secs)));
        validate_repeat_secs(repeat).map_err(|m| ServiceError::bad_input("repeatSecs", m))?;
        let mut channel_ids: Vec<String> = Vec::new();
        for (i, c) in s.channel_ids.iter().enumerate() {
            if q::channel(&self.db, c).await?.is_none() {
                return Err(ServiceError::bad_input(
                    format!("channelIds.{i}"),
                    format!("no alert channel with id {c}"),
                ));
            }
            if !channel_ids.contains(c) {
                channel_ids.push(c.clone());
            }
        }
        let (restart_count, restart_window_secs) = if condition == AlertCondition::RestartLoop {
            let count = s
                .restart_count
                .or_else(|| old.as_ref().and_then(|o| o.restart_count).map(i64::from))
                .unwrap_or(i64::from(RESTART_COUNT_DEFAULT));
            let window = s
                .restart_window_secs
                .or_else(|| {
                    old.as_ref()
                        .and_then(|o| o.restart_window_secs)
                        .map(i64::from)
                })
                .unwrap_or(i64::from(RESTART_WINDOW_DEFAULT));
            berth_shared::validate_restart_loop(count, window)
                .map_err(|(field, m)| ServiceError::bad_input(field, m))?;
            (i32::try_from(count).ok(), i32::try_from(window).ok())
        } else {
            (None, None)
        };
        let threshold_percent = if condition.has_threshold() {
            let percent = s
                .threshold_percent
                .or_else(|| {
                    old.as_ref()
                        .and_then(|o| o.threshold_percent)
                        .map(i64::from)
                })
                .ok_or_else(|| {
                    ServiceError::bad_input(
                        "thresholdPercent",
                        "give the threshold: percent of the host, 1 to 100",
                    )
                })?;
            berth_shared::validate_threshold_percent(percent)
                .map_err(|m| ServiceError::bad_input("thresholdPercent", m))?;
            i32::try_from(percent).ok()
        } else {
            None
        };
        Ok(RuleRow {
            id: old
                .as_ref()
                .map_or_else(|| uuid::Uuid::new_v4().to_string(), |o| o.id.clone()),
            name,
            condition: condition.as_str().to_owned(),
            host_id,
            container_id,
            label_selector,
            channel_ids: serde_json::to_string(&channel_ids).unwrap_or_else(|_| "[]".into()),
            repeat_secs: i32::try_from(repeat).unwrap_or(0),
            restart_count,
            restart_window_secs,
            threshold_percent,
            enabled: s
                .enabled
                .unwrap_or_else(|| old.as_ref().is_none_or(|o| o.enabled)),
            created_at: old.as_ref().map_or_else(Utc::now, |o| o.created_at),
        })
    }

    pub async fn create_rule(
        &self,
        actor: &User,
        s: RuleSettings,
    ) -> Result<AlertRule, ServiceError> {
        authz::require(actor, Action::ManageAlerts)?;
        let row = self.build_rule(s, None).await?;
        q::put_rule(&self.db, row.clone(), false).await?;
        Ok(to_rule(row))
    }

    pub async fn update_rule(
        &self,
        actor: &User,
        id: &str,
        s: RuleSettings,
    ) -> Result<AlertRule, ServiceError> {
        authz::require(actor, Action::ManageAlerts)?;
        let old = q::rule(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no alert rule with id {id}")))?;
        let row = self.build_rule(s, Some(old)).await?;
        q::put_rule(&self.db, row.clone(), true).await?;
        Ok(to_rule(row))
    }

    /// Deletes a rule; its open alerts are resolved (without notifications).
    pub async fn delete_rule(&self, actor: &User, id: &str) -> Result<(), ServiceError> {
        authz::require(actor, Action::ManageAlerts)?;
        let Some(resolved) = q::delete_rule(&self.db, id, Utc::now()).await? else {
            return Err(ServiceError::NotFound(format!(
                "no alert rule with id {id}"
            )));
        };
        for alert_id in resolved {
            self.publish(&alert_id, AlertChange::Resolved);
        }
        Ok(())
    }

    // Silences.

    pub async fn silences(&self) -> Result<Vec<Silence>, ServiceError> {
        Ok(q::silences(&self.db)
            .await?
            .into_iter()
            .map(to_silence)
            .collect())
    }

    pub async fn create_silence(
        &self,
        actor: &User,
        s: SilenceSettings,
    ) -> Result<Silence, ServiceError> {
        authz::require(actor, Action::ManageAlerts)?;
        let now = Utc::now();
        let ends_at = s
            .ends_at
            .ok_or_else(|| ServiceError::bad_input("endsAt", "say when the silence ends"))?;
        if ends_at <= now {
            return Err(ServiceError::bad_input("endsAt", "the end is in the past"));
        }
        if ends_at > now + ChronoDuration::days(366) {
            return Err(ServiceError::bad_input(
                "endsAt",
                "a silence lasts at most a year",
            ));
        }
        let comment = s.comment.trim().to_owned();
        if comment.chars().count() > 1000 {
            return Err(ServiceError::bad_input(
                "comment",
                "a comment has at most 1000 characters",
            ));
        }
        let rule_id = s.rule_id.filter(|r| !r.is_empty());
        if let Some(r) = &rule_id
            && q::rule(&self.db, r).await?.is_none()
        {
            return Err(ServiceError::bad_input(
                "ruleId",
                format!("no alert rule with id {r}"),
            ));
        }
        let host_id = s.host_id.filter(|h| !h.is_empty());
        if let Some(h) = &host_id
            && self.hosts.get(h).await?.is_none()
        {
            return Err(ServiceError::bad_input(
                "hostId",
                format!("no host with id {h}"),
            ));
        }
        let label_selector = match s
            .label_selector
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
        {
            Some(l) => Some(
                LabelSelector::parse(&l)
                    .map_err(|m| ServiceError::bad_input("labelSelector", m))?
                    .to_string(),
            ),
            None => None,
        };
        let row = SilenceRow {
            id: uuid::Uuid::new_v4().to_string(),
            rule_id,
            condition: s.condition.map(|c| c.as_str().to_owned()),
            host_id,
            container_id: s.container_id.filter(|c| !c.is_empty()),
            label_selector,
            comment,
            ends_at,
            created_by: actor.username.clone(),
            created_at: now,
        };
        q::insert_silence(&self.db, row.clone()).await?;
        Ok(to_silence(row))
    }

    pub async fn delete_silence(&self, actor: &User, id: &str) -> Result<(), ServiceError> {
        authz::require(actor, Action::ManageAlerts)?;
        if !q::delete_silence(&self.db, id).await? {
            return Err(ServiceError::NotFound(format!("no silence with id {id}")));
        }
        Ok(())
    }

    // Alerts.

    pub async fn get(&self, id: &str) -> Result<Option<Alert>, ServiceError> {
        Ok(q::alert(&self.db, id).await?.map(to_alert))
    }

    /// Newest first: `limit` alerts in `states` older than `before_seq`, and the count matching.
    pub async fn page(
        &self,
        states: &[AlertState],
        host_id: Option<&str>,
        before_seq: Option<i64>,
        limit: u64,
    ) -> Result<(Vec<Alert>, u64), ServiceError> {
        let words: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        let (rows, total) = q::page(&self.db, &words, host_id, before_seq, limit).await?;
        Ok((rows.into_iter().map(to_alert).collect(), total))
    }

    pub async fn open_count(&self) -> Result<u64, ServiceError> {
        Ok(q::count_open(&self.db).await?)
    }

    pub async fn acknowledge(&self, actor: &User, id: &str) -> Result<Alert, ServiceError> {
        authz::require(actor, Action::AcknowledgeAlerts)?;
        let alert = q::alert(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no alert with id {id}")))?;
        if alert.state == q::RESOLVED {
            return Err(ServiceError::Conflict(
                "the alert is resolved already".into(),
            ));
        }
        if q::acknowledge(&self.db, id, &actor.username, Utc::now()).await? {
            self.publish(id, AlertChange::Acknowledged);
        }
        self.get(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no alert with id {id}")))
    }

    pub async fn deliveries(&self, alert_id: &str) -> Result<Vec<Delivery>, ServiceError> {
        Ok(q::deliveries_of(&self.db, alert_id)
            .await?
            .into_iter()
            .map(|(d, a)| to_delivery(d, a))
            .collect())
    }

    fn publish(&self, alert_id: &str, change: AlertChange) {
        self.bus.publish(Event::Alert {
            alert_id: alert_id.to_owned(),
            change,
        });
    }

    async fn unresolved_keys(&self) -> Result<HashSet<(String, String)>, ServiceError> {
        if let Some(set) = self
            .unresolved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            return Ok(set.clone());
        }
        let set: HashSet<(String, String)> = q::unresolved(&self.db)
            .await?
            .into_iter()
            .map(|a| (a.condition, a.subject_key))
            .collect();
        *self.unresolved.lock().unwrap_or_else(|p| p.into_inner()) = Some(set.clone());
        Ok(set)
    }

    fn remember(&self, condition: &str, key: &str, open: bool) {
        if let Some(set) = self
            .unresolved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            if open {
                set.insert((condition.to_owned(), key.to_owned()));
            } else {
                set.remove(&(condition.to_owned(), key.to_owned()));
            }
        }
    }

    fn message_for(
        alert: &AlertRow,
        event: &str,
        delivery_id: &str,
        subject: &serde_json::Value,
    ) -> serde_json::Value {
        let state = if event == "RESOLVED" {
            q::RESOLVED
        } else {
            alert.state.as_str()
        };
        serde_json::json!({
            "id": delivery_id,
            "event": event,
            "alertId": alert.id,
            "state": state,
            "rule": { "id": alert.rule_id, "name": alert.rule_name },
            "condition": alert.condition,
            "subject": subject,
            "message": if event == "RESOLVED" {
                alert.resolve_message.clone().unwrap_or_else(|| alert.message.clone())
            } else {
                alert.message.clone()
            },
            "openedAt": alert.opened_at,
            "resolvedAt": alert.resolved_at,
        })
    }

    fn outbox_rows(
        alert: &AlertRow,
        channel_ids: &[String],
        event: &str,
        at: DateTime<Utc>,
    ) -> Vec<DeliveryRow> {
        let subject: serde_json::Value = serde_json::from_str(&alert.subject).unwrap_or_default();
        channel_ids
            .iter()
            .map(|c| {
                let id = uuid::Uuid::new_v4().to_string();
                let payload = Self::message_for(alert, event, &id, &subject).to_string();
                q::delivery(id, Some(alert.id.clone()), c.clone(), event, payload, at)
            })
            .collect()
    }

    /// Acts on findings: opens alerts for the rules they match (unless the host is in maintenance; a silence
    /// lets it open without notifications), resolves the unresolved ones whose condition cleared, and counts
    /// starts for restart-loop rules.
    pub async fn apply(&self, findings: Vec<Finding>) -> Result<(), ServiceError> {
        if findings.is_empty() {
            return Ok(());
        }
        let mut rules: Option<Vec<RuleRow>> = None;
        let mut wrote = false;
        for f in findings {
            match f {
                Finding::Clear {
                    condition,
                    subject_key,
                    message,
                } => {
                    wrote |= self.resolve_all(condition, &subject_key, &message).await?;
                }
                Finding::Open {
                    condition,
                    subject,
                    message,
                } => {
                    wrote |= self
                        .open_matching(condition, *subject, &mut rules, |_| Some(message.clone()))
                        .await?;
                }
                Finding::Started { subject } => {
                    let now = Utc::now();
                    let log = {
                        let mut starts = self.starts.lock().unwrap_or_else(|p| p.into_inner());
                        starts.record(&subject.key, now);
                        starts.clone_of(&subject.key)
                    };
                    let what = subject.describe();
                    wrote |= self
                        .open_matching(AlertCondition::RestartLoop, *subject, &mut rules, |rule| {
                            let count = rule.restart_count.unwrap_or(RESTART_COUNT_DEFAULT);
                            let window = rule.restart_window_secs.unwrap_or(RESTART_WINDOW_DEFAULT);
                            let n = log.count_since(now - ChronoDuration::seconds(i64::from(window)));
                            (n >= usize::try_from(count).unwrap_or(usize::MAX)).then(|| {
                                format!(
                                    "{what} started {n} times in the last {} (the rule allows fewer than {count})",
                                    berth_shared::format_secs(i64::from(window))
                                )
                            })
                        })
                        .await?;
                }
                Finding::Load {
                    condition,
                    subject,
                    low,
                    high,
                    now,
                    of_what,
                } => {
                    let what = subject.describe();
                    let key = subject.key.clone();
                    wrote |= self
                        .open_matching(condition, *subject, &mut rules, |rule| {
                            detect::load_opens(rule.threshold_percent?, low, now, &what, &of_what)
                        })
                        .await?;
                    wrote |= self
                        .clear_load(condition, &key, high, now, &what, &of_what)
                        .await?;
                }
            }
        }
        if wrote {
            self.outbox.notify_one();
        }
        Ok(())
    }

    /// Resolves the threshold alerts of a host whose rule's threshold neither of the last two readings reached.
    async fn clear_load(
        &self,
        condition: AlertCondition,
        key: &str,
        high: u32,
        now: u32,
        what: &str,
        of_what: &str,
    ) -> Result<bool, ServiceError> {
        let keys = self.unresolved_keys().await?;
        if !keys.contains(&(condition.as_str().to_owned(), key.to_owned())) {
            return Ok(false);
        }
        let at = Utc::now();
        let (mut wrote, mut left) = (false, false);
        for alert in q::unresolved_of(&self.db, condition.as_str(), key).await? {
            let threshold = q::rule(&self.db, &alert.rule_id)
                .await?
                .and_then(|r| r.threshold_percent);
            if detect::load_clears(threshold, high) {
                let message = format!(
                    "containers on {what} use {} of {of_what}, under the {}% threshold",
                    detect::percent_text(now),
                    threshold.unwrap_or(0)
                );
                wrote |= self.resolve_one(&alert, &message, at).await?;
            } else {
                left = true;
            }
        }
        if !left {
            self.remember(condition.as_str(), key, false);
        }
        Ok(wrote)
    }

    /// Resolves the unresolved alerts of a condition and subject; whether outbox rows were written.
    async fn resolve_all(
        &self,
        condition: AlertCondition,
        subject_key: &str,
        message: &str,
    ) -> Result<bool, ServiceError> {
        let keys = self.unresolved_keys().await?;
        if !keys.contains(&(condition.as_str().to_owned(), subject_key.to_owned())) {
            return Ok(false);
        }
        let mut wrote = false;
        let now = Utc::now();
        for alert in q::unresolved_of(&self.db, condition.as_str(), subject_key).await? {
            wrote |= self.resolve_one(&alert, message, now).await?;
        }
        self.remember(condition.as_str(), subject_key, false);
        Ok(wrote)
    }

    async fn resolve_one(
        &self,
        alert: &AlertRow,
        message: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        let channels = self.notify_channels(alert).await?;
        let mut resolved = alert.clone();
        resolved.state = q::RESOLVED.to_owned();
        resolved.resolved_at = Some(now);
        resolved.resolve_message = Some(message.to_owned());
        let rows = Self::outbox_rows(&resolved, &channels, "RESOLVED", now);
        let wrote = !rows.is_empty();
        if q::resolve(&self.db, &alert.id, now, message, rows).await? {
            self.publish(&alert.id, AlertChange::Resolved);
        }
        Ok(wrote)
    }

    /// Opens an alert for every enabled rule of `condition` whose scope takes `subject` and for which
    /// `message_for` has words (a rule it answers `None` for does not fire); whether outbox rows were written.
    async fn open_matching(
        &self,
        condition: AlertCondition,
        mut subject: Subject,
        rules: &mut Option<Vec<RuleRow>>,
        message_for: impl Fn(&RuleRow) -> Option<String>,
    ) -> Result<bool, ServiceError> {
        if rules.is_none() {
            *rules = Some(q::rules(&self.db).await?);
        }
        let matching: Vec<(RuleRow, String)> = rules
            .iter()
            .flatten()
            .filter(|r| r.enabled && r.condition == condition.as_str())
            .filter(|r| {
                scope_matches(
                    r.host_id.as_deref(),
                    r.container_id.as_deref(),
                    r.label_selector.as_deref(),
                    &subject,
                )
            })
            .filter_map(|r| message_for(r).map(|m| (r.clone(), m)))
            .collect();
        if matching.is_empty() {
            return Ok(false);
        }
        if let Some(h) = &subject.host_id
            && condition != AlertCondition::HostDown
            && self
                .hosts
                .get(h)
                .await?
                .is_some_and(|h| h.status == HostStatus::Maintenance)
        {
            return Ok(false);
        }
        if let Some(c) = &subject.container_id
            && let Some(def) = crate::db::containers::by_id(&self.db, c).await?
        {
            if condition == AlertCondition::ContainerExited && def.desired_state == "STOPPED" {
                // Stopped through Berth.
                return Ok(false);
            }
            subject.container_name = Some(def.name);
        }
        let silences = q::active_silences(&self.db, Utc::now()).await?;
        let subject_json =
            serde_json::to_string(&subject).map_err(|e| ServiceError::Unexpected(e.into()))?;
        let mut wrote = false;
        for (rule, message) in matching {
            let silenced = silences.iter().any(|s| {
                s.rule_id.as_deref().is_none_or(|r| r == rule.id)
                    && s.condition
                        .as_deref()
                        .is_none_or(|c| c == condition.as_str())
                    && scope_matches(
                        s.host_id.as_deref(),
                        s.container_id.as_deref(),
                        s.label_selector.as_deref(),
                        &subject,
                    )
            });
            let now = Utc::now();
            let row = AlertRow {
                seq: 0,
                id: uuid::Uuid::new_v4().to_string(),
                rule_id: rule.id.clone(),
                rule_name: rule.name.clone(),
                condition: condition.as_str().to_owned(),
                subject_key: subject.key.clone(),
                subject: subject_json.clone(),
                host_id: subject.host_id.clone(),
                container_id: subject.container_id.clone(),
                message,
                state: q::OPEN.to_owned(),
                silenced,
                opened_at: now,
                acknowledged_at: None,
                acknowledged_by: None,
                resolved_at: None,
                resolve_message: None,
                next_repeat_at: (rule.repeat_secs > 0 && !silenced)
                    .then(|| now + ChronoDuration::seconds(i64::from(rule.repeat_secs))),
            };
            let channels: Vec<String> = if silenced {
                Vec::new()
            } else {
                self.enabled_channels(&rule).await?
            };
            let rows = Self::outbox_rows(&row, &channels, "OPENED", now);
            let any = !rows.is_empty();
            let id = row.id.clone();
            if q::open(&self.db, row, rows).await? {
                wrote |= any;
                self.remember(condition.as_str(), &subject.key, true);
                self.publish(&id, AlertChange::Opened);
            }
        }
        Ok(wrote)
    }

    /// Resolves restart-loop alerts whose container has not started again within its rule's window (called
    /// every few seconds).
    pub async fn clear_quiet_loops(&self) -> Result<(), ServiceError> {
        let keys = self.unresolved_keys().await?;
        if !keys
            .iter()
            .any(|(c, _)| c == AlertCondition::RestartLoop.as_str())
        {
            return Ok(());
        }
        let now = Utc::now();
        let mut wrote = false;
        for alert in q::unresolved(&self.db).await? {
            if alert.condition != AlertCondition::RestartLoop.as_str() {
                continue;
            }
            let window = match q::rule(&self.db, &alert.rule_id).await? {
                Some(r) => r.restart_window_secs.unwrap_or(RESTART_WINDOW_DEFAULT),
                None => RESTART_WINDOW_DEFAULT,
            };
            let last = self
                .starts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone_of(&alert.subject_key)
                .last()
                .unwrap_or(alert.opened_at);
            if now - last >= ChronoDuration::seconds(i64::from(window)) {
                let message = format!(
                    "no restart in the last {}",
                    berth_shared::format_secs(i64::from(window))
                );
                wrote |= self.resolve_one(&alert, &message, now).await?;
                self.remember(&alert.condition, &alert.subject_key, false);
            }
        }
        if wrote {
            self.outbox.notify_one();
        }
        Ok(())
    }

    async fn enabled_channels(&self, rule: &RuleRow) -> Result<Vec<String>, ServiceError> {
        let ids: Vec<String> = serde_json::from_str(&rule.channel_ids).unwrap_or_default();
        let mut out = Vec::new();
        for id in ids {
            if q::channel(&self.db, &id).await?.is_some_and(|c| c.enabled) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// The channels to tell about a change of `alert`: its rule's, unless it was opened silenced.
    async fn notify_channels(&self, alert: &AlertRow) -> Result<Vec<String>, ServiceError> {
        if alert.silenced {
            return Ok(Vec::new());
        }
        match q::rule(&self.db, &alert.rule_id).await? {
            Some(rule) => self.enabled_channels(&rule).await,
            None => Ok(Vec::new()),
        }
    }

    /// Queues reminders of open, unacknowledged alerts whose rule repeats and whose time has come.
    pub async fn send_repeats(&self) -> Result<usize, ServiceError> {
        let now = Utc::now();
        let due = q::due_repeats(&self.db, now, 200).await?;
        let n = due.len();
        for alert in due {
            let Some(rule) = q::rule(&self.db, &alert.rule_id).await? else {
                continue;
            };
            let channels = self.enabled_channels(&rule).await?;
            let rows = Self::outbox_rows(&alert, &channels, "REPEAT", now);
            let next = now + ChronoDuration::seconds(i64::from(rule.repeat_secs.max(60)));
            q::repeated(&self.db, &alert.id, next, rows).await?;
        }
        if n > 0 {
            self.outbox.notify_one();
        }
        Ok(n)
    }

    /// At start-up: nothing is in flight, so every lease ends now.
    pub async fn release_leases(&self) -> Result<u64, ServiceError> {
        Ok(q::release_leases(&self.db, Utc::now()).await?)
    }

    /// The channels with deliveries due now, and when the next one falls due after that.
    pub async fn due(&self) -> Result<(Vec<String>, Option<DateTime<Utc>>), ServiceError> {
        Ok(q::due_channels(&self.db, Utc::now()).await?)
    }

    /// Takes up to `slots` batches of a channel's due deliveries (a batch is one request: one delivery for a
    /// webhook, up to `GROUP_MAX` for the kinds that group), leased for a minute.
    pub async fn claim_batches(
        &self,
        channel_id: &str,
        slots: usize,
    ) -> Result<Vec<Vec<DeliveryRow>>, ServiceError> {
        let Some(channel) = q::channel(&self.db, channel_id).await? else {
            return Ok(Vec::new());
        };
        let kind: AlertChannelKind = channel.kind.parse().unwrap_or(AlertChannelKind::Webhook);
        let per_batch = if kind.groups() { GROUP_MAX } else { 1 };
        let now = Utc::now();
        let lease = now + ChronoDuration::seconds(60);
        let rows = q::claim(
            &self.db,
            channel_id,
            now,
            per_batch * u64::try_from(slots).unwrap_or(1),
            lease,
        )
        .await?;
        let mut batches: Vec<Vec<DeliveryRow>> = Vec::new();
        for row in rows {
            match batches.last_mut() {
                Some(b) if (b.len() as u64) < per_batch => b.push(row),
                _ => batches.push(vec![row]),
            }
        }
        Ok(batches)
    }

    /// The channel as a target to send to (its secrets opened).
    pub async fn target(&self, channel_id: &str) -> Result<Option<Target>, ServiceError> {
        let Some(c) = q::channel(&self.db, channel_id).await? else {
            return Ok(None);
        };
        let open = |sealed: &Option<String>| -> Result<Option<String>, ServiceError> {
            sealed
                .as_deref()
                .map(|s| {
                    self.secrets.open(s).map_err(|e| {
                        ServiceError::Unexpected(anyhow::anyhow!("opening a channel's secret: {e}"))
                    })
                })
                .transpose()
        };
        let kind: AlertChannelKind = c.kind.parse().unwrap_or(AlertChannelKind::Webhook);
        let smtp = if kind == AlertChannelKind::Email {
            Some(SmtpTarget {
                host: c.smtp_host.clone().unwrap_or_default(),
                port: c
                    .smtp_port
                    .and_then(|p| u16::try_from(p).ok())
                    .unwrap_or(587),
                security: c
                    .smtp_security
                    .as_deref()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(SmtpSecurity::Starttls),
                username: c.smtp_username.clone(),
                password: open(&c.smtp_password_sealed)?,
                from: c.email_from.clone().unwrap_or_default(),
                to: c
                    .email_to
                    .as_deref()
                    .unwrap_or_default()
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            })
        } else {
            None
        };
        Ok(Some(Target {
            kind,
            url: open(&c.url_sealed)?,
            secret: open(&c.secret_sealed)?,
            smtp,
        }))
    }

    /// Sends one batch of claimed deliveries and records the attempt.
    pub async fn send_batch(
        &self,
        target: &Target,
        batch: &[DeliveryRow],
    ) -> Result<(), ServiceError> {
        let Some(notifier) = &self.notifier else {
            return Err(ServiceError::Unavailable(
                "alert deliveries could not start".into(),
            ));
        };
        let messages: Vec<Message> = batch.iter().map(message_of).collect();
        let started = std::time::Instant::now();
        let at = Utc::now();
        let result = notifier.send(target, &messages).await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let ids: Vec<String> = batch.iter().map(|d| d.id.clone()).collect();
        let outcome = match &result {
            Ok(status) => q::AttemptOutcome {
                at,
                status_code: Some(i32::from(*status)),
                error: None,
                duration_ms,
                state: q::DELIVERED,
                next_attempt_at: at,
            },
            Err(e) => {
                let attempts = batch.iter().map(|d| d.attempts).max().unwrap_or(0);
                let oldest = batch.iter().map(|d| d.created_at).min().unwrap_or(at);
                let give_up = at - oldest > ChronoDuration::hours(GIVE_UP_AFTER_HOURS)
                    || matches!(e, NotifyError::Incomplete(_));
                let delay = retry_delay(attempts, self.retry_max);
                q::AttemptOutcome {
                    at,
                    status_code: e.status().map(i32::from),
                    error: Some(e.to_string()),
                    duration_ms,
                    state: if give_up { q::FAILED } else { q::PENDING },
                    next_attempt_at: at
                        + ChronoDuration::from_std(delay)
                            .unwrap_or_else(|_| ChronoDuration::seconds(60)),
                }
            }
        };
        q::record_attempt(&self.db, &ids, &outcome).await?;
        if let Err(e) = result {
            tracing::info!(channel = %batch.first().map(|d| d.channel_id.as_str()).unwrap_or(""), error = %e, deliveries = batch.len(), "alert delivery failed; retrying later");
        }
        Ok(())
    }
}

/// A stored delivery as a message: the payload as the webhook body, words for people.
fn message_of(d: &DeliveryRow) -> Message {
    let body: serde_json::Value = serde_json::from_str(&d.payload).unwrap_or_default();
    let text = body["message"].as_str().unwrap_or_default().to_owned();
    let condition = body["condition"]
        .as_str()
        .and_then(|c| c.parse::<AlertCondition>().ok());
    let title = match (d.event.as_str(), condition) {
        ("TEST", _) => "Berth: test notification".to_owned(),
        ("RESOLVED", Some(c)) => format!("Resolved: {}: {text}", c.label()),
        ("REPEAT", Some(c)) => format!("Still open: {}: {text}", c.label()),
        (_, Some(c)) => format!("{}: {text}", c.label()),
        _ => text.clone(),
    };
    Message {
        id: d.id.clone(),
        urgent: d.event == "OPENED" || d.event == "REPEAT",
        body,
        title,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_a_cap() {
        let max = std::time::Duration::from_secs(60);
        let delays: Vec<u64> = (0..9).map(|n| retry_delay(n, max).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(retry_delay(1000, max).as_secs(), 60);
    }

    #[test]
    fn scopes() {
        let s = Subject {
            key: "container:h1:a".into(),
            host_id: Some("h1".into()),
            container_id: Some("c1".into()),
            labels: vec![("app".into(), "web".into())],
            ..Subject::default()
        };
        assert!(scope_matches(None, None, None, &s));
        assert!(scope_matches(Some("h1"), Some("c1"), Some("app=web"), &s));
        assert!(!scope_matches(Some("h2"), None, None, &s));
        assert!(!scope_matches(None, Some("c2"), None, &s));
        assert!(!scope_matches(None, None, Some("app=db"), &s));
        assert!(scope_matches(None, None, Some("app"), &s));
    }
}
