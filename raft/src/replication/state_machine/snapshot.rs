//! Snapshots of the registry database, kept as files and streamed from and
//! to disk, never held in memory whole: built from a point-in-time copy
//! (`VACUUM INTO` on a separate connection, so apply is never blocked),
//! received chunk by chunk into a file, installed atomically with the SQLite
//! backup API, and kept so the current snapshot survives a restart.
//!
//! Layout of the snapshot directory: the current snapshot's data is an
//! SQLite file `snap-*.db`; `current.json` holds its [`SnapshotMeta`] and
//! names that file. Both are made durable (fsync, rename, fsync dir) before
//! the previous data file is removed, so a crash leaves one complete
//! snapshot. `*.tmp` files are builds or receipts a crash interrupted;
//! opening the store removes them. A store written by an older node (one
//! `current.snap` holding a length-prefixed meta and the data) is converted
//! when opened.

mod file;

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nexus_durable::PUBLIC_FILE;
use openraft::SnapshotMeta;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

pub use file::SnapshotFile;

use super::apply;
use crate::registry::Registry;
use crate::replication::error::StoreError;
use crate::replication::types::{NodeId, NodeInfo};

/// Snapshot metadata of the registry cluster.
pub(crate) type Meta = SnapshotMeta<NodeId, NodeInfo>;

/// Names the current snapshot.
const CURRENT: &str = "current.json";

/// Pause between tries of a restore step the registry's checkpointer kept
/// busy, and how many tries (10 s in all).
const RESTORE_BUSY_PAUSE: Duration = Duration::from_millis(10);
const RESTORE_BUSY_WAITS: u32 = 1_000;

/// The single-file layout of older nodes.
const LEGACY: &str = "current.snap";

/// Distinguishes temp and data files made by one process.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// What `current.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct Current {
    meta: Meta,
    /// The data file's name in the snapshot directory.
    data: String,
}

/// The directory holding the current snapshot and build/receive temp files.
#[derive(Debug)]
pub(crate) struct SnapshotStore {
    dir: PathBuf,
    /// Serializes replacing the current snapshot.
    lock: Mutex<()>,
}

impl SnapshotStore {
    /// Uses (creating if needed) `dir`: removes what interrupted builds and
    /// receipts left, and converts a store of the older layout.
    pub(crate) fn open(dir: &Path) -> Result<SnapshotStore, StoreError> {
        fs::create_dir_all(dir)
            .map_err(|e| StoreError::io(format!("create {}", dir.display()), e))?;
        let store = SnapshotStore {
            dir: dir.to_owned(),
            lock: Mutex::new(()),
        };
        store.remove_leftovers()?;
        store.convert_legacy()?;
        Ok(store)
    }

    fn unique_name(prefix: &str, suffix: &str) -> String {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}-{nanos}-{}-{seq}{suffix}", std::process::id())
    }

    /// A fresh temp path in the store's directory.
    pub(crate) fn temp_path(&self, kind: &str) -> PathBuf {
        self.dir.join(Self::unique_name(kind, ".tmp"))
    }

    /// Copies the registry at `db_path` into a snapshot, makes it current and
    /// returns it. Reads through its own connection: concurrent applies go on.
    pub(crate) fn build(&self, db_path: &Path) -> Result<(Meta, PathBuf), StoreError> {
        let tmp = TempFile(self.temp_path("build"));
        {
            let conn = Connection::open(db_path)?;
            let target = tmp.0.to_str().ok_or_else(|| {
                StoreError::Corrupt(format!("snapshot path {} is not UTF-8", tmp.0.display()))
            })?;
            conn.execute("VACUUM INTO ?1", [target])?;
        }
        let (last_log_id, last_membership) = {
            let copy = Connection::open(&tmp.0)?;
            apply::applied_state(&copy)?
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let snapshot_id = match &last_log_id {
            Some(id) => format!("{}-{}-{nanos}", id.leader_id, id.index),
            None => format!("none-{nanos}"),
        };
        let meta = Meta {
            last_log_id,
            last_membership,
            snapshot_id,
        };
        let path = self.save(&meta, tmp)?;
        Ok((meta, path))
    }

    /// Replaces the contents of `registry` with the snapshot received in
    /// `received` atomically, checks it is at `meta.last_log_id`, and makes
    /// it current (the file moves into place; it is removed on failure).
    pub(crate) fn install(
        &self,
        registry: &Mutex<Registry>,
        meta: &Meta,
        received: &Path,
    ) -> Result<(), StoreError> {
        // A file of this store's receiving moves into place; anything else
        // (another store's snapshot) is copied first and left alone.
        let received = if self.received_here(received) {
            TempFile(received.to_owned())
        } else {
            let copy = TempFile(self.temp_path("receive"));
            fs::copy(received, &copy.0)
                .map_err(|e| StoreError::io(format!("copy {}", received.display()), e))?;
            copy
        };
        // Refuses bytes that are not a registry of a known schema version.
        drop(Registry::open(&received.0)?);
        let source = Connection::open(&received.0)?;
        let (applied, _) = apply::applied_state(&source)?;
        if applied != meta.last_log_id {
            return Err(StoreError::Corrupt(format!(
                "snapshot {} holds state up to {applied:?}, its meta says {:?}",
                meta.snapshot_id, meta.last_log_id
            )));
        }
        {
            let mut registry = registry
                .lock()
                .map_err(|_| StoreError::Task("registry lock poisoned".to_owned()))?;
            let target = registry.connection_mut();
            // One step copies every page in one write transaction: readers
            // and a crash see either the old registry or the new one.
            let backup = Backup::new(&source, target)?;
            // Busy while the registry's checkpointer holds the write lock
            // (at most its restart wait); the step is simply tried again.
            let mut waits = 0;
            loop {
                match backup.step(-1)? {
                    StepResult::Done => break,
                    StepResult::Busy | StepResult::Locked if waits < RESTORE_BUSY_WAITS => {
                        waits += 1;
                        std::thread::sleep(RESTORE_BUSY_PAUSE);
                    }
                    other => {
                        return Err(StoreError::Corrupt(format!(
                            "snapshot restore did not complete: {other:?}"
                        )))
                    }
                }
            }
        }
        drop(source);
        self.save(meta, received)?;
        Ok(())
    }

    /// Whether `path` is a file [`SnapshotStore::temp_path`] made for
    /// receiving a snapshot.
    fn received_here(&self, path: &Path) -> bool {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        path.parent() == Some(self.dir.as_path())
            && name.is_some_and(|n| n.starts_with("receive-") && n.ends_with(".tmp"))
    }

    /// Makes `meta` with the data in `data` the current snapshot unless a
    /// newer one is (then `data` is dropped). Returns the current data file.
    fn save(&self, meta: &Meta, data: TempFile) -> Result<PathBuf, StoreError> {
        let _guard = self.locked()?;
        if let Some((current, path)) = self.load_unlocked()? {
            if current.last_log_id > meta.last_log_id {
                return Ok(path);
            }
        }
        let previous = self.current_unlocked()?.map(|c| self.dir.join(c.data));
        let name = Self::unique_name("snap", ".db");
        let path = self.dir.join(&name);
        fs::File::open(&data.0)
            .and_then(|f| f.sync_all())
            .map_err(|e| StoreError::io(format!("sync {}", data.0.display()), e))?;
        fs::rename(&data.0, &path)
            .map_err(|e| StoreError::io(format!("rename to {}", path.display()), e))?;
        let current = Current {
            meta: meta.clone(),
            data: name,
        };
        let json =
            serde_json::to_vec(&current).map_err(|e| StoreError::codec("snapshot meta", e))?;
        nexus_durable::write_file(&self.dir.join(CURRENT), &json, PUBLIC_FILE)?;
        if let Some(previous) = previous.filter(|p| *p != path) {
            // Readers streaming it keep their open handle.
            let _ = fs::remove_file(previous);
        }
        Ok(path)
    }

    /// The current snapshot's meta and data file, if any.
    pub(crate) fn load(&self) -> Result<Option<(Meta, PathBuf)>, StoreError> {
        let _guard = self.locked()?;
        self.load_unlocked()
    }

    fn load_unlocked(&self) -> Result<Option<(Meta, PathBuf)>, StoreError> {
        Ok(self
            .current_unlocked()?
            .map(|c| (c.meta, self.dir.join(c.data))))
    }

    fn current_unlocked(&self) -> Result<Option<Current>, StoreError> {
        let path = self.dir.join(CURRENT);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(format!("read {}", path.display()), e)),
        };
        let current: Current =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::codec("snapshot meta", e))?;
        if current.data.contains('/') || current.data.starts_with('.') {
            return Err(StoreError::Corrupt(format!(
                "{} names {:?}, not a file of its directory",
                path.display(),
                current.data
            )));
        }
        Ok(Some(current))
    }

    fn locked(&self) -> Result<std::sync::MutexGuard<'_, ()>, StoreError> {
        self.lock
            .lock()
            .map_err(|_| StoreError::Task("snapshot lock poisoned".to_owned()))
    }

    /// Removes temp files and data files the current snapshot does not name.
    fn remove_leftovers(&self) -> Result<(), StoreError> {
        let keep = self.current_unlocked()?.map(|c| c.data);
        let entries = fs::read_dir(&self.dir)
            .map_err(|e| StoreError::io(format!("list {}", self.dir.display()), e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stray_data = name.starts_with("snap-") && Some(&name) != keep.as_ref();
            if name.ends_with(".tmp") || stray_data {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    /// Splits an older node's `current.snap` (u64 little-endian meta
    /// length, the JSON meta, then the data) into the current layout.
    fn convert_legacy(&self) -> Result<(), StoreError> {
        let legacy = self.dir.join(LEGACY);
        let mut file = match fs::File::open(&legacy) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io(format!("open {}", legacy.display()), e)),
        };
        let corrupt =
            || StoreError::Corrupt(format!("snapshot file {} is truncated", legacy.display()));
        let io = |e| StoreError::io(format!("read {}", legacy.display()), e);
        let mut len = [0u8; 8];
        file.read_exact(&mut len).map_err(|_| corrupt())?;
        let len = usize::try_from(u64::from_le_bytes(len)).map_err(|_| corrupt())?;
        let mut header = vec![0u8; len.min(64 << 20)];
        file.read_exact(&mut header).map_err(|_| corrupt())?;
        let meta: Meta =
            serde_json::from_slice(&header).map_err(|e| StoreError::codec("snapshot meta", e))?;
        let data = TempFile(self.temp_path("convert"));
        let mut out = fs::File::create(&data.0)
            .map_err(|e| StoreError::io(format!("create {}", data.0.display()), e))?;
        file.seek(SeekFrom::Start(8 + len as u64)).map_err(io)?;
        std::io::copy(&mut file, &mut out).map_err(io)?;
        drop(out);
        self.save(&meta, data)?;
        fs::remove_file(&legacy).map_err(|e| StoreError::io("remove the old snapshot", e))?;
        Ok(())
    }
}

/// A temp file removed on drop unless it was moved away (with SQLite's
/// side files, if any).
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry_with_state(path: &Path) {
        let mut registry = Registry::open(path).unwrap();
        apply::init(registry.connection_mut()).unwrap();
    }

    #[test]
    fn a_build_is_current_after_reopening_and_replaces_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("registry.db");
        registry_with_state(&db);
        let store = SnapshotStore::open(&dir.path().join("snapshots")).unwrap();
        let (_, first) = store.build(&db).unwrap();
        let (meta, second) = store.build(&db).unwrap();
        assert!(!first.exists(), "the previous data file is removed");
        std::fs::write(store.temp_path("build"), b"interrupted").unwrap();
        drop(store);

        let store = SnapshotStore::open(&dir.path().join("snapshots")).unwrap();
        assert_eq!(store.load().unwrap(), Some((meta, second)));
        let names: Vec<_> = std::fs::read_dir(&store.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "current.json and one data file: {names:?}");
    }

    #[test]
    fn a_store_of_the_single_file_layout_is_converted() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("registry.db");
        registry_with_state(&db);
        let built = SnapshotStore::open(&dir.path().join("built")).unwrap();
        let (meta, data) = built.build(&db).unwrap();
        let data = std::fs::read(data).unwrap();

        let legacy_dir = dir.path().join("legacy");
        std::fs::create_dir(&legacy_dir).unwrap();
        let header = serde_json::to_vec(&meta).unwrap();
        let mut legacy = (header.len() as u64).to_le_bytes().to_vec();
        legacy.extend_from_slice(&header);
        legacy.extend_from_slice(&data);
        std::fs::write(legacy_dir.join(LEGACY), legacy).unwrap();

        let store = SnapshotStore::open(&legacy_dir).unwrap();
        let (loaded, path) = store.load().unwrap().expect("converted");
        assert_eq!(loaded, meta);
        assert_eq!(std::fs::read(path).unwrap(), data);
        assert!(!legacy_dir.join(LEGACY).exists());
    }
}
