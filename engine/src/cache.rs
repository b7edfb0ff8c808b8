//! Compiled modules and the in-memory cache of them, keyed by the sha256 of
//! the module bytes, with the disk cache (`disk_cache`) behind it.
//!
//! The cache is bounded in bytes of compiled code. A module any caller still
//! holds (a running call, a live kernel) is never evicted; the least
//! recently used of the others go once the total passes the bound, and
//! [`ModuleCache::release`] drops one as soon as its last user is gone.
//! Loads are single-flight: concurrent misses for one module wait for one
//! compile instead of each compiling it.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::{InstancePre, Module};

use super::bounds::CompileConfig;
use super::compiler::Compiler;
use super::disk_cache::DiskCache;
use super::error::{CallError, EngineError};
use super::state::GuestState;

/// A module compiled for one [`Engine`](super::Engine), shareable between
/// calls and threads.
pub struct CompiledModule {
    sha256: String,
    name: String,
    module: Module,
    /// Estimated memory: the compiled code and data image.
    bytes: u64,
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

    /// Estimated bytes of memory it holds (its compiled code and data).
    pub fn bytes(&self) -> u64 {
        self.bytes
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

/// One load in flight, shared by every caller that missed on its module.
type Flight = Arc<OnceLock<Result<Arc<CompiledModule>, CallError>>>;

/// Compiled modules by sha256, bounded in bytes.
pub(crate) struct ModuleCache {
    held: Mutex<Held>,
    flights: Mutex<HashMap<String, Flight>>,
    disk: Option<DiskCache>,
    compiler: Compiler,
    config: CompileConfig,
}

/// The modules kept, with their last use.
#[derive(Default)]
struct Held {
    modules: HashMap<String, (Arc<CompiledModule>, u64)>,
    bytes: u64,
    clock: u64,
}

impl ModuleCache {
    /// A cache compiling under `config`, keeping precompiled modules under
    /// `dir` too if given (created `0700`).
    pub(crate) fn new(
        engine: &wasmtime::Engine,
        config: &CompileConfig,
        dir: Option<&std::path::Path>,
    ) -> Result<ModuleCache, EngineError> {
        let disk = dir
            .map(|dir| DiskCache::open(engine, dir, config.disk_cache_bytes))
            .transpose()?;
        Ok(ModuleCache {
            held: Mutex::default(),
            flights: Mutex::default(),
            disk,
            compiler: Compiler::new(config.concurrency, config.timeout),
            config: config.clone(),
        })
    }

    /// Modules loaded from the disk cache so far.
    pub(crate) fn disk_hits(&self) -> u64 {
        self.disk
            .as_ref()
            .map_or(0, |d| d.hits.load(Ordering::Relaxed))
    }

    /// Bytes of `.cwasm` files in the disk cache (0 without one).
    pub(crate) fn disk_bytes(&self) -> u64 {
        self.disk.as_ref().map_or(0, DiskCache::bytes)
    }

    /// Compiles started so far.
    pub(crate) fn compiles(&self) -> u64 {
        self.compiler.started()
    }

    /// Modules kept in memory and their estimated bytes.
    pub(crate) fn held(&self) -> (usize, u64) {
        let held = self.lock();
        (held.modules.len(), held.bytes)
    }

    /// Where the precompiled form of `sha256` is (or would be) kept.
    pub(crate) fn disk_path(&self, sha256: &str) -> Option<std::path::PathBuf> {
        self.disk
            .as_ref()
            .map(|d| d.path(&sha256.to_ascii_lowercase()))
    }

    /// The module `sha256` if it is in memory.
    pub(crate) fn get(&self, sha256: &str) -> Option<Arc<CompiledModule>> {
        let mut held = self.lock();
        held.clock += 1;
        let now = held.clock;
        let (module, used) = held.modules.get_mut(&sha256.to_ascii_lowercase())?;
        *used = now;
        Some(module.clone())
    }

    /// The cached module for `sha256`, or `wasm` checked against the
    /// limits and `sha256`, then loaded from disk or compiled, and cached.
    /// Concurrent misses share one load (and the deadline of the caller
    /// that started it). `timeout` tightens the compile deadline.
    pub(crate) fn get_or_compile(
        &self,
        engine: &wasmtime::Engine,
        sha256: &str,
        wasm: &[u8],
        timeout: Option<Duration>,
    ) -> Result<Arc<CompiledModule>, CallError> {
        if let Some(hit) = self.get(sha256) {
            return Ok(hit);
        }
        let key = sha256.to_ascii_lowercase();
        let flight = self
            .flights
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        let result = flight
            .get_or_init(|| {
                // A flight that just landed put its module in memory first.
                if let Some(hit) = self.get(&key) {
                    return Ok(hit);
                }
                let module = Arc::new(self.load(engine, &key, wasm, timeout)?);
                self.insert(&key, module.clone());
                Ok(module)
            })
            .clone();
        let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        if flights.get(&key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
            flights.remove(&key);
        }
        result
    }

    /// Drops `sha256` from memory unless a caller still holds it; the node
    /// calls this when the last sandbox using it is removed.
    pub(crate) fn release(&self, sha256: &str) {
        let mut held = self.lock();
        let key = sha256.to_ascii_lowercase();
        if let Some((module, _)) = held.modules.get(&key) {
            if Arc::strong_count(module) == 1 {
                let bytes = module.bytes;
                held.modules.remove(&key);
                held.bytes = held.bytes.saturating_sub(bytes);
            }
        }
    }

    /// `wasm` checked and loaded from disk, or compiled (and stored on disk).
    fn load(
        &self,
        engine: &wasmtime::Engine,
        key: &str,
        wasm: &[u8],
        timeout: Option<Duration>,
    ) -> Result<CompiledModule, CallError> {
        let limits = &self.config.limits;
        limits.check_size(wasm.len())?;
        let actual = hex::encode(Sha256::digest(wasm));
        if actual != key {
            return Err(CallError::ModuleInvalid(format!(
                "module bytes hash to sha256 {actual}, not the declared {key}"
            )));
        }
        let binary = assemble(wasm)?;
        limits.check(&binary)?;
        let module = match self.disk.as_ref().and_then(|d| d.load(engine, key)) {
            Some(module) => module,
            None => {
                let module = self.compiler.compile(engine, key, &binary, timeout)?;
                if let Some(disk) = &self.disk {
                    disk.store(key, &module);
                }
                module
            }
        };
        let image = module.image_range();
        let bytes = (image.end as usize).saturating_sub(image.start as usize) as u64;
        tracing::debug!(sha256 = short(key), bytes, "module compiled");
        Ok(CompiledModule {
            name: program_name(module.name()),
            sha256: key.to_string(),
            module,
            bytes,
            pre: OnceLock::new(),
        })
    }

    /// Keeps `module`, then evicts the least recently used modules no
    /// caller holds until the total fits the bound.
    fn insert(&self, key: &str, module: Arc<CompiledModule>) {
        let mut held = self.lock();
        held.clock += 1;
        let now = held.clock;
        let bytes = module.bytes;
        if let Some((old, _)) = held.modules.insert(key.to_string(), (module, now)) {
            held.bytes = held.bytes.saturating_sub(old.bytes);
        }
        held.bytes += bytes;
        while held.bytes > self.config.memory_cache_bytes {
            let idle = held
                .modules
                .iter()
                .filter(|(_, (m, _))| Arc::strong_count(m) == 1)
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            let Some(victim) = idle else { break };
            if let Some((gone, _)) = held.modules.remove(&victim) {
                held.bytes = held.bytes.saturating_sub(gone.bytes);
                tracing::debug!(sha256 = short(&victim), "module evicted from memory");
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The binary form of `wasm` (WAT text is assembled).
pub(crate) fn assemble(wasm: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, CallError> {
    if wasm.starts_with(b"\0asm") {
        return Ok(std::borrow::Cow::Borrowed(wasm));
    }
    wat::parse_bytes(wasm)
        .map_err(|e| CallError::ModuleInvalid(format!("module is not valid WebAssembly: {e}")))
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
