//! The joiner's side of the join RPC. The TLS handshake with the pinned CA
//! fingerprint ([`nexus_tls::bootstrap_client_config`]) completes *before*
//! the request — and the token secret in it — exists on the wire: a server
//! whose CA does not match never sees the secret.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use nexus_tls::PinError;
use tokio_rustls::rustls::{self, CertificateError, ClientConfig};
use tokio_rustls::TlsConnector;
use tonic::transport::{Endpoint, Uri};

use crate::messages::{JoinMsg, JoinReply};
use crate::proto::join_service_client::JoinServiceClient;
use crate::tls::CONNECT_TIMEOUT;

/// How long the cluster may take to answer a join (it commits the token's
/// redemption through Raft first).
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a join request got no answer from the cluster.
#[derive(Debug, thiserror::Error)]
pub enum JoinDialError {
    /// The peer could not be reached.
    #[error("cannot reach {addr}: {source}")]
    Unreachable {
        /// The peer address.
        addr: String,
        /// What the connect said.
        #[source]
        source: io::Error,
    },
    /// The server's CA is not the one the token pins; nothing was sent.
    #[error("the server at {addr} belongs to another cluster: its CA does not match the token's fingerprint (the token secret was not sent)")]
    CaMismatch {
        /// The peer address.
        addr: String,
    },
    /// The TLS handshake failed for another reason; nothing was sent.
    #[error("TLS handshake with {addr} failed: {reason} (the token secret was not sent)")]
    Handshake {
        /// The peer address.
        addr: String,
        /// What rustls said.
        reason: String,
    },
    /// The join RPC itself failed (the peer does not serve joins, or the
    /// connection broke).
    #[error("{addr} did not answer the join request: {reason}")]
    Rpc {
        /// The peer address.
        addr: String,
        /// The gRPC status.
        reason: String,
    },
}

/// Sends `msg` to the join endpoint at `addr` (`host:port`) over `tls`, a
/// [`nexus_tls::bootstrap_client_config`] pinned to the token's CA with
/// [`nexus_tls::ALPN_JOIN`]. Returns the cluster's answer.
pub async fn request_join(
    addr: &str,
    tls: ClientConfig,
    msg: JoinMsg,
) -> Result<JoinReply, JoinDialError> {
    let unreachable = |source| JoinDialError::Unreachable {
        addr: addr.to_owned(),
        source,
    };
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, crate::tls::connect(addr, None))
        .await
        .map_err(|_| unreachable(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")))?
        .map_err(unreachable)?;
    // Any name: the pinned verifier checks the CA and the node id SAN.
    let server_name = nexus_tls::server_name_for(0);
    let stream = TlsConnector::from(Arc::new(tls))
        .connect(server_name, tcp)
        .await
        .map_err(|e| handshake_error(addr, &e))?;

    // Hand the verified stream to tonic exactly once.
    let slot = Arc::new(Mutex::new(Some(stream)));
    let rpc_error = |reason: String| JoinDialError::Rpc {
        addr: addr.to_owned(),
        reason,
    };
    let channel = Endpoint::from_static("http://join.nexus.internal")
        .timeout(JOIN_TIMEOUT)
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let taken = slot.lock().map(|mut s| s.take()).ok().flatten();
            async move {
                taken
                    .map(TokioIo::new)
                    .ok_or_else(|| io::Error::other("the join connection was already used"))
            }
        }))
        .await
        .map_err(|e| rpc_error(e.to_string()))?;
    let reply = JoinServiceClient::new(channel)
        .join(msg)
        .await
        .map_err(|status| rpc_error(format!("{}: {}", status.code(), status.message())))?;
    Ok(reply.into_inner())
}

/// Names a failed handshake: a CA fingerprint mismatch, or something else.
fn handshake_error(addr: &str, e: &io::Error) -> JoinDialError {
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    if let Some(rustls::Error::InvalidCertificate(CertificateError::Other(other))) = tls {
        if let Some(PinError::FingerprintMismatch) = other.0.downcast_ref::<PinError>() {
            return JoinDialError::CaMismatch {
                addr: addr.to_owned(),
            };
        }
    }
    JoinDialError::Handshake {
        addr: addr.to_owned(),
        reason: e.to_string(),
    }
}
