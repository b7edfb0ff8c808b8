//! [`Channels`]: one reused gRPC channel per peer.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use nexus_raft::replication::NodeId;
use tokio_rustls::rustls::ClientConfig;
use tonic::transport::Channel;

use crate::tls::{dial, DialError};

/// The channels of one node to its peers, keyed by node id. A channel is
/// made on first use and kept (HTTP/2 multiplexes every RPC over it); it is
/// replaced only when the peer's address changes.
#[derive(Clone)]
pub struct Channels {
    self_id: NodeId,
    source: Option<IpAddr>,
    tls: Arc<ClientConfig>,
    peers: Arc<Mutex<HashMap<NodeId, (String, Channel)>>>,
}

impl Channels {
    /// Channels of node `self_id`, authenticated with `tls` (ALPN h2),
    /// connecting from `source` when given.
    pub fn new(self_id: NodeId, source: Option<IpAddr>, tls: Arc<ClientConfig>) -> Channels {
        Channels {
            self_id,
            source,
            tls,
            peers: Arc::default(),
        }
    }

    /// The channel to `target` at `addr`.
    pub fn get(&self, target: NodeId, addr: &str) -> Result<Channel, DialError> {
        if target == self.self_id {
            return Err(DialError::SelfDial(target));
        }
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((known, channel)) = peers.get(&target) {
            if known == addr {
                return Ok(channel.clone());
            }
        }
        let channel = dial(target, addr, self.source, Arc::clone(&self.tls))?;
        peers.insert(target, (addr.to_owned(), channel.clone()));
        Ok(channel)
    }
}
