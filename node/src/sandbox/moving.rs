//! What a migration needs from the sandbox manager: the files a sandbox has
//! here, a pause that brings its live file to rest, a received file put in
//! place (its module compiled ahead), and forgetting a sandbox that moved
//! away.

use std::path::PathBuf;

use nexus_raft::Sandbox;
use serde::{Deserialize, Serialize};
use tracing::debug;

use super::{blocking, store, SandboxManager, StagedFile};
use crate::lifecycle::{storage, ExclusiveGuard};
use nexus_errors::{ErrorCode, UserError};

/// Which of a sandbox's files a transfer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FileKind {
    /// The live workbook (created, active, suspended sandboxes).
    Live,
    /// The cold copy (frozen and archived sandboxes).
    Cold,
}

impl SandboxManager {
    /// The files `sandbox_id` has on this node, live first.
    pub fn files_of(&self, sandbox_id: &str) -> Vec<(FileKind, PathBuf)> {
        [
            (FileKind::Live, self.files.path(sandbox_id)),
            (FileKind::Cold, self.files.cold_path(sandbox_id)),
        ]
        .into_iter()
        .filter(|(_, path)| path.exists())
        .collect()
    }

    /// The sandbox, reading the registry once more through the leader when
    /// this node does not know it yet (docked a moment ago through another
    /// node, or this node is still catching up after a restart).
    pub async fn get_fresh(&self, tenant_id: &str, sandbox_id: &str) -> Result<Sandbox, UserError> {
        match self.get(tenant_id, sandbox_id) {
            Err(e) if e.is(ErrorCode::SandboxNotFound) => {
                self.registry.linearize().await?;
                self.get(tenant_id, sandbox_id)
            }
            known => known,
        }
    }

    /// Holds `sandbox` for a move's pause: waits for its calls in flight and
    /// keeps new ones (and the idle ladder) out while the guard lives.
    pub async fn hold_for_move(&self, sandbox: &Sandbox) -> ExclusiveGuard {
        self.activity_of(sandbox).exclusive().await
    }

    /// Brings a held sandbox's live file to rest: closes its workbook and
    /// folds the WAL into the live file, which is then the whole state.
    pub async fn rest_for_move(&self, sandbox_id: &str) -> Result<(), UserError> {
        self.close_context(sandbox_id);
        let live = self.files.path(sandbox_id);
        if live.exists() {
            blocking(move || storage::checkpoint_live(&live)).await?;
        }
        Ok(())
    }

    /// Compiles the entry module of a moved-in live file (staged at `path`,
    /// read without writing to it) for `profile`, unless the module cache
    /// holds its SHA-256 already: the first call at the new home then runs
    /// at once. Best effort — a call compiles it otherwise.
    pub async fn warm_moved_module(&self, path: PathBuf, profile: &str) {
        let entry = match blocking(move || store::peek_entry_module(&path)).await {
            Ok(entry) => entry,
            Err(e) => {
                debug!(error = %e.message, "cannot read the moved-in entry module yet");
                return;
            }
        };
        if let Err(e) = self
            .compile(profile, &entry.module_sha256, entry.wasm)
            .await
        {
            debug!(error = %e.message, "cannot compile the moved-in entry module");
        }
    }

    /// Puts a received file in place as `sandbox_id`'s live or cold file.
    pub fn place_moved(
        &self,
        staged: StagedFile,
        sandbox_id: &str,
        kind: FileKind,
    ) -> Result<PathBuf, UserError> {
        match kind {
            FileKind::Live => self.files.adopt(staged, sandbox_id),
            FileKind::Cold => self.files.adopt_cold(staged, sandbox_id),
        }
    }

    /// After a move into this node ended (its stream closed): if the
    /// registry, read through the leader, does not make this node the
    /// sandbox's home — the source failed or died before its commit — the
    /// placed files are removed; if it does, a replica copy this node kept
    /// of the sandbox goes. Without a quorum they stay, and the next start's
    /// recovery removes them.
    pub async fn settle_moved_in(&self, tenant_id: &str, sandbox_id: &str) {
        if self.registry.linearize().await.is_err() {
            return;
        }
        let homed = match self.get(tenant_id, sandbox_id) {
            Ok(sandbox) => sandbox.home_node == self.node_id,
            Err(e) => !e.is(ErrorCode::SandboxNotFound),
        };
        if homed {
            self.drop_superseded_copy(sandbox_id);
        } else {
            self.files.remove(sandbox_id);
        }
    }

    /// Forgets a sandbox that now lives on another node: its compiled
    /// modules, context, activity, schedules and files here.
    pub fn forget_moved(&self, sandbox_id: &str) {
        self.drop_local(sandbox_id);
    }
}
