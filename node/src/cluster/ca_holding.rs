//! Which nodes hold the cluster CA key, as the registry records it. Each
//! node states its own holding once per start (the founder at `nexus init`,
//! a node that imported the CA with `nexus ca import` at its next start,
//! one whose key was taken away likewise), so a member without the key
//! knows where to forward a join.

use std::time::Duration;

use tracing::{info, warn};

use super::registry::RegistryHandle;
use crate::clock::now_ms;
use nexus_errors::UserError;

/// Pause between attempts while the registry cannot be written (a node
/// that starts before its cluster has a leader).
const RETRY: Duration = Duration::from_secs(1);

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
    let mut failures = 0u32;
    loop {
        match record(&registry, node_id, holds).await {
            Ok(true) => {
                info!(
                    node_id,
                    holds_ca = holds,
                    "recorded whether this node holds the CA key"
                );
                return;
            }
            Ok(false) => return,
            Err(e) => {
                failures = failures.saturating_add(1);
                if failures == 1 || failures.is_multiple_of(30) {
                    warn!(
                        node_id,
                        failures,
                        code = %e.code,
                        message = %e.message,
                        "cannot yet record whether this node holds the CA key; retrying"
                    );
                }
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}
