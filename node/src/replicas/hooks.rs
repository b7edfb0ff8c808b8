//! [`Hooks`]: replication as the sandbox manager calls it
//! ([`crate::sandbox::Replication`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nexus_errors::UserError;
use nexus_raft::Sandbox;
use tracing::info;

use super::{Copies, Replicas};
use crate::sandbox::{Replication, Settling, Shipping};

/// This node's replication and copies, behind the manager's trait.
pub struct Hooks {
    replicas: Arc<Replicas>,
    copies: Arc<Copies>,
}

impl Hooks {
    /// The hooks of `replicas` and `copies`.
    pub fn new(replicas: Arc<Replicas>, copies: Arc<Copies>) -> Hooks {
        Hooks { replicas, copies }
    }
}

impl Replication for Hooks {
    fn holds_copy(&self, sandbox_id: &str) -> bool {
        self.copies.holds(sandbox_id)
    }

    fn promote_copy(&self, sandbox_id: &str, to: &Path) -> std::io::Result<Option<u64>> {
        Ok(self.copies.promote(sandbox_id, to)?.map(|p| p.version))
    }

    fn check_lease(&self, sandbox: &Sandbox) -> Result<(), UserError> {
        self.replicas.check_lease(sandbox)
    }

    fn after_call<'a>(&'a self, sandbox: &'a Sandbox, live: PathBuf) -> Shipping<'a> {
        Box::pin(self.replicas.after_call(sandbox, live))
    }

    fn settle<'a>(&'a self, sandbox: &'a Sandbox, live: PathBuf) -> Settling<'a> {
        Box::pin(self.replicas.settle(sandbox, live))
    }

    fn forget(&self, sandbox_id: &str) {
        self.replicas.forget(sandbox_id);
    }

    fn drop_copy(&self, sandbox_id: &str) {
        if self.copies.holds(sandbox_id) {
            self.copies.remove(sandbox_id);
            info!(sandbox = %sandbox_id, "replica copy dropped: the sandbox's files moved here");
        }
    }
}
