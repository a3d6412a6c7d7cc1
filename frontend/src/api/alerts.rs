//! Alerts in the API: the alerts themselves (`alerts`, `alert`, `openAlertCount`, `alertDeliveries`,
//! `acknowledgeAlert`), where they go (`alertChannels` and their mutations, `testAlertChannel`), what raises them
//! (`alertRules`), what mutes them (`silences`), and the live `alertChanges` feed.

use std::str::FromStr;

use berth_shared::{AlertChannelKind, AlertCondition, AlertState, SmtpSecurity};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::json;

use super::{ApiError, ConnectionData, Live, Page, execute_field, watch};

// ---------------------------------------------------------------- enums on the wire

/// Decodes an enum of `berth_shared` from its API spelling.
fn enum_from_str<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}

/// Like [`enum_from_str`], for an optional value.
fn opt_enum_from_str<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    match Option::<String>::deserialize(deserializer)? {
        Some(text) => text.parse().map(Some).map_err(serde::de::Error::custom),
        None => Ok(None),
    }
}

fn kind_to_str<S: Serializer>(kind: &Option<AlertChannelKind>, s: S) -> Result<S::Ok, S::Error> {
    kind.map(AlertChannelKind::as_str).serialize(s)
}

fn security_to_str<S: Serializer>(value: &Option<SmtpSecurity>, s: S) -> Result<S::Ok, S::Error> {
    value.map(SmtpSecurity::as_str).serialize(s)
}

fn condition_to_str<S: Serializer>(
    value: &Option<AlertCondition>,
    s: S,
) -> Result<S::Ok, S::Error> {
    value.map(AlertCondition::as_str).serialize(s)
}

/// People's word for an alert's state.
pub fn state_label(state: AlertState) -> &'static str {
    match state {
        AlertState::Open => "Open",
        AlertState::Acknowledged => "Acknowledged",
        AlertState::Resolved => "Resolved",
    }
}

// ---------------------------------------------------------------- alerts

/// What an alert is about: a container (by its definition or as Docker names it), a host or a registry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AlertSubject {
    pub key: String,
    pub host_id: Option<String>,
    pub host_name: Option<String>,
    pub container_id: Option<String>,
    pub container_name: Option<String>,
    pub instance_id: Option<String>,
    /// The fleet inventory's id.
    pub docker_container_id: Option<String>,
    pub docker_id: Option<String>,
    pub docker_name: Option<String>,
    pub image: Option<String>,
    pub exit_code: Option<i64>,
    pub registry_id: Option<String>,
    pub registry_name: Option<String>,
}

impl AlertSubject {
    /// The name people know it by: the container definition, the Docker container, the registry or the host.
    pub fn name(&self) -> Option<&str> {
        self.container_name
            .as_deref()
            .or(self.docker_name.as_deref())
            .or(self.registry_name.as_deref())
            .or(self.host_name.as_deref())
    }

    /// The host, when the subject is something on a host (not the host itself).
    pub fn on_host(&self) -> Option<&str> {
        let is_host = self.container_name.is_none()
            && self.docker_name.is_none()
            && self.registry_name.is_none();
        if is_host {
            None
        } else {
            self.host_name.as_deref()
        }
    }
}

/// One alert: opened by a rule, maybe acknowledged, resolved by itself when its cause goes away.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub id: String,
    pub rule_id: String,
    pub rule_name: String,
    #[serde(deserialize_with = "enum_from_str")]
    pub condition: AlertCondition,
    pub subject: AlertSubject,
    pub message: String,
    #[serde(deserialize_with = "enum_from_str")]
    pub state: AlertState,
    /// Opened while a silence matched: nothing was sent.
    pub silenced: bool,
    pub opened_at: String,
    #[serde(default)]
    pub acknowledged_at: Option<String>,
    #[serde(default)]
    pub acknowledged_by: Option<String>,
    #[serde(default)]
    pub resolved_at: Option<String>,
    #[serde(default)]
    pub resolve_message: Option<String>,
}

const ALERT_FIELDS: &str = "id ruleId ruleName condition message state silenced openedAt acknowledgedAt \
     acknowledgedBy resolvedAt resolveMessage subject { key hostId hostName containerId containerName instanceId \
     dockerContainerId dockerId dockerName image exitCode registryId registryName }";

/// One page of alerts, newest first: only those in `states` (all when empty), after the cursor `after`.
pub async fn alerts(
    states: &[AlertState],
    first: i64,
    after: Option<&str>,
) -> Result<Page<Alert>, ApiError> {
    let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    let connection: ConnectionData<Alert> = execute_field(
        &format!(
            "query Alerts($filter: AlertFilter, $first: Int, $after: String) {{ \
             alerts(filter: $filter, first: $first, after: $after) {{ \
             edges {{ cursor node {{ {ALERT_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} totalCount }} }}"
        ),
        json!({ "filter": { "state": states }, "first": first, "after": after }),
        "alerts",
    )
    .await?;
    Ok(connection.into())
}

/// How many alerts are open (neither acknowledged nor resolved).
pub async fn open_alert_count() -> Result<i64, ApiError> {
    execute_field(
        "query OpenAlertCount { openAlertCount }",
        json!({}),
        "openAlertCount",
    )
    .await
}

/// Stops an open alert's reminders (OPERATOR); it still resolves by itself.
pub async fn acknowledge_alert(id: &str) -> Result<Alert, ApiError> {
    execute_field(
        &format!(
            "mutation AcknowledgeAlert($id: ID!) {{ acknowledgeAlert(id: $id) {{ {ALERT_FIELDS} }} }}"
        ),
        json!({ "id": id }),
        "acknowledgeAlert",
    )
    .await
}

/// One try to hand a notification over.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    pub at: String,
    /// The receiver's answer (HTTP status, SMTP reply code), when it answered.
    #[serde(default)]
    pub status_code: Option<i64>,
    #[serde(default)]
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// One notification to one channel, with its attempts.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: String,
    pub channel_id: String,
    /// `OPENED`, `RESOLVED`, `REPEAT` or `TEST`.
    pub event: String,
    /// `PENDING`, `DELIVERED` or `FAILED`.
    pub state: String,
    pub attempt_count: i64,
    pub created_at: String,
    #[serde(default)]
    pub delivered_at: Option<String>,
    #[serde(default)]
    pub next_attempt_at: Option<String>,
    #[serde(default)]
    pub last_status_code: Option<i64>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub attempts: Vec<DeliveryAttempt>,
}

const DELIVERY_FIELDS: &str = "id channelId event state attemptCount createdAt deliveredAt nextAttemptAt \
     lastStatusCode lastError attempts { at statusCode error durationMs }";

/// An alert's notifications, oldest first, with every attempt.
pub async fn alert_deliveries(alert_id: &str) -> Result<Vec<Delivery>, ApiError> {
    execute_field(
        &format!(
            "query AlertDeliveries($alertId: ID!) {{ alertDeliveries(alertId: $alertId) {{ {DELIVERY_FIELDS} }} }}"
        ),
        json!({ "alertId": alert_id }),
        "alertDeliveries",
    )
    .await
}

// ---------------------------------------------------------------- channels

/// Where notifications go. The URL's path, the signing key and the SMTP password are never returned.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertChannel {
    pub id: String,
    pub name: String,
    #[serde(deserialize_with = "enum_from_str")]
    pub kind: AlertChannelKind,
    /// `scheme://host[:port]/…`.
    #[serde(default)]
    pub url: Option<String>,
    pub has_secret: bool,
    #[serde(default)]
    pub smtp_host: Option<String>,
    #[serde(default)]
    pub smtp_port: Option<i64>,
    #[serde(default, deserialize_with = "opt_enum_from_str")]
    pub smtp_security: Option<SmtpSecurity>,
    #[serde(default)]
    pub smtp_username: Option<String>,
    pub has_smtp_password: bool,
    #[serde(default)]
    pub email_from: Option<String>,
    #[serde(default)]
    pub email_to: Vec<String>,
    pub enabled: bool,
    pub created_at: String,
}

/// A channel's settings, for `createAlertChannel` and `updateAlertChannel`. A `None` URL, secret or SMTP password
/// is omitted (on update the stored one is kept); `Some("")` removes a secret or password.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertChannelInput {
    pub name: String,
    #[serde(
        serialize_with = "kind_to_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<AlertChannelKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_port: Option<i64>,
    #[serde(
        serialize_with = "security_to_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub smtp_security: Option<SmtpSecurity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_from: Option<String>,
    pub email_to: Vec<String>,
    pub enabled: bool,
}

const CHANNEL_FIELDS: &str = "id name kind url hasSecret smtpHost smtpPort smtpSecurity smtpUsername \
     hasSmtpPassword emailFrom emailTo enabled createdAt";

/// Every channel.
pub async fn alert_channels() -> Result<Vec<AlertChannel>, ApiError> {
    execute_field(
        &format!("query AlertChannels {{ alertChannels {{ {CHANNEL_FIELDS} }} }}"),
        json!({}),
        "alertChannels",
    )
    .await
}

/// Saves a new channel (ADMIN); the server checks the URL (and that it does not point at Berth itself).
pub async fn create_alert_channel(input: &AlertChannelInput) -> Result<AlertChannel, ApiError> {
    execute_field(
        &format!(
            "mutation CreateAlertChannel($input: AlertChannelInput!) {{ \
             createAlertChannel(input: $input) {{ {CHANNEL_FIELDS} }} }}"
        ),
        json!({ "input": input }),
        "createAlertChannel",
    )
    .await
}

/// Saves a channel's new settings (ADMIN); its kind never changes.
pub async fn update_alert_channel(
    id: &str,
    input: &AlertChannelInput,
) -> Result<AlertChannel, ApiError> {
    execute_field(
        &format!(
            "mutation UpdateAlertChannel($id: ID!, $input: AlertChannelInput!) {{ \
             updateAlertChannel(id: $id, input: $input) {{ {CHANNEL_FIELDS} }} }}"
        ),
        json!({ "id": id, "input": input }),
        "updateAlertChannel",
    )
    .await
}

/// Deletes a channel (ADMIN); its pending notifications are dropped and rules forget it.
pub async fn delete_alert_channel(id: &str) -> Result<(), ApiError> {
    let _: bool = execute_field(
        "mutation DeleteAlertChannel($id: ID!) { deleteAlertChannel(id: $id) }",
        json!({ "id": id }),
        "deleteAlertChannel",
    )
    .await?;
    Ok(())
}

/// Sends a test notification (ADMIN) and answers with its first attempt (the server waits up to 15 s).
pub async fn test_alert_channel(id: &str) -> Result<Delivery, ApiError> {
    execute_field(
        &format!(
            "mutation TestAlertChannel($id: ID!) {{ testAlertChannel(id: $id) {{ {DELIVERY_FIELDS} }} }}"
        ),
        json!({ "id": id }),
        "testAlertChannel",
    )
    .await
}

// ---------------------------------------------------------------- rules

/// What raises alerts: a condition, a scope, the channels told, how often to remind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertRule {
    pub id: String,
    pub name: String,
    #[serde(deserialize_with = "enum_from_str")]
    pub condition: AlertCondition,
    #[serde(default)]
    pub host_id: Option<String>,
    #[serde(default)]
    pub container_id: Option<String>,
    #[serde(default)]
    pub label_selector: Option<String>,
    #[serde(default)]
    pub channel_ids: Vec<String>,
    /// Seconds between reminders while open and unacknowledged; 0: none.
    pub repeat_secs: i64,
    /// RESTART_LOOP: alert at this many starts …
    #[serde(default)]
    pub restart_count: Option<i64>,
    /// … within this many seconds.
    #[serde(default)]
    pub restart_window_secs: Option<i64>,
    /// HOST_CPU_HIGH / HOST_MEMORY_HIGH: percent of the host.
    #[serde(default)]
    pub threshold_percent: Option<i64>,
    pub enabled: bool,
    pub created_at: String,
}

/// A rule's settings, for `createAlertRule` and `updateAlertRule`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertRuleInput {
    pub name: String,
    #[serde(serialize_with = "condition_to_str")]
    pub condition: Option<AlertCondition>,
    pub host_id: Option<String>,
    pub container_id: Option<String>,
    pub label_selector: Option<String>,
    pub channel_ids: Vec<String>,
    pub repeat_secs: i64,
    /// RESTART_LOOP only (the server's default when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_window_secs: Option<i64>,
    /// HOST_CPU_HIGH / HOST_MEMORY_HIGH only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_percent: Option<i64>,
    pub enabled: bool,
}

const RULE_FIELDS: &str = "id name condition hostId containerId labelSelector channelIds repeatSecs \
     restartCount restartWindowSecs thresholdPercent enabled createdAt";

/// Every rule.
pub async fn alert_rules() -> Result<Vec<AlertRule>, ApiError> {
    execute_field(
        &format!("query AlertRules {{ alertRules {{ {RULE_FIELDS} }} }}"),
        json!({}),
        "alertRules",
    )
    .await
}

/// Saves a new rule (ADMIN).
pub async fn create_alert_rule(input: &AlertRuleInput) -> Result<AlertRule, ApiError> {
    execute_field(
        &format!(
            "mutation CreateAlertRule($input: AlertRuleInput!) {{ \
             createAlertRule(input: $input) {{ {RULE_FIELDS} }} }}"
        ),
        json!({ "input": input }),
        "createAlertRule",
    )
    .await
}

/// Saves a rule's new settings (ADMIN).
pub async fn update_alert_rule(id: &str, input: &AlertRuleInput) -> Result<AlertRule, ApiError> {
    execute_field(
        &format!(
            "mutation UpdateAlertRule($id: ID!, $input: AlertRuleInput!) {{ \
             updateAlertRule(id: $id, input: $input) {{ {RULE_FIELDS} }} }}"
        ),
        json!({ "id": id, "input": input }),
        "updateAlertRule",
    )
    .await
}

/// Deletes a rule (ADMIN); its open alerts are resolved without notifications.
pub async fn delete_alert_rule(id: &str) -> Result<(), ApiError> {
    let _: bool = execute_field(
        "mutation DeleteAlertRule($id: ID!) { deleteAlertRule(id: $id) }",
        json!({ "id": id }),
        "deleteAlertRule",
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- silences

/// Mutes the alerts it matches (empty parts match anything) until it ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    pub id: String,
    #[serde(default)]
    pub rule_id: Option<String>,
    #[serde(default, deserialize_with = "opt_enum_from_str")]
    pub condition: Option<AlertCondition>,
    #[serde(default)]
    pub host_id: Option<String>,
    #[serde(default)]
    pub container_id: Option<String>,
    #[serde(default)]
    pub label_selector: Option<String>,
    pub comment: String,
    pub ends_at: String,
    pub created_by: String,
    pub created_at: String,
    pub active: bool,
}

/// A new silence's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceInput {
    pub rule_id: Option<String>,
    #[serde(serialize_with = "condition_to_str")]
    pub condition: Option<AlertCondition>,
    pub host_id: Option<String>,
    pub label_selector: Option<String>,
    pub comment: String,
    /// RFC 3339.
    pub ends_at: String,
}

const SILENCE_FIELDS: &str = "id ruleId condition hostId containerId labelSelector comment endsAt createdBy \
     createdAt active";

/// Every silence, active or ended.
pub async fn silences() -> Result<Vec<Silence>, ApiError> {
    execute_field(
        &format!("query Silences {{ silences {{ {SILENCE_FIELDS} }} }}"),
        json!({}),
        "silences",
    )
    .await
}

/// Saves a new silence (ADMIN).
pub async fn create_silence(input: &SilenceInput) -> Result<Silence, ApiError> {
    execute_field(
        &format!(
            "mutation CreateSilence($input: SilenceInput!) {{ \
             createSilence(input: $input) {{ {SILENCE_FIELDS} }} }}"
        ),
        json!({ "input": input }),
        "createSilence",
    )
    .await
}

/// Deletes a silence (ADMIN): what it muted is no longer muted.
pub async fn delete_silence(id: &str) -> Result<(), ApiError> {
    let _: bool = execute_field(
        "mutation DeleteSilence($id: ID!) { deleteSilence(id: $id) }",
        json!({ "id": id }),
        "deleteSilence",
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- live feed

/// What happened to an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlertChangeKind {
    Opened,
    Acknowledged,
    Resolved,
}

/// An alert opened, acknowledged or resolved, with the open count after it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertChange {
    pub kind: AlertChangeKind,
    pub alert: Alert,
    pub open_count: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlertChangeData {
    alert_changes: AlertChange,
}

/// Every alert change, for as long as the current component lives.
pub fn watch_alert_changes(on_event: impl Fn(Live<AlertChange>) + 'static) {
    watch(
        &format!(
            "subscription AlertChanges {{ alertChanges {{ kind openCount alert {{ {ALERT_FIELDS} }} }} }}"
        ),
        json!({}),
        |data: AlertChangeData| data.alert_changes,
        on_event,
    );
}
