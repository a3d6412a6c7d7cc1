//! Who may do what: every operation that changes something (and reading the audit log), with the least role
//! allowed to do it. Services
//! check it first thing, before looking anything up, so a refused call learns nothing and changes nothing.

use crate::service::ServiceError;
use crate::service::auth::User;
use berth_shared::Role;

/// An operation that changes something (one per mutation of the API, plus internal ones), or reads what only
/// admins may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    // Anyone logged in, on their own account.
    ManageOwnTokens,
    ChangeOwnPassword,
    // Operators: containers, pulls, refreshes.
    EditContainers,
    RunContainers,
    ExecInContainers,
    PullImages,
    RefreshRegistries,
    RefreshHosts,
    AcknowledgeAlerts,
    // Admins: users, the audit log, hosts, registries, disks, images, passthrough.
    ManageUsers,
    ReadAuditLog,
    ManageHosts,
    ManageRegistries,
    ManageDisks,
    RemoveImages,
    RemoveDockerContainers,
    Passthrough,
    ManageAlerts,
}

impl Action {
    /// The least role allowed to do it.
    pub const fn least_role(self) -> Role {
        match self {
            Action::ManageOwnTokens | Action::ChangeOwnPassword => Role::Viewer,
            Action::EditContainers
            | Action::RunContainers
            | Action::ExecInContainers
            | Action::PullImages
            | Action::RefreshRegistries
            | Action::RefreshHosts
            | Action::AcknowledgeAlerts => Role::Operator,
            Action::ManageUsers
            | Action::ReadAuditLog
            | Action::ManageHosts
            | Action::ManageRegistries
            | Action::ManageDisks
            | Action::RemoveImages
            | Action::RemoveDockerContainers
            | Action::Passthrough
            | Action::ManageAlerts => Role::Admin,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Action::ManageOwnTokens => "manage API tokens",
            Action::ChangeOwnPassword => "change a password",
            Action::EditContainers => "create, edit or delete containers",
            Action::RunContainers => "run, stop, restart, kill or scale containers",
            Action::ExecInContainers => "run commands in containers",
            Action::PullImages => "pull images",
            Action::RefreshRegistries => "refresh registries",
            Action::RefreshHosts => "refresh hosts",
            Action::ManageUsers => "manage users",
            Action::ReadAuditLog => "read the audit log",
            Action::ManageHosts => "manage hosts",
            Action::ManageRegistries => "manage registries",
            Action::ManageDisks => "manage disks",
            Action::RemoveImages => "remove images from hosts",
            Action::RemoveDockerContainers => "remove Docker containers",
            Action::Passthrough => "use the Docker passthrough",
            Action::AcknowledgeAlerts => "acknowledge alerts",
            Action::ManageAlerts => "manage alert channels, rules and silences",
        }
    }
}

fn rank(role: Role) -> u8 {
    match role {
        Role::Viewer => 0,
        Role::Operator => 1,
        Role::Admin => 2,
    }
}

/// `FORBIDDEN` unless `actor`'s role allows `action` (and the account is active).
pub fn require(actor: &User, action: Action) -> Result<(), ServiceError> {
    if actor.disabled {
        return Err(ServiceError::Forbidden(format!(
            "user {} is disabled",
            actor.username
        )));
    }
    if rank(actor.role) >= rank(action.least_role()) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(format!(
            "{} ({}) may not {}: it needs the {} role",
            actor.username,
            actor.role.as_str(),
            action.describe(),
            action.least_role().as_str()
        )))
    }
}

/// Berth itself, for work no user asked for (registering the local host, the reconciler's pulls).
pub fn system() -> User {
    User {
        id: "system".into(),
        username: "berth".into(),
        role: Role::Admin,
        disabled: false,
        created_at: chrono::DateTime::UNIX_EPOCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role) -> User {
        User {
            role,
            username: "u".into(),
            ..system()
        }
    }

    #[test]
    fn roles_are_ordered() {
        assert!(require(&user(Role::Viewer), Action::ChangeOwnPassword).is_ok());
        assert!(require(&user(Role::Viewer), Action::RunContainers).is_err());
        assert!(require(&user(Role::Operator), Action::RunContainers).is_ok());
        assert!(require(&user(Role::Operator), Action::ManageHosts).is_err());
        assert!(require(&user(Role::Admin), Action::Passthrough).is_ok());
        let mut disabled = user(Role::Admin);
        disabled.disabled = true;
        assert!(require(&disabled, Action::ManageOwnTokens).is_err());
        let e = require(&user(Role::Viewer), Action::ReadAuditLog).err();
        assert!(
            matches!(e, Some(ServiceError::Forbidden(m)) if m.contains("may not read the audit log"))
        );
        let e = require(&user(Role::Viewer), Action::ManageHosts).err();
        assert!(
            matches!(e, Some(ServiceError::Forbidden(m)) if m.contains("needs the ADMIN role"))
        );
    }
}
