//! [`ClusterStatus`]: what `nexus status` and `GET /v1/cluster/status` show,
//! read from this node's Raft metrics.

use nexus_raft::replication::{NodeId, NodeInfo};
use nexus_transport::{Health, PeerContact};
use std::time::Duration;

use openraft::RaftMetrics;
use serde::{Deserialize, Serialize};

/// One node's view of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClusterStatus {
    /// The node answering.
    pub node_id: NodeId,
    /// Its Raft role: leader, follower, candidate or learner.
    pub role: String,
    /// The leader it knows of, if any.
    pub leader: Option<NodeId>,
    /// Current Raft term.
    pub term: u64,
    /// Index of the last entry in its log.
    pub last_log_index: Option<u64>,
    /// Index of the last entry applied to its registry.
    pub last_applied_index: Option<u64>,
    /// Index of its latest snapshot.
    pub snapshot_index: Option<u64>,
    /// The members, with their addresses and (seen from the leader) lag
    /// and health.
    pub members: Vec<MemberStatus>,
    /// What an operator should know: an even number of voters, members
    /// the leader cannot hear from, sandboxes below their factor.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Sandboxes with fewer replicas than their replication factor asks
    /// (their homes seed new ones while members are available).
    #[serde(default)]
    pub below_factor: u64,
}

/// One member of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberStatus {
    /// Node id.
    pub id: NodeId,
    /// `voter` or `learner`.
    pub kind: String,
    /// Raft RPC address.
    pub raft_addr: String,
    /// HTTP API address.
    pub api_addr: String,
    /// Highest log index the leader knows it holds (leader's view only).
    pub matched_index: Option<u64>,
    /// Entries it is behind the leader's log (leader's view only).
    pub lag: Option<u64>,
    /// `up`, `down`, or `unknown` when the answering node is not the
    /// leader (only the leader hears from every member).
    pub health: String,
    /// Milliseconds since it last answered the leader (leader's view only).
    pub last_heard_ms: Option<u64>,
}

impl ClusterStatus {
    /// The status as `metrics` describe it, with the members' health from
    /// `contact` (when this node leads).
    pub fn from_metrics(
        metrics: &RaftMetrics<NodeId, NodeInfo>,
        contact: &PeerContact,
    ) -> ClusterStatus {
        let membership = metrics.membership_config.membership();
        let voters: Vec<NodeId> = membership.voter_ids().collect();
        let leading = metrics.replication.is_some();
        contact.retain(|id| membership.get_node(&id).is_some());
        let last_log = metrics.last_log_index.unwrap_or(0);
        let members = membership
            .nodes()
            .map(|(id, info)| {
                let matched = metrics
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(id))
                    .map(|log_id| log_id.map_or(0, |l| l.index));
                let matched = if *id == metrics.id && metrics.replication.is_some() {
                    Some(last_log)
                } else {
                    matched
                };
                MemberStatus {
                    id: *id,
                    kind: if voters.contains(id) {
                        "voter"
                    } else {
                        "learner"
                    }
                    .to_owned(),
                    raft_addr: info.raft_addr.clone(),
                    api_addr: info.api_addr.clone(),
                    matched_index: matched,
                    lag: matched.map(|m| last_log.saturating_sub(m)),
                    health: if *id == metrics.id {
                        Health::Up
                    } else {
                        contact.health(*id, leading)
                    }
                    .as_str()
                    .to_owned(),
                    last_heard_ms: contact
                        .since(*id)
                        .filter(|_| leading && *id != metrics.id)
                        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                }
            })
            .collect::<Vec<_>>();
        let down: Vec<NodeId> = members
            .iter()
            .filter(|m| m.health == Health::Down.as_str())
            .map(|m| m.id)
            .collect();
        let warnings = warnings(voters.len(), &down, contact.down_after());
        ClusterStatus {
            node_id: metrics.id,
            role: format!("{:?}", metrics.state).to_lowercase(),
            leader: metrics.current_leader,
            term: metrics.current_term,
            last_log_index: metrics.last_log_index,
            last_applied_index: metrics.last_applied.map(|l| l.index),
            snapshot_index: metrics.snapshot.map(|l| l.index),
            members,
            warnings,
            below_factor: 0,
        }
    }
}

/// What an operator should hear about: an even number of voters, and the
/// members the leader has not heard from within `down_after`.
fn warnings(voters: usize, down: &[NodeId], down_after: Duration) -> Vec<String> {
    let mut warnings = Vec::new();
    if voters > 0 && voters.is_multiple_of(2) {
        warnings.push(format!(
            "{voters} voters: an even number survives no more failures than {} would; add or remove one",
            voters - 1
        ));
    }
    if !down.is_empty() {
        let ids: Vec<String> = down.iter().map(NodeId::to_string).collect();
        warnings.push(format!(
            "node(s) {} have not answered the leader for over {} ms",
            ids.join(", "),
            down_after.as_millis()
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_on_even_voters_and_silent_members() {
        let window = Duration::from_millis(3000);
        assert!(warnings(3, &[], window).is_empty());
        assert!(warnings(1, &[], window).is_empty());
        assert_eq!(
            warnings(4, &[2, 4], window),
            [
                "4 voters: an even number survives no more failures than 3 would; add or remove one",
                "node(s) 2, 4 have not answered the leader for over 3000 ms"
            ]
        );
    }
}
