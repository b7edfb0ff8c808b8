//! Getting a resuming sandbox ready to run: its live file, its emptied
//! `tmp` volume and its compiled module.
//!
//! From a cold copy (a frozen or archived sandbox), the copy back to local
//! disk is most of a resume. The module and the `tmp` volume's size are read
//! from the cold file, read-only, and the module compiled (or loaded from the
//! module cache) while the file is being copied; the live file is only
//! opened afterwards when its `tmp` volume has files to clear.

use nexus_errors::UserError;
use nexus_raft::Sandbox;

use super::{blocking, store, SandboxManager};
use crate::lifecycle::{crashpoint, storage};

impl SandboxManager {
    /// Makes `sandbox`'s live file ready for a resume and loads its module;
    /// `was_cold`: it is frozen or archived.
    pub(super) async fn ready_to_resume(
        &self,
        sandbox: &Sandbox,
        was_cold: bool,
    ) -> Result<(), UserError> {
        let live = self.files.path(&sandbox.id);
        let cold = self.files.cold_path(&sandbox.id);
        let restoring = was_cold && {
            let live = live.clone();
            blocking(move || Ok(!live.exists())).await?
        };
        if !restoring {
            crashpoint("resume:after-restore");
            self.empty_tmp(sandbox).await?;
            self.module_for(sandbox).await?;
            return Ok(());
        }
        let copy = {
            let (cold, live) = (cold.clone(), live.clone());
            blocking(move || storage::durable_copy(&cold, &live))
        };
        let prepare = async {
            let at_rest = blocking(move || store::read_at_rest(&cold)).await?;
            self.load_module(sandbox, &sandbox.id, at_rest.module)
                .await?;
            Ok::<_, UserError>(at_rest.tmp_files)
        };
        let (copied, prepared) = tokio::join!(copy, prepare);
        if let Err(e) = copied {
            // Still frozen: its module is not kept.
            self.forget(&sandbox.id);
            return Err(e);
        }
        crashpoint("resume:after-restore");
        if prepared? > 0 {
            blocking(move || storage::clear_tmp(&live)).await?;
        }
        Ok(())
    }

    /// Empties a resuming sandbox's `tmp` volume in its live file, unless
    /// this node suspended it at its current generation and saw the volume
    /// empty then ([`Activity::take_tmp_empty`]): the usual resume then
    /// does not open the file at all.
    ///
    /// [`Activity::take_tmp_empty`]: crate::lifecycle::Activity::take_tmp_empty
    pub(super) async fn empty_tmp(&self, sandbox: &Sandbox) -> Result<(), UserError> {
        if self.activity_of(sandbox).take_tmp_empty(sandbox.generation) {
            return Ok(());
        }
        let live = self.files.path(&sandbox.id);
        blocking(move || storage::clear_tmp(&live)).await
    }
}
