//! The messages of the transport's gRPC services. Requests are openraft's own
//! types where they exist; every reply carries the remote node's result,
//! error included, so an openraft error crosses the wire as itself (a gRPC
//! status only ever means the transport failed).

use nexus_raft::replication::{NodeId, NodeInfo, Request, TypeConfig};
use openraft::error::{CheckIsLeaderError, ClientWriteError, InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, ClientWriteResponse, InstallSnapshotRequest,
    InstallSnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{LogId, SnapshotMeta, Vote};
use serde::{Deserialize, Serialize};

/// `RaftService.Vote` request.
pub type VoteMsg = VoteRequest<NodeId>;
/// `RaftService.Vote` reply.
pub type VoteReply = Result<VoteResponse<NodeId>, RaftError<NodeId>>;

/// `RaftService.Append` request.
pub type AppendMsg = AppendEntriesRequest<TypeConfig>;
/// `RaftService.Append` reply.
pub type AppendReply = Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>;

/// `RaftService.Snapshot` request: one chunk of a snapshot. The same fields
/// as openraft's [`InstallSnapshotRequest`], with the data sent as one
/// MessagePack binary instead of an array of numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotMsg {
    /// The leader's vote.
    pub vote: Vote<NodeId>,
    /// Which snapshot this chunk belongs to.
    pub meta: SnapshotMeta<NodeId, NodeInfo>,
    /// Byte offset of `data` in the snapshot.
    pub offset: u64,
    /// The chunk.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// Whether this is the last chunk.
    pub done: bool,
}

impl From<InstallSnapshotRequest<TypeConfig>> for SnapshotMsg {
    fn from(r: InstallSnapshotRequest<TypeConfig>) -> Self {
        SnapshotMsg {
            vote: r.vote,
            meta: r.meta,
            offset: r.offset,
            data: r.data,
            done: r.done,
        }
    }
}

impl From<SnapshotMsg> for InstallSnapshotRequest<TypeConfig> {
    fn from(m: SnapshotMsg) -> Self {
        InstallSnapshotRequest {
            vote: m.vote,
            meta: m.meta,
            offset: m.offset,
            data: m.data,
            done: m.done,
        }
    }
}

/// `RaftService.Snapshot` reply.
pub type SnapshotReply =
    Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>;

/// `PeerService.Write` request: a registry write forwarded to the leader,
/// carrying the origin's idempotency key.
pub type WriteMsg = Request;
/// `PeerService.Write` reply.
pub type WriteReply = Result<ClientWriteResponse<TypeConfig>, WriteError>;
/// Why a forwarded write was not applied.
pub type WriteError = RaftError<NodeId, ClientWriteError<NodeId, NodeInfo>>;

/// `PeerService.ReadIndex` request: "confirm you lead and tell me the log
/// position a linearizable read must wait for".
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReadIndexMsg {}

/// `PeerService.ReadIndex` reply: the leader's read log id.
pub type ReadIndexReply = Result<Option<LogId<NodeId>>, ReadIndexError>;
/// Why the read barrier failed.
pub type ReadIndexError = RaftError<NodeId, CheckIsLeaderError<NodeId, NodeInfo>>;
