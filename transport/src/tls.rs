//! mTLS for tonic: a connector that dials one peer and checks it is the node
//! it should be, and an acceptor that turns TCP connections into verified TLS
//! streams. There is no plaintext path: every channel and listener made by
//! this crate runs over the configs of a [`nexus_tls::TlsMaterial`], whose
//! verifiers check the cluster CA and the peer policy on every handshake.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use nexus_raft::replication::NodeId;
use nexus_tls::ALPN_JOIN;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::rustls::server::Acceptor;
use tokio_rustls::rustls::{ClientConfig, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::{LazyConfigAcceptor, TlsConnector};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint, Uri};

/// How long a TCP connect plus TLS handshake may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an accepted connection may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Accepted connections waiting for the server to take them.
const ACCEPT_BACKLOG: usize = 64;

/// A lazily connected channel to node `target` at `addr` (`host:port`). The
/// server must present a certificate for `target` issued by the cluster CA;
/// the channel reconnects by itself after failures. With `source`, the
/// connections leave from that local address (a multi-homed node's peer
/// interface).
pub fn dial(
    target: NodeId,
    addr: &str,
    source: Option<IpAddr>,
    tls: Arc<ClientConfig>,
) -> Result<Channel, DialError> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| DialError::BadAddress {
            addr: addr.to_owned(),
            reason: e.to_string(),
        })?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(10));
    let connector = TlsConnector::from(tls);
    let server_name = nexus_tls::server_name_for(target);
    Ok(
        endpoint.connect_with_connector_lazy(tower::service_fn(move |uri: Uri| {
            let connector = connector.clone();
            let server_name = server_name.clone();
            async move {
                let authority = uri
                    .authority()
                    .ok_or_else(|| io::Error::other("peer address has no host:port"))?
                    .to_string();
                let tcp = connect(&authority, source).await?;
                let tls = connector.connect(server_name, tcp).await?;
                Ok::<_, io::Error>(TokioIo::new(tls))
            }
        })),
    )
}

/// Connects to `authority` (`host:port`), from `source` if given.
pub(crate) async fn connect(authority: &str, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let tcp = match source {
        None => TcpStream::connect(authority).await?,
        Some(ip) => {
            let remote = tokio::net::lookup_host(authority)
                .await?
                .find(|a| a.is_ipv4() == ip.is_ipv4())
                .ok_or_else(|| io::Error::other(format!("{authority} has no address like {ip}")))?;
            let socket = if ip.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            socket.bind(SocketAddr::new(ip, 0))?;
            socket.connect(remote).await?
        }
    };
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// Why a peer could not be dialled.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DialError {
    /// The address in the membership is not a valid `host:port`.
    #[error("peer address {addr:?} is invalid: {reason}")]
    BadAddress {
        /// The address as recorded.
        addr: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A node never dials itself (a wrong address map would make the leader
    /// talk to itself, which openraft does not survive).
    #[error("node {0} refused to dial itself")]
    SelfDial(NodeId),
}

/// Verified TLS streams, as the servers take them.
pub type Accepted = ReceiverStream<Result<TlsStream<TcpStream>, io::Error>>;

/// Accepts TCP connections on `listener` and runs the TLS handshake of each
/// in its own task (bounded by a timeout). A client that offers
/// [`ALPN_JOIN`] gets the `join` config (no client certificate required) and
/// its stream goes to the second receiver; every other client gets `peer`,
/// which demands a member's certificate, and goes to the first. Without a
/// `join` config every client gets `peer`. Failed handshakes — no
/// certificate, another CA, a removed node — are logged and dropped; they
/// never reach a service.
pub fn incoming(
    listener: TcpListener,
    peer: Arc<ServerConfig>,
    join: Option<Arc<ServerConfig>>,
) -> (Accepted, Accepted) {
    let (peer_tx, peer_rx) = mpsc::channel(ACCEPT_BACKLOG);
    let (join_tx, join_rx) = mpsc::channel(ACCEPT_BACKLOG);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = peer_tx.closed() => return,
            };
            let (tcp, from) = match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let (peer, join) = (peer.clone(), join.clone());
            let (peer_tx, join_tx) = (peer_tx.clone(), join_tx.clone());
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let handshake = handshake(tcp, peer, join);
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                    Ok(Ok((stream, joining))) => {
                        let tx = if joining { join_tx } else { peer_tx };
                        let _ = tx.send(Ok(stream)).await;
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(peer = %from, error = %e, "peer refused: TLS handshake failed")
                    }
                    Err(_) => tracing::warn!(peer = %from, "peer refused: TLS handshake timed out"),
                }
            });
        }
    });
    (ReceiverStream::new(peer_rx), ReceiverStream::new(join_rx))
}

/// Reads the ClientHello, picks the config by ALPN and completes the
/// handshake; true when the client came to join.
async fn handshake(
    tcp: TcpStream,
    peer: Arc<ServerConfig>,
    join: Option<Arc<ServerConfig>>,
) -> io::Result<(TlsStream<TcpStream>, bool)> {
    let start = LazyConfigAcceptor::new(Acceptor::default(), tcp).await?;
    let wants_join = start
        .client_hello()
        .alpn()
        .is_some_and(|mut offered| offered.any(|p| p == ALPN_JOIN));
    let (config, joining) = match join {
        Some(join) if wants_join => (join, true),
        _ => (peer, false),
    };
    Ok((start.into_stream(config).await?, joining))
}
