//! [`ClusterStatus`]: what `nexus status` and `GET /v1/cluster/status` show,
//! read from this node's Raft metrics.

use nexus_raft::replication::{NodeId, NodeInfo};
use openraft::RaftMetrics;
use serde::{Deserialize, Serialize};

/// One node's view of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The members, with their addresses and (seen from the leader) lag.
    pub members: Vec<MemberStatus>,
}

/// One member of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl ClusterStatus {
    /// The status as `metrics` describe it.
    pub fn from_metrics(metrics: &RaftMetrics<NodeId, NodeInfo>) -> ClusterStatus {
        let membership = metrics.membership_config.membership();
        let voters: Vec<NodeId> = membership.voter_ids().collect();
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
                }
            })
            .collect();
        ClusterStatus {
            node_id: metrics.id,
            role: format!("{:?}", metrics.state).to_lowercase(),
            leader: metrics.current_leader,
            term: metrics.current_term,
            last_log_index: metrics.last_log_index,
            last_applied_index: metrics.last_applied.map(|l| l.index),
            snapshot_index: metrics.snapshot.map(|l| l.index),
            members,
        }
    }
}
