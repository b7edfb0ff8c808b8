//! Compiled modules and the in-memory cache of them, keyed by the sha256 of
//! the module bytes. (The on-disk precompile cache is a later issue.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use sha2::{Digest, Sha256};
use wasmtime::{InstancePre, Module};

use super::error::CallError;
use super::state::GuestState;

/// A module compiled for one [`Engine`](super::Engine), shareable between
/// calls and threads.
pub struct CompiledModule {
    sha256: String,
    name: String,
    module: Module,
    /// The module linked against WASI and host ABI v1, made on first use.
    pre: OnceLock<Result<InstancePre<GuestState>, CallError>>,
}

impl std::fmt::Debug for CompiledModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledModule")
            .field("sha256", &self.sha256)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl CompiledModule {
    /// Lowercase hex sha256 of the module bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The module's name from its `name` section (`rguest` for a linker's
    /// `rguest-0c6cc47d852fb4ff.wasm`), else `module`; the `command` shape
    /// passes it as `argv[0]`.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn module(&self) -> &Module {
        &self.module
    }

    /// The module linked against WASI and host ABI v1, linking it on first
    /// use. Shape-specific exports are checked by each shape.
    pub(crate) fn pre(
        &self,
        link: impl FnOnce(&Module) -> Result<InstancePre<GuestState>, CallError>,
    ) -> Result<InstancePre<GuestState>, CallError> {
        self.pre.get_or_init(|| link(&self.module)).clone()
    }
}

/// Compiled modules by sha256.
#[derive(Default)]
pub(crate) struct ModuleCache {
    modules: Mutex<HashMap<String, Arc<CompiledModule>>>,
}

impl ModuleCache {
    /// The cached module for `sha256`, or `wasm` compiled, checked against
    /// `sha256` and cached. CPU heavy on a miss.
    pub(crate) fn get_or_compile(
        &self,
        engine: &wasmtime::Engine,
        sha256: &str,
        wasm: &[u8],
    ) -> Result<Arc<CompiledModule>, CallError> {
        let key = sha256.to_ascii_lowercase();
        if let Some(hit) = self.lock().get(&key) {
            return Ok(hit.clone());
        }
        let actual = hex::encode(Sha256::digest(wasm));
        if actual != key {
            return Err(CallError::ModuleInvalid(format!(
                "module bytes hash to sha256 {actual}, not the declared {sha256}"
            )));
        }
        let module = Module::new(engine, wasm).map_err(|e| {
            CallError::ModuleInvalid(format!(
                "module {} is not valid WebAssembly: {e}",
                short(&key)
            ))
        })?;
        let compiled = Arc::new(CompiledModule {
            name: program_name(module.name()),
            sha256: key.clone(),
            module,
            pre: OnceLock::new(),
        });
        tracing::debug!(sha256 = %key, "module compiled");
        Ok(self.lock().entry(key).or_insert(compiled).clone())
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<CompiledModule>>> {
        self.modules.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A program name from a module's `name` section: wasm-ld records the output
/// file name, so `.wasm` and cargo's `-<16 hex digits>` suffix are dropped.
fn program_name(raw: Option<&str>) -> String {
    let Some(raw) = raw.filter(|n| !n.is_empty()) else {
        return "module".to_string();
    };
    let name = raw.strip_suffix(".wasm").unwrap_or(raw);
    let name = match name.rsplit_once('-') {
        Some((stem, hash))
            if !stem.is_empty()
                && hash.len() == 16
                && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            stem
        }
        _ => name,
    };
    name.to_string()
}

/// The first 12 hex digits of a digest, for messages.
pub(crate) fn short(sha256: &str) -> &str {
    sha256.get(..12).unwrap_or(sha256)
}

#[cfg(test)]
mod tests {
    use super::program_name;

    #[test]
    fn program_names() {
        assert_eq!(program_name(Some("rguest-0c6cc47d852fb4ff.wasm")), "rguest");
        assert_eq!(program_name(Some("my-tool.wasm")), "my-tool");
        assert_eq!(program_name(Some("argv")), "argv");
        assert_eq!(program_name(Some("")), "module");
        assert_eq!(program_name(None), "module");
    }
}
