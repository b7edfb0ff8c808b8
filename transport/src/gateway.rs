//! [`Gateway`]: registry writes and linearizable read barriers from any node.
//!
//! A write is proposed locally; when this node does not lead, it is
//! forwarded to the leader over the peer service. Elections, a leader that
//! just moved, or a leader that cannot be reached make the gateway wait and
//! try again until its deadline. The request's idempotency key makes every
//! retry safe: a write that did commit before its reply was lost returns the
//! recorded outcome instead of applying twice.
#![allow(clippy::result_large_err)] // openraft's error types are large

use std::time::Duration;

use nexus_raft::replication::{NodeId, NodeInfo, Raft, Request, TypeConfig};
use openraft::error::{CheckIsLeaderError, ClientWriteError, ForwardToLeader, RaftError};
use openraft::raft::ClientWriteResponse;
use tokio::time::Instant;
use tonic::transport::Channel;

use crate::messages::ReadIndexMsg;
use crate::proto::peer_service_client::PeerServiceClient;
use crate::{Channels, Proposer, MAX_MESSAGE_BYTES};
use nexus_errors::{Coded, ErrorCode};

/// Pause between attempts while no leader is known or it cannot be reached.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Why the gateway could not complete a write or a read barrier.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    /// No leader accepted the request before the deadline (an election that
    /// does not finish, a lost quorum, or an unreachable leader).
    #[error("no leader committed the request within {waited_ms} ms{}", last_error(.last))]
    NoLeader {
        /// How long the gateway tried.
        waited_ms: u64,
        /// The last failure seen, if any.
        last: Option<String>,
    },
    /// The leader could not confirm it still leads with a quorum.
    #[error("the leader lost its quorum: {0}")]
    NoQuorum(String),
    /// Raft stopped on this node (storage failure or shutdown).
    #[error("raft stopped: {0}")]
    Stopped(String),
}

fn last_error(last: &Option<String>) -> String {
    last.as_ref()
        .map(|e| format!(" (last error: {e})"))
        .unwrap_or_default()
}

/// Writes and read barriers of one node.
#[derive(Clone)]
pub struct Gateway {
    proposer: Proposer,
    raft: Raft,
    channels: Channels,
    deadline: Duration,
}

impl Gateway {
    /// A gateway proposing through the local `proposer`, reaching the leader
    /// through `channels`, giving up on one request after `deadline`.
    pub fn new(proposer: Proposer, channels: Channels, deadline: Duration) -> Gateway {
        Gateway {
            raft: proposer.raft().clone(),
            proposer,
            channels,
            deadline,
        }
    }

    /// The local Raft instance.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Commits `request` through the leader, wherever it is.
    pub async fn write(
        &self,
        request: Request,
    ) -> Result<ClientWriteResponse<TypeConfig>, GatewayError> {
        let started = Instant::now();
        let mut last = None;
        while started.elapsed() < self.deadline {
            // A leader cut off from its quorum holds the write until it
            // learns of a newer term: bound the wait by the deadline.
            let attempt = self.within(started, self.proposer.write(request.clone()));
            let Some(result) = attempt.await else {
                last = Some("the local leader did not commit in time".to_owned());
                break;
            };
            let to_leader = match result {
                Ok(response) => return Ok(response),
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(to))) => to,
                Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(e))) => {
                    return Err(GatewayError::Stopped(e.to_string()))
                }
                Err(RaftError::Fatal(e)) => return Err(GatewayError::Stopped(e.to_string())),
            };
            if let Some((leader, node)) = known_leader(&to_leader) {
                match self
                    .forward_write(leader, node, request.clone(), started)
                    .await
                {
                    Ok(Ok(response)) => return Ok(response),
                    Ok(Err(RaftError::Fatal(e))) => last = Some(format!("leader {leader}: {e}")),
                    Ok(Err(RaftError::APIError(e))) => last = Some(format!("leader {leader}: {e}")),
                    Err(e) => last = Some(format!("leader {leader}: {e}")),
                }
            }
            self.pause(started, to_leader.leader_id).await;
        }
        Err(self.gave_up(started, last))
    }

    /// Returns once this node has applied every write committed before the
    /// call (a linearizable read may then read the local registry).
    pub async fn linearize(&self) -> Result<(), GatewayError> {
        let started = Instant::now();
        let mut last = None;
        while started.elapsed() < self.deadline {
            let Some(result) = self.within(started, self.raft.ensure_linearizable()).await else {
                last = Some("the local leader could not reach a quorum in time".to_owned());
                break;
            };
            let to_leader = match result {
                Ok(_) => return Ok(()),
                Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(to))) => to,
                Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(e))) => {
                    last = Some(e.to_string());
                    let leader = self.raft.metrics().borrow().current_leader;
                    self.pause(started, leader).await;
                    continue;
                }
                Err(RaftError::Fatal(e)) => return Err(GatewayError::Stopped(e.to_string())),
            };
            if let Some((leader, node)) = known_leader(&to_leader) {
                match self.forward_read_index(leader, node, started).await {
                    Ok(Ok(read_log_id)) => return self.await_applied(read_log_id, started).await,
                    Ok(Err(e)) => last = Some(format!("leader {leader}: {e}")),
                    Err(e) => last = Some(format!("leader {leader}: {e}")),
                }
            }
            self.pause(started, to_leader.leader_id).await;
        }
        Err(self.gave_up(started, last))
    }

    /// Waits until the local state machine has applied `read_log_id`.
    async fn await_applied(
        &self,
        read_log_id: Option<openraft::LogId<NodeId>>,
        started: Instant,
    ) -> Result<(), GatewayError> {
        let index = read_log_id.map(|id| id.index);
        let remaining = self.deadline.saturating_sub(started.elapsed());
        self.raft
            .wait(Some(remaining))
            .applied_index_at_least(index, "linearizable read")
            .await
            .map(|_| ())
            .map_err(|e| self.gave_up(started, Some(e.to_string())))
    }

    async fn forward_write(
        &self,
        leader: NodeId,
        node: &NodeInfo,
        request: Request,
        started: Instant,
    ) -> Result<crate::messages::WriteReply, String> {
        let mut client = self.peer_client(leader, node)?;
        let mut message = tonic::Request::new(request);
        message.set_timeout(self.deadline.saturating_sub(started.elapsed()));
        client
            .write(message)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|s| format!("{}: {}", s.code(), s.message()))
    }

    async fn forward_read_index(
        &self,
        leader: NodeId,
        node: &NodeInfo,
        started: Instant,
    ) -> Result<crate::messages::ReadIndexReply, String> {
        let mut client = self.peer_client(leader, node)?;
        let mut message = tonic::Request::new(ReadIndexMsg {});
        message.set_timeout(self.deadline.saturating_sub(started.elapsed()));
        client
            .read_index(message)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|s| format!("{}: {}", s.code(), s.message()))
    }

    fn peer_client(
        &self,
        leader: NodeId,
        node: &NodeInfo,
    ) -> Result<PeerServiceClient<Channel>, String> {
        let channel = self
            .channels
            .get(leader, &node.raft_addr)
            .map_err(|e| e.to_string())?;
        Ok(PeerServiceClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES))
    }

    /// Runs `future` for what is left of the deadline; `None` if it ran out.
    async fn within<T>(
        &self,
        started: Instant,
        future: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        let remaining = self.deadline.saturating_sub(started.elapsed());
        tokio::time::timeout(remaining, future).await.ok()
    }

    /// Waits before the next attempt, within the deadline: [`RETRY_PAUSE`],
    /// cut short once a leader other than `tried` (the one the failed attempt
    /// named or reached, `None` during an election) is known. A founder's
    /// first write races its own election and goes out as it ends.
    async fn pause(&self, started: Instant, tried: Option<NodeId>) {
        let remaining = self.deadline.saturating_sub(started.elapsed());
        // A timeout is the pause run out; a stopped Raft fails the next attempt.
        let _ = self
            .raft
            .wait(Some(RETRY_PAUSE.min(remaining)))
            .metrics(
                |m| m.current_leader.is_some() && m.current_leader != tried,
                "a leader other than the one tried",
            )
            .await;
    }

    fn gave_up(&self, started: Instant, last: Option<String>) -> GatewayError {
        GatewayError::NoLeader {
            waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            last,
        }
    }
}

/// The leader named by a refusal, unless it is unknown (an election).
fn known_leader(to: &ForwardToLeader<NodeId, NodeInfo>) -> Option<(NodeId, &NodeInfo)> {
    Some((to.leader_id?, to.leader_node.as_ref()?))
}

/// The catalog code a user sees for each gateway error.
impl Coded for GatewayError {
    fn code(&self) -> ErrorCode {
        match self {
            GatewayError::NoLeader { .. } | GatewayError::NoQuorum(_) => ErrorCode::ClusterNoLeader,
            GatewayError::Stopped(_) => ErrorCode::ClusterStopped,
        }
    }
}
