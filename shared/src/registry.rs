//! A registry's kind and where its listing stands, as the API names them, with short labels for people.

use std::fmt;
use std::str::FromStr;

use crate::container::UnknownValue;

wire_enum!(
    /// Which protocol a registry speaks: the distribution API (v2), or Docker Hub's (its own listing API).
    RegistryKind, "unknown registry kind", {
        V2 => "V2", "Registry v2";
        DockerHub => "DOCKER_HUB", "Docker Hub";
    }
);

#[expect(
    clippy::derivable_impls,
    reason = "the enum comes from wire_enum!, which has no place for `#[default]`"
)]
impl Default for RegistryKind {
    fn default() -> Self {
        Self::V2
    }
}

wire_enum!(
    /// Where a registry's listing stands.
    RegistryStatus, "unknown registry status", {
        NeverRefreshed => "NEVER_REFRESHED", "Never refreshed";
        Refreshing => "REFRESHING", "Refreshing";
        Ok => "OK", "OK";
        Error => "ERROR", "Error";
    }
);
