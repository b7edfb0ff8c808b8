//! A volume's files on the host: written out before a call, scanned after
//! it, and the difference turned into [`FileChange`]s.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use nexus_abi::Volume;

use super::super::data::{DataError, FileChange, SandboxData};
use super::{MountError, Mounted, MAX_VOLUME_FILES};

/// Longest file path a volume stores (the workbook's rule).
const MAX_PATH_BYTES: usize = 4096;

/// Size and mtime of one file, to tell whether a call changed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    size: u64,
    mtime: SystemTime,
}

/// The files of one volume directory, by path.
#[derive(Debug, Default)]
pub(super) struct Snapshot {
    files: BTreeMap<String, Entry>,
    bytes: u64,
}

impl Snapshot {
    fn insert(&mut self, path: String, entry: Entry) {
        self.bytes = self.bytes.saturating_add(entry.size);
        self.files.insert(path, entry);
    }

    /// Total size of the files.
    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Paths created or changed in `after`, and paths gone from it.
    pub(super) fn diff(&self, after: &Snapshot) -> (Vec<String>, Vec<String>) {
        let changed = after
            .files
            .iter()
            .filter(|(path, entry)| self.files.get(*path) != Some(entry))
            .map(|(path, _)| path.clone())
            .collect();
        let removed = self
            .files
            .keys()
            .filter(|path| !after.files.contains_key(*path))
            .cloned()
            .collect();
        (changed, removed)
    }
}

/// Writes every file of `volume` under the new directory `root`, each with
/// its mtime from the workbook (a guest's write then always shows as a new
/// mtime). A file that clashes with a directory of the same name (`a` and
/// `a/b` both stored) is left out with a warning, and kept in the volume.
pub(super) fn write_out(
    data: &dyn SandboxData,
    volume: Volume,
    root: &Path,
) -> Result<Snapshot, MountError> {
    std::fs::create_dir(root).map_err(|e| MountError::io(root, e))?;
    let mut snapshot = Snapshot::default();
    let mut failure = None;
    data.for_each_file(volume, &mut |path, contents, mtime_ms| {
        let host = match host_path(root, path) {
            Some(host) => host,
            None => {
                tracing::warn!(%volume, path, "stored path is not relative; not written out");
                return Ok(());
            }
        };
        match write_file(&host, contents, mtime_ms) {
            Ok(entry) => snapshot.insert(path.to_string(), entry),
            Err(e) if clashes(&e) => {
                tracing::warn!(%volume, path, error = %e, "file clashes with a directory; not written out");
            }
            Err(e) => {
                failure = Some(MountError::io(&host, e));
                return Err(DataError("writing the volume out failed".to_string()));
            }
        }
        Ok(())
    })
    .map_err(|e| failure.take().unwrap_or(MountError::Data(e)))?;
    Ok(snapshot)
}

/// `root/path` if `path` is plain and relative.
fn host_path(root: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path);
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| root.join(relative))
}

/// Whether `e` says a path is a file where a directory is (or the reverse).
fn clashes(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::NotADirectory | ErrorKind::IsADirectory | ErrorKind::AlreadyExists
    )
}

fn write_file(host: &Path, contents: &[u8], mtime_ms: u64) -> std::io::Result<Entry> {
    if let Some(parent) = host.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = std::fs::File::create_new(host)?;
    std::io::Write::write_all(&mut &file, contents)?;
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_millis(mtime_ms))?;
    let meta = file.metadata()?;
    Ok(Entry {
        size: meta.len(),
        mtime: meta.modified()?,
    })
}

/// The regular files under `root` now. Symbolic links and other special
/// files, names that are not UTF-8, paths over 4096 bytes and more than
/// [`MAX_VOLUME_FILES`] files cannot be stored in a volume.
pub(super) fn scan(volume: Volume, root: &Path) -> Result<Snapshot, MountError> {
    let mut snapshot = Snapshot::default();
    let mut pending = vec![(root.to_path_buf(), String::new())];
    let unstorable = |path: &str, reason: &str| MountError::Unstorable {
        volume,
        path: path.to_string(),
        reason: reason.to_string(),
    };
    while let Some((dir, prefix)) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| MountError::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| MountError::io(&dir, e))?;
            let name = entry.file_name();
            let name = name.to_str().ok_or_else(|| {
                unstorable(
                    &format!("{prefix}{}", name.to_string_lossy()),
                    "the name is not UTF-8",
                )
            })?;
            let path = format!("{prefix}{name}");
            if path.len() > MAX_PATH_BYTES {
                return Err(unstorable(&path, "the path is longer than 4096 bytes"));
            }
            let meta = entry
                .metadata()
                .map_err(|e| MountError::io(&entry.path(), e))?;
            if meta.is_dir() {
                pending.push((entry.path(), format!("{path}/")));
            } else if meta.is_file() {
                if snapshot.files.len() >= MAX_VOLUME_FILES {
                    return Err(unstorable(
                        &path,
                        &format!("a volume holds at most {MAX_VOLUME_FILES} files"),
                    ));
                }
                let mtime = meta
                    .modified()
                    .map_err(|e| MountError::io(&entry.path(), e))?;
                let size = meta.len();
                snapshot.insert(path, Entry { size, mtime });
            } else {
                return Err(unstorable(
                    &path,
                    "only regular files and directories are stored",
                ));
            }
        }
    }
    Ok(snapshot)
}

/// The changes of a sync: each changed file read when it is applied (one
/// in memory at a time), then the removals.
pub(super) fn changes<'a>(
    writes: Vec<(&'a Mounted, String)>,
    deletes: Vec<(Volume, String)>,
) -> impl Iterator<Item = Result<FileChange, DataError>> + 'a {
    let writes = writes.into_iter().map(|(mounted, path)| {
        let host = mounted.root.join(&path);
        std::fs::read(&host)
            .map(|data| FileChange::Write {
                volume: mounted.volume,
                path,
                data,
            })
            .map_err(|e| DataError(format!("reading {} failed: {e}", host.display())))
    });
    let deletes = deletes
        .into_iter()
        .map(|(volume, path)| Ok(FileChange::Delete { volume, path }));
    writes.chain(deletes)
}
