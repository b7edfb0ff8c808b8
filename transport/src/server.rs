//! The transport's gRPC server: openraft's RPCs and the peer service, over
//! mTLS only.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use nexus_raft::replication::Raft;
use tokio::net::TcpListener;
use tokio_rustls::rustls::ServerConfig;
use tonic::{Request, Response, Status};

use crate::proto::peer_service_server::{PeerService, PeerServiceServer};
use crate::proto::raft_service_server::{RaftService, RaftServiceServer};
use crate::wire::{
    AppendMsg, AppendReply, ReadIndexMsg, ReadIndexReply, SnapshotMsg, SnapshotReply, VoteMsg,
    VoteReply, WriteMsg, WriteReply,
};
use crate::MAX_MESSAGE_BYTES;

/// Serves this node's Raft on `listener` until `shutdown` resolves. `tls`
/// must demand and verify client certificates (see
/// [`nexus_tls::TlsMaterial::server_config`] with [`nexus_tls::ALPN_GRPC`]).
pub async fn serve(
    listener: TcpListener,
    raft: Raft,
    tls: Arc<ServerConfig>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let raft_service = RaftServiceServer::new(RaftRpc { raft: raft.clone() })
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let peer_service = PeerServiceServer::new(PeerRpc { raft })
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    tonic::transport::Server::builder()
        .add_service(raft_service)
        .add_service(peer_service)
        .serve_with_incoming_shutdown(crate::tls::incoming(listener, tls), shutdown)
        .await
}

/// Binds the Raft listener, naming the address in the error.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot listen for peers on {addr}: {e}"))
    })
}

/// openraft's RPCs, handed to the local [`Raft`].
struct RaftRpc {
    raft: Raft,
}

#[tonic::async_trait]
impl RaftService for RaftRpc {
    async fn vote(&self, request: Request<VoteMsg>) -> Result<Response<VoteReply>, Status> {
        Ok(Response::new(self.raft.vote(request.into_inner()).await))
    }

    async fn append(&self, request: Request<AppendMsg>) -> Result<Response<AppendReply>, Status> {
        let reply = self.raft.append_entries(request.into_inner()).await;
        Ok(Response::new(reply))
    }

    async fn snapshot(
        &self,
        request: Request<SnapshotMsg>,
    ) -> Result<Response<SnapshotReply>, Status> {
        let reply = self
            .raft
            .install_snapshot(request.into_inner().into())
            .await;
        Ok(Response::new(reply))
    }
}

/// Writes and read barriers forwarded by peers; answered by this node only
/// if it leads (otherwise its reply names the leader and the caller retries).
struct PeerRpc {
    raft: Raft,
}

#[tonic::async_trait]
impl PeerService for PeerRpc {
    async fn write(&self, request: Request<WriteMsg>) -> Result<Response<WriteReply>, Status> {
        let reply = self.raft.client_write(request.into_inner()).await;
        Ok(Response::new(reply))
    }

    async fn read_index(
        &self,
        _request: Request<ReadIndexMsg>,
    ) -> Result<Response<ReadIndexReply>, Status> {
        Ok(Response::new(self.raft.ensure_linearizable().await))
    }
}
