//! Users and the audit log in the API: `users`, `createUser`, `updateUser`, `resetPassword`, `changePassword`,
//! `auditLog` and the live `auditEvents` feed.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiError, ConnectionData, Live, Page, Role, USER_FIELDS, User, execute_field, watch};

/// Every user, by name (ADMIN).
pub async fn users() -> Result<Vec<User>, ApiError> {
    execute_field(
        &format!("query Users {{ users {{ {USER_FIELDS} }} }}"),
        json!({}),
        "users",
    )
    .await
}

/// Creates a user (ADMIN); a taken name is `CONFLICT` on the field `username`.
pub async fn create_user(username: &str, password: &str, role: Role) -> Result<User, ApiError> {
    execute_field(
        &format!(
            "mutation CreateUser($username: String!, $password: String!, $role: Role!) {{ \
             createUser(username: $username, password: $password, role: $role) {{ {USER_FIELDS} }} }}"
        ),
        json!({ "username": username, "password": password, "role": role.as_str() }),
        "createUser",
    )
    .await
}

/// Changes a user's role or disables them (ADMIN); the last active admin cannot lose either (`CONFLICT`).
pub async fn update_user(
    id: &str,
    role: Option<Role>,
    disabled: Option<bool>,
) -> Result<User, ApiError> {
    execute_field(
        &format!(
            "mutation UpdateUser($id: ID!, $role: Role, $disabled: Boolean) {{ \
             updateUser(id: $id, role: $role, disabled: $disabled) {{ {USER_FIELDS} }} }}"
        ),
        json!({ "id": id, "role": role.map(Role::as_str), "disabled": disabled }),
        "updateUser",
    )
    .await
}

/// Sets another user's password (ADMIN).
pub async fn reset_password(id: &str, new_password: &str) -> Result<bool, ApiError> {
    execute_field(
        "mutation ResetPassword($id: ID!, $newPassword: String!) { \
         resetPassword(id: $id, newPassword: $newPassword) }",
        json!({ "id": id, "newPassword": new_password }),
        "resetPassword",
    )
    .await
}

/// Changes the signed-in user's password (ends their other sessions); a wrong current one is `BAD_USER_INPUT`
/// on `oldPassword`.
pub async fn change_password(old_password: &str, new_password: &str) -> Result<bool, ApiError> {
    execute_field(
        "mutation ChangePassword($oldPassword: String!, $newPassword: String!) { \
         changePassword(oldPassword: $oldPassword, newPassword: $newPassword) }",
        json!({ "oldPassword": old_password, "newPassword": new_password }),
        "changePassword",
    )
    .await
}

/// One entry of the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    pub at: String,
    /// `None` for Berth's own actions.
    #[serde(default)]
    pub user: Option<String>,
    pub action: String,
    #[serde(default)]
    pub target: Option<String>,
    /// `OK` or the error code.
    pub result: String,
    #[serde(default)]
    pub detail: Option<String>,
}

/// Which entries to list; empty fields do not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AuditFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

impl AuditFilter {
    /// True when a live entry belongs in the list this filter shows (as the server would filter it: user and
    /// action exactly, target by part, time inclusive).
    pub fn admits(&self, entry: &AuditEntry) -> bool {
        let user_ok = self
            .user
            .as_ref()
            .is_none_or(|user| entry.user.as_deref() == Some(user.as_str()));
        let action_ok = self
            .action
            .as_ref()
            .is_none_or(|action| entry.action == *action);
        let target_ok = self.target.as_ref().is_none_or(|needle| {
            entry
                .target
                .as_deref()
                .is_some_and(|target| target.to_lowercase().contains(&needle.to_lowercase()))
        });
        let since_ok = self
            .since
            .as_ref()
            .is_none_or(|since| entry.at.as_str() >= since.as_str());
        let until_ok = self
            .until
            .as_ref()
            .is_none_or(|until| entry.at.as_str() <= until.as_str());
        user_ok && action_ok && target_ok && since_ok && until_ok
    }
}

const AUDIT_FIELDS: &str = "id at user action target result detail";

/// One page of the audit log (ADMIN), newest first, after the cursor `after`.
pub async fn audit_log(
    filter: &AuditFilter,
    first: i64,
    after: Option<&str>,
) -> Result<Page<AuditEntry>, ApiError> {
    let connection: ConnectionData<AuditEntry> = execute_field(
        &format!(
            "query AuditLog($filter: AuditFilter, $first: Int, $after: String) {{ \
             auditLog(filter: $filter, first: $first, after: $after) {{ \
             edges {{ cursor node {{ {AUDIT_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} totalCount }} }}"
        ),
        json!({ "filter": filter, "first": first, "after": after }),
        "auditLog",
    )
    .await?;
    Ok(connection.into())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuditEventData {
    audit_events: AuditEntry,
}

/// Every new audit entry (ADMIN), for as long as the current component lives.
pub fn watch_audit_events(on_event: impl Fn(Live<AuditEntry>) + 'static) {
    watch(
        &format!("subscription AuditEvents {{ auditEvents {{ {AUDIT_FIELDS} }} }}"),
        json!({}),
        |data: AuditEventData| data.audit_events,
        on_event,
    );
}
