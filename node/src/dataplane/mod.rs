//! The data plane of a node in a cluster: requests for a sandbox homed on
//! another node travel there over QUIC ([`nexus_transport::bulk`]) and come
//! back unchanged, so a client can send anything to any node.
//!
//! A routed request is one QUIC stream: a head ([`StreamHead`]) and then a
//! plain HTTP/1.1 exchange. The home serves it with the same router as its
//! public API — same authentication (the client's own bearer key travels
//! with it), same limits, same handlers — after it has applied the registry
//! up to the index the entry node had applied, so a sandbox or key the entry
//! node already knows is known at the home too.

mod accept;
pub mod drain;
mod forward;
mod gates;
pub mod migrate;
mod placement;
pub mod replica_wire;
mod underway;

use std::net::SocketAddr;
use std::sync::Arc;

use nexus_raft::replication::{NodeId, Raft};
use nexus_raft::Principal;
use nexus_transport::bulk::BulkEndpoint;
use serde::{Deserialize, Serialize};

pub use accept::{serve, FabricHandler, Handlers, ReplicaHandler};
pub use forward::{placement_unreachable, RouteFailure, Routed};
pub use gates::MoveGates;
pub use placement::{check_labels, Demand};
pub use underway::{MoveUnderway, MovesUnderway};

/// What a data-plane stream carries, sent first on it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum StreamHead {
    /// An HTTP/1.1 exchange follows: a request the sending node accepted
    /// from `client`, to serve here once this node has applied `applied`.
    Http {
        /// The address of the client the request came from.
        client: SocketAddr,
        /// The sending node's last applied registry index.
        applied: Option<u64>,
        /// How many nodes forwarded it before (one more hop is allowed
        /// when the sandbox moved while the request waited).
        hops: u8,
        /// Who the sending node authenticated the request as: served as
        /// that caller without checking the key again (members are
        /// mutually authenticated, and a member can write the registry
        /// anyway). `None`: the home authenticates it.
        #[serde(default)]
        caller: Option<Principal>,
    },
    /// A node-tier fabric stream: this node runs inputs of the sending
    /// node's job ([`crate::fabric`]).
    Fabric(FabricOpen),
    /// A replica stream from a sandbox's home: a change, a whole copy, a
    /// version question ([`replica_wire`]).
    Replica(replica_wire::ReplicaOpen),
    /// A sandbox's files follow, pushed by its home to make this node its
    /// new home ([`migrate`]).
    Move {
        /// The sandbox.
        sandbox_id: String,
        /// Its tenant.
        tenant_id: String,
        /// The sending node's last applied registry index.
        applied: Option<u64>,
    },
}

/// What opens a node-tier fabric stream: the kernel the sending node's
/// job runs and how many of its inputs it keeps in flight on the stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FabricOpen {
    /// The kernel module's SHA-256.
    pub sha256: String,
    /// The profile its instances run under (the receiving node's own table).
    pub profile: String,
    /// How many inputs the sender keeps in flight on this stream.
    pub slots: u32,
}

/// How many times one request may be forwarded: once to the home it had,
/// once more if it moved while the request waited at its gate.
pub const MAX_HOPS: u8 = 2;

/// Marks a request that reached this node over the data plane: it is
/// served here, and forwarded again only if its sandbox moved away while it
/// waited (up to [`MAX_HOPS`]).
#[derive(Debug, Clone, Copy)]
pub struct Forwarded {
    /// The node that forwarded it.
    pub from: NodeId,
    /// How many times it was forwarded so far.
    pub hops: u8,
}

/// This node's side of the data plane.
pub struct DataPlane {
    node_id: NodeId,
    bulk: Arc<BulkEndpoint>,
    raft: Raft,
    gates: MoveGates,
    underway: Arc<MovesUnderway>,
}

impl std::fmt::Debug for DataPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataPlane")
            .field("node_id", &self.node_id)
            .field("bulk", &self.bulk)
            .finish_non_exhaustive()
    }
}

impl DataPlane {
    /// The data plane of node `node_id` on `bulk`, finding peers in the
    /// membership of `raft`.
    pub fn new(node_id: NodeId, bulk: Arc<BulkEndpoint>, raft: Raft) -> DataPlane {
        DataPlane {
            node_id,
            bulk,
            raft,
            gates: MoveGates::default(),
            underway: Arc::default(),
        }
    }

    /// The gates moves close (see [`MoveGates`]).
    pub fn gates(&self) -> &MoveGates {
        &self.gates
    }

    /// The moves under way from this node (see [`MovesUnderway`]).
    pub fn moves(&self) -> &Arc<MovesUnderway> {
        &self.underway
    }

    /// The QUIC endpoint.
    pub fn endpoint(&self) -> Arc<BulkEndpoint> {
        self.bulk.clone()
    }

    /// The data-plane address of `node` as the membership records it.
    pub fn address_of(&self, node: NodeId) -> Option<String> {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow();
        let info = metrics.membership_config.membership().get_node(&node)?;
        Some(info.bulk_target().to_owned())
    }

    /// Dials every other member, so peers holding a connection to this
    /// node's previous process switch to this one (see
    /// [`BulkEndpoint::warm_up`]).
    pub async fn warm_up(&self) {
        let mut peers = self.members();
        peers.retain(|(id, _)| *id != self.node_id);
        self.bulk.warm_up(peers).await;
    }

    /// Every other member's id.
    pub fn peers(&self) -> Vec<NodeId> {
        let mut peers: Vec<NodeId> = self.members().into_iter().map(|(id, _)| id).collect();
        peers.retain(|id| *id != self.node_id);
        peers
    }

    /// Opens a node-tier fabric stream to `node` for the kernel `open` names.
    pub async fn open_fabric(
        &self,
        node: NodeId,
        open: &FabricOpen,
    ) -> Result<(quinn::SendStream, quinn::RecvStream), String> {
        self.open_stream(node, &StreamHead::Fabric(open.clone()))
            .await
    }

    /// Opens a stream to `node` and sends `stream_head` on it.
    pub(crate) async fn open_stream(
        &self,
        node: NodeId,
        stream_head: &StreamHead,
    ) -> Result<(quinn::SendStream, quinn::RecvStream), String> {
        let addr = self
            .address_of(node)
            .ok_or_else(|| format!("node {node} is not a member of the cluster"))?;
        let (mut send, recv) = self
            .bulk
            .open(node, &addr)
            .await
            .map_err(|e| e.to_string())?;
        nexus_transport::bulk::head::write(&mut send, stream_head)
            .await
            .map_err(|e| e.to_string())?;
        Ok((send, recv))
    }

    /// Every member with its data-plane address, as the membership records
    /// them.
    fn members(&self) -> Vec<(NodeId, String)> {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow();
        metrics
            .membership_config
            .membership()
            .nodes()
            .map(|(id, info)| (*id, info.bulk_target().to_owned()))
            .collect()
    }

    /// The last registry index this node applied.
    pub fn applied(&self) -> Option<u64> {
        self.raft.metrics().borrow().last_applied.map(|l| l.index)
    }
}
