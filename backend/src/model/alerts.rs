//! Alert domain types the bus carries; `service::alerts` re-exports them.

/// Why an alert changed, for `alertChanges`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AlertChange {
    Opened,
    Acknowledged,
    Resolved,
}
