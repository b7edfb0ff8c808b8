//! A join that reached a member without the CA key: checked as far as it
//! can be here, then handed over mTLS to a member the registry records as a
//! CA holder, whose answer goes back to the joiner unchanged.
//!
//! The holders are tried in id order, each with what is left of
//! [`FORWARD_BUDGET`]. A holder that fails (down, refusing this member,
//! without the key after all) is passed over for the next; one that does not
//! answer in time stops the join, since it may still admit the joiner and
//! asking another could spend the token twice. When no holder takes it, the
//! joiner gets `JOIN_CA_UNAVAILABLE` naming every holder tried and why, and
//! the token is unused.

use std::time::Duration;

use nexus_raft::replication::NodeId;
use nexus_transport::messages::{JoinMsg, JoinReply};
use nexus_transport::ForwardError;
use tokio::time::Instant;
use tracing::info;

use super::admission::{refusal, ClusterAdmission};
use nexus_errors::{ErrorCode, UserError};

/// How long one forwarded join may take in all, across the holders tried
/// (below the joiner's 30 s wait for its answer).
pub const FORWARD_BUDGET: Duration = Duration::from_secs(25);

impl ClusterAdmission {
    /// Forwards `request` to a CA holder and returns its answer.
    pub(super) async fn forward(&self, request: JoinMsg) -> JoinReply {
        let token_id = request.token_id.clone();
        if let Err(e) = self.precheck(&request) {
            return Err(refusal(&token_id, e));
        }
        let holders = match self.registry.read(|r| r.ca_holders()) {
            Ok(holders) => holders,
            Err(e) => return Err(refusal(&token_id, e)),
        };
        let members = self.members();
        let started = Instant::now();
        let mut tried = Vec::new();
        for holder in holders
            .iter()
            .map(|h| h.id)
            .filter(|id| *id != self.node_id)
        {
            let addr = members
                .get(&holder)
                .map(|info| info.raft_addr.clone())
                .filter(|addr| !addr.is_empty());
            let Some(addr) = addr else {
                tried.push(format!("node {holder} (not a member)"));
                continue;
            };
            let left = FORWARD_BUDGET.saturating_sub(started.elapsed());
            let forwarded = self
                .forwarder
                .forward(holder, &addr, request.clone(), left)
                .await;
            match forwarded {
                Ok(reply) => {
                    info!(
                        token_id,
                        holder,
                        admitted = reply.is_ok(),
                        "a CA holder answered a forwarded join"
                    );
                    return reply;
                }
                Err(ForwardError::Failed(why)) => {
                    tried.push(format!("node {holder} at {addr} ({why})"));
                }
                Err(ForwardError::Unanswered(why)) => {
                    return Err(refusal(
                        &token_id,
                        unanswered(self.node_id, holder, &addr, &why),
                    ));
                }
            }
        }
        Err(refusal(&token_id, unavailable(self.node_id, &tried)))
    }
}

/// No CA holder could take the join; `tried` says which were tried and why.
pub(super) fn unavailable(node_id: NodeId, tried: &[String]) -> UserError {
    let message = if tried.is_empty() {
        format!(
            "node {node_id} does not hold the cluster CA key, and no other node is recorded \
             as holding it; the token was not spent"
        )
    } else {
        format!(
            "node {node_id} does not hold the cluster CA key, and no node that holds it took \
             the join: {}; the token was not spent",
            tried.join("; ")
        )
    };
    UserError::new(ErrorCode::JoinCaUnavailable, message)
}

/// A holder got the join but did not answer: it may have admitted it.
fn unanswered(node_id: NodeId, holder: NodeId, addr: &str, why: &str) -> UserError {
    UserError::new(
        ErrorCode::JoinCaUnavailable,
        format!(
            "node {node_id} does not hold the cluster CA key and forwarded the join to node \
             {holder} at {addr}, which did not answer ({why}); it may have admitted the node: \
             check `nexus token ls` and `nexus node ls` before joining again"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_names_every_holder_tried_and_says_the_token_is_unused() {
        let none = unavailable(2, &[]);
        assert!(none.is(ErrorCode::JoinCaUnavailable));
        assert_eq!(
            none.message,
            "node 2 does not hold the cluster CA key, and no other node is recorded as \
             holding it; the token was not spent"
        );
        let tried = unavailable(
            3,
            &[
                "node 1 at 10.0.0.1:2027 (Unavailable: connection refused)".to_owned(),
                "node 4 (not a member)".to_owned(),
            ],
        );
        assert_eq!(
            tried.message,
            "node 3 does not hold the cluster CA key, and no node that holds it took the join: \
             node 1 at 10.0.0.1:2027 (Unavailable: connection refused); node 4 (not a member); \
             the token was not spent"
        );
        assert_eq!(tried.hint, ErrorCode::JoinCaUnavailable.hint());
    }
}
