//! The lease loop: every server tries to take or renew the leader lease every `renew_every`; the one that has
//! it leads until `lease` after its last renewal was sent. A leader whose renewals fail (database cut off) or
//! that was paused past its lease steps down by itself as soon as its local deadline passes, before it asks the
//! database again, so it never acts on a lease another server may have taken.

use super::LeaseState;
use crate::service::cluster::ClusterService;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// `BERTH_LEASE_SECS` (default 5 s, [`crate::config::Settings::lease`]): how long a lease holds after a renewal;
/// renewals every quarter of that.
#[derive(Clone, Copy, Debug)]
pub struct LeaseSettings {
    pub lease: Duration,
    pub renew_every: Duration,
}

impl LeaseSettings {
    pub fn with_lease(lease: Duration) -> Self {
        Self {
            lease,
            renew_every: lease / 4,
        }
    }

    /// The part of the lease this server does not count on: a renewal's answer may arrive late, and the
    /// database's clock and ours may run at slightly different rates.
    fn margin(&self) -> Duration {
        (self.lease / 10).max(Duration::from_millis(200))
    }
}

/// What this server leads: `Some(term)` while it holds the lease, `None` otherwise.
pub type Terms = watch::Receiver<Option<u64>>;

/// Starts the lease loop for server `me` (its address is kept with the lease for operators to see).
pub fn spawn(
    cluster: ClusterService,
    me: String,
    address: String,
    settings: LeaseSettings,
    state: Arc<LeaseState>,
) -> (JoinHandle<()>, Terms) {
    let (tx, rx) = watch::channel(None);
    let task = tokio::spawn(async move {
        loop {
            // First the local deadline: after a pause (SIGSTOP, a stalled VM) this runs before anything else
            // could ask the database, and a lease that may have passed to another server is given up.
            if state.token() != 0 && !state.leading() {
                tracing::warn!(
                    term = state.token(),
                    "the leader lease ran out before it was renewed: stepping down"
                );
                state.lost();
                let _ = tx.send(None);
            }
            let asked = Instant::now();
            let answer = tokio::time::timeout(
                settings.lease / 2,
                cluster.take_lease(&me, &address, settings.lease),
            )
            .await;
            match answer {
                Ok(Ok(Some(token))) => {
                    let token = u64::try_from(token).unwrap_or(0);
                    let until = asked + settings.lease - settings.margin();
                    let was = *tx.borrow();
                    if was != Some(token) && state.token() != 0 && state.token() != token {
                        state.lost();
                        let _ = tx.send(None);
                    }
                    state.held(token, until);
                    if was != Some(token) {
                        tracing::info!(term = token, "this server leads now");
                        crate::metrics::METRICS
                            .leader_terms
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let _ = tx.send(Some(token));
                    }
                }
                Ok(Ok(None)) => {
                    if tx.borrow().is_some() {
                        tracing::warn!("another server holds the leader lease: stepping down");
                        state.lost();
                        let _ = tx.send(None);
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "the leader lease could not be taken or renewed");
                }
                Err(_) => {
                    tracing::warn!("the database did not answer the leader lease in time");
                }
            }
            tokio::time::sleep(settings.renew_every).await;
        }
    });
    (task, rx)
}
