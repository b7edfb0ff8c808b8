//! The home's side of routed requests: every stream a member opens is read
//! for its head, then served by the node's API router as if the request had
//! arrived here directly.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use nexus_raft::replication::{NodeId, Raft};
use nexus_transport::bulk::{self, head, BulkEndpoint, PeerStream};
use quinn::{RecvStream, SendStream};
use tower::ServiceExt;
use tracing::{debug, warn};

use super::replica_wire::ReplicaOpen;
use super::{migrate, FabricOpen, Forwarded, StreamHead};
use crate::authenticated::Authenticated;
use crate::sandbox::SandboxManager;

/// How long a routed request waits for this node to apply what the entry
/// node had applied (a sandbox docked or a key made a moment ago).
const APPLY_WAIT: Duration = Duration::from_secs(2);

/// What serves the streams members open: routed requests go to `router`
/// (after catching up with `raft`), moves to `manager`, node-tier fabric
/// streams to `fabric`, replica streams to `replicas`.
#[derive(Clone)]
pub struct Handlers {
    /// The node's API router.
    pub router: Router,
    /// The registry's Raft instance.
    pub raft: Raft,
    /// The node's sandboxes.
    pub manager: Arc<SandboxManager>,
    /// Runs the inputs a peer's job sends.
    pub fabric: FabricHandler,
    /// Takes what homes ship to this node's replica copies (`None`: a
    /// node that keeps none).
    pub replicas: Option<ReplicaHandler>,
}

/// Serves one replica stream from a peer: its id, the stream's opening,
/// and the stream.
pub type ReplicaHandler = Arc<
    dyn Fn(NodeId, ReplicaOpen, SendStream, RecvStream) -> Pin<Box<dyn Future<Output = ()> + Send>>
        + Send
        + Sync,
>;

/// Serves one node-tier fabric stream from a peer: its id, the stream's
/// opening, and the stream.
pub type FabricHandler = Arc<
    dyn Fn(NodeId, FabricOpen, SendStream, RecvStream) -> Pin<Box<dyn Future<Output = ()> + Send>>
        + Send
        + Sync,
>;

/// Serves the streams members open on `bulk` with `handlers` until
/// `shutdown` resolves. A request head may be at most `max_header_bytes`
/// and must arrive within `header_timeout`.
pub async fn serve(
    bulk: Arc<BulkEndpoint>,
    handlers: Handlers,
    max_header_bytes: usize,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let handle = move |stream: PeerStream| {
        let handlers = handlers.clone();
        async move {
            let limits = (max_header_bytes, header_timeout);
            serve_stream(stream, handlers, limits).await;
        }
    };
    bulk::serve(bulk, handle, shutdown).await;
}

async fn serve_stream(
    stream: PeerStream,
    Handlers {
        router,
        raft,
        manager,
        fabric,
        replicas,
    }: Handlers,
    (max_header_bytes, header_timeout): (usize, Duration),
) {
    let PeerStream {
        peer,
        mut recv,
        send,
        ..
    } = stream;
    let stream_head: StreamHead = match head::read(&mut recv).await {
        Ok(h) => h,
        Err(e) => {
            warn!(node = peer, error = %e, "data-plane stream refused");
            return;
        }
    };
    match stream_head {
        StreamHead::Http {
            client,
            applied,
            hops,
            caller,
        } => {
            catch_up(&raft, applied).await;
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(ConnectInfo(client));
                if let Some(principal) = caller.clone() {
                    request.extensions_mut().insert(Authenticated(principal));
                }
                request.extensions_mut().insert(Forwarded {
                    from: peer,
                    hops: hops.saturating_add(1),
                });
                let router = router.clone();
                async move { router.oneshot(request).await }
            });
            let served = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(max_header_bytes.max(8192))
                .keep_alive(false)
                .serve_connection(TokioIo::new(tokio::io::join(recv, send)), service)
                .await;
            if let Err(e) = served {
                debug!(node = peer, error = %e, "routed request ended early");
            }
        }
        StreamHead::Fabric(open) => fabric(peer, open, send, recv).await,
        StreamHead::Replica(open) => match replicas {
            Some(replicas) => replicas(peer, open, send, recv).await,
            None => warn!(
                node = peer,
                "replica stream refused: this node keeps no replicas"
            ),
        },
        StreamHead::Move {
            sandbox_id,
            tenant_id,
            applied,
        } => {
            catch_up(&raft, applied).await;
            migrate::receive(&manager, peer, &tenant_id, &sandbox_id, send, recv).await;
        }
    }
}

/// Waits (a bounded time) until this node has applied `index`.
async fn catch_up(raft: &Raft, index: Option<u64>) {
    if index.is_none() {
        return;
    }
    if let Err(e) = raft
        .wait(Some(APPLY_WAIT))
        .applied_index_at_least(index, "routed request")
        .await
    {
        debug!(error = %e, "serving a routed request before catching up");
    }
}
