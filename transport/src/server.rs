//! The transport's gRPC server: openraft's RPCs and the peer service over
//! mTLS, and the join service on the same port for joiners. A member
//! without the CA key forwards a join over the peer service
//! (`PeerService.AdmitJoin`) to one that holds it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use nexus_raft::replication::{NodeId, Raft};
use nexus_tls::PeerPolicy;
use openraft::raft::AppendEntriesResponse;
use tokio::net::TcpListener;
use tokio_rustls::rustls::ServerConfig;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::{Request, Response, Status};

use crate::leader_watch::LeaderWatch;
use crate::liveness::Liveness;
use crate::messages::{
    AppendMsg, AppendReply, JoinMsg, JoinReply, ProbeMsg, ProbeReply, ReadIndexMsg, ReadIndexReply,
    SnapshotMsg, SnapshotReply, VoteMsg, VoteReply, WriteMsg, WriteReply,
};
use crate::proto::join_service_server::{JoinService, JoinServiceServer};
use crate::proto::peer_service_server::{PeerService, PeerServiceServer};
use crate::proto::raft_service_server::{RaftService, RaftServiceServer};
use crate::{Proposer, MAX_MESSAGE_BYTES};

/// What a node answers on its peer port.
pub struct PeerEndpoint {
    /// The local Raft member's write batcher (writes forwarded by peers go
    /// through it; the Raft RPCs go to its Raft instance).
    pub proposer: Proposer,
    /// Hears the leader's appends and answers probes.
    pub watch: Arc<LeaderWatch>,
    /// Where read barriers answered as leader are recorded (home leases).
    pub liveness: Arc<Liveness>,
    /// mTLS for members: must demand and verify client certificates (see
    /// [`nexus_tls::TlsMaterial::server_config`] with [`nexus_tls::ALPN_GRPC`]).
    pub tls: Arc<ServerConfig>,
    /// Who may call, checked again on every request (a live connection of
    /// a node removed since its handshake is refused from then on).
    pub policy: Arc<dyn PeerPolicy>,
    /// The join endpoint, on nodes that admit new nodes.
    pub join: Option<JoinEndpoint>,
}

/// The join service: a TLS config presenting `[leaf, ca]` without demanding
/// a client certificate ([`nexus_tls::join_server_config`] with
/// [`nexus_tls::ALPN_JOIN`]) and what decides on each request.
pub struct JoinEndpoint {
    /// TLS for joiners.
    pub tls: Arc<ServerConfig>,
    /// Checks the token and signs the CSR.
    pub admission: Arc<dyn Admission>,
}

/// The attribute [`Admission`] implementations need (tonic's re-export).
pub use tonic::async_trait;

/// Decides on a join request: the node's token check and certificate
/// signing.
#[tonic::async_trait]
pub trait Admission: Send + Sync + 'static {
    /// Admits a joiner that dialed this node, or says why not (a node
    /// without the CA key forwards it to one that holds it).
    async fn admit(&self, request: JoinMsg) -> JoinReply;

    /// Admits a joiner on behalf of member `via`, which forwarded it here:
    /// the same checks as [`Admission::admit`], never forwarded again.
    /// `None` when this node holds no CA key (the forwarder then tries
    /// another holder).
    async fn admit_forwarded(&self, request: JoinMsg, via: NodeId) -> Option<JoinReply>;
}

/// Serves `endpoint` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    endpoint: PeerEndpoint,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let PeerEndpoint {
        proposer,
        watch,
        liveness,
        tls,
        policy,
        join,
    } = endpoint;
    let authorize = move |request: Request<()>| authorize(policy.as_ref(), request);
    let raft_service = RaftServiceServer::new(RaftRpc {
        raft: proposer.raft().clone(),
        watch,
    })
    .max_decoding_message_size(MAX_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let (join_tls, admission) = match join {
        Some(JoinEndpoint { tls, admission }) => (Some(tls), Some(admission)),
        None => (None, None),
    };
    let peer_service = PeerServiceServer::new(PeerRpc {
        proposer,
        liveness,
        admission: admission.clone(),
    })
    .max_decoding_message_size(MAX_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let (members, joiners) = crate::tls::incoming(listener, tls, join_tls);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    let peers = tonic::transport::Server::builder()
        .add_service(InterceptedService::new(raft_service, authorize.clone()))
        .add_service(InterceptedService::new(peer_service, authorize))
        .serve_with_incoming_shutdown(members, until_stopped(stopped.clone()));
    let joins = async {
        match admission {
            Some(admission) => {
                let service = JoinServiceServer::new(JoinRpc { admission });
                tonic::transport::Server::builder()
                    .add_service(service)
                    .serve_with_incoming_shutdown(joiners, until_stopped(stopped))
                    .await
            }
            None => Ok(()),
        }
    };
    let signal = async move {
        shutdown.await;
        let _ = stop.send(true);
    };
    let (peers, joins, ()) = tokio::join!(peers, joins, signal);
    peers.and(joins)
}

/// Lets a request through only if the certificate of its connection names
/// a node the policy allows right now.
fn authorize(policy: &dyn PeerPolicy, request: Request<()>) -> Result<Request<()>, Status> {
    match caller(&request) {
        Some(id) if policy.is_allowed(id) => Ok(request),
        Some(id) => Err(Status::permission_denied(format!(
            "node {id} is not a member of this cluster or was removed"
        ))),
        None => Err(Status::permission_denied(
            "the connection carries no node certificate",
        )),
    }
}

/// The node id in the certificate of the connection `request` came on.
fn caller<T>(request: &Request<T>) -> Option<NodeId> {
    request
        .extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(|info| info.peer_certs())
        .and_then(|certs| nexus_tls::peer_node_id(Some(certs.as_slice())))
}

/// Binds the Raft listener, naming the address in the error.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot listen for peers on {addr}: {e}"))
    })
}

/// openraft's RPCs, handed to the local [`Raft`], and the leader watch's
/// probe.
struct RaftRpc {
    raft: Raft,
    watch: Arc<LeaderWatch>,
}

#[tonic::async_trait]
impl RaftService for RaftRpc {
    async fn vote(&self, request: Request<VoteMsg>) -> Result<Response<VoteReply>, Status> {
        Ok(Response::new(self.raft.vote(request.into_inner()).await))
    }

    async fn append(&self, request: Request<AppendMsg>) -> Result<Response<AppendReply>, Status> {
        let from = caller(&request);
        let reply = self.raft.append_entries(request.into_inner()).await;
        // Only the leader of this node's term sends appends it accepts.
        if let (Some(from), Ok(accepted)) = (from, &reply) {
            if !matches!(accepted, AppendEntriesResponse::HigherVote(_)) {
                self.watch.appended(from);
            }
        }
        Ok(Response::new(reply))
    }

    async fn probe(&self, _request: Request<ProbeMsg>) -> Result<Response<ProbeReply>, Status> {
        Ok(Response::new(self.watch.answer(&self.raft)))
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

/// Writes and read barriers forwarded by peers, answered by this node only
/// if it leads (otherwise its reply names the leader and the caller
/// retries); joins forwarded by peers, answered only if it holds the CA key.
struct PeerRpc {
    proposer: Proposer,
    liveness: Arc<Liveness>,
    admission: Option<Arc<dyn Admission>>,
}

#[tonic::async_trait]
impl PeerService for PeerRpc {
    async fn write(&self, request: Request<WriteMsg>) -> Result<Response<WriteReply>, Status> {
        let reply = self.proposer.write(request.into_inner()).await;
        Ok(Response::new(reply))
    }

    async fn read_index(
        &self,
        request: Request<ReadIndexMsg>,
    ) -> Result<Response<ReadIndexReply>, Status> {
        let arrived = Instant::now();
        let reply = self.proposer.raft().ensure_linearizable().await;
        if let (Some(from), Ok(_)) = (caller(&request), &reply) {
            self.liveness.heard(from, arrived);
        }
        Ok(Response::new(reply))
    }

    async fn admit_join(&self, request: Request<JoinMsg>) -> Result<Response<JoinReply>, Status> {
        // The interceptor let the call in, so its certificate names a member.
        let via = caller(&request).ok_or_else(|| {
            Status::permission_denied("the connection carries no node certificate")
        })?;
        let admission = self
            .admission
            .as_ref()
            .ok_or_else(|| Status::unimplemented("this node admits no joins"))?;
        let msg = request.into_inner();
        tracing::info!(via, token_id = %msg.token_id, "join request forwarded by a peer");
        match admission.admit_forwarded(msg, via).await {
            Some(reply) => Ok(Response::new(reply)),
            None => Err(Status::failed_precondition(
                "this node does not hold the cluster CA key",
            )),
        }
    }
}

/// Join requests, handed to the node's [`Admission`].
struct JoinRpc {
    admission: Arc<dyn Admission>,
}

#[tonic::async_trait]
impl JoinService for JoinRpc {
    async fn join(&self, request: Request<JoinMsg>) -> Result<Response<JoinReply>, Status> {
        let remote = request.remote_addr();
        let msg = request.into_inner();
        tracing::info!(?remote, token_id = %msg.token_id, "join request");
        Ok(Response::new(self.admission.admit(msg).await))
    }
}
