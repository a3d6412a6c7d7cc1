//! Several Berth servers on one PostgreSQL. Exactly one leads at a time and runs the work that must run once
//! (host monitors, the reconciler, the registry refresher, sampling, alerting, update checks); every server
//! serves the API, the web app and subscriptions. Parts: `lease` (who leads: a lease row with a fencing token,
//! renewed well before it ends), `commands` (a follower hands reconciler and monitor commands to the leader
//! through command rows and NOTIFY, and waits for the answer), `relay` (every server's events reach every
//! other server's subscribers through LISTEN/NOTIFY, in order). [`Fence`] is what the leader's engine actions
//! check: a server whose lease may have ended (paused, cut off from the database) does nothing more.
//! On SQLite one server runs (the database file is locked) and it always leads.

pub mod commands;
pub mod lease;
pub mod relay;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// This server's view of its lease: the term (fencing token) it holds, 0 for none, and until when (on the
/// monotonic clock, which also runs while the process is stopped) it may act on it.
#[derive(Debug)]
pub struct LeaseState {
    origin: Instant,
    token: AtomicU64,
    /// Milliseconds after `origin`.
    valid_until: AtomicU64,
}

impl Default for LeaseState {
    fn default() -> Self {
        Self::new()
    }
}

impl LeaseState {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            token: AtomicU64::new(0),
            valid_until: AtomicU64::new(0),
        }
    }

    /// A server that leads for good (SQLite: no other server can run).
    pub fn sole_leader() -> Arc<Self> {
        let state = Self::new();
        state.token.store(1, Ordering::Release);
        state.valid_until.store(u64::MAX, Ordering::Release);
        Arc::new(state)
    }

    fn millis(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_millis()).unwrap_or(u64::MAX)
    }

    /// The lease of term `token` holds until `until`.
    pub fn held(&self, token: u64, until: Instant) {
        self.valid_until.store(0, Ordering::Release);
        self.token.store(token, Ordering::Release);
        self.valid_until
            .store(self.millis(until), Ordering::Release);
    }

    /// This server no longer leads.
    pub fn lost(&self) {
        self.valid_until.store(0, Ordering::Release);
        self.token.store(0, Ordering::Release);
    }

    /// The term held now (0: none), whether or not its time ran out.
    pub fn token(&self) -> u64 {
        self.token.load(Ordering::Acquire)
    }

    /// Whether term `token` is held and its time has not run out.
    pub fn holds(&self, token: u64) -> bool {
        token != 0
            && self.token.load(Ordering::Acquire) == token
            && self.millis(Instant::now()) < self.valid_until.load(Ordering::Acquire)
    }

    /// Whether this server leads now.
    pub fn leading(&self) -> bool {
        self.holds(self.token())
    }

    /// How long the lease still holds (zero when not leading).
    pub fn remaining(&self) -> Duration {
        let until = self.valid_until.load(Ordering::Acquire);
        Duration::from_millis(until.saturating_sub(self.millis(Instant::now())))
    }
}

/// The leader's permission to act, for one term: every engine action of the leader's work checks it first.
#[derive(Clone, Debug)]
pub struct Fence {
    term: u64,
    state: Arc<LeaseState>,
}

impl Fence {
    pub fn new(term: u64, state: Arc<LeaseState>) -> Self {
        Self { term, state }
    }

    /// Ok while the term's lease holds; otherwise what to say instead of acting.
    pub fn check(&self) -> Result<(), String> {
        if self.state.holds(self.term) {
            Ok(())
        } else {
            crate::metrics::METRICS.fenced_action();
            Err(format!(
                "this server's leadership (term {}) has ended: another server acts now",
                self.term
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_holds_only_for_its_term_and_until_the_lease_ends() {
        let state = Arc::new(LeaseState::new());
        let fence = Fence::new(3, state.clone());
        assert!(fence.check().is_err(), "no lease yet");
        state.held(3, Instant::now() + Duration::from_secs(60));
        assert!(fence.check().is_ok());
        assert!(state.leading());
        state.held(4, Instant::now() + Duration::from_secs(60));
        assert!(
            fence.check().is_err(),
            "a later term does not let term 3 act"
        );
        state.held(3, Instant::now());
        assert!(fence.check().is_err(), "its time ran out");
        assert!(!state.leading());
        state.held(3, Instant::now() + Duration::from_secs(60));
        state.lost();
        assert!(fence.check().is_err());
        assert_eq!(state.remaining(), Duration::ZERO);
    }

    #[test]
    fn the_sole_leader_always_holds() {
        let state = LeaseState::sole_leader();
        assert!(Fence::new(1, state.clone()).check().is_ok());
        assert!(state.leading());
    }
}
