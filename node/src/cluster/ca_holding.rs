//! Which nodes hold the cluster CA key, as the registry records it. Each
//! node states its own holding once per start (the founder at `nexus init`,
//! a node that imported the CA with `nexus ca import` at its next start,
//! one whose key was taken away likewise), so a member without the key
//! knows where to forward a join.

use tracing::warn;

use super::recording::keep_trying;
use super::registry::RegistryHandle;
use crate::clock::now_ms;
use nexus_errors::UserError;

/// Makes the registry's record of `node_id` say `holds`, after a fresh read;
/// returns whether it had to write.
pub async fn record(
    registry: &RegistryHandle,
    node_id: u64,
    holds: bool,
) -> Result<bool, UserError> {
    registry.linearize().await?;
    let recorded = registry.read(|r| Ok(r.ca_holders()?.iter().any(|h| h.id == node_id)))?;
    if recorded == holds {
        return Ok(false);
    }
    let now = registry.set_ca_holder(node_id, holds, now_ms()).await?;
    if now != holds {
        warn!(
            node_id,
            "this node holds the CA key but was removed from the cluster: it is not recorded \
             as a CA holder; delete its data dir"
        );
    }
    Ok(true)
}

/// Retries [`record`] until it succeeds; runs for the node's life at most.
pub async fn keep_recorded(registry: RegistryHandle, node_id: u64, holds: bool) {
    let what = format!("whether this node holds the CA key ({holds})");
    keep_trying(node_id, &what, || record(&registry, node_id, holds)).await;
}
