//! Lifecycle verbs: suspend, freeze, resume, archive, delete, prefetch and
//! clone. Each runs with the sandbox held exclusively (no call in flight),
//! does its file work first and records the new state in the registry last,
//! so a crash at any step leaves files that recovery can reconcile with the
//! recorded state (see `lifecycle::recovery`).

use nexus_raft::{RegistryError, Sandbox, SandboxState};
use tracing::{info, warn};

use super::{blocking, DockRequest, SandboxManager};
use crate::clock::now_ms;
use crate::cluster::RegistryHandle;
use crate::lifecycle::journal::LogKind;
use crate::lifecycle::Activity;
use crate::lifecycle::{crashpoint, storage, Verb};
use nexus_errors::{Coded, UserError};

impl SandboxManager {
    /// Applies `verb`, waiting for calls in flight to finish. With
    /// `expected_generation`, refuses if the sandbox changed since.
    pub async fn transit(
        &self,
        tenant_id: &str,
        sandbox_id: &str,
        verb: Verb,
        expected_generation: Option<u64>,
    ) -> Result<Sandbox, UserError> {
        let activity = self.activity_of(&self.hosted(tenant_id, sandbox_id)?);
        let _held = activity.exclusive().await;
        let sandbox = self.hosted(tenant_id, sandbox_id)?;
        self.transit_held(sandbox, verb, expected_generation).await
    }

    /// Applies `verb` to a sandbox the caller holds exclusively.
    pub(crate) async fn transit_held(
        &self,
        sandbox: Sandbox,
        verb: Verb,
        expected_generation: Option<u64>,
    ) -> Result<Sandbox, UserError> {
        if let Some(expected) = expected_generation.filter(|g| *g != sandbox.generation) {
            return Err(RegistryError::StaleGeneration {
                sandbox_id: sandbox.id.clone(),
                expected,
                current: sandbox.generation,
            }
            .to_user_error());
        }
        let Some(target) = verb.target() else {
            return self.prefetch(sandbox).await;
        };
        if !sandbox.state.can_transition_to(target) {
            return Err(RegistryError::InvalidTransition {
                sandbox_id: sandbox.id.clone(),
                from: sandbox.state,
                to: target,
                allowed: sandbox.state.allowed_next().to_vec(),
            }
            .to_user_error());
        }
        let live = self.files.path(&sandbox.id);
        let cold = self.files.cold_path(&sandbox.id);
        let was_cold = matches!(sandbox.state, SandboxState::Frozen | SandboxState::Archived);
        let mut tmp_empty = false;
        match verb {
            Verb::Suspend => {
                self.settle_shipping(&sandbox).await;
                self.close_context(&sandbox.id);
                tmp_empty = blocking(move || storage::suspend_live(&live)).await?;
                crashpoint("suspend:before-record");
            }
            Verb::Freeze => {
                blocking(move || storage::durable_copy(&live, &cold)).await?;
                crashpoint("freeze:before-record");
            }
            Verb::Archive if !was_cold => {
                self.forget(&sandbox.id);
                blocking(move || {
                    storage::checkpoint_live(&live)?;
                    storage::durable_copy(&live, &cold)
                })
                .await?;
                crashpoint("archive:before-record");
            }
            Verb::Resume => {
                self.ready_to_resume(&sandbox, was_cold).await?;
                crashpoint("resume:before-record");
            }
            Verb::Archive | Verb::Delete | Verb::Prefetch => {}
        }
        let updated = self.record(&sandbox, target).await?;
        crashpoint(&format!("{}:after-record", verb.as_str()));
        self.drop_stale_copy(&updated);
        let activity = self.activity_of(&updated);
        if verb == Verb::Resume {
            activity.touch();
        }
        if tmp_empty {
            activity.note_tmp_empty(updated.generation);
        }
        info!(sandbox = %updated.id, from = %sandbox.state, to = %updated.state, "lifecycle");
        Ok(updated)
    }

    /// Copies a frozen or archived sandbox's file to local disk, so the next
    /// resume does not wait for it. State and generation do not change.
    async fn prefetch(&self, sandbox: Sandbox) -> Result<Sandbox, UserError> {
        if matches!(sandbox.state, SandboxState::Frozen | SandboxState::Archived) {
            let live = self.files.path(&sandbox.id);
            let cold = self.files.cold_path(&sandbox.id);
            blocking(move || match live.exists() {
                true => Ok(()),
                false => storage::durable_copy(&cold, &live),
            })
            .await?;
        }
        Ok(sandbox)
    }

    /// Docks a copy of `sandbox_id`'s workbook as a new sandbox of
    /// `target_tenant` (the caller's own tenant, or another for admins).
    /// The source is never modified; the copy's `tmp` volume is emptied.
    pub async fn clone_sandbox(
        &self,
        tenant_id: &str,
        sandbox_id: &str,
        target_tenant: &str,
        name: Option<String>,
    ) -> Result<Sandbox, UserError> {
        let source = self.hosted(tenant_id, sandbox_id)?;
        let activity = self.activity_of(&source);
        let staged = {
            let _held = activity.exclusive().await;
            let source = self.hosted(tenant_id, sandbox_id)?;
            let path = match source.state {
                SandboxState::Frozen | SandboxState::Archived | SandboxState::Deleted => {
                    self.files.cold_path(&source.id)
                }
                _ => self.files.path(&source.id),
            };
            let staged = self.files.stage_copy(&path).await?;
            let copy = staged
                .path()
                .map(std::path::PathBuf::from)
                .unwrap_or_default();
            blocking(move || storage::clear_tmp(&copy)).await?;
            staged
        };
        let request = DockRequest {
            name: Some(name.unwrap_or_else(|| format!("{}-clone", source.name))),
            profile: Some(source.profile),
            replication_factor: source.replication_factor,
            durability: source.durability,
        };
        self.dock_staged(target_tenant, staged, request).await
    }

    /// Writes the generation-checked transition to the registry.
    /// The transition goes in the sandbox's log.
    async fn record(&self, sandbox: &Sandbox, to: SandboxState) -> Result<Sandbox, UserError> {
        record_in(&self.registry, &self.activity_of(sandbox), sandbox, to).await
    }

    /// Resumes a suspended sandbox for a call, the registry's record beside
    /// the call instead of before it: the local work (`tmp` emptied unless
    /// known empty, the module loaded) is done while holding the sandbox,
    /// then the `suspended → active` record is proposed in the background
    /// and the call may run at once; the caller awaits the returned
    /// [`ResumeRecord`] before it answers, so an answered call's resume is
    /// recorded. Until the record lands, calls run
    /// ([`Activity::resume_unrecorded`]) and lifecycle work waits for it,
    /// so every verb still reads and fences on the recorded state and
    /// generation.
    ///
    /// Crash safety is unchanged: a suspended sandbox's only copy is its
    /// live file, which recovery keeps whatever the registry says, so a
    /// crash before the record leaves a `suspended` sandbox holding every
    /// change its calls made. (A frozen one is resumed with the record on
    /// the path: recovery drops an unrecorded restored copy.) Does nothing
    /// when the sandbox is no longer suspended; the caller looks again.
    ///
    /// [`Activity::resume_unrecorded`]: crate::lifecycle::Activity::resume_unrecorded
    pub(crate) async fn resume_for_call(
        &self,
        tenant_id: &str,
        sandbox_id: &str,
    ) -> Result<Option<ResumeRecord>, UserError> {
        let activity = self.activity_of(&self.hosted(tenant_id, sandbox_id)?);
        let _held = activity.exclusive().await;
        let sandbox = self.hosted(tenant_id, sandbox_id)?;
        if sandbox.state != SandboxState::Suspended {
            return Ok(None);
        }
        self.empty_tmp(&sandbox).await?;
        self.module_for(&sandbox).await?;
        let unrecorded = activity.hold_unrecorded_resume().await;
        activity.touch();
        let registry = self.registry.clone();
        let recording = tokio::spawn(async move {
            match record_in(&registry, &activity, &sandbox, SandboxState::Active).await {
                Ok(updated) => {
                    info!(sandbox = %updated.id, from = %sandbox.state, to = %updated.state, "lifecycle")
                }
                Err(e) => warn!(
                    sandbox = %sandbox.id,
                    error = %e.message,
                    "a resume that already served calls was not recorded; the sandbox stays suspended"
                ),
            }
            drop(unrecorded);
        });
        Ok(Some(ResumeRecord(recording)))
    }

    /// After a recorded transition, removes the copy the new state no longer
    /// needs: the live file of a frozen/archived/deleted sandbox, the cold
    /// file of a running one. The file is set aside at once and deleted in
    /// the background ([`storage::remove_in_background`]); the removal need
    /// not be durable: recovery removes a copy the recorded state does not
    /// need, and a set-aside file, at the next start.
    pub(crate) fn drop_stale_copy(&self, sandbox: &Sandbox) {
        match sandbox.state {
            SandboxState::Frozen | SandboxState::Archived => {
                self.forget(&sandbox.id);
                storage::remove_in_background(&self.files.path(&sandbox.id));
            }
            SandboxState::Deleted => {
                self.forget(&sandbox.id);
                storage::remove_in_background(&self.files.path(&sandbox.id));
                storage::remove_in_background(&self.files.cold_path(&sandbox.id));
            }
            SandboxState::Created | SandboxState::Active | SandboxState::Suspended => {
                storage::remove_in_background(&self.files.cold_path(&sandbox.id));
            }
        }
    }
}

/// Records `sandbox`'s transition to `to` and notes it in its log.
async fn record_in(
    registry: &RegistryHandle,
    activity: &Activity,
    sandbox: &Sandbox,
    to: SandboxState,
) -> Result<Sandbox, UserError> {
    let updated = registry.transition(sandbox, to, now_ms()).await?;
    let text = format!("{} → {}", sandbox.state, updated.state);
    activity.log().push(LogKind::Event, now_ms(), &text);
    Ok(updated)
}

/// A resume's registry record on its way (see
/// [`SandboxManager::resume_for_call`]).
pub(crate) struct ResumeRecord(tokio::task::JoinHandle<()>);

impl ResumeRecord {
    /// Waits until the record landed or failed (a failure is logged; the
    /// sandbox then stays `suspended` in the registry, its file intact).
    pub(crate) async fn landed(self) {
        if let Err(e) = self.0.await {
            warn!(error = %e, "the task recording a resume ended abnormally");
        }
    }
}
