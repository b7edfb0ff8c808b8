//! What `GET /v1/net/status` and `nexus net status` show: the device as
//! `wg show` would (peers, endpoints, last handshake, bytes), each peer
//! named by its node, or why the mesh is not running.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{MeshNode, State};
use crate::cluster::RegistryHandle;
use nexus_errors::{ErrorCode, UserError};

/// This node's mesh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NetStatus {
    /// The node answering.
    pub node_id: u64,
    /// `up`, or `unavailable` (then `reason` says why).
    pub state: String,
    /// Why the mesh is not running (code, message, hint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<NetReason>,
    /// The interface name (`[mesh] interface`).
    pub interface: String,
    /// The mesh prefix (`[mesh] cidr`).
    pub cidr: String,
    /// This node's public key (base64), when up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// This node's mesh address, once the registry gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Where peers reach this node's device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The device's UDP port.
    pub listen_port: u16,
    /// The device's peers.
    pub peers: Vec<NetPeer>,
}

/// Why the mesh is not running: a catalog code, what is missing, what to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NetReason {
    /// The catalog code (`MESH_UNAVAILABLE`).
    pub code: String,
    /// What is missing.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

/// One peer of the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NetPeer {
    /// The node it is, per the registry (none for a peer the registry no
    /// longer lists, until the next reconcile removes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<u64>,
    /// Its public key (base64).
    pub public_key: String,
    /// Where the device sends its packets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The addresses routed to it.
    pub allowed_ips: Vec<String>,
    /// Seconds since its last handshake, if one completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_handshake_secs: Option<u64>,
    /// Bytes received from it.
    pub rx_bytes: u64,
    /// Bytes sent to it.
    pub tx_bytes: u64,
}

impl MeshNode {
    /// The status of this node's mesh (`MESH_DISABLED` when it is off).
    pub async fn status(&self, registry: &RegistryHandle) -> Result<NetStatus, UserError> {
        let mut status = NetStatus {
            node_id: self.node_id,
            state: "up".to_owned(),
            reason: None,
            interface: self.config.interface.clone(),
            cidr: self.config.cidr.to_string(),
            public_key: None,
            address: self.address().map(|a| a.to_string()),
            endpoint: None,
            listen_port: self.config.listen_port,
            peers: Vec::new(),
        };
        let (device, public_key, proposal) = match &self.state {
            State::Disabled => {
                return Err(UserError::new(
                    ErrorCode::MeshDisabled,
                    format!(
                        "node {} does not run the mesh ([mesh] enabled = false)",
                        self.node_id
                    ),
                ))
            }
            State::Unavailable(e) => {
                status.state = "unavailable".to_owned();
                status.reason = Some(NetReason {
                    code: e.code().as_str().to_owned(),
                    message: e.to_string(),
                    hint: e.code().hint().to_owned(),
                });
                return Ok(status);
            }
            State::Up {
                device,
                public_key,
                proposal,
            } => (device, public_key, proposal),
        };
        status.public_key = Some(public_key.to_base64());
        status.endpoint = Some(proposal.endpoint.clone());
        let nodes: BTreeMap<String, u64> = registry
            .read(|r| r.mesh_peers())?
            .into_iter()
            .map(|p| (p.public_key, p.node_id))
            .collect();
        let state = device.state().await.map_err(|e| e.to_user_error())?;
        status.peers = state
            .peers
            .into_iter()
            .map(|p| {
                let key = p.public_key.to_base64();
                NetPeer {
                    node_id: nodes.get(&key).copied(),
                    public_key: key,
                    endpoint: p.endpoint,
                    allowed_ips: p.allowed_ips,
                    latest_handshake_secs: p.since_handshake.map(|d| d.as_secs()),
                    rx_bytes: p.rx_bytes,
                    tx_bytes: p.tx_bytes,
                }
            })
            .collect();
        Ok(status)
    }
}
