//! This node's labels and capacity in the registry ([`NodeReport`]), which
//! placement reads: stated once per start, when the record differs.

use nexus_raft::NodeReport;

use super::recording::keep_trying;
use super::registry::RegistryHandle;
use crate::clock::now_ms;
use crate::config::NodeConfig;
use nexus_errors::UserError;

/// What `config` makes this node report.
pub fn from_config(config: &NodeConfig) -> NodeReport {
    NodeReport {
        labels: config.labels.clone(),
        memory_bytes: config.offered_memory(),
        max_sandboxes: config.max_sandboxes,
    }
}

/// Makes the registry's report of `node_id` equal `report`, after a fresh
/// read; returns whether it had to write.
pub async fn record(
    registry: &RegistryHandle,
    node_id: u64,
    report: &NodeReport,
) -> Result<bool, UserError> {
    registry.linearize().await?;
    if registry.read(|r| r.node_report(node_id))?.as_ref() == Some(report) {
        return Ok(false);
    }
    registry
        .report_node(node_id, report.clone(), now_ms())
        .await?;
    Ok(true)
}

/// Retries [`record`] until it succeeds; runs for the node's life at most.
pub async fn keep_recorded(registry: RegistryHandle, node_id: u64, report: NodeReport) {
    keep_trying(node_id, "this node's labels and capacity", || {
        record(&registry, node_id, &report)
    })
    .await;
}
