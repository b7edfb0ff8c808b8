//! [`PeerHealth`]: what this node's outgoing Raft RPCs say about its peers.
//!
//! - Failures are logged at most once per peer per [`LOG_INTERVAL`], with
//!   the number of failures since the last line, so a dead or hostile peer
//!   cannot flood the log.
//! - A peer that refuses this node's certificate (a TLS alert from its
//!   verifier, or `PERMISSION_DENIED` from its per-request check) counts as
//!   a refusal. Refusals that go on for [`REFUSED_FOR`] — at least
//!   [`REFUSALS`] of them, with no RPC succeeding in between — mean the
//!   cluster removed this node; [`PeerHealth::refused`] then turns true.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nexus_raft::replication::NodeId;
use tokio::sync::watch;
use tracing::warn;

/// At most one log line per peer per interval.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);
/// How long refusals must go on, unbroken by a success, to mean removal.
pub const REFUSED_FOR: Duration = Duration::from_secs(3);
/// How many refusals that takes at least.
pub const REFUSALS: u32 = 5;
/// Peers tracked for log rate limiting (the table is cleared when full).
const MAX_TRACKED_PEERS: usize = 1024;

/// Texts that mark a failure as the peer refusing this node's certificate:
/// the alerts its TLS verifier sends, and its per-request check.
const REFUSAL_MARKS: [&str; 4] = [
    "received fatal alert: CertificateUnknown",
    "received fatal alert: CertificateRevoked",
    "received fatal alert: AccessDenied",
    "is not a member of this cluster or was removed",
];

/// Whether the error text `chain` says the peer refused this node.
pub fn is_refusal(chain: &str) -> bool {
    REFUSAL_MARKS.iter().any(|mark| chain.contains(mark))
}

/// Per-peer failure log state and the refusal run; see the module docs.
#[derive(Debug)]
pub struct PeerHealth {
    state: Mutex<State>,
    refused: watch::Sender<bool>,
}

#[derive(Debug, Default)]
struct State {
    peers: HashMap<NodeId, PeerLog>,
    /// When the current run of refusals began, and its length.
    run: Option<(Instant, u32)>,
}

#[derive(Debug, Default)]
struct PeerLog {
    last_line: Option<Instant>,
    unlogged: u64,
}

impl Default for PeerHealth {
    fn default() -> Self {
        PeerHealth {
            state: Mutex::default(),
            refused: watch::Sender::new(false),
        }
    }
}

impl PeerHealth {
    /// Turns true (for good) once peers have refused this node long enough.
    pub fn refused(&self) -> watch::Receiver<bool> {
        self.refused.subscribe()
    }

    /// An RPC to `peer` succeeded: any run of refusals is over.
    pub fn succeeded(&self, _peer: NodeId) {
        self.lock().run = None;
    }

    /// An RPC to `peer` failed with `error` (its whole source chain).
    pub fn failed(&self, peer: NodeId, error: &str) {
        let refusal = is_refusal(error);
        let now = Instant::now();
        let mut state = self.lock();
        if refusal {
            let (since, count) = state.run.unwrap_or((now, 0));
            let count = count.saturating_add(1);
            state.run = Some((since, count));
            if count >= REFUSALS && now.duration_since(since) >= REFUSED_FOR {
                self.refused.send_replace(true);
            }
        }
        if state.peers.len() >= MAX_TRACKED_PEERS && !state.peers.contains_key(&peer) {
            state.peers.clear();
        }
        let log = state.peers.entry(peer).or_default();
        log.unlogged = log.unlogged.saturating_add(1);
        let due = log
            .last_line
            .is_none_or(|last| now.duration_since(last) >= LOG_INTERVAL);
        if due {
            warn!(
                peer,
                failures = log.unlogged,
                refused_this_node = refusal,
                error,
                "raft RPCs to a peer fail (one line per peer every {LOG_INTERVAL:?})"
            );
            log.last_line = Some(now);
            log.unlogged = 0;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALERT: &str = "transport error: received fatal alert: CertificateUnknown";

    #[test]
    fn only_certificate_refusals_count() {
        assert!(is_refusal(ALERT));
        assert!(is_refusal(
            "PermissionDenied: node 3 is not a member of this cluster or was removed"
        ));
        assert!(!is_refusal("Unavailable: connection refused"));
    }

    #[test]
    fn refusals_must_last_and_a_success_ends_the_run() {
        let health = PeerHealth::default();
        let refused = health.refused();
        for _ in 0..REFUSALS * 2 {
            health.failed(1, ALERT);
        }
        assert!(!*refused.borrow(), "many refusals at once are not enough");
        {
            let mut state = health.lock();
            let (_, count) = state.run.unwrap();
            state.run = Some((Instant::now() - REFUSED_FOR, count));
        }
        health.succeeded(2);
        health.failed(1, ALERT);
        assert!(!*refused.borrow(), "a success started a new run");
        {
            let mut state = health.lock();
            state.run = Some((Instant::now() - REFUSED_FOR, REFUSALS));
        }
        health.failed(2, ALERT);
        assert!(*refused.borrow());
    }

    #[test]
    fn failures_are_counted_between_log_lines() {
        let health = PeerHealth::default();
        for _ in 0..100 {
            health.failed(7, "Unavailable: connection refused");
        }
        let state = health.lock();
        let log = &state.peers[&7];
        assert_eq!(
            log.unlogged, 99,
            "one line, 99 failures waiting for the next"
        );
    }
}
