//! The data plane: one QUIC endpoint per node (quinn) for routed requests and
//! bulk transfers, beside the gRPC port.
//!
//! The endpoint listens on UDP — by default the Raft port number — and is
//! both server and client. Both sides run the node's own certificate and the
//! cluster CA from [`nexus_tls::TlsMaterial`] with ALPN
//! [`nexus_tls::ALPN_BULK`], so every handshake checks the chain and the
//! peer policy (members only, revoked nodes refused) exactly like the Raft
//! port. A connection opened before a revocation is closed when its peer
//! next opens a stream ([`serve`]).
//!
//! One connection per peer, reused ([`BulkEndpoint::open`]) in either
//! direction: the pool holds the connection last made with a peer, dialed
//! or accepted. A node dials every member when it starts
//! ([`BulkEndpoint::warm_up`]), so peers that still hold a connection to its
//! previous process move to the new one at once. A replaced connection is
//! not closed: streams still running on it finish, and it idles out. One
//! bidirectional stream per routed request or transfer, which begins with a
//! length-prefixed MessagePack head ([`head`]).
//!
//! Flow control ([`transport_config`]): 2 MiB per stream, 32 MiB per
//! connection. On loopback or a LAN (RTT well under 5 ms) 2 MiB per round
//! trip is above 400 MiB/s for a single stream, and per-stream windows above
//! ~2 MiB have tripped quinn's stream reassembly limit (`TooManyChunks`)
//! when a reader lags; the connection window lets a dozen streams run at
//! full window at once. Keep-alive every 2 s with a 10 s idle timeout: a
//! dead peer's streams fail within 10 s instead of hanging.
//!
//! The stateless-reset key is derived from the node's private key, so it
//! survives restarts: a peer still holding a connection to this node's
//! previous process is told it is gone at its next packet (a keep-alive
//! within 2 s) instead of finding out at the idle timeout.

pub mod head;
mod traffic;

use std::collections::HashMap;
use std::future::Future;
use std::net::{SocketAddr, UdpSocket};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nexus_raft::replication::NodeId;
use nexus_tls::{peer_node_id, PeerPolicy, TlsMaterial, ALPN_BULK};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{Connection, Endpoint, RecvStream, SendStream, TransportConfig, VarInt};
use tokio::sync::watch;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tracing::{debug, warn};

pub use traffic::BulkTraffic;
use traffic::TrafficTally;

/// Bytes a stream may have in flight towards its reader.
pub const STREAM_WINDOW: u32 = 2 << 20;
/// Bytes all streams of one connection may have in flight together.
pub const CONNECTION_WINDOW: u32 = 32 << 20;
/// Streams a peer may have open at once on one connection.
pub const MAX_STREAMS: u32 = 256;
/// How long a connection attempt (handshake included) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Silence after which a connection is dead.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle connection is kept alive.
const KEEP_ALIVE: Duration = Duration::from_secs(2);
/// The application close code for a peer the policy no longer allows.
const CLOSE_REVOKED: u32 = 1;
/// The application close code for a node shutting down.
const CLOSE_SHUTDOWN: u32 = 2;

/// Why the data plane failed.
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    /// The UDP socket or the quinn endpoint could not be made.
    #[error("cannot open the QUIC endpoint on {addr}: {reason}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// What failed.
        reason: String,
    },
    /// The node's TLS material does not make a QUIC config.
    #[error("cannot build the QUIC TLS configuration: {0}")]
    Config(String),
    /// The peer could not be reached or refused this node.
    #[error("cannot reach node {node} at {addr} over QUIC: {reason}")]
    Connect {
        /// The peer.
        node: NodeId,
        /// Its data-plane address.
        addr: String,
        /// What failed.
        reason: String,
    },
    /// A stream failed after the connection was up.
    #[error("QUIC stream to node {node} failed: {reason}")]
    Stream {
        /// The peer.
        node: NodeId,
        /// What failed.
        reason: String,
    },
}

/// This node's QUIC endpoint and its connections to peers.
pub struct BulkEndpoint {
    endpoint: Endpoint,
    client: quinn::ClientConfig,
    policy: Arc<dyn PeerPolicy>,
    /// At most one live connection per peer (bounded by the membership).
    connections: Mutex<HashMap<NodeId, Connection>>,
    /// Dials in progress, one at a time per peer.
    dialing: Mutex<HashMap<NodeId, Arc<tokio::sync::Mutex<()>>>>,
    /// Serves peers' streams once [`serve`] runs; a connection adopted
    /// before waits for it.
    handler: watch::Sender<Option<Handler>>,
    /// Bytes and streams carried so far.
    traffic: Arc<TrafficTally>,
}

impl std::fmt::Debug for BulkEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkEndpoint")
            .field("local_addr", &self.endpoint.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl BulkEndpoint {
    /// An endpoint on the bound `socket`, serving and dialing with `tls`;
    /// peers must be members `policy` allows. `secret` (the node's private
    /// key) seeds the stateless-reset key.
    pub fn new(
        socket: UdpSocket,
        tls: &TlsMaterial,
        policy: Arc<dyn PeerPolicy>,
        secret: &[u8],
    ) -> Result<BulkEndpoint, BulkError> {
        let addr = socket
            .local_addr()
            .map_or_else(|_| "?".to_owned(), |a| a.to_string());
        let transport = Arc::new(transport_config());
        let server_tls = tls
            .server_config(ALPN_BULK)
            .map_err(|e| BulkError::Config(e.to_string()))?;
        let server_crypto = QuicServerConfig::try_from(Arc::new(server_tls))
            .map_err(|e| BulkError::Config(e.to_string()))?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(server_crypto));
        server.transport_config(transport.clone());
        let client_tls = tls
            .client_config(ALPN_BULK)
            .map_err(|e| BulkError::Config(e.to_string()))?;
        let client_crypto = QuicClientConfig::try_from(Arc::new(client_tls))
            .map_err(|e| BulkError::Config(e.to_string()))?;
        let mut client = quinn::ClientConfig::new(Arc::new(client_crypto));
        client.transport_config(transport);
        let endpoint = Endpoint::new(
            quinn::EndpointConfig::new(Arc::new(reset_key(secret))),
            Some(server),
            socket,
            Arc::new(quinn::TokioRuntime),
        )
        .map_err(|e| BulkError::Bind {
            addr,
            reason: e.to_string(),
        })?;
        Ok(BulkEndpoint {
            endpoint,
            client,
            policy,
            connections: Mutex::new(HashMap::new()),
            dialing: Mutex::new(HashMap::new()),
            handler: watch::Sender::new(None),
            traffic: Arc::default(),
        })
    }

    /// Binds a UDP socket on `addr` for [`BulkEndpoint::new`].
    pub fn bind_socket(addr: SocketAddr) -> Result<UdpSocket, BulkError> {
        UdpSocket::bind(addr).map_err(|e| BulkError::Bind {
            addr: addr.to_string(),
            reason: e.to_string(),
        })
    }

    /// The UDP address this endpoint is bound to.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.endpoint.local_addr().ok()
    }

    /// What the data plane has carried since the endpoint opened.
    pub fn traffic(&self) -> BulkTraffic {
        let mut traffic = self.traffic.snapshot();
        let handshakes = self.endpoint.stats();
        traffic.handshakes_failed = traffic
            .handshakes_failed
            .saturating_add(handshakes.refused_handshakes);
        traffic
    }

    /// Opens a stream to node `target` at `addr`, over the connection
    /// already open to it or a new one.
    pub async fn open(
        &self,
        target: NodeId,
        addr: &str,
    ) -> Result<(SendStream, RecvStream), BulkError> {
        self.traffic.stream_opened();
        let connection = self.connection(target, addr).await?;
        match connection.open_bi().await {
            Ok(stream) => Ok(stream),
            Err(e) => {
                // The cached connection died since it was last used: one
                // fresh connection, then give up.
                debug!(node = target, error = %e, "QUIC connection lost; redialing");
                self.forget(target, &connection);
                let connection = self.connection(target, addr).await?;
                connection.open_bi().await.map_err(|e| BulkError::Connect {
                    node: target,
                    addr: addr.to_owned(),
                    reason: e.to_string(),
                })
            }
        }
    }

    /// The live connection to `target`, dialing it when there is none.
    async fn connection(&self, target: NodeId, addr: &str) -> Result<Connection, BulkError> {
        if let Some(live) = self.cached(target) {
            return Ok(live);
        }
        let turn = self
            .dialing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(target)
            .or_default()
            .clone();
        let _turn = turn.lock().await;
        if let Some(live) = self.cached(target) {
            return Ok(live);
        }
        let connection = self.dial(target, addr).await?;
        self.adopt(target, connection.clone());
        Ok(connection)
    }

    /// Makes `connection` the one new streams to `peer` use, and serves the
    /// streams `peer` opens on it.
    fn adopt(&self, peer: NodeId, connection: Connection) {
        tokio::spawn(accept_streams(
            self.policy.clone(),
            self.handler.subscribe(),
            self.traffic.clone(),
            connection.clone(),
            peer,
        ));
        self.connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(peer, connection);
    }

    /// Dials every peer in `peers` (id and data-plane address), each within
    /// the connect timeout; one that does not answer is skipped (it is dialed
    /// again when a stream needs it).
    pub async fn warm_up(self: &Arc<Self>, peers: Vec<(NodeId, String)>) {
        let mut dials = tokio::task::JoinSet::new();
        for (node, addr) in peers {
            let bulk = self.clone();
            dials.spawn(async move {
                match bulk.dial(node, &addr).await {
                    Ok(connection) => bulk.adopt(node, connection),
                    Err(e) => debug!(node, error = %e, "data plane: peer not reached at start"),
                }
            });
        }
        while dials.join_next().await.is_some() {}
    }

    fn cached(&self, target: NodeId) -> Option<Connection> {
        let connections = self
            .connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        connections
            .get(&target)
            .filter(|c| c.close_reason().is_none())
            .cloned()
    }

    fn forget(&self, target: NodeId, dead: &Connection) {
        let mut connections = self
            .connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if connections
            .get(&target)
            .is_some_and(|c| c.stable_id() == dead.stable_id())
        {
            connections.remove(&target);
        }
    }

    async fn dial(&self, target: NodeId, addr: &str) -> Result<Connection, BulkError> {
        let failed = |reason: String| BulkError::Connect {
            node: target,
            addr: addr.to_owned(),
            reason,
        };
        let remote = tokio::net::lookup_host(addr)
            .await
            .map_err(|e| failed(e.to_string()))?
            .next()
            .ok_or_else(|| failed("the address resolves to nothing".to_owned()))?;
        let name = nexus_tls::node_dns_name(target);
        let connecting = self
            .endpoint
            .connect_with(self.client.clone(), remote, &name)
            .map_err(|e| failed(e.to_string()))?;
        match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(e)) => Err(failed(e.to_string())),
            Err(_) => Err(failed(format!(
                "no QUIC handshake within {} s",
                CONNECT_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Closes the endpoint: open connections are told the node stops.
    pub async fn close(&self) {
        self.endpoint
            .close(VarInt::from_u32(CLOSE_SHUTDOWN), b"node stopping");
        let _ = tokio::time::timeout(Duration::from_secs(2), self.endpoint.wait_idle()).await;
    }
}

/// A stream a peer opened, with the peer's node id (from its certificate).
pub struct PeerStream {
    /// The peer that opened it.
    pub peer: NodeId,
    /// Its UDP address.
    pub remote: SocketAddr,
    /// Towards the peer.
    pub send: SendStream,
    /// From the peer.
    pub recv: RecvStream,
}

/// What serves the streams peers open: set once by [`serve`].
type Handler = Arc<dyn Fn(PeerStream) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Accepts connections on `bulk` until `shutdown` resolves and hands every
/// stream a member opens — on a connection it dialed or one this node
/// dialed — to `handle`, each in its own task. A connection whose peer the
/// policy no longer allows is closed when it opens its next stream.
pub async fn serve<H, F>(bulk: Arc<BulkEndpoint>, handle: H, shutdown: impl Future<Output = ()>)
where
    H: Fn(PeerStream) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let handler: Handler = Arc::new(move |stream| Box::pin(handle(stream)));
    bulk.handler.send_replace(Some(handler));
    tokio::pin!(shutdown);
    loop {
        let incoming = tokio::select! {
            incoming = bulk.endpoint.accept() => incoming,
            () = &mut shutdown => break,
        };
        let Some(incoming) = incoming else { break };
        let bulk = bulk.clone();
        tokio::spawn(async move {
            let remote = incoming.remote_address();
            let connection = match tokio::time::timeout(CONNECT_TIMEOUT, incoming).await {
                Ok(Ok(connection)) => connection,
                Ok(Err(e)) => {
                    bulk.traffic.handshake_failed();
                    warn!(peer = %remote, error = %e, "QUIC peer refused: handshake failed");
                    return;
                }
                Err(_) => {
                    bulk.traffic.handshake_failed();
                    warn!(peer = %remote, "QUIC peer refused: handshake timed out");
                    return;
                }
            };
            let Some(peer) = connection_peer(&connection) else {
                connection.close(VarInt::from_u32(CLOSE_REVOKED), b"no node certificate");
                return;
            };
            bulk.adopt(peer, connection);
        });
    }
    bulk.close().await;
}

/// Takes the streams `peer` opens on `connection` until it closes, counting
/// the connection's traffic meanwhile. A connection this node dialed before
/// [`serve`] ran (a dial while it starts) waits for its handler: the peer
/// may already use that connection for its own streams, which quinn holds
/// until they are taken.
async fn accept_streams(
    policy: Arc<dyn PeerPolicy>,
    mut handler: watch::Receiver<Option<Handler>>,
    traffic: Arc<TrafficTally>,
    connection: Connection,
    peer: NodeId,
) {
    traffic.track(&connection);
    let handler = tokio::select! {
        ready = handler.wait_for(Option::is_some) => ready.ok().and_then(|h| h.clone()),
        _ = connection.closed() => None,
    };
    if let Some(handler) = handler {
        serve_streams(&policy, &handler, &traffic, &connection, peer).await;
    }
    traffic.closed(&connection);
}

async fn serve_streams(
    policy: &Arc<dyn PeerPolicy>,
    handler: &Handler,
    traffic: &TrafficTally,
    connection: &Connection,
    peer: NodeId,
) {
    let remote = connection.remote_address();
    loop {
        let (send, recv) = match connection.accept_bi().await {
            Ok(stream) => stream,
            Err(e) => {
                debug!(node = peer, error = %e, "QUIC connection closed");
                return;
            }
        };
        if !policy.is_allowed(peer) {
            warn!(node = peer, "QUIC peer refused: no longer a member");
            connection.close(VarInt::from_u32(CLOSE_REVOKED), b"node removed");
            return;
        }
        traffic.stream_accepted();
        tokio::spawn(handler(PeerStream {
            peer,
            remote,
            send,
            recv,
        }));
    }
}

/// The node id in the certificate a connected peer presented.
fn connection_peer(connection: &Connection) -> Option<NodeId> {
    let identity = connection.peer_identity()?;
    let chain = identity.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    peer_node_id(Some(&chain))
}

/// An HMAC key for stateless resets that is the same at every start of the
/// node holding `secret`.
fn reset_key(secret: &[u8]) -> ring::hmac::Key {
    use sha2::Digest;
    let seed = sha2::Sha256::new()
        .chain_update(b"nexus-bulk stateless reset\0")
        .chain_update(secret)
        .finalize();
    ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &seed)
}

/// The flow-control and liveness settings of every data-plane connection
/// (see the module docs for why these values).
pub fn transport_config() -> TransportConfig {
    let mut config = TransportConfig::default();
    config
        .stream_receive_window(VarInt::from_u32(STREAM_WINDOW))
        .receive_window(VarInt::from_u32(CONNECTION_WINDOW))
        .send_window(u64::from(CONNECTION_WINDOW))
        .max_concurrent_bidi_streams(VarInt::from_u32(MAX_STREAMS))
        .max_concurrent_uni_streams(VarInt::from_u32(0))
        .keep_alive_interval(Some(KEEP_ALIVE));
    if let Ok(idle) = quinn::IdleTimeout::try_from(IDLE_TIMEOUT) {
        config.max_idle_timeout(Some(idle));
    }
    config
}
