//! Background work: host monitors (events + health). Later: the scheduler, the reconciler and the registry
//! refresher.

pub mod monitor;
pub mod refresher;
