//! The periodic registry refresher: every registry with a refresh interval is refreshed when its interval
//! (plus up to 10 % jitter, so registries added together spread out) has passed since its last refresh.
//! An interval of 0 means on demand only. A registry left REFRESHING by a stopped server is refreshed again.

use crate::service::registries::{RegistryService, RegistryStatus};
use chrono::{DateTime, Utc};
use rand::Rng as _;
use std::collections::HashMap;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often the refresher looks at the registries.
const TICK: Duration = Duration::from_secs(1);

/// Starts the refresher task.
pub fn spawn(registries: RegistryService) -> JoinHandle<()> {
    tokio::spawn(async move {
        // Per registry: the refresh time the jitter was drawn for, and the jitter.
        let mut jitter: HashMap<String, (Option<DateTime<Utc>>, Duration)> = HashMap::new();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let list = match registries.list().await {
                Ok(list) => list,
                Err(e) => {
                    tracing::warn!(error = %e, "the registry refresher cannot list registries");
                    continue;
                }
            };
            jitter.retain(|id, _| list.iter().any(|r| &r.id == id));
            let now = Utc::now();
            for registry in list {
                if registries.is_refreshing(&registry.id) {
                    continue;
                }
                let stale = registry.status == RegistryStatus::Refreshing;
                let due = match u64::try_from(registry.refresh_interval_seconds) {
                    Ok(secs) if secs > 0 => {
                        let interval = Duration::from_secs(secs);
                        let entry = jitter
                            .entry(registry.id.clone())
                            .or_insert((None, Duration::ZERO));
                        if entry.0 != registry.last_refreshed_at || entry.1.is_zero() {
                            let max_ms =
                                u64::try_from(interval.as_millis() / 10).unwrap_or(u64::MAX);
                            let ms = rand::thread_rng().gen_range(0..=max_ms);
                            *entry = (registry.last_refreshed_at, Duration::from_millis(ms.max(1)));
                        }
                        let since = registry.last_refreshed_at.unwrap_or(registry.created_at);
                        let wait = chrono::Duration::from_std(interval + entry.1)
                            .unwrap_or(chrono::Duration::MAX);
                        now >= since + wait
                    }
                    _ => false,
                };
                if (due || stale)
                    && let Err(e) = registries.start_refresh(&registry.id).await
                {
                    tracing::warn!(registry = %registry.name, error = %e, "starting a periodic refresh failed");
                }
            }
        }
    })
}
