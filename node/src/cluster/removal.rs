//! How a node learns that the cluster removed it, and the TLS peer policy
//! that follows the registry's node records as they are applied.
//!
//! [`Trust`] is the state machine's [`NodeObserver`]: an applied `Redeem`
//! lets the joiner through this node's verifiers, an applied `RemoveNode`
//! shuts the removed node out — in the same step that applies it, before
//! Raft reports the entry applied. When the removed node is this one, the
//! node stops (see [`removed`]).
//!
//! A removed node may never apply its own removal (the cluster can stop
//! replicating to it first), so it also stops when its committed membership
//! no longer holds it after having held it (ids are never reused), or when
//! its peers keep refusing its certificate ([`PeerHealth`]).

use std::sync::Arc;
use std::time::Duration;

use nexus_raft::replication::{NodeId, NodeObserver, Raft};
use nexus_raft::{Registry, RegistryError};
use nexus_tls::StaticPolicy;
use nexus_transport::PeerHealth;
use tokio::sync::watch;
use tracing::{info, warn};

/// The exit code of a node that stopped because the cluster removed it.
pub const REMOVED_EXIT_CODE: i32 = 3;
/// How long a node that applied its own removal waits for the cluster to
/// take it out of the voters (a leader hands over) before it stops anyway.
const HAND_OVER_GRACE: Duration = Duration::from_secs(5);

/// How the node learned it was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// It applied the `RemoveNode` of its own id.
    Applied,
    /// Its committed membership no longer holds it.
    LeftMembership,
    /// Its peers kept refusing its certificate.
    RefusedByPeers,
}

impl Removal {
    /// The reason, for the log.
    pub fn reason(self) -> &'static str {
        match self {
            Removal::Applied => "it applied its own removal",
            Removal::LeftMembership => "the committed membership no longer holds it",
            Removal::RefusedByPeers => "its peers keep refusing its certificate",
        }
    }
}

/// Keeps the TLS peer policy in step with the node records the state
/// machine applies, and notices this node's own removal.
#[derive(Debug)]
pub struct Trust {
    node_id: NodeId,
    policy: Arc<StaticPolicy>,
    removed: watch::Sender<Option<Removal>>,
}

impl Trust {
    /// The observer of node `node_id`, updating `policy`.
    pub fn new(node_id: NodeId, policy: Arc<StaticPolicy>) -> Arc<Trust> {
        Arc::new(Trust {
            node_id,
            policy,
            removed: watch::Sender::new(None),
        })
    }

    /// Applies the records `registry` holds already (at start, before the
    /// peer port serves).
    pub fn seed(&self, registry: &Registry) -> Result<(), RegistryError> {
        for node in registry.joined_nodes()? {
            self.admitted(node.id);
        }
        for node in registry.revoked_nodes()? {
            self.removed(node.id);
        }
        Ok(())
    }

    /// Records how this node learned of its removal (the first way wins).
    pub fn report(&self, removal: Removal) {
        self.removed.send_if_modified(|seen| {
            if seen.is_some() {
                return false;
            }
            *seen = Some(removal);
            true
        });
    }
}

impl NodeObserver for Trust {
    fn admitted(&self, node_id: NodeId) {
        self.policy.allow(node_id);
    }

    fn removed(&self, node_id: NodeId) {
        if self.policy.revoke(node_id) {
            info!(
                node_id,
                "node removed: its certificate is refused from now on"
            );
        }
        if node_id == self.node_id {
            self.report(Removal::Applied);
        }
    }
}

/// Resolves once this node learns it was removed, by whichever way comes
/// first. After applying its own removal it first waits (at most
/// [`HAND_OVER_GRACE`]) until it is no longer a voter, so a removed leader
/// hands over before it stops.
pub async fn removed(
    node_id: NodeId,
    raft: Raft,
    trust: Arc<Trust>,
    health: Arc<PeerHealth>,
) -> Removal {
    let mut reported = trust.removed.subscribe();
    let mut refused = health.refused();
    let mut metrics = raft.metrics();
    let mut was_member = false;
    let removal = loop {
        if let Some(removal) = *reported.borrow_and_update() {
            break removal;
        }
        if *refused.borrow_and_update() {
            break Removal::RefusedByPeers;
        }
        {
            let m = metrics.borrow_and_update();
            let membership = &m.membership_config;
            let member = membership
                .membership()
                .nodes()
                .any(|(id, _)| *id == node_id);
            let committed = membership.log_id().map(|l| l.index) <= m.last_applied.map(|l| l.index);
            if member {
                was_member = true;
            } else if was_member && committed {
                break Removal::LeftMembership;
            }
        }
        // `trust` and `health` (held here) keep their senders alive; once
        // Raft stops, its metrics never change again.
        tokio::select! {
            _ = reported.changed() => {}
            _ = refused.changed() => {}
            changed = metrics.changed() => {
                if changed.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    };
    if removal == Removal::Applied {
        let handed_over = raft
            .wait(Some(HAND_OVER_GRACE))
            .metrics(
                |m| {
                    let membership = &m.membership_config;
                    let voter = membership.membership().voter_ids().any(|id| id == node_id);
                    let applied = m.last_applied.map(|l| l.index);
                    !voter && membership.log_id().map(|l| l.index) <= applied
                },
                "this node is no longer a voter",
            )
            .await;
        if handed_over.is_err() {
            warn!(
                node_id,
                "still a voter {HAND_OVER_GRACE:?} after its removal; stopping anyway"
            );
        }
    }
    removal
}
