//! This node's mesh record in the registry: written at start when it
//! differs (a new key, a new endpoint after the underlay was re-addressed,
//! advertising switched on), retried until the registry can be written.

use std::sync::Arc;

use super::{MeshNode, MeshProposal};
use crate::clock::now_ms;
use crate::cluster::RegistryHandle;
use nexus_errors::UserError;

/// Makes the registry's record of this node match `proposal`, after a
/// fresh read; returns whether it had to write.
async fn record(
    registry: &RegistryHandle,
    node_id: u64,
    proposal: &MeshProposal,
) -> Result<bool, UserError> {
    registry.linearize().await?;
    let stored = registry.read(|r| Ok((r.mesh_peer(node_id)?, r.mesh_cidr()?)))?;
    if let (Some(peer), Some(cidr)) = stored {
        if peer.public_key == proposal.public_key
            && peer.endpoint == proposal.endpoint
            && peer.advertise == proposal.advertise
            && cidr == proposal.cidr
        {
            return Ok(false);
        }
    }
    registry
        .set_mesh_peer(node_id, proposal.clone(), now_ms())
        .await?;
    Ok(true)
}

/// Retries [`record`] until it succeeds (nothing for a node whose mesh is
/// not up); runs for the node's life at most.
pub async fn keep_recorded(registry: RegistryHandle, mesh: Arc<MeshNode>) {
    let Some(proposal) = mesh.proposal().cloned() else {
        return;
    };
    let node_id = mesh.node_id;
    crate::cluster::keep_trying(node_id, "this node's mesh key and endpoint", || {
        record(&registry, node_id, &proposal)
    })
    .await;
}
