//! The top bar's count of open alerts, kept current from `alertChanges`.

use leptos::{prelude::*, task::spawn_local};

use crate::api::Live;
use crate::api::alerts::{open_alert_count, watch_alert_changes};

/// The number of open alerts, kept by the shell for the top bar (`None` until known).
#[derive(Clone, Copy)]
pub struct OpenAlertCount(pub RwSignal<Option<i64>>);

/// Asks for `openAlertCount`, then follows `alertChanges.openCount` for as long as the current component (the
/// shell) lives; asks again after every (re)connection, since changes are not replayed. Provides the count as
/// [`OpenAlertCount`] too.
pub fn watch_open_alert_count() -> RwSignal<Option<i64>> {
    let count = RwSignal::new(None::<i64>);
    provide_context(OpenAlertCount(count));
    // Changes seen so far: an answer to a question asked before the latest change is stale.
    let seen = StoredValue::new(0_u64);
    let fetch = move || {
        let Some(asked_at) = seen.try_get_value() else {
            return;
        };
        spawn_local(async move {
            if let Ok(n) = open_alert_count().await
                && seen.try_get_value() == Some(asked_at)
            {
                count.try_set(Some(n));
            }
        });
    };
    fetch();
    watch_alert_changes(move |event| match event {
        Live::Event(change) => {
            seen.update_value(|n| *n = n.wrapping_add(1));
            count.set(Some(change.open_count));
        }
        Live::Connected { .. } => fetch(),
        _ => {}
    });
    count
}
