//! [`RegistryHandle`]: the node's way to write and read the registry.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use nexus_raft::{Command, Registry, RegistryError, Response};

use crate::errors::{Coded, ErrorCode, UserError};

/// Shared access to the registry state machine. Writes are commands applied
/// in order; reads see every write that returned before them.
#[derive(Clone)]
pub struct RegistryHandle {
    inner: Arc<Mutex<Registry>>,
}

impl RegistryHandle {
    /// Opens (or creates) the registry database at `path`.
    pub fn open(path: &Path) -> Result<RegistryHandle, UserError> {
        let registry = Registry::open(path).map_err(|e| {
            UserError::new(
                ErrorCode::Internal,
                format!("cannot open registry {}: {e}", path.display()),
            )
        })?;
        Ok(RegistryHandle {
            inner: Arc::new(Mutex::new(registry)),
        })
    }

    /// Applies one command. SQLite commits with fsync, so this runs on the
    /// blocking pool.
    pub async fn write(&self, cmd: Command) -> Result<Response, UserError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut registry = lock(&inner);
            registry.apply(&cmd).map_err(|e| e.to_user_error())
        })
        .await
        .map_err(|e| UserError::new(ErrorCode::Internal, format!("registry task failed: {e}")))?
    }

    /// Checkpoints the registry's WAL into its file.
    pub fn checkpoint(&self) -> Result<(), UserError> {
        self.read(|r| r.checkpoint())
    }

    /// Runs a read against the current state.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Registry) -> Result<T, RegistryError>,
    ) -> Result<T, UserError> {
        f(&lock(&self.inner)).map_err(|e| e.to_user_error())
    }
}

/// A panic while holding the lock cannot leave SQLite half-written (every
/// command is one transaction), so a poisoned lock is still usable.
fn lock(m: &Mutex<Registry>) -> MutexGuard<'_, Registry> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Coded for RegistryError {
    fn code(&self) -> ErrorCode {
        match self {
            RegistryError::TenantExists { .. } => ErrorCode::TenantExists,
            RegistryError::TenantNameInvalid { .. } => ErrorCode::TenantNameInvalid,
            RegistryError::SandboxNameInvalid { .. } => ErrorCode::SandboxNameInvalid,
            RegistryError::SandboxNameTaken { .. } => ErrorCode::SandboxNameTaken,
            RegistryError::SandboxNotFound { .. } => ErrorCode::SandboxNotFound,
            RegistryError::InvalidTransition { .. } => ErrorCode::SandboxInvalidTransition,
            RegistryError::StaleGeneration { .. } => ErrorCode::SandboxStaleGeneration,
            _ => ErrorCode::Internal,
        }
    }
}
