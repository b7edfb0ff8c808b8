//! What a guest's `kv` and `vfs` imports reach: the sandbox's data behind a
//! trait, so the engine never touches storage itself. The node implements it
//! over the workbook file; [`MemoryData`] keeps everything in memory.
//!
//! Methods may block (a local SQLite read or write): the host imports call
//! them on tokio's blocking pool, never on an async worker thread. Keys and
//! paths reaching them are already validated (see docs/guest-abi.md).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

pub use nexus_abi::FileStat;
use nexus_abi::Volume;

/// A storage failure; the guest sees `ERR_IO` and the message is logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DataError(pub String);

/// Called with each file's path, contents and mtime (Unix ms).
pub type FileVisitor<'a> = dyn FnMut(&str, &[u8], u64) -> Result<(), DataError> + 'a;

/// The sandbox's own key-value store and volumes.
pub trait SandboxData: Send + Sync {
    /// The value under `key`, or `None`.
    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, DataError>;
    /// Stores `value` under `key`, replacing any previous value.
    fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), DataError>;
    /// Removes `key`; whether it existed.
    fn kv_delete(&self, key: &str) -> Result<bool, DataError>;
    /// The contents of `path` in `volume`, or `None`.
    fn read_file(&self, volume: Volume, path: &str) -> Result<Option<Vec<u8>>, DataError>;
    /// Creates or replaces `path` in `volume`.
    fn write_file(&self, volume: Volume, path: &str, data: &[u8]) -> Result<(), DataError>;
    /// Paths in `volume` starting with `prefix`, sorted.
    fn list(&self, volume: Volume, prefix: &str) -> Result<Vec<String>, DataError>;
    /// Size and mtime of `path` in `volume`, or `None`.
    fn stat(&self, volume: Volume, path: &str) -> Result<Option<FileStat>, DataError>;
    /// Removes `path` from `volume`; whether it existed.
    fn delete(&self, volume: Volume, path: &str) -> Result<bool, DataError>;

    /// Calls `visit(path, contents, mtime_ms)` for every file of `volume`, in
    /// path order (how a call's preopened directories are filled).
    fn for_each_file(&self, volume: Volume, visit: &mut FileVisitor<'_>) -> Result<(), DataError> {
        for path in self.list(volume, "")? {
            let (Some(data), Some(stat)) =
                (self.read_file(volume, &path)?, self.stat(volume, &path)?)
            else {
                continue;
            };
            visit(&path, &data, stat.mtime_ms)?;
        }
        Ok(())
    }

    /// Applies every change `changes` yields, all or none: the first error
    /// (from the iterator or the store) leaves the volumes as they were.
    /// The default applies them one by one; the node's is one transaction.
    fn apply(
        &self,
        changes: &mut dyn Iterator<Item = Result<FileChange, DataError>>,
    ) -> Result<(), DataError> {
        let changes = changes.collect::<Result<Vec<_>, _>>()?;
        for change in changes {
            match change {
                FileChange::Write { volume, path, data } => {
                    self.write_file(volume, &path, &data)?
                }
                FileChange::Delete { volume, path } => {
                    self.delete(volume, &path)?;
                }
            }
        }
        Ok(())
    }
}

/// One change a call made to a volume through its preopened directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    /// `path` was created or changed; `data` is its new contents.
    Write {
        /// The volume.
        volume: Volume,
        /// The file's path in it.
        path: String,
        /// The whole new contents.
        data: Vec<u8>,
    },
    /// `path` was removed.
    Delete {
        /// The volume.
        volume: Volume,
        /// The file's path in it.
        path: String,
    },
}

/// Files by volume and path: contents and mtime (Unix ms).
type Files = BTreeMap<(Volume, String), (Vec<u8>, u64)>;

/// [`SandboxData`] held in memory: for tests, and for calls made without a
/// sandbox (whatever the guest stores is gone after the call).
#[derive(Debug, Default)]
pub struct MemoryData {
    kv: Mutex<BTreeMap<String, Vec<u8>>>,
    files: Mutex<Files>,
}

impl MemoryData {
    /// Empty data.
    pub fn new() -> MemoryData {
        MemoryData::default()
    }

    fn kv(&self) -> MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.kv.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn files(&self) -> MutexGuard<'_, Files> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl SandboxData for MemoryData {
    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, DataError> {
        Ok(self.kv().get(key).cloned())
    }

    fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), DataError> {
        self.kv().insert(key.to_string(), value.to_vec());
        Ok(())
    }

    fn kv_delete(&self, key: &str) -> Result<bool, DataError> {
        Ok(self.kv().remove(key).is_some())
    }

    fn read_file(&self, volume: Volume, path: &str) -> Result<Option<Vec<u8>>, DataError> {
        Ok(self
            .files()
            .get(&(volume, path.to_string()))
            .map(|(d, _)| d.clone()))
    }

    fn write_file(&self, volume: Volume, path: &str, data: &[u8]) -> Result<(), DataError> {
        self.files()
            .insert((volume, path.to_string()), (data.to_vec(), now_ms()));
        Ok(())
    }

    fn list(&self, volume: Volume, prefix: &str) -> Result<Vec<String>, DataError> {
        Ok(self
            .files()
            .keys()
            .filter(|(v, p)| *v == volume && p.starts_with(prefix))
            .map(|(_, p)| p.clone())
            .collect())
    }

    fn stat(&self, volume: Volume, path: &str) -> Result<Option<FileStat>, DataError> {
        Ok(self
            .files()
            .get(&(volume, path.to_string()))
            .map(|(d, mtime_ms)| FileStat {
                size: d.len() as u64,
                mtime_ms: *mtime_ms,
            }))
    }

    fn delete(&self, volume: Volume, path: &str) -> Result<bool, DataError> {
        Ok(self.files().remove(&(volume, path.to_string())).is_some())
    }
}
