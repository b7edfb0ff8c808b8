//! The reconcile loop: every [`TICK`], the registry's mesh records become
//! the device's state — this node's address and route once the registry
//! gave it one, and a peer for every other node (its key, endpoint and
//! mesh address). A removed node's record is gone from the registry, so
//! its peer leaves every device within a tick or two.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use nexus_netctl::{DesiredPeer, PublicKeyBytes, Step};
use nexus_raft::MeshPeer;
use tracing::{info, warn};

use super::MeshNode;
use crate::cluster::RegistryHandle;

/// How often the loop looks at the registry.
const TICK: Duration = Duration::from_secs(1);

/// Runs the loop until aborted (nothing for a node whose mesh is not up).
pub async fn run(registry: RegistryHandle, mesh: Arc<MeshNode>) {
    if mesh.device().is_none() {
        return;
    }
    let mut failing = false;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match pass(&registry, &mesh).await {
            Ok(()) if failing => {
                info!("mesh reconcile works again");
                failing = false;
            }
            Ok(()) => {}
            Err(message) if !failing => {
                warn!(%message, "mesh reconcile failed; retrying every second");
                failing = true;
            }
            Err(_) => {}
        }
    }
}

/// One pass: address first, then peers.
async fn pass(registry: &RegistryHandle, mesh: &MeshNode) -> Result<(), String> {
    let Some(device) = mesh.device() else {
        return Ok(());
    };
    let peers = registry.read(|r| r.mesh_peers()).map_err(|e| e.message)?;
    if mesh.address().is_none() {
        let recorded = peers.iter().find(|p| p.node_id == mesh.node_id);
        if let Some(address) = recorded.map(|me| me.address).or(mesh.granted) {
            device
                .set_address(address, mesh.config.cidr, mesh.config.mtu)
                .await
                .map_err(|e| e.to_string())?;
            info!(%address, interface = device.interface(), "mesh address set");
            mesh.set_address(address);
        }
    }
    let mut desired = Vec::new();
    for peer in peers.iter().filter(|p| p.node_id != mesh.node_id) {
        match desired_peer(peer, mesh.config.persistent_keepalive).await {
            Ok(want) => desired.push(want),
            Err(message) => warn!(node_id = peer.node_id, %message, "mesh peer skipped"),
        }
    }
    let steps = device
        .reconcile(&desired)
        .await
        .map_err(|e| e.to_string())?;
    for step in steps {
        match step {
            Step::Remove(key) => info!(public_key = %key, "mesh peer removed"),
            Step::Add(peer) => info!(
                public_key = %peer.public_key,
                endpoint = %peer.endpoint,
                allowed_ip = %peer.allowed_ip,
                "mesh peer added"
            ),
        }
    }
    Ok(())
}

/// The device peer of one registry record; its endpoint resolved to an IP
/// (the device takes only `ip:port`).
async fn desired_peer(peer: &MeshPeer, keepalive: u16) -> Result<DesiredPeer, String> {
    let public_key = PublicKeyBytes::from_base64(&peer.public_key).map_err(|e| e.to_string())?;
    let endpoint = match peer.endpoint.parse::<SocketAddr>() {
        Ok(addr) => addr,
        Err(_) => tokio::net::lookup_host(&peer.endpoint)
            .await
            .map_err(|e| format!("cannot resolve endpoint {}: {e}", peer.endpoint))?
            .next()
            .ok_or_else(|| format!("endpoint {} resolves to no address", peer.endpoint))?,
    };
    Ok(DesiredPeer {
        public_key,
        endpoint: endpoint.to_string(),
        allowed_ip: format!("{}/32", peer.address),
        keepalive,
    })
}
