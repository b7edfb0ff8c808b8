//! Which members renewed their home lease, as the leader heard them: a
//! node renews by asking the leader for a read barrier
//! (`PeerService.ReadIndex`), and the leader records when each request
//! that it answered as leader arrived. The node's failover reads it to
//! tell a home that is gone from one that is only quiet.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use nexus_raft::replication::NodeId;

/// The arrival time of each member's last renewal this node answered as
/// leader (one entry per member: bounded by the membership).
#[derive(Debug, Default)]
pub struct Liveness {
    heard: Mutex<HashMap<NodeId, Instant>>,
}

impl Liveness {
    /// Records that `node`'s renewal arrived at `at` and was answered.
    pub fn heard(&self, node: NodeId, at: Instant) {
        let mut heard = self.heard.lock().unwrap_or_else(|p| p.into_inner());
        let last = heard.entry(node).or_insert(at);
        if at > *last {
            *last = at;
        }
    }

    /// When `node`'s last answered renewal arrived, if one did.
    pub fn last_heard(&self, node: NodeId) -> Option<Instant> {
        self.heard
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&node)
            .copied()
    }

    /// Forgets the members not in `members` (removed nodes).
    pub fn retain(&self, members: &[NodeId]) {
        self.heard
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|node, _| members.contains(node));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_latest_renewal_is_kept_and_removed_members_go() {
        let liveness = Liveness::default();
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(5);
        liveness.heard(2, t1);
        liveness.heard(2, t0);
        liveness.heard(3, t0);
        assert_eq!(liveness.last_heard(2), Some(t1));
        assert_eq!(liveness.last_heard(4), None);
        liveness.retain(&[2]);
        assert_eq!(liveness.last_heard(3), None);
        assert_eq!(liveness.last_heard(2), Some(t1));
    }
}
