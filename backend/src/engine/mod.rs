//! Background work: host monitors (events + health), the scheduler, the reconciler (sole writer of instance
//! status) and the registry refresher.

pub mod monitor;
pub mod reconciler;
pub mod refresher;
pub mod scheduler;
