//! The audit log in the API: an extension that records every mutation (who, action, target, result, detail
//! without secrets) whatever its outcome, the paged and filtered `auditLog` query, and the live `auditEvents`
//! subscription behind the Events tab.

use super::error::{ApiError, ApiResult};
use super::paging::{PageInfo, count};
use super::{Viewer, authorized_services, require_user, services};
use crate::bus::Event;
use crate::service::audit::{self as svc, AuditFilter as SvcFilter, redact};
use crate::service::authz::{self, Action};
use crate::service::{ServiceError, Services};
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextResolve, ResolveInfo,
};
use async_graphql::{
    Context, ID, InputObject, Object, Request, ServerResult, SimpleObject, Subscription, Value,
    Variables,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use std::sync::{Arc, Mutex};

/// Installs [`AuditRequest`] on every request.
pub struct AuditLog;

impl ExtensionFactory for AuditLog {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AuditRequest::default())
    }
}

/// One request's auditing: it keeps the variables to resolve the mutations' arguments.
#[derive(Default)]
pub struct AuditRequest {
    variables: Mutex<Variables>,
}

/// The object a mutation acts on, from its arguments.
fn target_of(args: &serde_json::Value) -> Option<String> {
    for key in ["id", "hostId", "containerId", "instanceId", "registryId"] {
        if let Some(v) = args.get(key).and_then(|v| v.as_str()) {
            return Some(format!("{key} {v}"));
        }
    }
    let named = args
        .get("input")
        .and_then(|i| i.get("name"))
        .or_else(|| args.get("username"))
        .or_else(|| args.get("name"));
    named.and_then(|v| v.as_str()).map(|v| format!("name {v}"))
}

#[async_trait::async_trait]
impl Extension for AuditRequest {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Ok(mut v) = self.variables.lock() {
            *v = request.variables.clone();
        }
        next.run(ctx, request).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.parent_type != "Mutation" || info.path_node.parent.is_some() {
            return next.run(ctx, info).await;
        }
        let action = info.name.to_owned();
        let variables = self.variables.lock().map(|v| v.clone()).unwrap_or_default();
        let mut args = serde_json::Map::new();
        for (name, value) in &info.field.arguments {
            let resolved = value
                .node
                .clone()
                .into_const_with(|var| {
                    Ok::<_, std::convert::Infallible>(
                        variables.get(&var).cloned().unwrap_or(Value::Null),
                    )
                })
                .ok()
                .and_then(|v| v.into_json().ok())
                .unwrap_or(serde_json::Value::Null);
            args.insert(name.node.to_string(), resolved);
        }
        let args = redact(&serde_json::Value::Object(args));
        let user = ctx
            .data_opt::<Viewer>()
            .and_then(|v| v.0.as_ref())
            .map(|u| u.username.clone())
            .or_else(|| {
                // A login names its user.
                args.get("username")
                    .and_then(|u| u.as_str())
                    .map(|u| format!("{u} (login)"))
            });
        let outcome = next.run(ctx, info).await;
        let result = match &outcome {
            Ok(_) => "OK".to_owned(),
            Err(e) => e
                .extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .and_then(|c| match c {
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| "ERROR".to_owned()),
        };
        if let Ok(services) = ctx.data::<Services>() {
            let detail = serde_json::to_string(&args).ok();
            let silent =
                matches!(&outcome, Err(e) if crate::service::audit::database_silent(&e.message));
            if silent {
                // Its entry could not be written either, and waiting for a connection again would double the
                // time the answer takes: the server log keeps it.
                tracing::warn!(user = ?user, %action, %result, detail = ?detail, "audit entry not written: the database is not answering");
            } else {
                services
                    .audit
                    .record(user.as_deref(), &action, target_of(&args), &result, detail)
                    .await;
            }
        }
        outcome
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct AuditEntry {
    pub id: ID,
    pub at: DateTime<Utc>,
    /// Who; null for Berth's own actions.
    pub user: Option<String>,
    /// The mutation (`runContainer`, …) or engine action (`host.down`, …).
    pub action: String,
    pub target: Option<String>,
    /// `OK` or the error code.
    pub result: String,
    /// The arguments (secrets replaced by ***) or what happened.
    pub detail: Option<String>,
}

impl From<svc::AuditEntry> for AuditEntry {
    fn from(e: svc::AuditEntry) -> Self {
        AuditEntry {
            id: ID(e.id),
            at: e.at,
            user: e.user,
            action: e.action,
            target: e.target,
            result: e.result,
            detail: e.detail,
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct AuditConnection {
    pub edges: Vec<AuditEdge>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct AuditEdge {
    pub cursor: String,
    pub node: AuditEntry,
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct AuditFilter {
    pub user: Option<String>,
    pub action: Option<String>,
    /// Part of the target.
    pub target: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

fn seq_cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("s:{seq}"))
}

fn parse_seq_cursor(after: &str) -> Result<i64, ServiceError> {
    URL_SAFE_NO_PAD
        .decode(after.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("s:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| ServiceError::bad_input("after", "not a cursor of this connection"))
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Newest first. `first` is clamped to 1..=500 (default 50). ADMIN.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<AuditConnection> {
        let actor = require_user(ctx)?;
        authz::require(actor, Action::ReadAuditLog)?;
        let first = u64::try_from(first.unwrap_or(50).clamp(1, 500)).unwrap_or(50);
        let after_seq = after.as_deref().map(parse_seq_cursor).transpose()?;
        let f = filter.unwrap_or_default();
        let (entries, total) = services(ctx)?
            .audit
            .page(
                &SvcFilter {
                    user: f.user,
                    action: f.action,
                    target: f.target,
                    since: f.since,
                    until: f.until,
                },
                first + 1,
                after_seq,
            )
            .await?;
        let has_next = entries.len() as u64 > first;
        let edges: Vec<AuditEdge> = entries
            .into_iter()
            .take(usize::try_from(first).unwrap_or(50))
            .map(|e| AuditEdge {
                cursor: seq_cursor(e.seq),
                node: e.into(),
            })
            .collect();
        Ok(AuditConnection {
            page_info: PageInfo {
                has_next_page: has_next,
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total_count: count(usize::try_from(total).unwrap_or(usize::MAX)),
        })
    }
}

#[derive(Default)]
pub struct AuditSubscription;

#[Subscription]
impl AuditSubscription {
    /// Every new audit entry as it is written (ADMIN): the live Events view.
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = AuditEntry> + use<>, ApiError> {
        let actor = require_user(ctx)?;
        authz::require(actor, Action::ReadAuditLog)?;
        let services = Arc::new(authorized_services(ctx)?);
        Ok(services.bus.stream().filter_map(move |event| {
            let services = services.clone();
            async move {
                let Event::Audit { entry_id } = &*event else {
                    return None;
                };
                services
                    .audit
                    .get(entry_id)
                    .await
                    .ok()
                    .flatten()
                    .map(Into::into)
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_cursors() {
        let args = serde_json::json!({ "id": "c1", "input": { "name": "web" } });
        assert_eq!(target_of(&args).as_deref(), Some("id c1"));
        let args = serde_json::json!({ "input": { "name": "web" } });
        assert_eq!(target_of(&args).as_deref(), Some("name web"));
        assert_eq!(parse_seq_cursor(&seq_cursor(42)).ok(), Some(42));
        assert!(parse_seq_cursor("junk").is_err());
    }
}
