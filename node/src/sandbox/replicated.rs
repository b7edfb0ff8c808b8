//! The sandbox manager's side of replication (see [`crate::replicas`]):
//! a replica copy becomes the sandbox's file when the registry made this
//! node its home (a failover), a call on a replicated sandbox runs only
//! while the home lease holds, and what a call changed is shipped before
//! its response goes.

use std::sync::Arc;

use nexus_errors::{ErrorCode, UserError};
use nexus_raft::{Sandbox, SandboxState};
use tracing::info;

use super::SandboxManager;
use crate::replicas::{Copies, Replicas};

impl SandboxManager {
    /// This manager with replication: `copies` (kept for other homes,
    /// promoted on failover) and `replicas` (shipping).
    pub fn with_replicas(mut self, replicas: Arc<Replicas>, copies: Arc<Copies>) -> SandboxManager {
        self.replicas = Some(replicas);
        self.copies = Some(copies);
        self
    }

    /// When `sandbox` is homed here and its file is missing but this node
    /// holds a replica copy, the copy becomes its file (live, or cold for a
    /// frozen or archived one). Returns whether it did.
    pub(super) fn adopt_copy(&self, sandbox: &Sandbox) -> Result<bool, UserError> {
        let Some(copies) = &self.copies else {
            return Ok(false);
        };
        if !copies.holds(&sandbox.id)
            || sandbox.home_node != self.node_id
            || sandbox.state == SandboxState::Deleted
        {
            return Ok(false);
        }
        let (live, cold) = (
            self.files.path(&sandbox.id),
            self.files.cold_path(&sandbox.id),
        );
        if live.exists() || cold.exists() {
            return Ok(false);
        }
        let _one_at_a_time = self.adopting.lock().unwrap_or_else(|p| p.into_inner());
        if live.exists() || cold.exists() {
            return Ok(false);
        }
        let target = match sandbox.state {
            SandboxState::Frozen | SandboxState::Archived => cold,
            _ => live,
        };
        let promoted = copies.promote(&sandbox.id, &target).map_err(|e| {
            UserError::new(
                ErrorCode::Internal,
                format!("cannot promote the replica of sandbox {}: {e}", sandbox.id),
            )
        })?;
        if let Some(promoted) = promoted {
            info!(sandbox = %sandbox.id, version = promoted.version, "replica promoted: this node is the home now");
        }
        Ok(promoted.is_some())
    }

    /// Refuses a call on a replicated sandbox while this node's home lease
    /// does not hold.
    pub(super) fn check_lease(&self, sandbox: &Sandbox) -> Result<(), UserError> {
        match &self.replicas {
            Some(replicas) => replicas.check_lease(sandbox),
            None => Ok(()),
        }
    }

    /// Ships what a call on `sandbox` changed to its replicas; in `sync`
    /// mode returns once one holds it.
    pub(super) async fn ship_after(&self, sandbox: &Sandbox) -> Result<(), UserError> {
        match &self.replicas {
            Some(replicas) => {
                replicas
                    .after_call(sandbox, self.files.path(&sandbox.id))
                    .await
            }
            None => Ok(()),
        }
    }

    /// Forgets the shipping state of a sandbox that left this node.
    pub(super) fn forget_shipping(&self, sandbox_id: &str) {
        if let Some(replicas) = &self.replicas {
            replicas.forget(sandbox_id);
        }
    }
}
