//! The audit log: who did what to which object with what result, for every mutation and for significant engine
//! actions (host down and up, registry refresh failures, replicas moved or replaced). Details never carry
//! secrets: arguments named like passwords, keys and tokens are replaced before anything is stored.

use crate::bus::{Bus, Event};
use crate::db::audit::{self as q, AuditQuery, NewEntry};
use crate::service::ServiceError;
use berth_shared::HostStatus;
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: String,
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub user: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub result: String,
    pub detail: Option<String>,
}

fn to_entry(r: q::AuditRow) -> AuditEntry {
    AuditEntry {
        id: r.id,
        seq: r.seq,
        at: r.at,
        user: r.username,
        action: r.action,
        target: r.target,
        result: r.result,
        detail: r.detail,
    }
}

/// Filters of the log.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub user: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Argument names whose values never reach the log.
const SECRET_NAMES: [&str; 6] = ["password", "secret", "key", "token", "pem", "credential"];

/// Whether an argument name holds a secret (`password`, `newPassword`, `tlsKeyPem`, …).
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|s| lower.contains(s))
}

/// Longest string (in characters) an audit entry keeps of an argument; the rest is replaced by its size, so a
/// hostile 2 MB argument (a failed `login` needs no account) costs the log a few hundred bytes.
pub const MAX_AUDIT_STRING: usize = 256;

/// `text` cut to [`MAX_AUDIT_STRING`] characters, with a note of its full size when cut.
pub fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_AUDIT_STRING) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()),
    }
}

/// An http(s) URL with a path or query cut to its scheme, host and port: a receiver's URL (a Slack or ntfy
/// webhook) carries its token in the path.
fn url_without_path(text: &str) -> Option<String> {
    let lower = text.trim().to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))?;
    let tail = rest.find(['/', '?', '#']).map(|i| &rest[i..])?;
    if tail == "/" {
        return None;
    }
    berth_shared::parse_http_url(text).ok().map(|u| u.shown())
}

/// A copy of `value` with every secret-named field replaced by `"***"` and every string (and key) cut by [`clip`].
pub fn redact(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret_name(k) && !v.is_null() {
                        serde_json::Value::String("***".into())
                    } else if let Some(shown) = v.as_str().and_then(url_without_path) {
                        serde_json::Value::String(shown)
                    } else {
                        redact(v)
                    };
                    (clip(k), v)
                })
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(redact).collect())
        }
        serde_json::Value::String(text) => serde_json::Value::String(clip(text)),
        other => other.clone(),
    }
}

#[derive(Clone)]
pub struct AuditService {
    db: DatabaseConnection,
    bus: Bus,
}

/// Whether an answer's message says the database is not answering (then a mutation's audit entry cannot be
/// written either).
pub fn database_silent(message: &str) -> bool {
    matches!(
        crate::db::DbFault::recognise(message),
        Some(crate::db::DbFault::NotAnswering(_))
    )
}

impl AuditService {
    pub fn new(db: DatabaseConnection, bus: Bus) -> Self {
        Self { db, bus }
    }

    /// Records an entry and publishes it for the live Events view. Failing to write is logged, never fatal.
    pub async fn record(
        &self,
        user: Option<&str>,
        action: &str,
        target: Option<String>,
        result: &str,
        detail: Option<String>,
    ) {
        let id = uuid::Uuid::new_v4().to_string();
        let entry = NewEntry {
            id: id.clone(),
            at: Utc::now(),
            username: user.map(str::to_owned),
            action: action.to_owned(),
            target,
            result: result.to_owned(),
            detail,
        };
        match q::insert(&self.db, entry).await {
            Ok(()) => self.bus.publish(Event::Audit { entry_id: id }),
            Err(e) => tracing::error!(error = %e, %action, "writing the audit log failed"),
        }
    }

    /// Newest first, `first` entries after the entry with `after_seq` (exclusive), and the total.
    pub async fn page(
        &self,
        filter: &AuditFilter,
        first: u64,
        after_seq: Option<i64>,
    ) -> Result<(Vec<AuditEntry>, u64), ServiceError> {
        let (rows, total) = q::page(
            &self.db,
            &AuditQuery {
                username: filter.user.clone(),
                action: filter.action.clone(),
                target: filter.target.clone(),
                since: filter.since,
                until: filter.until,
                before_seq: after_seq,
            },
            first,
        )
        .await?;
        Ok((rows.into_iter().map(to_entry).collect(), total))
    }

    pub async fn get(&self, id: &str) -> Result<Option<AuditEntry>, ServiceError> {
        Ok(q::by_id(&self.db, id).await?.map(to_entry))
    }
}

/// Records what the engine does on its own, from the bus: host status changes, failed registry refreshes, and
/// replicas the reconciler replaced or moved.
pub fn spawn_engine_auditor(audit: AuditService, bus: Bus) -> tokio::task::JoinHandle<()> {
    use futures::StreamExt;
    tokio::spawn(async move {
        let mut events = Box::pin(bus.stream());
        while let Some(event) = events.next().await {
            // Most events are container status changes this task ignores: look before copying.
            if !matches!(
                &*event,
                Event::HostStatus { .. } | Event::RegistryRefresh { .. } | Event::Reschedule { .. }
            ) {
                continue;
            }
            match std::sync::Arc::unwrap_or_clone(event) {
                Event::HostStatus {
                    host_id,
                    status,
                    previous,
                    message,
                    ..
                } if matches!(status, HostStatus::Up | HostStatus::NonResponsive) => {
                    let action = if status == HostStatus::Up {
                        "host.up"
                    } else {
                        "host.down"
                    };
                    let detail = format!(
                        "{} → {status}{}",
                        previous.map_or("—", HostStatus::as_str),
                        message.map(|m| format!(": {m}")).unwrap_or_default()
                    );
                    audit
                        .record(
                            None,
                            action,
                            Some(format!("host {host_id}")),
                            "OK",
                            Some(detail),
                        )
                        .await;
                }
                Event::RegistryRefresh {
                    registry_id,
                    phase: crate::bus::RefreshPhase::Failed,
                    message,
                    ..
                } => {
                    audit
                        .record(
                            None,
                            "registry.refreshFailed",
                            Some(format!("registry {registry_id}")),
                            "UNAVAILABLE",
                            message,
                        )
                        .await;
                }
                Event::Reschedule {
                    container_id,
                    detail,
                } => {
                    audit
                        .record(
                            None,
                            "container.reschedule",
                            Some(format!("container {container_id}")),
                            "OK",
                            Some(detail),
                        )
                        .await;
                }
                _ => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let v = serde_json::json!({
            "input": { "name": "r", "password": "hunter2", "tlsKeyPem": "-----BEGIN", "url": "http://x" },
            "newPassword": "p", "oldPassword": null, "list": [{ "secret": "s" }]
        });
        let r = redact(&v);
        assert_eq!(r["input"]["password"], "***");
        assert_eq!(r["input"]["tlsKeyPem"], "***");
        assert_eq!(r["input"]["name"], "r");
        assert_eq!(r["newPassword"], "***");
        assert!(r["oldPassword"].is_null());
        assert_eq!(r["list"][0]["secret"], "***");
        assert!(!r.to_string().contains("hunter2"));
        assert_eq!(
            r["input"]["url"], "http://x",
            "a URL without a path is kept"
        );
    }

    #[test]
    fn receiver_urls_lose_their_token() {
        let v = serde_json::json!({ "input": {
            "url": "https://hooks.slack.com/services/T000/B000/XXXXSECRET",
            "other": "http://127.0.0.1:8080/ntfy-topic-token?x=1",
            "registry": "http://127.0.0.1:5000/",
        } });
        let r = redact(&v);
        assert_eq!(r["input"]["url"], "https://hooks.slack.com/…");
        assert_eq!(r["input"]["other"], "http://127.0.0.1:8080/…");
        assert_eq!(r["input"]["registry"], "http://127.0.0.1:5000/");
        assert!(!r.to_string().contains("SECRET"));
    }

    #[test]
    fn long_strings_are_clipped() {
        let v = serde_json::json!({ "username": "u".repeat(1_900_000), "input": { "env": [{ "name": "é".repeat(300) }] } });
        let r = redact(&v);
        let username = r["username"].as_str().unwrap();
        assert!(username.starts_with(&"u".repeat(MAX_AUDIT_STRING)));
        assert!(username.ends_with("… (1900000 bytes)"), "{username}");
        assert!(r.to_string().len() < 2 * 1024);
        assert_eq!(clip("short"), "short");
        let clipped = clip(&"é".repeat(300));
        assert!(
            clipped.starts_with(&"é".repeat(MAX_AUDIT_STRING)) && clipped.ends_with("(600 bytes)")
        );
    }
}
