//! Two loops that keep the cluster's trust and membership in step with the
//! registry:
//!
//! - [`follow_trust`] (every node): lets the Raft members through this
//!   node's TLS verifiers; for admitted and revoked nodes it is only a
//!   backstop of [`Trust`], which the state machine tells as it applies.
//! - [`steward_membership`] (acts on the leader only): adds admitted joiners
//!   as learners, promotes caught-up voter-role learners while the cluster
//!   has fewer than [`MAX_VOTERS`] voters, takes revoked nodes out of
//!   the membership, and moves the members that advertise their mesh
//!   addresses (`[cluster] advertise = "mesh"`) to them. One change at a time, so changes are serialized, and
//!   whichever node leads picks up where the last leader stopped.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use nexus_raft::replication::NodeObserver;
use nexus_raft::replication::{NodeId, NodeInfo, Raft};
use nexus_raft::{JoinedNode, NodeRole};
use openraft::{ChangeMembers, ServerState};
use tracing::{info, warn};

use super::registry::RegistryHandle;
use super::removal::Trust;

/// The most voters a cluster gets; further voter-role nodes stay learners.
pub const MAX_VOTERS: usize = 5;
/// How often the steward looks again.
const TICK: Duration = Duration::from_millis(250);
/// How often the trust backstop re-applies the registry's records.
const BACKSTOP_TICK: Duration = Duration::from_secs(1);
/// A learner this many entries behind the leader counts as caught up.
const CAUGHT_UP_SLACK: u64 = 64;
/// How long one membership change may take before the steward retries.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the registry says about nodes: admitted joiners, revoked ids and
/// the addresses of the nodes that advertise their mesh address.
struct Records {
    joined: Vec<JoinedNode>,
    revoked: BTreeSet<NodeId>,
    on_mesh: BTreeMap<NodeId, NodeInfo>,
}

fn records(registry: &RegistryHandle) -> Option<Records> {
    let read = registry.read(|r| Ok((r.joined_nodes()?, r.revoked_nodes()?, r.mesh_peers()?)));
    match read {
        Ok((joined, revoked, mesh)) => Some(Records {
            joined,
            revoked: revoked.into_iter().map(|n| n.id).collect(),
            on_mesh: mesh
                .iter()
                .filter_map(|peer| {
                    let (raft_addr, api_addr, bulk_addr) = peer.advertised()?;
                    let info = NodeInfo {
                        raft_addr,
                        api_addr,
                        bulk_addr,
                        wg_pubkey: Some(peer.public_key.clone()),
                    };
                    Some((peer.node_id, info))
                })
                .collect(),
        }),
        Err(e) => {
            warn!(error = %e.message, "cannot read the node records");
            None
        }
    }
}

/// Backstop of [`Trust`]: lets the Raft members through this node's
/// verifiers and re-applies the registry's node records every
/// [`BACKSTOP_TICK`] until Raft stops. Admissions and removals reach the
/// policy when they are applied (the state machine tells [`Trust`]); this
/// loop only adds the members of the membership config, which no registry
/// command carries, and repeats what the apply hook already did.
pub async fn follow_trust(raft: Raft, registry: RegistryHandle, trust: Arc<Trust>) {
    loop {
        let metrics = raft.metrics().borrow().clone();
        if metrics.running_state.is_err() {
            return;
        }
        for (id, _) in metrics.membership_config.membership().nodes() {
            trust.admitted(*id);
        }
        if let Some(records) = records(&registry) {
            for node in &records.joined {
                trust.admitted(node.id);
            }
            for id in &records.revoked {
                trust.removed(*id);
            }
        }
        tokio::time::sleep(BACKSTOP_TICK).await;
    }
}

/// Drives the membership toward the registry's records while this node
/// leads; runs until Raft stops.
pub async fn steward_membership(raft: Raft, registry: RegistryHandle) {
    loop {
        tokio::time::sleep(TICK).await;
        let metrics = raft.metrics().borrow().clone();
        if metrics.running_state.is_err() {
            return;
        }
        if metrics.state != ServerState::Leader {
            continue;
        }
        let Some(records) = records(&registry) else {
            continue;
        };
        let Some(change) = next_change(&metrics, &records) else {
            continue;
        };
        info!(?change, "membership change");
        let outcome = match change.clone() {
            Change::AddLearner(id, info) => bounded(raft.add_learner(id, info, false)).await,
            Change::Members(members) => bounded(raft.change_membership(members, false)).await,
        };
        if let Err(reason) = outcome {
            warn!(?change, %reason, "membership change failed; will retry");
        }
    }
}

/// Runs one membership call, bounded by [`CHANGE_TIMEOUT`].
async fn bounded<T, E: std::fmt::Display>(
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<(), String> {
    match tokio::time::timeout(CHANGE_TIMEOUT, call).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("timed out after {CHANGE_TIMEOUT:?}")),
    }
}

/// One membership step.
#[derive(Debug, Clone)]
enum Change {
    AddLearner(NodeId, NodeInfo),
    Members(ChangeMembers<NodeId, NodeInfo>),
}

/// The next step, by priority: drop revoked nodes, add admitted joiners as
/// learners, move members to their advertised mesh addresses, promote one
/// caught-up voter-role learner.
fn next_change(
    metrics: &openraft::RaftMetrics<NodeId, NodeInfo>,
    records: &Records,
) -> Option<Change> {
    let membership = metrics.membership_config.membership();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    let nodes: BTreeSet<NodeId> = membership.nodes().map(|(id, _)| *id).collect();

    let revoked_voters: BTreeSet<NodeId> = voters.intersection(&records.revoked).copied().collect();
    if !revoked_voters.is_empty() && revoked_voters.len() < voters.len() {
        return Some(Change::Members(ChangeMembers::RemoveVoters(revoked_voters)));
    }
    let revoked_learners: BTreeSet<NodeId> = nodes
        .intersection(&records.revoked)
        .filter(|id| !voters.contains(id))
        .copied()
        .collect();
    if !revoked_learners.is_empty() {
        return Some(Change::Members(ChangeMembers::RemoveNodes(
            revoked_learners,
        )));
    }

    let admitted = records
        .joined
        .iter()
        .filter(|n| !records.revoked.contains(&n.id));
    let roles: BTreeMap<NodeId, NodeRole> = admitted.clone().map(|n| (n.id, n.role)).collect();
    if let Some(node) = admitted.clone().find(|n| !nodes.contains(&n.id)) {
        let info = NodeInfo {
            raft_addr: node.raft_addr.clone(),
            api_addr: node.api_addr.clone(),
            bulk_addr: node.bulk_addr.clone(),
            ..NodeInfo::default()
        };
        return Some(Change::AddLearner(node.id, info));
    }

    let readdressed: BTreeMap<NodeId, NodeInfo> = membership
        .nodes()
        .filter_map(|(id, info)| {
            let wanted = records.on_mesh.get(id)?;
            (wanted != info).then(|| (*id, wanted.clone()))
        })
        .collect();
    if !readdressed.is_empty() {
        return Some(Change::Members(ChangeMembers::SetNodes(readdressed)));
    }

    if voters.len() >= MAX_VOTERS {
        return None;
    }
    let last_log = metrics.last_log_index.unwrap_or(0);
    let replication = metrics.replication.as_ref()?;
    let ready = nodes.iter().find(|id| {
        let caught_up = replication
            .get(id)
            .and_then(|matched| *matched)
            .is_some_and(|m| m.index + CAUGHT_UP_SLACK >= last_log);
        !voters.contains(id) && roles.get(id) == Some(&NodeRole::Voter) && caught_up
    })?;
    Some(Change::Members(ChangeMembers::AddVoterIds(BTreeSet::from(
        [*ready],
    ))))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use openraft::{LogId, Membership, RaftMetrics, StoredMembership};

    use super::*;

    /// Leader 1's metrics: `voters`, `learners`, a log at index 1000 and
    /// each node's matched index from `matched`.
    fn metrics(
        voters: &[NodeId],
        learners: &[NodeId],
        matched: &[(NodeId, u64)],
    ) -> RaftMetrics<NodeId, NodeInfo> {
        let nodes: BTreeMap<NodeId, NodeInfo> = voters
            .iter()
            .chain(learners)
            .map(|id| (*id, NodeInfo::default()))
            .collect();
        let membership = Membership::new(vec![voters.iter().copied().collect()], nodes);
        let mut m = RaftMetrics::new_initial(1);
        m.state = ServerState::Leader;
        m.last_log_index = Some(1000);
        m.membership_config = Arc::new(StoredMembership::new(None, membership));
        m.replication = Some(
            matched
                .iter()
                .map(|(id, index)| {
                    (
                        *id,
                        Some(LogId::new(openraft::CommittedLeaderId::new(1, 1), *index)),
                    )
                })
                .collect(),
        );
        m
    }

    fn joined(id: NodeId, role: NodeRole) -> JoinedNode {
        JoinedNode {
            id,
            role,
            raft_addr: format!("10.0.0.{id}:2027"),
            api_addr: format!("10.0.0.{id}:2026"),
            bulk_addr: String::new(),
            joined_at_ms: 1,
        }
    }

    fn records(joined: Vec<JoinedNode>, revoked: &[NodeId]) -> Records {
        Records {
            joined,
            revoked: revoked.iter().copied().collect(),
            on_mesh: BTreeMap::new(),
        }
    }

    fn promoted(change: Option<Change>) -> Option<Vec<NodeId>> {
        match change {
            Some(Change::Members(ChangeMembers::AddVoterIds(ids))) => {
                Some(ids.into_iter().collect())
            }
            None => None,
            other => panic!("expected a promotion, got {other:?}"),
        }
    }

    #[test]
    fn a_member_advertising_its_mesh_address_is_moved_to_it() {
        let m = metrics(&[1, 2], &[], &[(2, 1000)]);
        let on_mesh = NodeInfo {
            raft_addr: "10.99.0.2:2027".to_owned(),
            api_addr: "10.99.0.2:2026".to_owned(),
            bulk_addr: "10.99.0.2:2027".to_owned(),
            wg_pubkey: Some("key".to_owned()),
        };
        let mut recorded = records(vec![], &[]);
        recorded.on_mesh.insert(2, on_mesh.clone());
        match next_change(&m, &recorded) {
            Some(Change::Members(ChangeMembers::SetNodes(nodes))) => {
                assert_eq!(nodes, BTreeMap::from([(2, on_mesh)]));
            }
            other => panic!("expected the member moved to the mesh, got {other:?}"),
        }
    }

    #[test]
    fn an_admitted_joiner_is_added_as_a_learner_first() {
        let m = metrics(&[1], &[], &[]);
        let change = next_change(&m, &records(vec![joined(2, NodeRole::Voter)], &[]));
        match change {
            Some(Change::AddLearner(2, info)) => assert_eq!(info.raft_addr, "10.0.0.2:2027"),
            other => panic!("expected node 2 as a learner, got {other:?}"),
        }
    }

    #[test]
    fn a_caught_up_voter_role_learner_is_promoted_a_lagging_or_learner_role_one_is_not() {
        let nodes = vec![joined(2, NodeRole::Voter), joined(3, NodeRole::Learner)];
        let lagging = metrics(&[1], &[2, 3], &[(1, 1000), (2, 900), (3, 1000)]);
        assert_eq!(
            promoted(next_change(&lagging, &records(nodes.clone(), &[]))),
            None
        );
        let caught_up = metrics(&[1], &[2, 3], &[(1, 1000), (2, 990), (3, 1000)]);
        assert_eq!(
            promoted(next_change(&caught_up, &records(nodes, &[]))),
            Some(vec![2])
        );
    }

    #[test]
    fn a_sixth_voter_role_node_stays_a_learner() {
        let nodes: Vec<JoinedNode> = (2..=6).map(|id| joined(id, NodeRole::Voter)).collect();
        let matched: Vec<(NodeId, u64)> = (1..=6).map(|id| (id, 1000)).collect();
        let four = metrics(&[1, 2, 3, 4], &[5, 6], &matched);
        assert_eq!(
            promoted(next_change(&four, &records(nodes.clone(), &[]))),
            Some(vec![5])
        );
        let five = metrics(&[1, 2, 3, 4, 5], &[6], &matched);
        assert_eq!(promoted(next_change(&five, &records(nodes, &[]))), None);
    }

    #[test]
    fn revoked_nodes_leave_first_but_never_the_last_voter() {
        let nodes = vec![joined(2, NodeRole::Voter), joined(3, NodeRole::Learner)];
        let m = metrics(&[1, 2], &[3], &[(1, 1000), (2, 1000), (3, 1000)]);
        match next_change(&m, &records(nodes.clone(), &[2, 3])) {
            Some(Change::Members(ChangeMembers::RemoveVoters(ids))) => {
                assert_eq!(ids, BTreeSet::from([2]))
            }
            other => panic!("expected voter 2 removed, got {other:?}"),
        }
        let m = metrics(&[1], &[3], &[(1, 1000), (3, 1000)]);
        match next_change(&m, &records(nodes.clone(), &[3])) {
            Some(Change::Members(ChangeMembers::RemoveNodes(ids))) => {
                assert_eq!(ids, BTreeSet::from([3]))
            }
            other => panic!("expected learner 3 removed, got {other:?}"),
        }
        // A revoked joiner is not added back; the only voter is never removed.
        let alone = metrics(&[1], &[], &[(1, 1000)]);
        assert!(next_change(&alone, &records(nodes, &[1, 2, 3])).is_none());
    }
}
