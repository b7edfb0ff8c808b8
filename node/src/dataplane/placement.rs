//! Where a new sandbox goes when the client does not say: the member with
//! the fewest live sandboxes (created or active, from the registry), the
//! receiving node first among equals (its upload need not travel), then by
//! id. Drained members take none. A member that cannot be reached is
//! skipped when the upload is routed.

use std::collections::HashMap;

use nexus_raft::replication::NodeId;
use nexus_raft::SandboxState;

use super::DataPlane;
use crate::cluster::RegistryHandle;
use nexus_errors::{ErrorCode, UserError};

impl DataPlane {
    /// The members in the order a new sandbox should try them.
    pub fn placement_order(&self, registry: &RegistryHandle) -> Result<Vec<NodeId>, UserError> {
        let mut members: Vec<NodeId> = self.members().into_iter().map(|(id, _)| id).collect();
        let drained = registry.read(|r| r.drained_nodes())?;
        members.retain(|id| !drained.contains(id));
        let mut live: HashMap<NodeId, usize> = HashMap::new();
        for sandbox in registry.read(|r| r.all_sandboxes())? {
            if matches!(sandbox.state, SandboxState::Created | SandboxState::Active) {
                *live.entry(sandbox.home_node).or_default() += 1;
            }
        }
        if !members.contains(&self.node_id) && !drained.contains(&self.node_id) {
            members.push(self.node_id);
        }
        members.sort_by_key(|id| (live.get(id).copied().unwrap_or(0), *id != self.node_id, *id));
        Ok(members)
    }

    /// Refuses `node` as the home of a new or moved sandbox when it is
    /// drained (`NODE_DRAINED`).
    pub fn check_not_drained(
        &self,
        registry: &RegistryHandle,
        node: NodeId,
    ) -> Result<(), UserError> {
        if registry.read(|r| r.drained_nodes())?.contains(&node) {
            return Err(UserError::new(
                ErrorCode::NodeDrained,
                format!("node {node} is drained: it takes no new sandboxes"),
            ));
        }
        Ok(())
    }

    /// Whether `node` is a member (a sandbox may be placed there).
    pub fn is_member(&self, node: NodeId) -> bool {
        self.address_of(node).is_some() || node == self.node_id
    }
}
