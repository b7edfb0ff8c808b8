//! The on-disk cache of precompiled modules (`.cwasm`), capped in bytes:
//! past the cap the least recently used files are deleted (a load refreshes
//! a file's modification time).
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
//!   name), so a final name
//!   never holds a half-written file and a file is never rewritten in place
//!   (it is mmapped while loaded);
//! - file names carry the engine's precompile compatibility hash, so another
//!   wasmtime version or configuration looks for other names (wasmtime also
//!   checks the header and refuses incompatible files);
//! - `.cwasm` files are never accepted from peers or workbooks: modules
//!   travel as `.wasm` and are compiled locally.
//!
//! A file that fails to load (truncated, corrupt, foreign) is deleted and the
//! module recompiled and written again.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use wasmtime::Module;

use super::cache::short;
use super::error::EngineError;

/// Precompiled modules in a directory only this node writes.
pub(crate) struct DiskCache {
    dir: PathBuf,
    /// Hex sha256 of the engine's precompile compatibility hash.
    engine_hash: String,
    pub(crate) hits: AtomicU64,
    /// Most bytes of `.cwasm` files kept in `dir`.
    max_bytes: u64,
}

impl DiskCache {
    pub(crate) fn open(
        engine: &wasmtime::Engine,
        dir: &Path,
        max_bytes: u64,
    ) -> Result<DiskCache, EngineError> {
        nexus_durable::create_private_dir(dir)
            .map_err(|e| EngineError::Config(format!("module cache: {e}")))?;
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(DiskCache {
            dir: dir.to_path_buf(),
            engine_hash: hex::encode(&hasher.0.finalize()[..8]),
            hits: AtomicU64::new(0),
            max_bytes,
        })
    }

    pub(crate) fn path(&self, sha256: &str) -> PathBuf {
        self.dir
            .join(format!("{sha256}-{}.cwasm", self.engine_hash))
    }

    /// The module precompiled under `sha256`, if this node kept it. A file
    /// that does not load is deleted.
    pub(crate) fn load(&self, engine: &wasmtime::Engine, sha256: &str) -> Option<Module> {
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
                touch(&path);
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
    pub(crate) fn store(&self, sha256: &str, module: &Module) {
        let write = || -> Result<(), String> {
            let bytes = module.serialize().map_err(|e| e.to_string())?;
            nexus_durable::write_file(&self.path(sha256), &bytes, nexus_durable::PRIVATE_FILE)
                .map_err(|e| e.to_string())
        };
        if let Err(e) = write() {
            tracing::warn!(sha256 = short(sha256), error = %e, "cannot write the module cache");
        }
        self.trim();
    }

    /// Bytes of `.cwasm` files in the directory now.
    pub(crate) fn bytes(&self) -> u64 {
        self.files().iter().map(|f| f.1).sum()
    }

    /// Deletes the least recently used `.cwasm` files until the rest fit
    /// the cap. Files of other engine versions count and go first if older.
    fn trim(&self) {
        let mut files = self.files();
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        if total <= self.max_bytes {
            return;
        }
        files.sort_by_key(|f| f.2);
        for (path, size, _) in files {
            if total <= self.max_bytes {
                break;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => total = total.saturating_sub(size),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot trim the module cache")
                }
            }
        }
    }

    /// The `.cwasm` files in the directory: path, size, last use.
    fn files(&self) -> Vec<(PathBuf, u64, SystemTime)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                Some((e.path(), meta.len(), used))
            })
            .collect()
    }
}

/// Marks a cache file used now (its modification time; the contents are
/// never rewritten), so trimming keeps it over older ones.
fn touch(path: &Path) {
    let touched = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(SystemTime::now()));
    if let Err(e) = touched {
        tracing::debug!(path = %path.display(), error = %e, "cannot mark a cache file used");
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
