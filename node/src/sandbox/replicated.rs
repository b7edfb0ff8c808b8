//! What the sandbox manager needs from replication ([`Replication`],
//! implemented by [`crate::replicas`]): a replica copy becomes the
//! sandbox's file when the registry made this node its home (a failover),
//! a call on a replicated sandbox runs only while the home lease holds, and
//! what a call changed is shipped before its response goes.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use nexus_errors::{ErrorCode, UserError};
use nexus_raft::replication::NodeId;
use nexus_raft::{Durability, Sandbox, SandboxState};
use nexus_workbook::WalAfter;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::{blocking, wal, SandboxManager};

/// A future the manager awaits, boxed so the trait stays object safe.
pub type Shipping<'a> = Pin<Box<dyn Future<Output = Result<(), UserError>> + Send + 'a>>;

/// [`Replication::settle`]'s future (it reports its own failures).
pub type Settling<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Replication as the sandbox manager sees it.
pub trait Replication: Send + Sync {
    /// Whether this node keeps a replica copy of `sandbox_id`.
    fn holds_copy(&self, sandbox_id: &str) -> bool;
    /// Makes the copy of `sandbox_id` the file at `to`; the version it held,
    /// or `None` without a copy.
    fn promote_copy(&self, sandbox_id: &str, to: &Path) -> std::io::Result<Option<u64>>;
    /// Refuses to act for a replicated sandbox while the home lease does
    /// not hold.
    fn check_lease(&self, sandbox: &Sandbox) -> Result<(), UserError>;
    /// Ships what the last call changed in `sandbox`'s live file at `live`;
    /// in `sync` mode resolves once a replica holds it.
    fn after_call<'a>(&'a self, sandbox: &'a Sandbox, live: PathBuf) -> Shipping<'a>;
    /// Checkpoints `sandbox`'s live file at `live` if its WAL holds only
    /// what was shipped (before a suspend closes it).
    fn settle<'a>(&'a self, sandbox: &'a Sandbox, live: PathBuf) -> Settling<'a>;
    /// Forgets the shipping state of a sandbox that left this node.
    fn forget(&self, sandbox_id: &str);
    /// Deletes this node's replica copy of `sandbox_id`, if it keeps one:
    /// the sandbox's files moved here supersede it.
    fn drop_copy(&self, sandbox_id: &str);
}

/// A sandbox's replication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplicationInfo {
    /// Copies the cluster keeps of it, its home's included (the factor it
    /// asked for or the node's default, at most one per member).
    pub factor: u32,
    /// When a call's response goes: `sync` (a replica holds its change) or
    /// `async`.
    pub durability: Durability,
    /// The version of its workbook its home shipped last, if it shipped
    /// since it started.
    pub version: Option<u64>,
    /// Its replicas, by node.
    pub replicas: Vec<ReplicaInfo>,
}

/// One replica of a sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplicaInfo {
    /// The node keeping the copy.
    pub node_id: NodeId,
    /// The version it acknowledged last (this home's shipments), or the
    /// one recorded in the registry before.
    pub version: u64,
    /// Versions it is behind the home's last shipment.
    pub lag_versions: u64,
    /// Bytes it is behind: the home's WAL not shipped yet, or the whole
    /// file when it needs a new copy.
    pub lag_bytes: u64,
    /// Bytes shipped to it since the home started.
    pub shipped_bytes: u64,
    /// Why its last shipment failed, if it did.
    pub error: Option<String>,
}

impl SandboxManager {
    /// This manager with replication.
    pub fn with_replication(mut self, replication: Arc<dyn Replication>) -> SandboxManager {
        self.replication = Some(replication);
        self
    }

    /// When `sandbox` is homed here and its file is missing but this node
    /// holds a replica copy, the copy becomes its file (live, or cold for a
    /// frozen or archived one). Returns whether it did.
    pub(super) fn adopt_copy(&self, sandbox: &Sandbox) -> Result<bool, UserError> {
        let Some(replication) = &self.replication else {
            return Ok(false);
        };
        if !replication.holds_copy(&sandbox.id)
            || sandbox.home_node != self.node_id
            || sandbox.state == SandboxState::Deleted
        {
            return Ok(false);
        }
        let (live, cold) = (
            self.files.path(&sandbox.id),
            self.files.cold_path(&sandbox.id),
        );
        let _one_at_a_time = self.adopting.lock().unwrap_or_else(|p| p.into_inner());
        if live.exists() || cold.exists() {
            return Ok(false);
        }
        let target = match sandbox.state {
            SandboxState::Frozen | SandboxState::Archived => cold,
            _ => live,
        };
        let version = replication
            .promote_copy(&sandbox.id, &target)
            .map_err(|e| {
                UserError::new(
                    ErrorCode::Internal,
                    format!("cannot promote the replica of sandbox {}: {e}", sandbox.id),
                )
            })?;
        if let Some(version) = version {
            info!(sandbox = %sandbox.id, version, "replica promoted: this node is the home now");
        }
        Ok(version.is_some())
    }

    /// Refuses a call on a replicated sandbox while this node's home lease
    /// does not hold.
    pub(super) fn check_lease(&self, sandbox: &Sandbox) -> Result<(), UserError> {
        match &self.replication {
            Some(replication) => replication.check_lease(sandbox),
            None => Ok(()),
        }
    }

    /// Ships what a call on `sandbox` changed to its replicas (in `sync`
    /// mode returns once one holds it), and checkpoints its WAL once it
    /// grew past [`wal::CHECKPOINT_BYTES`]: the shipper does for a
    /// replicated sandbox, this for the others.
    pub(super) async fn ship_after(&self, sandbox: &Sandbox) -> Result<(), UserError> {
        let live = self.files.path(&sandbox.id);
        match &self.replication {
            Some(replication) if !sandbox.replicas.is_empty() => {
                replication.after_call(sandbox, live).await
            }
            _ if wal::wal_bytes(&live) < wal::CHECKPOINT_BYTES => Ok(()),
            _ => {
                let id = sandbox.id.clone();
                blocking(move || {
                    if let Err(e) = wal::checkpoint(&live, WalAfter::Truncated) {
                        warn!(sandbox = %id, error = %e, "WAL checkpoint after a call failed");
                    }
                    Ok(())
                })
                .await
            }
        }
    }

    /// Checkpoints a replicated sandbox's WAL through its shipper before it
    /// is brought to rest, so the next shipment is a change, not a whole
    /// copy.
    pub(super) async fn settle_shipping(&self, sandbox: &Sandbox) {
        if let Some(replication) = &self.replication {
            if !sandbox.replicas.is_empty() {
                replication
                    .settle(sandbox, self.files.path(&sandbox.id))
                    .await;
            }
        }
    }

    /// Forgets the shipping state of a sandbox that left this node.
    pub(super) fn forget_shipping(&self, sandbox_id: &str) {
        if let Some(replication) = &self.replication {
            replication.forget(sandbox_id);
        }
    }

    /// Deletes the replica copy of a sandbox whose files moved here.
    pub(super) fn drop_superseded_copy(&self, sandbox_id: &str) {
        if let Some(replication) = &self.replication {
            replication.drop_copy(sandbox_id);
        }
    }
}
