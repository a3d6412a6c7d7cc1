//! Background work: host monitors (events + health), the scheduler, the reconciler (sole writer of instance
//! status), the registry refresher, the stats sampler, alerting (evaluator, deliverer, load watch) and the image
//! update watcher.

pub mod alerting;
pub mod monitor;
pub mod reconciler;
pub mod refresher;
pub mod sampler;
pub mod scheduler;
pub mod updates;
