//! The environment a command-shape call sees: the workbook's defaults
//! (`[env]` in `workbook.toml`, read once per sandbox on this node) with
//! the call's own variables over them. Never the host's environment.

use std::sync::Arc;

use nexus_raft::Sandbox;
use nexus_workbook::{check_env, EnvVars, Workbook};

use super::{blocking, SandboxManager};
use nexus_errors::{Coded, ErrorCode, UserError};

/// Checks a call's own variables before anything runs (`CALL_ENV_INVALID`).
pub fn check_call_env(sandbox_id: &str, env: &EnvVars) -> Result<(), UserError> {
    check_env(env).map_err(|reason| invalid(sandbox_id, &reason))
}

fn invalid(sandbox_id: &str, reason: &str) -> UserError {
    UserError::new(
        ErrorCode::CallEnvInvalid,
        format!("the environment of a call to sandbox {sandbox_id}: {reason}"),
    )
}

impl SandboxManager {
    /// The workbook's defaults overlaid with `call`, checked together.
    pub(super) async fn environment(
        &self,
        sandbox: &Sandbox,
        call: Vec<(String, String)>,
    ) -> Result<Vec<(String, String)>, UserError> {
        let defaults = self.env_defaults(sandbox).await?;
        let mut env = EnvVars::clone(&defaults);
        env.extend(call);
        check_env(&env).map_err(|reason| invalid(&sandbox.id, &reason))?;
        Ok(env.into_iter().collect())
    }

    /// `meta.env` of the sandbox's workbook, read on first use.
    async fn env_defaults(&self, sandbox: &Sandbox) -> Result<Arc<EnvVars>, UserError> {
        if let Some(env) = self.env_cache().get(&sandbox.id) {
            return Ok(env.clone());
        }
        let path = self.files.path(&sandbox.id);
        let env = blocking(move || {
            Workbook::open_read_only(&path)
                .and_then(|workbook| workbook.meta())
                .map(|meta| meta.env)
                .map_err(|e| e.to_user_error())
        })
        .await?;
        let env = Arc::new(env);
        self.env_cache().insert(sandbox.id.clone(), env.clone());
        Ok(env)
    }

    /// Forgets a sandbox's cached defaults (it left this node or was removed).
    pub(super) fn forget_env(&self, sandbox_id: &str) {
        self.env_cache().remove(sandbox_id);
    }

    fn env_cache(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Arc<EnvVars>>> {
        self.env_defaults.lock().unwrap_or_else(|p| p.into_inner())
    }
}
