//! User roles and the rule that decides whether a role may do something that needs another role.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a user may do. `Admin` ≥ `Operator` ≥ `Viewer`. Serialised as `"ADMIN"`, `"OPERATOR"`, `"VIEWER"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Everything, including users, hosts and registries.
    Admin,
    /// Run, stop and change containers; pull images.
    Operator,
    /// Read only.
    Viewer,
}

/// A string that is not one of the [`Role`] names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role \"{0}\"; expected ADMIN, OPERATOR or VIEWER")]
pub struct UnknownRole(pub String);

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 3] = [Role::Admin, Role::Operator, Role::Viewer];

    /// The wire name, e.g. `"OPERATOR"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::Operator => "OPERATOR",
            Role::Viewer => "VIEWER",
        }
    }

    /// Parses a role name, ignoring ASCII case (`"admin"` and `"ADMIN"` both work).
    pub fn parse(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }

    /// 2 for admin, 1 for operator, 0 for viewer.
    pub const fn rank(self) -> u8 {
        match self {
            Role::Admin => 2,
            Role::Operator => 1,
            Role::Viewer => 0,
        }
    }

    /// Whether a user with this role may do something that needs `needed`.
    pub const fn allows(self, needed: Role) -> bool {
        self.rank() >= needed.rank()
    }
}

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::parse(s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (role, name) in Role::ALL.into_iter().zip(["ADMIN", "OPERATOR", "VIEWER"]) {
            assert_eq!(role.as_str(), name);
            assert_eq!(role.to_string(), name);
            assert_eq!(name.parse::<Role>(), Ok(role));
            assert_eq!(Role::parse(&name.to_lowercase()), Ok(role));
        }
    }

    #[test]
    fn serde_names() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error as DeError, StrDeserializer};
        for role in Role::ALL {
            let de: StrDeserializer<'_, DeError> = role.as_str().into_deserializer();
            assert_eq!(Role::deserialize(de), Ok(role));
        }
    }

    #[test]
    fn rejects_unknown() {
        let err = Role::parse("root").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown role \"root\"; expected ADMIN, OPERATOR or VIEWER"
        );
        assert!("".parse::<Role>().is_err());
    }

    #[test]
    fn hierarchy() {
        assert!(Role::Admin.allows(Role::Admin));
        assert!(Role::Admin.allows(Role::Operator));
        assert!(Role::Admin.allows(Role::Viewer));
        assert!(!Role::Operator.allows(Role::Admin));
        assert!(Role::Operator.allows(Role::Operator));
        assert!(Role::Operator.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Admin));
        assert!(!Role::Viewer.allows(Role::Operator));
        assert!(Role::Viewer.allows(Role::Viewer));
    }
}
