//! Compiled modules and the caches of them, keyed by the sha256 of the
//! module bytes: in memory always, and on disk (precompiled `.cwasm`) when
//! the engine has a cache directory.
//!
//! # Safety of the disk cache
//!
//! Loading a precompiled module (`Module::deserialize_file`) runs whatever
//! machine code the file holds, so the cache only ever loads files this node
//! wrote itself:
//!
//! - the directory is created (or re-moded) `0700`, owned by the node's user;
//! - each file is written through `nexus_durable` (a fresh `0600` temporary
//!   name in that directory, fsynced, then atomically renamed to its final
//!   name), so a final name never holds a half-written file and a file is
//!   never rewritten in place (it is mmapped while loaded);
//! - file names carry the engine's precompile compatibility hash, so another
//!   wasmtime version or configuration looks for other names (wasmtime also
//!   checks the header and refuses incompatible files);
//! - `.cwasm` files are never accepted from peers or workbooks: modules
//!   travel as `.wasm` and are compiled locally.
//!
//! A file that fails to load (truncated, corrupt, foreign) is deleted and the
//! module recompiled and written again.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use sha2::{Digest, Sha256};
use wasmtime::{InstancePre, Module};

use super::error::{CallError, EngineError};
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
    disk: Option<DiskCache>,
}

impl ModuleCache {
    /// A cache keeping precompiled modules under `dir` too (created `0700`).
    pub(crate) fn on_disk(
        engine: &wasmtime::Engine,
        dir: &Path,
    ) -> Result<ModuleCache, EngineError> {
        Ok(ModuleCache {
            modules: Mutex::default(),
            disk: Some(DiskCache::open(engine, dir)?),
        })
    }

    /// Modules loaded from the disk cache so far.
    pub(crate) fn disk_hits(&self) -> u64 {
        self.disk
            .as_ref()
            .map_or(0, |d| d.hits.load(Ordering::Relaxed))
    }

    /// Where the precompiled form of `sha256` is (or would be) kept.
    pub(crate) fn disk_path(&self, sha256: &str) -> Option<PathBuf> {
        self.disk
            .as_ref()
            .map(|d| d.path(&sha256.to_ascii_lowercase()))
    }

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
        let module = match self.disk.as_ref().and_then(|d| d.load(engine, &key)) {
            Some(module) => module,
            None => {
                let module = compile(engine, &key, wasm)?;
                if let Some(disk) = &self.disk {
                    disk.store(&key, &module);
                }
                module
            }
        };
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

/// `wasm` compiled by `engine`.
fn compile(engine: &wasmtime::Engine, key: &str, wasm: &[u8]) -> Result<Module, CallError> {
    Module::new(engine, wasm).map_err(|e| {
        // Valid WebAssembly the instance pool cannot hold (an initial memory
        // above its ceiling, too many tables...) says so.
        if wasm.starts_with(b"\0asm") && Module::validate(engine, wasm).is_ok() {
            return CallError::ModuleInvalid(format!(
                "module {} does not fit this node's instance pool: {e:#}",
                short(key)
            ));
        }
        CallError::ModuleInvalid(format!(
            "module {} is not valid WebAssembly: {e}",
            short(key)
        ))
    })
}

/// Precompiled modules in a directory only this node writes.
struct DiskCache {
    dir: PathBuf,
    /// Hex sha256 of the engine's precompile compatibility hash.
    engine_hash: String,
    hits: AtomicU64,
}

impl DiskCache {
    fn open(engine: &wasmtime::Engine, dir: &Path) -> Result<DiskCache, EngineError> {
        nexus_durable::create_private_dir(dir)
            .map_err(|e| EngineError::Config(format!("module cache: {e}")))?;
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(DiskCache {
            dir: dir.to_path_buf(),
            engine_hash: hex::encode(&hasher.0.finalize()[..8]),
            hits: AtomicU64::new(0),
        })
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir
            .join(format!("{sha256}-{}.cwasm", self.engine_hash))
    }

    /// The module precompiled under `sha256`, if this node kept it. A file
    /// that does not load is deleted.
    fn load(&self, engine: &wasmtime::Engine, sha256: &str) -> Option<Module> {
        let path = self.path(sha256);
        if !path.is_file() {
            return None;
        }
        // SAFETY: `path` is in the 0700 cache directory and was written by
        // `store` below (temp file, fsync, atomic rename), never taken from a
        // peer or a workbook, and is never modified in place while mapped.
        // See the module docs.
        #[allow(unsafe_code)]
        let loaded = unsafe { Module::deserialize_file(engine, &path) };
        match loaded {
            Ok(module) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(sha256 = short(sha256), "module loaded from the disk cache");
                Some(module)
            }
            Err(e) => {
                tracing::warn!(
                    path = %path.display(),
                    error = %e,
                    "cached module does not load; deleting it and recompiling"
                );
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Keeps `module`'s precompiled form; failures are logged, not fatal.
    fn store(&self, sha256: &str, module: &Module) {
        let write = || -> Result<(), String> {
            let bytes = module.serialize().map_err(|e| e.to_string())?;
            nexus_durable::write_file(&self.path(sha256), &bytes, nexus_durable::PRIVATE_FILE)
                .map_err(|e| e.to_string())
        };
        if let Err(e) = write() {
            tracing::warn!(sha256 = short(sha256), error = %e, "cannot write the module cache");
        }
    }
}

/// Feeds `Hash` output into sha256, for a hash stable across Rust versions.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        0
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
