//! The copies this node keeps as a replica, under `{data_dir}/replicas/`:
//! `ID.workbook` (a plain SQLite file, never opened by SQLite while it is a
//! replica), `ID.j0`/`ID.j1` (the two journal slots changes go through, see
//! [`nexus_workbook::pages`]) and `ID.json` (the version of the whole copy
//! it was seeded with). A copy is the home's workbook as of its version,
//! byte for byte once the home's file is checkpointed. Its version is the
//! seed's, or the tag of the newest change applied since.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use nexus_workbook::pages::{self, PageChange};
use serde::{Deserialize, Serialize};
use tracing::warn;

/// What a seed records beside a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct SeedRecord {
    version: u64,
}

/// Why a copy could not take a write.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The change starts from another version than the copy holds (or the
    /// copy is missing): the home must seed it again.
    #[error("replica of {sandbox_id} holds version {have:?}, the change starts at {base}")]
    Behind {
        /// The sandbox.
        sandbox_id: String,
        /// The version held, if any.
        have: Option<u64>,
        /// The version the change starts from.
        base: u64,
    },
    /// A file operation failed.
    #[error("replica of {sandbox_id}: {action}: {source}")]
    Io {
        /// The sandbox.
        sandbox_id: String,
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// A copy that became its sandbox's live (or cold) file here: the version
/// it held and the file as it was placed (its length and modification
/// time), where the new home's shipping goes on.
#[derive(Debug, Clone, Copy)]
pub struct Promoted {
    /// The version the copy held.
    pub version: u64,
    /// The placed file's length.
    pub len: u64,
    /// The placed file's modification time.
    pub modified: SystemTime,
}

/// This node's replica copies. Writes to one copy are serialized by the
/// version map's lock (they are rare next to calls, and short).
pub struct Copies {
    dir: PathBuf,
    /// The version each copy holds (one entry per copy on disk).
    versions: Mutex<HashMap<String, u64>>,
    /// Copies promoted since start whose home has not shipped yet (at most
    /// one per sandbox homed here).
    promoted: Mutex<HashMap<String, Promoted>>,
}

impl Copies {
    /// The copies under `data_dir`: creates the directory and, for each
    /// copy, re-applies the newest complete change its journal holds.
    pub fn open(data_dir: &Path) -> std::io::Result<Copies> {
        let dir = data_dir.join("replicas");
        std::fs::create_dir_all(&dir)?;
        let copies = Copies {
            dir,
            versions: Mutex::new(HashMap::new()),
            promoted: Mutex::new(HashMap::new()),
        };
        let mut versions = HashMap::new();
        for id in copies.on_disk() {
            match copies.recover(&id) {
                Ok(Some(version)) => {
                    versions.insert(id, version);
                }
                Ok(None) => copies.remove_files(&id),
                Err(e) => {
                    warn!(sandbox = %id, error = %e, "dropping a replica that cannot be recovered");
                    copies.remove_files(&id);
                }
            }
        }
        *copies.versions() = versions;
        Ok(copies)
    }

    /// The version `id`'s copy holds after its journal is re-applied;
    /// `None` for a copy without a seed record (a seed cut short).
    fn recover(&self, id: &str) -> std::io::Result<Option<u64>> {
        let Some(seed) = self.seed_record(id) else {
            return Ok(None);
        };
        let applied = pages::recover(&self.workbook_path(id), &self.slots(id))?;
        Ok(Some(
            applied.map_or(seed.version, |tag| tag.max(seed.version)),
        ))
    }

    fn seed_record(&self, id: &str) -> Option<SeedRecord> {
        let bytes = std::fs::read(self.path(id, "json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The ids with a copy file in the directory.
    fn on_disk(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut ids: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                Some(name.strip_suffix(".workbook")?.to_owned())
            })
            .collect();
        ids.sort();
        ids
    }

    fn versions(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        self.versions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn path(&self, id: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{id}.{ext}"))
    }

    fn slots(&self, id: &str) -> [PathBuf; 2] {
        [self.path(id, "j0"), self.path(id, "j1")]
    }

    /// Where the copy of `id` is (or would be) kept.
    pub fn workbook_path(&self, id: &str) -> PathBuf {
        self.path(id, "workbook")
    }

    /// Where a seed for `id` is written before it replaces the copy.
    pub fn seed_path(&self, id: &str) -> PathBuf {
        self.path(id, "seed")
    }

    /// Where the home stages a whole copy of `id` it is about to send
    /// (`purpose` keeps a shipment's and a new replica's seed apart).
    pub fn outgoing_path(&self, id: &str, purpose: &str) -> PathBuf {
        self.path(id, &format!("{purpose}.outgoing"))
    }

    /// Whether this node holds a copy of `id` (from memory).
    pub fn holds(&self, id: &str) -> bool {
        self.versions().contains_key(id)
    }

    /// The version `id`'s copy holds, if this node keeps one.
    pub fn version(&self, id: &str) -> Option<u64> {
        self.versions().get(id).copied()
    }

    /// The ids of the copies held, with their versions.
    pub fn list(&self) -> Vec<(String, u64)> {
        let mut all: Vec<(String, u64)> = self
            .versions()
            .iter()
            .map(|(id, v)| (id.clone(), *v))
            .collect();
        all.sort();
        all
    }

    /// Whether `id`'s copy was seeded less than `age` ago.
    pub fn younger_than(&self, id: &str, age: Duration) -> bool {
        std::fs::metadata(self.path(id, "json"))
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|e| e < age))
    }

    /// Makes the file at [`Copies::seed_path`] (complete, fsynced, checked
    /// by the caller) `id`'s copy at `version`.
    pub fn adopt_seed(&self, id: &str, version: u64) -> Result<(), CopyError> {
        let mut versions = self.versions();
        let io = |action| {
            move |source| CopyError::Io {
                sandbox_id: id.to_owned(),
                action,
                source,
            }
        };
        pages::clear(&self.slots(id)).map_err(io("clear journals"))?;
        std::fs::rename(self.seed_path(id), self.workbook_path(id)).map_err(io("place seed"))?;
        let record = serde_json::to_vec(&SeedRecord { version }).map_err(std::io::Error::other);
        record
            .and_then(|bytes| {
                nexus_durable::write_file(&self.path(id, "json"), &bytes, 0o600)
                    .map_err(std::io::Error::other)
            })
            .map_err(io("record the seed"))?;
        versions.insert(id.to_owned(), version);
        Ok(())
    }

    /// Applies `change`, which takes the copy from `base` to `version`,
    /// crash-safely (two fsyncs: its journal slot, the copy).
    pub fn apply(
        &self,
        id: &str,
        base: u64,
        version: u64,
        change: &PageChange,
    ) -> Result<(), CopyError> {
        let mut versions = self.versions();
        let have = versions.get(id).copied();
        if have != Some(base) || version != base + 1 {
            return Err(CopyError::Behind {
                sandbox_id: id.to_owned(),
                have,
                base,
            });
        }
        pages::apply_change_durably(&self.workbook_path(id), &self.slots(id), change, version)
            .map_err(|source| CopyError::Io {
                sandbox_id: id.to_owned(),
                action: "apply change",
                source,
            })?;
        versions.insert(id.to_owned(), version);
        Ok(())
    }

    /// Hands `id`'s copy over to become its file at `to` (this node is
    /// its new home); its records here go. Returns what it held, or `None`
    /// when this node has no copy of it.
    pub fn promote(&self, id: &str, to: &Path) -> std::io::Result<Option<Promoted>> {
        let mut versions = self.versions();
        let Some(version) = versions.get(id).copied() else {
            return Ok(None);
        };
        std::fs::rename(self.workbook_path(id), to)?;
        if let Some(dir) = to.parent() {
            nexus_durable::sync_dir(dir).map_err(std::io::Error::other)?;
        }
        versions.remove(id);
        drop(versions);
        self.remove_files(id);
        let placed = std::fs::metadata(to)?;
        let promoted = Promoted {
            version,
            len: placed.len(),
            modified: placed.modified()?,
        };
        self.promoted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), promoted);
        Ok(Some(promoted))
    }

    /// What [`Copies::promote`] recorded for `id`, taken once.
    pub fn take_promoted(&self, id: &str) -> Option<Promoted> {
        self.promoted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
    }

    /// Deletes `id`'s copy and its records.
    pub fn remove(&self, id: &str) {
        let mut versions = self.versions();
        versions.remove(id);
        self.remove_files(id);
    }

    fn remove_files(&self, id: &str) {
        for ext in [
            "workbook",
            "json",
            "j0",
            "j1",
            "seed",
            "ship.outgoing",
            "seed.outgoing",
        ] {
            let _ = std::fs::remove_file(self.path(id, ext));
        }
        let _ = nexus_durable::sync_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use nexus_workbook::pages::PageImage;

    use super::*;

    fn change(fill: u8) -> PageChange {
        PageChange {
            page_size: 512,
            db_pages: 2,
            pages: (1..=2)
                .map(|number| PageImage {
                    number,
                    data: vec![fill; 512],
                })
                .collect(),
        }
    }

    #[test]
    fn a_copy_takes_changes_in_order_survives_a_restart_and_is_promoted() {
        let dir = tempfile::tempdir().unwrap();
        let copies = Copies::open(dir.path()).unwrap();
        assert!(!copies.holds("sb"));
        std::fs::write(copies.seed_path("sb"), vec![7u8; 1024]).unwrap();
        copies.adopt_seed("sb", 5).unwrap();
        assert_eq!(copies.version("sb"), Some(5));
        copies.apply("sb", 5, 6, &change(1)).unwrap();
        copies.apply("sb", 6, 7, &change(2)).unwrap();
        // A change from another version is refused: the home seeds again.
        let err = copies.apply("sb", 5, 6, &change(3)).unwrap_err();
        assert!(
            matches!(
                err,
                CopyError::Behind {
                    have: Some(7),
                    base: 5,
                    ..
                }
            ),
            "{err}"
        );
        drop(copies);
        let copies = Copies::open(dir.path()).unwrap();
        assert_eq!(copies.list(), vec![("sb".to_owned(), 7)]);
        assert_eq!(
            std::fs::read(copies.workbook_path("sb")).unwrap(),
            vec![2u8; 1024]
        );
        let live = dir.path().join("live.workbook");
        let promoted = copies.promote("sb", &live).unwrap().unwrap();
        assert_eq!((promoted.version, promoted.len), (7, 1024));
        assert!(!copies.holds("sb") && live.exists());
        assert_eq!(copies.take_promoted("sb").map(|p| p.version), Some(7));
        assert!(copies.take_promoted("sb").is_none());
        assert!(Copies::open(dir.path()).unwrap().list().is_empty());
    }

    #[test]
    fn a_seed_cut_short_is_dropped_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let copies = Copies::open(dir.path()).unwrap();
        // A copy file without its seed record (a crash inside adopt_seed).
        std::fs::write(copies.workbook_path("cut"), b"partial").unwrap();
        drop(copies);
        let copies = Copies::open(dir.path()).unwrap();
        assert!(!copies.holds("cut"));
        assert!(!copies.workbook_path("cut").exists());
    }
}
