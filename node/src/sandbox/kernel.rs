//! Kernels for the fabric: a module of a docked sandbox (run with the
//! sandbox's data, held active while the job runs) or a module sent with
//! the job (run with in-memory data under a named profile).

use std::future::Future;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{blocking, store, SandboxManager};
use crate::lifecycle::CallGuard;
use nexus_engine::{CallError, CompiledModule, Engine, KernelInstance, Profile, SandboxContext};
use nexus_errors::{Coded, ErrorCode, UserError};

/// A kernel module ready to instantiate, with what its instances run under.
pub struct KernelSource {
    engine: Engine,
    module: Arc<CompiledModule>,
    profile: Profile,
    /// The sandbox's context; `None`: each instance gets in-memory data.
    context: Option<Arc<SandboxContext>>,
    /// The module's bytes, for shipping to peers (`None` when it came
    /// from the engine's cache or no peer needs it).
    wasm: Option<Arc<Vec<u8>>>,
    /// Keeps the sandbox active while the source lives.
    _guard: Option<CallGuard>,
}

impl std::fmt::Debug for KernelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelSource")
            .field("sha256", &self.module.sha256())
            .field("profile", &self.profile.name)
            .finish_non_exhaustive()
    }
}

impl KernelSource {
    /// `wasm` compiled on `engine` (one of its own, not a node's) as a
    /// kernel under `profile`, each instance with in-memory data: what a
    /// container worker runs.
    pub async fn detached(
        engine: Engine,
        profile: Profile,
        wasm: Vec<u8>,
    ) -> Result<KernelSource, UserError> {
        let sha256 = hex::encode(Sha256::digest(&wasm));
        let (compiler, limits) = (engine.clone(), profile.clone());
        let module = blocking(move || {
            compiler
                .compile_for(&limits, &sha256, &wasm)
                .map_err(|e| e.to_user_error())
        })
        .await?;
        Ok(KernelSource {
            engine,
            module,
            profile,
            context: None,
            wasm: None,
            _guard: None,
        })
    }

    /// The module's SHA-256.
    pub fn sha256(&self) -> &str {
        self.module.sha256()
    }

    /// The module's bytes, unless it came from the engine's cache.
    pub fn wasm(&self) -> Option<&Arc<Vec<u8>>> {
        self.wasm.as_ref()
    }

    /// The profile its instances run under.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The same kernel with in-memory data for each instance instead of
    /// the sandbox's (the sandbox stays held active).
    pub fn without_data(mut self) -> KernelSource {
        self.context = None;
        self
    }

    /// A fresh instance (checks the kernel exports and the imports the
    /// profile grants).
    pub async fn instance(&self) -> Result<KernelInstance, CallError> {
        let context = match &self.context {
            Some(context) => context.clone(),
            None => Arc::new(SandboxContext::ephemeral(&self.profile)),
        };
        self.engine
            .kernel_with(&self.module, &self.profile, context)
            .await
    }
}

tokio::task_local! {
    /// The sandbox a call in flight belongs to, for work that call starts
    /// in its own sandbox (a guest's `fabric_map`).
    static WITHIN_CALL_OF: String;
}

/// Runs `work` on behalf of a call of sandbox `sandbox_id` that is in
/// flight: taking that sandbox for the work does not wait behind
/// lifecycle work (which waits for the call, so waiting would deadlock);
/// it fails with `FABRIC_BUSY` instead.
pub async fn within_call<F: Future>(sandbox_id: &str, work: F) -> F::Output {
    WITHIN_CALL_OF.scope(sandbox_id.to_owned(), work).await
}

/// Whether this task runs work of a call of `sandbox_id` (see [`within_call`]).
pub(super) fn is_within_call(sandbox_id: &str) -> bool {
    WITHIN_CALL_OF
        .try_with(|id| id == sandbox_id)
        .unwrap_or(false)
}

impl SandboxManager {
    /// Module `module` of sandbox `sandbox_id` as a kernel: the sandbox is
    /// resumed if needed and held active until the source is dropped. With
    /// `ship`, the module's bytes are read too, for shipping to peers.
    pub async fn sandbox_kernel(
        &self,
        tenant_id: &str,
        sandbox_id: &str,
        module: &str,
        ship: bool,
    ) -> Result<KernelSource, UserError> {
        let call = self.prepare(tenant_id, sandbox_id, Some(module)).await?;
        let wasm = if ship {
            let path = self.files.path(sandbox_id);
            let name = module.to_owned();
            let entry = blocking(move || store::load_live_module(&path, Some(&name))).await?;
            Some(Arc::new(entry.wasm))
        } else {
            None
        };
        Ok(KernelSource {
            engine: self.engine.clone(),
            module: call.module,
            profile: call.profile,
            context: Some(call.context),
            wasm,
            _guard: Some(call.guard),
        })
    }

    /// `wasm` as a kernel under profile `profile` (one this node knows),
    /// compiled once per SHA-256.
    pub async fn wasm_kernel(
        &self,
        profile: &str,
        wasm: Vec<u8>,
    ) -> Result<KernelSource, UserError> {
        let resolved = self.known_profile(profile)?;
        let sha256 = hex::encode(Sha256::digest(&wasm));
        let module = match self.engine.cached(&sha256) {
            Some(module) => module,
            None => self.compile(profile, &sha256, wasm.clone()).await?,
        };
        Ok(KernelSource {
            engine: self.engine.clone(),
            module,
            profile: resolved,
            context: None,
            wasm: Some(Arc::new(wasm)),
            _guard: None,
        })
    }

    /// Module `sha256` as a kernel under `profile`, if the engine still
    /// holds it compiled.
    pub fn cached_kernel(
        &self,
        profile: &str,
        sha256: &str,
    ) -> Result<Option<KernelSource>, UserError> {
        let resolved = self.known_profile(profile)?;
        Ok(self.engine.cached(sha256).map(|module| KernelSource {
            engine: self.engine.clone(),
            module,
            profile: resolved,
            context: None,
            wasm: None,
            _guard: None,
        }))
    }

    fn known_profile(&self, profile: &str) -> Result<Profile, UserError> {
        self.profiles.get(profile).cloned().ok_or_else(|| {
            UserError::new(
                ErrorCode::ProfileUnknown,
                format!("profile `{profile}` is not one this node knows"),
            )
        })
    }
}
