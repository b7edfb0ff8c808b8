//! Calls: make the sandbox runnable (resuming it if it was suspended or
//! frozen), hold it active for the call, run the entry module.

use std::sync::Arc;
use std::time::Instant;

use nexus_raft::{Sandbox, SandboxState};
use tracing::info;

use super::verbs::ResumeRecord;
use super::{SandboxManager, Verb};
use crate::clock::now_ms;
use crate::lifecycle::journal::{LogKind, SandboxLog};
use crate::lifecycle::CallGuard;
use crate::metrics::outcome_of;
use nexus_engine::{CommandInput, CommandOutput, CompiledModule, Profile, SandboxContext};
use nexus_errors::{Coded, ErrorCode, UserError};

/// A sandbox ready for one call: held active, its module compiled.
pub(super) struct Prepared {
    pub(super) sandbox: Sandbox,
    pub(super) module: Arc<CompiledModule>,
    pub(super) profile: Profile,
    pub(super) context: Arc<SandboxContext>,
    /// Keeps the sandbox active (no lifecycle verb) until the call ends.
    pub(super) guard: CallGuard,
    /// The record of the resume this call made, still on its way (only from
    /// [`SandboxManager::prepare_overlapping`]).
    pub(super) resume_record: Option<ResumeRecord>,
}

/// How often a call retries when the sandbox changes state under it.
const MAX_STATE_CHASES: usize = 8;

impl SandboxManager {
    /// Runs the sandbox's entry module in the `command` shape. A suspended
    /// or frozen sandbox is resumed first; concurrent callers share one resume.
    pub async fn call(
        &self,
        tenant_id: &str,
        sandbox_id: &str,
        input: CommandInput,
    ) -> Result<CommandOutput, UserError> {
        self.call_module(tenant_id, sandbox_id, None, input).await
    }

    /// Like [`SandboxManager::call`], running module `module` of the
    /// workbook (the entry module when `None`).
    pub async fn call_module(
        &self,
        tenant_id: &str,
        sandbox_id: &str,
        module: Option<&str>,
        input: CommandInput,
    ) -> Result<CommandOutput, UserError> {
        let started = Instant::now();
        let result = self.run_call(tenant_id, sandbox_id, module, input).await;
        let outcome = match &result {
            Ok(out) if out.exit_code == 0 => "ok".to_owned(),
            Ok(_) => "exit_nonzero".to_owned(),
            Err(e) => outcome_of(e.code),
        };
        self.metrics.call("command", &outcome, started.elapsed());
        result
    }

    async fn run_call(
        &self,
        tenant_id: &str,
        sandbox_id: &str,
        module: Option<&str>,
        mut input: CommandInput,
    ) -> Result<CommandOutput, UserError> {
        // The resume's record (if the call resumed the sandbox) goes on
        // while the call runs; the answer waits for both.
        let mut call = self
            .prepare_overlapping(tenant_id, sandbox_id, module)
            .await?;
        input.env = self
            .environment(&call.sandbox, std::mem::take(&mut input.env))
            .await?;
        let result = self
            .engine
            .run_command_with(&call.module, &call.profile, input, call.context.clone())
            .await;
        if let Some(record) = call.resume_record.take() {
            record.landed().await;
        }
        // Even a failed call may have written: what it changed goes to the
        // replicas before its answer does.
        self.ship_after(&call.sandbox).await?;
        let log = call.guard.activity().log();
        match &result {
            Ok(out) => {
                info!(
                    sandbox = sandbox_id,
                    exit_code = out.exit_code,
                    elapsed_us = out.elapsed.as_micros() as u64,
                    "call finished"
                );
                log.push(
                    LogKind::Stderr,
                    now_ms(),
                    &String::from_utf8_lossy(&out.stderr),
                );
                if out.exit_code != 0 {
                    let text = format!("call exited with {}", out.exit_code);
                    log.push(LogKind::Event, now_ms(), &text);
                }
            }
            Err(e) => {
                info!(sandbox = sandbox_id, code = e.code().as_str(), error = %e, "call failed");
                log_failure(log, &e.to_user_error());
            }
        }
        result.map_err(|e| e.to_user_error())
    }

    /// Makes the sandbox runnable and active, holds it there, and loads
    /// module `module` (the entry module when `None`) and its context. A
    /// resume it made is recorded before it returns.
    pub(super) async fn prepare(
        &self,
        tenant_id: &str,
        sandbox_id: &str,
        module: Option<&str>,
    ) -> Result<Prepared, UserError> {
        let mut call = self
            .prepare_overlapping(tenant_id, sandbox_id, module)
            .await?;
        if let Some(record) = call.resume_record.take() {
            record.landed().await;
        }
        Ok(call)
    }

    /// [`prepare`](Self::prepare), returning as soon as the sandbox can run:
    /// the record of a resume it made may still be on its way
    /// ([`Prepared::resume_record`]; the caller awaits it before answering).
    async fn prepare_overlapping(
        &self,
        tenant_id: &str,
        sandbox_id: &str,
        module: Option<&str>,
    ) -> Result<Prepared, UserError> {
        let (sandbox, guard, resume_record) = self.runnable(tenant_id, sandbox_id).await?;
        let module = self.named_module_for(&sandbox, module).await?;
        if sandbox.state == SandboxState::Created {
            self.activate(&sandbox).await?;
        }
        let profile = self.profiles.resolve(&sandbox.profile);
        let context = self.context_for(&sandbox, &profile);
        Ok(Prepared {
            sandbox,
            module,
            profile,
            context,
            guard,
            resume_record,
        })
    }

    /// Waits until the sandbox is `created` or `active` (or resumed here,
    /// its record on the way) and holds it there.
    async fn runnable(
        &self,
        tenant_id: &str,
        sandbox_id: &str,
    ) -> Result<(Sandbox, CallGuard, Option<ResumeRecord>), UserError> {
        let mut resume_record = None;
        for _ in 0..MAX_STATE_CHASES {
            let sandbox = self.hosted(tenant_id, sandbox_id)?;
            // A replicated sandbox is read again once the lease is known to
            // hold: a renewal waits until this node applied what the leader
            // had, so a failover that took the sandbox away is seen.
            let sandbox = if sandbox.replicas.is_empty() {
                sandbox
            } else {
                self.check_lease(&sandbox)?;
                self.hosted(tenant_id, sandbox_id)?
            };
            // A stat when a copy exists; after a failover, a rename and fsyncs.
            self.adopt_copy(&sandbox)?;
            let activity = self.activity_of(&sandbox);
            // Active, or resumed here with the record still on its way.
            let can_run = |s: &Sandbox| match s.state {
                SandboxState::Created | SandboxState::Active => true,
                SandboxState::Suspended => activity.resume_unrecorded(),
                _ => false,
            };
            if can_run(&sandbox) {
                let guard = if super::kernel::is_within_call(sandbox_id) {
                    activity.try_enter_call().ok_or_else(|| {
                        UserError::new(
                            ErrorCode::FabricBusy,
                            format!(
                                "sandbox {sandbox_id} waits for lifecycle work to take it; \
                                 a call inside it cannot start more work in it now"
                            ),
                        )
                    })?
                } else {
                    activity.enter_call().await
                };
                let now = self.hosted(tenant_id, sandbox_id)?;
                if can_run(&now) {
                    return Ok((now, guard, resume_record));
                }
                continue;
            }
            match sandbox.state {
                // Runnable ones were taken above.
                SandboxState::Created | SandboxState::Active => {}
                SandboxState::Suspended => {
                    resume_record = self.resume_for_call(tenant_id, sandbox_id).await?;
                }
                SandboxState::Frozen => {
                    match self
                        .transit(tenant_id, sandbox_id, Verb::Resume, None)
                        .await
                    {
                        Ok(_) => {}
                        // Another caller resumed it first: look again.
                        Err(e) if e.is(ErrorCode::SandboxInvalidTransition) => {}
                        Err(e) => return Err(e),
                    }
                }
                SandboxState::Archived | SandboxState::Deleted => {
                    return Err(UserError::new(
                        ErrorCode::SandboxNotRunnable,
                        format!("sandbox {sandbox_id} is {}", sandbox.state),
                    ))
                }
            }
        }
        Err(UserError::new(
            ErrorCode::Internal,
            format!("sandbox {sandbox_id} kept changing state during the call"),
        ))
    }

    /// First call moves a sandbox from `created` to `active`. Losing the race
    /// to a concurrent first call is fine: the sandbox is active either way.
    async fn activate(&self, sandbox: &Sandbox) -> Result<(), UserError> {
        let activated = self
            .registry
            .transition(sandbox, SandboxState::Active, now_ms())
            .await;
        match activated {
            Ok(active) => {
                let log = self.activity_of(&active);
                log.log()
                    .push(LogKind::Event, now_ms(), "created → active (first call)");
                Ok(())
            }
            Err(e) if e.is(ErrorCode::SandboxStaleGeneration) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Logs a failed call in the sandbox's log: its code and message.
pub(super) fn log_failure(log: &SandboxLog, error: &UserError) {
    let text = format!("call failed: {}: {}", error.code.as_str(), error.message);
    log.push(LogKind::Event, now_ms(), &text);
}
