//! [`Network`]: openraft's network over the transport's gRPC channels.
#![allow(clippy::result_large_err)] // openraft's RPC error types are large

use std::sync::Arc;
use std::time::Duration;

use nexus_raft::replication::{NodeId, NodeInfo, TypeConfig};
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{Backoff, RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use tonic::transport::Channel;
use tonic::Code;

use crate::channels::Channels;
use crate::contact::PeerContact;
use crate::peer_health::PeerHealth;
use crate::proto::raft_service_client::RaftServiceClient;
use crate::tls::DialError;
use crate::MAX_MESSAGE_BYTES;

/// Makes one [`PeerLink`] per replication target, over shared [`Channels`].
#[derive(Clone)]
pub struct Network {
    channels: Channels,
    health: Arc<PeerHealth>,
    contact: PeerContact,
}

impl Network {
    /// The Raft network of the node owning `channels`; every answer a peer
    /// gives is recorded in `contact`.
    pub fn new(channels: Channels, contact: PeerContact) -> Network {
        Network::with_health(channels, contact, Arc::default())
    }

    /// [`Network::new`], also reporting every RPC's outcome to `health`.
    pub fn with_health(
        channels: Channels,
        contact: PeerContact,
        health: Arc<PeerHealth>,
    ) -> Network {
        Network {
            channels,
            health,
            contact,
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerLink;

    async fn new_client(&mut self, target: NodeId, node: &NodeInfo) -> PeerLink {
        PeerLink {
            target,
            client: self.channels.get(target, &node.raft_addr).map(raft_client),
            health: Arc::clone(&self.health),
            contact: self.contact.clone(),
        }
    }
}

/// A gRPC client of the Raft service with the transport's message limits.
pub(crate) fn raft_client(channel: Channel) -> RaftServiceClient<Channel> {
    RaftServiceClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

/// openraft's connection to one peer.
pub struct PeerLink {
    target: NodeId,
    client: Result<RaftServiceClient<Channel>, DialError>,
    health: Arc<PeerHealth>,
    contact: PeerContact,
}

impl PeerLink {
    /// The client, or the dial error as openraft's "unreachable".
    fn client<E: std::error::Error>(
        &self,
    ) -> Result<RaftServiceClient<Channel>, RPCError<NodeId, NodeInfo, E>> {
        self.client.clone().map_err(|e| {
            self.health.failed(self.target, &e.to_string());
            RPCError::Unreachable(Unreachable::new(&e))
        })
    }

    /// Reports the outcome of one RPC to the node's [`PeerHealth`].
    fn observe<T>(&self, reply: &Result<T, tonic::Status>) {
        match reply {
            Ok(_) => {
                self.health.succeeded(self.target);
                self.contact.heard(self.target);
            }
            Err(status) => self.health.failed(self.target, &error_chain(status)),
        }
    }
}

/// A status and every error beneath it, as one line (a TLS alert from the
/// peer is only in the sources).
fn error_chain(status: &tonic::Status) -> String {
    let text = format!("{:?}: {}", status.code(), status.message());
    match std::error::Error::source(status) {
        Some(source) => format!("{text}: {}", nexus_errors::error_chain(source)),
        None => text,
    }
}

/// A request bounded by openraft's per-RPC time budget.
fn with_ttl<T>(message: T, option: &RPCOption) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(option.hard_ttl());
    request
}

/// Maps a gRPC failure: a peer that cannot be reached or refuses this node
/// is "unreachable" (so openraft backs off), anything else a network error.
fn transport_error<E: std::error::Error>(status: tonic::Status) -> RPCError<NodeId, NodeInfo, E> {
    let error = std::io::Error::other(format!("{}: {}", status.code(), status.message()));
    match status.code() {
        // A peer that cannot be reached, or that refuses this node (it was
        // removed), gets openraft's backoff instead of a retry per entry.
        Code::Unavailable | Code::PermissionDenied | Code::Unauthenticated => {
            RPCError::Unreachable(Unreachable::new(&error))
        }
        _ => RPCError::Network(NetworkError::new(&error)),
    }
}

/// A gRPC reply carrying the remote node's own result.
type Reply<T, E> = Result<tonic::Response<Result<T, RaftError<NodeId, E>>>, tonic::Status>;

/// Unwraps a reply carrying the remote node's own result.
fn remote<T, E: std::error::Error>(
    target: NodeId,
    reply: Reply<T, E>,
) -> Result<T, RPCError<NodeId, NodeInfo, RaftError<NodeId, E>>> {
    reply
        .map_err(transport_error)?
        .into_inner()
        .map_err(|e| RPCError::RemoteError(RemoteError::new(target, e)))
}

impl RaftNetwork<TypeConfig> for PeerLink {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, NodeInfo, RaftError<NodeId>>> {
        let reply = self.client()?.append(with_ttl(rpc, &option)).await;
        self.observe(&reply);
        remote(self.target, reply)
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, NodeInfo, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let chunk = crate::messages::SnapshotMsg::from(rpc);
        let reply = self.client()?.snapshot(with_ttl(chunk, &option)).await;
        self.observe(&reply);
        remote(self.target, reply)
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, NodeInfo, RaftError<NodeId>>> {
        let reply = self.client()?.vote(with_ttl(rpc, &option)).await;
        self.observe(&reply);
        remote(self.target, reply)
    }

    /// Exponential backoff for an unreachable peer: 100 ms doubling to 3 s.
    fn backoff(&self) -> Backoff {
        let delays = std::iter::successors(Some(Duration::from_millis(100)), |d| {
            Some((*d * 2).min(Duration::from_secs(3)))
        });
        Backoff::new(delays)
    }
}
