//! Docked sandboxes on this node: dock a workbook file, call it, remove it.
//! The registry says which sandboxes exist; this module owns their files and
//! their compiled modules.

mod ids;
mod store;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use nexus_raft::{Command, Response, Sandbox, SandboxState};
use tracing::info;

use crate::cluster::RegistryHandle;
use crate::engine::{CommandInput, CommandOutput, CompiledModule, Engine, Profile};
use crate::errors::{Coded, ErrorCode, UserError};

pub use ids::{new_sandbox_id, now_ms};
use store::SandboxFiles;

/// What the caller asks for when docking a workbook.
#[derive(Debug, Default, Clone)]
pub struct DockRequest {
    /// Sandbox name; defaults to the workbook's own name.
    pub name: Option<String>,
    /// Profile name; defaults to the workbook's profile (unknown → compute).
    pub profile: Option<String>,
}

/// Docks, calls and removes this node's sandboxes.
pub struct SandboxManager {
    node_id: u64,
    registry: RegistryHandle,
    engine: Engine,
    files: SandboxFiles,
    loaded: Mutex<HashMap<String, Arc<CompiledModule>>>,
}

impl SandboxManager {
    /// A manager keeping sandbox files under `data_dir`.
    pub fn new(
        data_dir: PathBuf,
        node_id: u64,
        registry: RegistryHandle,
        engine: Engine,
    ) -> Result<SandboxManager, UserError> {
        Ok(SandboxManager {
            node_id,
            registry,
            engine,
            files: SandboxFiles::create(data_dir)?,
            loaded: Mutex::new(HashMap::new()),
        })
    }

    /// Validates an uploaded workbook, compiles its entry module and records
    /// the new sandbox for `tenant_id`. Nothing is kept if any step fails.
    pub async fn dock(
        &self,
        tenant_id: &str,
        bytes: Vec<u8>,
        request: DockRequest,
    ) -> Result<Sandbox, UserError> {
        let staged = self.files.stage(bytes).await?;
        let path = staged.path().map(PathBuf::from).unwrap_or_default();
        let entry = blocking(move || store::load_entry(&path)).await?;
        let module = self.compile(&entry.module_sha256, entry.wasm).await?;

        let sandbox_id = new_sandbox_id();
        let cmd = Command::DockSandbox {
            sandbox_id: sandbox_id.clone(),
            tenant_id: tenant_id.to_string(),
            name: request.name.unwrap_or(entry.name),
            profile: request.profile.unwrap_or(entry.profile),
            workbook_sha256: staged.sha256.clone(),
            home_node: self.node_id,
            at_ms: now_ms(),
        };
        self.files.adopt(staged, &sandbox_id)?;
        let sandbox = match self.registry.write(cmd).await {
            Ok(Response::SandboxDocked(sandbox)) => sandbox,
            other => {
                self.files.remove(&sandbox_id);
                return Err(other.map_or_else(|e| e, unexpected));
            }
        };
        self.remember(&sandbox.id, module);
        info!(sandbox = %sandbox.id, tenant = tenant_id, name = %sandbox.name, "docked");
        Ok(sandbox)
    }

    /// Runs the sandbox's entry module in the `command` shape.
    pub async fn call(
        &self,
        tenant_id: &str,
        sandbox_id: &str,
        input: CommandInput,
    ) -> Result<CommandOutput, UserError> {
        let sandbox = self.get(tenant_id, sandbox_id)?;
        let module = self.module_for(&sandbox).await?;
        if sandbox.state == SandboxState::Created {
            self.activate(&sandbox).await?;
        }
        let profile = Profile::resolve(&sandbox.profile);
        let result = self.engine.run_command(&module, &profile, input).await;
        match &result {
            Ok(out) => info!(
                sandbox = sandbox_id,
                exit_code = out.exit_code,
                elapsed_us = out.elapsed.as_micros() as u64,
                "call finished"
            ),
            Err(e) => {
                info!(sandbox = sandbox_id, code = e.code().as_str(), error = %e, "call failed")
            }
        }
        result.map_err(|e| e.to_user_error())
    }

    /// One sandbox of `tenant_id`; another tenant's sandbox is not found.
    pub fn get(&self, tenant_id: &str, sandbox_id: &str) -> Result<Sandbox, UserError> {
        self.registry
            .read(|r| r.sandbox(tenant_id, sandbox_id))?
            .ok_or_else(|| not_found(sandbox_id))
    }

    /// All sandboxes of `tenant_id`.
    pub fn list(&self, tenant_id: &str) -> Result<Vec<Sandbox>, UserError> {
        self.registry.read(|r| r.sandboxes(tenant_id))
    }

    /// Removes the sandbox from the registry, then its file.
    pub async fn remove(&self, tenant_id: &str, sandbox_id: &str) -> Result<(), UserError> {
        let cmd = Command::RemoveSandbox {
            sandbox_id: sandbox_id.to_string(),
            tenant_id: tenant_id.to_string(),
        };
        self.registry.write(cmd).await?;
        self.forget(sandbox_id);
        self.files.remove(sandbox_id);
        info!(sandbox = sandbox_id, tenant = tenant_id, "removed");
        Ok(())
    }

    async fn module_for(&self, sandbox: &Sandbox) -> Result<Arc<CompiledModule>, UserError> {
        if let Some(module) = self.lookup(&sandbox.id) {
            return Ok(module);
        }
        let path = self.files.path(&sandbox.id);
        let entry = blocking(move || store::load_entry(&path)).await?;
        let module = self.compile(&entry.module_sha256, entry.wasm).await?;
        self.remember(&sandbox.id, module.clone());
        Ok(module)
    }

    async fn compile(&self, sha256: &str, wasm: Vec<u8>) -> Result<Arc<CompiledModule>, UserError> {
        let engine = self.engine.clone();
        let sha256 = sha256.to_string();
        blocking(move || {
            engine
                .compile(&sha256, &wasm)
                .map_err(|e| e.to_user_error())
        })
        .await
    }

    /// First call moves a sandbox from `created` to `active`. Losing the race
    /// to a concurrent first call is fine: the sandbox is active either way.
    async fn activate(&self, sandbox: &Sandbox) -> Result<(), UserError> {
        let cmd = Command::Transition {
            sandbox_id: sandbox.id.clone(),
            tenant_id: sandbox.tenant_id.clone(),
            to: SandboxState::Active,
            expected_generation: sandbox.generation,
            at_ms: now_ms(),
        };
        match self.registry.write(cmd).await {
            Ok(_) => Ok(()),
            Err(e) if e.is(ErrorCode::SandboxStaleGeneration) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn lookup(&self, sandbox_id: &str) -> Option<Arc<CompiledModule>> {
        self.loaded_map().get(sandbox_id).cloned()
    }

    fn remember(&self, sandbox_id: &str, module: Arc<CompiledModule>) {
        self.loaded_map().insert(sandbox_id.to_string(), module);
    }

    fn forget(&self, sandbox_id: &str) {
        self.loaded_map().remove(sandbox_id);
    }

    fn loaded_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<CompiledModule>>> {
        self.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs blocking work (SQLite, compilation) off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, UserError> + Send + 'static,
) -> Result<T, UserError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| UserError::new(ErrorCode::Internal, format!("worker task failed: {e}")))?
}

fn not_found(sandbox_id: &str) -> UserError {
    UserError::new(
        ErrorCode::SandboxNotFound,
        format!("sandbox {sandbox_id} does not exist"),
    )
}

fn unexpected(response: Response) -> UserError {
    UserError::new(
        ErrorCode::Internal,
        format!("registry answered with an unexpected response: {response:?}"),
    )
}
