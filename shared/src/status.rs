//! Status enums both sides show: a host's status as the API names it, with a short human label.

use std::fmt;
use std::str::FromStr;

/// A Docker host's status (contract `HostStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HostStatus {
    /// The engine answers.
    Up,
    /// Docker support is on but the engine does not answer.
    NonResponsive,
    /// Docker support is off: kept on record, not monitored.
    Down,
    /// Set by a user: still monitored, never scheduled on.
    Maintenance,
    /// Reserved for installing Docker on a host.
    Installing,
    /// Not checked yet.
    Unknown,
}

impl HostStatus {
    pub const ALL: [HostStatus; 6] = [
        HostStatus::Up,
        HostStatus::NonResponsive,
        HostStatus::Down,
        HostStatus::Maintenance,
        HostStatus::Installing,
        HostStatus::Unknown,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            HostStatus::Up => "UP",
            HostStatus::NonResponsive => "NON_RESPONSIVE",
            HostStatus::Down => "DOWN",
            HostStatus::Maintenance => "MAINTENANCE",
            HostStatus::Installing => "INSTALLING",
            HostStatus::Unknown => "UNKNOWN",
        }
    }

    /// A short label for people.
    pub const fn label(self) -> &'static str {
        match self {
            HostStatus::Up => "Up",
            HostStatus::NonResponsive => "Not responding",
            HostStatus::Down => "Docker off",
            HostStatus::Maintenance => "Maintenance",
            HostStatus::Installing => "Installing",
            HostStatus::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for HostStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown host status \"{0}\"")]
pub struct UnknownHostStatus(pub String);

impl FromStr for HostStatus {
    type Err = UnknownHostStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HostStatus::ALL
            .into_iter()
            .find(|h| h.as_str() == s)
            .ok_or_else(|| UnknownHostStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_status() {
        for s in HostStatus::ALL {
            assert_eq!(s.as_str().parse::<HostStatus>().unwrap(), s);
        }
        assert!("up".parse::<HostStatus>().is_err());
    }
}
