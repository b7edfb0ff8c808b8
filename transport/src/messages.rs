//! The messages of the transport's gRPC services. Requests are openraft's own
//! types where they exist; every reply carries the remote node's result,
//! error included, so an openraft error crosses the wire as itself (a gRPC
//! status only ever means the transport failed).

use std::collections::BTreeMap;
use std::fmt;

use nexus_raft::replication::{NodeId, NodeInfo, Request, TypeConfig};
use nexus_raft::{MeshPorts, NodeRole};
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

/// `RaftService.Probe` request: "are you there, and whom do you follow?"
/// Sent by a voter to the leader it knows when the leader has gone quiet,
/// and to every voter before it campaigns (see [`crate::leader_watch`]).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct ProbeMsg {}

/// `RaftService.Probe` reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReply {
    /// Whether the answering node is the leader.
    pub leading: bool,
    /// The leader the answering node sees alive (itself when leading).
    pub live_leader: Option<NodeId>,
    /// The index of its last log entry.
    pub last_log_index: Option<u64>,
}

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

/// `JoinService.Join` request: a new node's token, CSR and addresses. Sent
/// only over a connection whose server proved it holds a certificate of the
/// pinned CA. `Debug` never shows the secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct JoinMsg {
    /// The CA fingerprint the joiner pinned (from its token).
    pub ca_fingerprint: String,
    /// The token id.
    pub token_id: String,
    /// The token secret.
    pub secret: String,
    /// The joiner's certificate signing request (DER); its key never leaves it.
    #[serde(with = "serde_bytes")]
    pub csr_der: Vec<u8>,
    /// Where the joiner's peers reach its Raft endpoint (`host:port`).
    pub raft_addr: String,
    /// The joiner's HTTP API address (`host:port`).
    pub api_addr: String,
    /// Where its peers reach the joiner's data plane (QUIC over UDP).
    #[serde(default)]
    pub bulk_addr: String,
    /// The joiner's place in the WireGuard mesh, when it runs one: recorded
    /// with its admission, so it has a mesh address before it starts.
    #[serde(default)]
    pub mesh: Option<MeshProposal>,
}

/// What a node records about itself in the mesh: sent at join, proposed
/// again at every start when the registry's record differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeshProposal {
    /// Its WireGuard public key (base64).
    pub public_key: String,
    /// Where its device listens on the underlay (`host:port`).
    pub endpoint: String,
    /// The mesh prefix it is configured with.
    pub cidr: String,
    /// The ports it serves on its mesh address (`advertise = "mesh"`).
    #[serde(default)]
    pub advertise: Option<MeshPorts>,
}

impl fmt::Debug for JoinMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinMsg")
            .field("ca_fingerprint", &self.ca_fingerprint)
            .field("token_id", &self.token_id)
            .field("secret", &"[elided]")
            .field("raft_addr", &self.raft_addr)
            .field("api_addr", &self.api_addr)
            .field("bulk_addr", &self.bulk_addr)
            .field("mesh", &self.mesh)
            .finish_non_exhaustive()
    }
}

/// An admitted joiner's credentials and where to find the cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinGrant {
    /// The node id the cluster assigned (never used before).
    pub node_id: NodeId,
    /// What the token lets the node become.
    pub role: NodeRole,
    /// The cluster's name.
    pub cluster_name: String,
    /// The node's certificate (DER), signed by the cluster CA.
    #[serde(with = "serde_bytes")]
    pub cert_der: Vec<u8>,
    /// The cluster CA certificate (DER).
    #[serde(with = "serde_bytes")]
    pub ca_der: Vec<u8>,
    /// The current members and their addresses.
    pub members: BTreeMap<NodeId, NodeInfo>,
    /// The node's mesh address, when it sent a mesh proposal and the
    /// registry recorded it.
    #[serde(default)]
    pub mesh_address: Option<String>,
}

/// Why a join was refused: an error of the node's catalog (code, message,
/// hint) carried to the joiner as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct JoinRefusal {
    /// Stable error code (docs/errors.md).
    pub code: String,
    /// What failed.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

/// `JoinService.Join` reply.
pub type JoinReply = Result<JoinGrant, JoinRefusal>;
