//! Background work: host monitors (events + health), the scheduler, the reconciler (sole writer of instance
//! status), the registry refresher, the stats sampler and alerting (evaluator and deliverer).

pub mod alerting;
pub mod monitor;
pub mod reconciler;
pub mod refresher;
pub mod sampler;
pub mod scheduler;
