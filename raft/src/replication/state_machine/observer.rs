//! [`NodeObserver`]: who is told, as part of applying, that a node joined or
//! was removed — so a node's TLS peer policy changes in the same step that
//! changes the registry, never later.

use std::fmt::Debug;

use crate::registry::{Registry, Response};
use crate::replication::error::StoreError;
use crate::replication::types::{NodeId, Outcome};

/// Told of node admissions and removals by the state machine, synchronously:
/// after the batch that holds them is committed to the registry and before
/// the apply returns to Raft. After a snapshot install it is told of every
/// admitted and every removed node the new registry holds.
///
/// Calls are made while the registry is locked: implementations must be
/// quick and must not read the registry.
pub trait NodeObserver: Debug + Send + Sync + 'static {
    /// `node_id` was admitted with a join token.
    fn admitted(&self, node_id: NodeId);
    /// `node_id` was removed: it is on the revocation list from now on.
    fn removed(&self, node_id: NodeId);
}

/// Tells `observer` of the admissions and removals among `outcomes`.
pub(crate) fn tell_applied(observer: &dyn NodeObserver, outcomes: &[Outcome]) {
    for outcome in outcomes {
        match outcome {
            Outcome::Applied(Response::JoinTokenRedeemed { node_id, .. }) => {
                observer.admitted(*node_id)
            }
            Outcome::Applied(Response::NodeRemoved { node_id }) => observer.removed(*node_id),
            _ => {}
        }
    }
}

/// Tells `observer` of every admitted node, then every removed node, that
/// `registry` holds (after a snapshot replaced it).
pub(crate) fn tell_all(observer: &dyn NodeObserver, registry: &Registry) -> Result<(), StoreError> {
    for node in registry.joined_nodes()? {
        observer.admitted(node.id);
    }
    for node in registry.revoked_nodes()? {
        observer.removed(node.id);
    }
    Ok(())
}
