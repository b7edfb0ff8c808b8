//! The node's listening sockets — its HTTP API and, in a cluster, its peer
//! (Raft) port on TCP and its data plane (QUIC) on UDP — bound together before anything depends on them. A joiner
//! binds them before it redeems its token and serves on the same sockets, so
//! a port taken by another process fails the join while the token is unused.

use std::net::{SocketAddr, UdpSocket};

use tokio::net::TcpListener;

use crate::config::Config;
use nexus_errors::{ErrorCode, UserError};

/// The bound API socket and, when `[cluster] raft_listen` is set, the bound
/// peer sockets.
#[derive(Debug)]
pub struct Listeners {
    /// The HTTP API (`listen`).
    pub api: TcpListener,
    /// The peer port (`[cluster] raft_listen`).
    pub raft: Option<TcpListener>,
    /// The data plane: the same address and port number, over UDP.
    pub bulk: Option<UdpSocket>,
    /// The metrics listener (`[metrics] listen`).
    pub metrics: Option<TcpListener>,
}

impl Listeners {
    /// Binds `listen`, `[cluster] raft_listen` and `[metrics] listen` of `config`. A failure is
    /// `NODE_BIND_FAILED`, naming the address.
    pub async fn bind(config: &Config) -> Result<Listeners, UserError> {
        let api = TcpListener::bind(config.listen).await.map_err(|e| {
            UserError::new(
                ErrorCode::NodeBindFailed,
                format!("cannot listen on {}: {e}", config.listen),
            )
        })?;
        let raft = bind_peer_port(config).await?;
        let bulk = bind_bulk_port(config, raft.as_ref())?;
        let metrics = match config.metrics.listen {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
                UserError::new(
                    ErrorCode::NodeBindFailed,
                    format!("cannot listen on {addr} ([metrics] listen): {e}"),
                )
            })?),
            None => None,
        };
        Ok(Listeners {
            api,
            raft,
            bulk,
            metrics,
        })
    }

    /// The address the API socket is bound to (`listen` with its port
    /// resolved).
    pub fn api_addr(&self, config: &Config) -> SocketAddr {
        self.api.local_addr().unwrap_or(config.listen)
    }
}

/// Binds `[cluster] raft_listen` of `config`, if set (`NODE_BIND_FAILED`).
pub async fn bind_peer_port(config: &Config) -> Result<Option<TcpListener>, UserError> {
    let Some(addr) = config.cluster.raft_listen else {
        return Ok(None);
    };
    nexus_transport::server::bind(addr)
        .await
        .map(Some)
        .map_err(|e| UserError::new(ErrorCode::NodeBindFailed, e.to_string()))
}

/// Binds the data plane's UDP socket on the address the peer listener got
/// (`NODE_BIND_FAILED`), when there is one.
pub fn bind_bulk_port(
    config: &Config,
    raft: Option<&TcpListener>,
) -> Result<Option<UdpSocket>, UserError> {
    let Some(raft) = raft else {
        return Ok(None);
    };
    let addr = raft
        .local_addr()
        .ok()
        .or(config.cluster.raft_listen)
        .ok_or_else(|| UserError::new(ErrorCode::Internal, "the peer listener has no address"))?;
    nexus_transport::bulk::BulkEndpoint::bind_socket(addr)
        .map(Some)
        .map_err(|e| UserError::new(ErrorCode::NodeBindFailed, e.to_string()))
}
