//! [`PeerContact`]: when each peer last answered one of this node's Raft
//! RPCs. On the leader, which sends every peer a heartbeat, it says which
//! members are up; `nexus status` and `node ls` show it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nexus_raft::replication::NodeId;

/// Last answer from each peer, shared by every [`PeerLink`](crate::network::PeerLink)
/// of a node. One entry per peer ever contacted (bounded by the
/// membership's history; [`PeerContact::retain`] drops former members).
#[derive(Clone, Debug)]
pub struct PeerContact {
    last: Arc<Mutex<HashMap<NodeId, Instant>>>,
    down_after: Duration,
}

/// Whether a member is answering, as this node sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// Answered within the down-after window (or is this node).
    Up,
    /// Has not answered for longer than the window.
    Down,
    /// This node does not send it RPCs (it is not the leader), so it
    /// cannot tell; the leader can.
    Unknown,
}

impl Health {
    /// `up`, `down` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Up => "up",
            Health::Down => "down",
            Health::Unknown => "unknown",
        }
    }
}

impl PeerContact {
    /// A peer that has not answered for `down_after` counts as down.
    pub fn new(down_after: Duration) -> PeerContact {
        PeerContact {
            last: Arc::default(),
            down_after,
        }
    }

    /// How long a peer may stay silent and still count as up.
    pub fn down_after(&self) -> Duration {
        self.down_after
    }

    /// Records an answer from `peer` now.
    pub fn heard(&self, peer: NodeId) {
        self.lock().insert(peer, Instant::now());
    }

    /// How long ago `peer` last answered, if ever.
    pub fn since(&self, peer: NodeId) -> Option<Duration> {
        self.lock().get(&peer).map(Instant::elapsed)
    }

    /// `peer`'s health as a node that is (`leading`) or is not the leader
    /// sees it.
    pub fn health(&self, peer: NodeId, leading: bool) -> Health {
        if !leading {
            return Health::Unknown;
        }
        match self.since(peer) {
            Some(ago) if ago <= self.down_after => Health::Up,
            _ => Health::Down,
        }
    }

    /// Keeps only the peers `keep` accepts (the current members).
    pub fn retain(&self, keep: impl Fn(NodeId) -> bool) {
        self.lock().retain(|id, _| keep(*id));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<NodeId, Instant>> {
        self.last.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_is_up_while_it_answers_and_unknown_off_the_leader() {
        let contact = PeerContact::new(Duration::from_secs(3600));
        assert_eq!(contact.health(2, true), Health::Down, "never heard");
        contact.heard(2);
        assert_eq!(contact.health(2, true), Health::Up);
        assert_eq!(contact.health(2, false), Health::Unknown);
        let strict = PeerContact::new(Duration::ZERO);
        strict.heard(3);
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(
            strict.health(3, true),
            Health::Down,
            "answered too long ago"
        );
        contact.retain(|id| id != 2);
        assert_eq!(contact.since(2), None);
    }
}
