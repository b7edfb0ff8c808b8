//! Snapshots of the registry database: built from a point-in-time copy
//! (`VACUUM INTO` on a separate connection, so apply is never blocked),
//! installed atomically with the SQLite backup API, and kept as one file
//! (`current.snap`) so the current snapshot survives a restart.
//!
//! File layout: `u64` little-endian length of the JSON [`SnapshotMeta`],
//! the meta, then the SQLite database bytes (the snapshot data). The file is
//! replaced through `nexus_durable` (temp file, fsync, rename, fsync dir).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use nexus_durable::PUBLIC_FILE;
use openraft::SnapshotMeta;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::Connection;

use super::apply;
use crate::registry::Registry;
use crate::replication::error::StoreError;
use crate::replication::types::{NodeId, NodeInfo};

/// Snapshot metadata of the registry cluster.
pub(crate) type Meta = SnapshotMeta<NodeId, NodeInfo>;

const CURRENT: &str = "current.snap";

/// Distinguishes temp files of concurrent builds in one process.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// The directory holding the current snapshot and build/install temp files.
#[derive(Debug)]
pub(crate) struct SnapshotStore {
    dir: PathBuf,
    /// Serializes replacing `current.snap`.
    lock: Mutex<()>,
}

impl SnapshotStore {
    /// Uses (creating if needed) `dir`.
    pub(crate) fn open(dir: &Path) -> Result<SnapshotStore, StoreError> {
        fs::create_dir_all(dir)
            .map_err(|e| StoreError::io(format!("create {}", dir.display()), e))?;
        Ok(SnapshotStore {
            dir: dir.to_owned(),
            lock: Mutex::new(()),
        })
    }

    fn temp_path(&self, kind: &str) -> PathBuf {
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        self.dir
            .join(format!("{kind}-{}-{seq}.tmp", std::process::id()))
    }

    /// Copies the registry at `db_path` into a snapshot, makes it current and
    /// returns it. Reads through its own connection: concurrent applies go on.
    pub(crate) fn build(&self, db_path: &Path) -> Result<(Meta, Vec<u8>), StoreError> {
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
        let data = fs::read(&tmp.0).map_err(|e| StoreError::io("read snapshot copy", e))?;
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
        self.save(&meta, &data)?;
        Ok((meta, data))
    }

    /// Replaces the contents of `registry` with the snapshot `data`
    /// atomically, checks it is at `meta.last_log_id`, and makes it current.
    pub(crate) fn install(
        &self,
        registry: &Mutex<Registry>,
        meta: &Meta,
        data: &[u8],
    ) -> Result<(), StoreError> {
        let tmp = TempFile(self.temp_path("install"));
        // A scratch copy for SQLite to read; it never becomes current.
        fs::write(&tmp.0, data)
            .map_err(|e| StoreError::io(format!("write {}", tmp.0.display()), e))?;
        // Refuses bytes that are not a registry of a known schema version.
        drop(Registry::open(&tmp.0)?);
        let source = Connection::open(&tmp.0)?;
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
            match backup.step(-1)? {
                StepResult::Done => {}
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "snapshot restore did not complete: {other:?}"
                    )))
                }
            }
        }
        self.save(meta, data)
    }

    /// Makes (`meta`, `data`) the current snapshot unless a newer one is.
    fn save(&self, meta: &Meta, data: &[u8]) -> Result<(), StoreError> {
        let _guard = self
            .lock
            .lock()
            .map_err(|_| StoreError::Task("snapshot lock poisoned".to_owned()))?;
        if let Some((current, _)) = self.load_unlocked()? {
            if current.last_log_id > meta.last_log_id {
                return Ok(());
            }
        }
        let header = serde_json::to_vec(meta).map_err(|e| StoreError::codec("snapshot meta", e))?;
        let len = (header.len() as u64).to_le_bytes();
        nexus_durable::write_with(&self.dir.join(CURRENT), PUBLIC_FILE, |file| {
            file.write_all(&len)?;
            file.write_all(&header)?;
            file.write_all(data)
        })?;
        Ok(())
    }

    /// The current snapshot, if any.
    pub(crate) fn load(&self) -> Result<Option<(Meta, Vec<u8>)>, StoreError> {
        let _guard = self
            .lock
            .lock()
            .map_err(|_| StoreError::Task("snapshot lock poisoned".to_owned()))?;
        self.load_unlocked()
    }

    fn load_unlocked(&self) -> Result<Option<(Meta, Vec<u8>)>, StoreError> {
        let path = self.dir.join(CURRENT);
        let mut bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(format!("read {}", path.display()), e)),
        };
        let corrupt =
            || StoreError::Corrupt(format!("snapshot file {} is truncated", path.display()));
        let len_bytes: [u8; 8] = bytes
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(corrupt)?;
        let len = usize::try_from(u64::from_le_bytes(len_bytes)).map_err(|_| corrupt())?;
        let end = len
            .checked_add(8)
            .filter(|&end| end <= bytes.len())
            .ok_or_else(corrupt)?;
        let meta = serde_json::from_slice(&bytes[8..end])
            .map_err(|e| StoreError::codec("snapshot meta", e))?;
        let data = bytes.split_off(end);
        Ok(Some((meta, data)))
    }
}

/// A temp file removed on drop (with SQLite's side files, if any).
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
