//! File mechanics of the lifecycle: durable copies into and out of the cold
//! directory. Every copy goes through `nexus_durable` (a `*.partial` temp
//! file, fsynced, renamed into place, its directory fsynced), so a crash
//! leaves either the old state or the new one, never a half-written file
//! under the final name.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nexus_errors::{ErrorCode, UserError};
use nexus_workbook::Workbook;

/// Copies `from` to `to` durably (temp file, fsync, rename, fsync dir).
pub fn durable_copy(from: &Path, to: &Path) -> Result<(), UserError> {
    nexus_durable::copy_file(from, to).map(drop).map_err(|e| {
        internal(&format!(
            "cannot copy {} to {}: {e}",
            from.display(),
            to.display()
        ))
    })
}

/// Brings a live workbook to rest: every WAL frame in the main file, WAL
/// truncated, file fsynced. Afterwards the single file is the whole state.
pub fn checkpoint_live(path: &Path) -> Result<(), UserError> {
    rest(open_live(path)?, path)
}

/// [`checkpoint_live`] for a suspend, which also tells whether the `tmp`
/// volume is empty: then the resume need not open the file to empty it.
pub fn suspend_live(path: &Path) -> Result<bool, UserError> {
    let workbook = open_live(path)?;
    let tmp_empty = tmp_files(&workbook)? == 0;
    rest(workbook, path)?;
    Ok(tmp_empty)
}

/// Closes `workbook` (its WAL folded into the file) and fsyncs the file.
fn rest(workbook: Workbook, path: &Path) -> Result<(), UserError> {
    workbook.close().map_err(|e| internal(&e.to_string()))?;
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| internal(&format!("cannot sync {}: {e}", path.display())))
}

/// Empties the `tmp` volume of a live workbook (done on every resume the
/// node cannot tell is already empty). An already empty volume is only
/// read, so such a resume writes nothing.
pub fn clear_tmp(path: &Path) -> Result<(), UserError> {
    let workbook = open_live(path)?;
    if tmp_files(&workbook)? == 0 {
        return Ok(());
    }
    workbook
        .clear_volume(nexus_workbook::Volume::Tmp)
        .map_err(|e| internal(&e.to_string()))?;
    workbook.close().map_err(|e| internal(&e.to_string()))
}

fn open_live(path: &Path) -> Result<Workbook, UserError> {
    Workbook::open_live(path).map_err(|e| internal(&e.to_string()))
}

/// How many files the `tmp` volume of `workbook` holds.
fn tmp_files(workbook: &Workbook) -> Result<u64, UserError> {
    let tmp = workbook
        .volume_stats(nexus_workbook::Volume::Tmp)
        .map_err(|e| internal(&e.to_string()))?;
    Ok(tmp.files)
}

/// Deletes a workbook file (and its SQLite side files), then syncs its dir.
pub fn remove_durably(path: &Path) {
    remove_workbook_file(path);
    if let Some(dir) = path.parent() {
        let _ = nexus_durable::sync_dir(dir);
    }
}

/// A workbook file's own name and its SQLite side files' suffixes.
const WORKBOOK_FILES: [&str; 3] = ["", "-wal", "-shm"];

/// Suffix of a workbook file set aside for removal; start-up recovery
/// removes any left behind (its name holds `.workbook` and no sandbox owns
/// it).
const DROPPED_SUFFIX: &str = ".dropped";

/// Takes a workbook file and its SQLite side files out of the way at once
/// (renamed to `.NAME.PID.N.dropped` beside it) and deletes them in a
/// blocking task. Unlinking a big file drops its cached pages — 14 ms for
/// 64 MiB here — which a transition's caller need not wait for; the path
/// is free as soon as this returns, so a copy made next cannot be hit by
/// the late delete. A file that cannot be renamed is removed here.
/// Needs a tokio runtime.
pub fn remove_in_background(path: &Path) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let Some((dir, name)) = path.parent().zip(path.file_name()) else {
        return;
    };
    let mut aside = Vec::new();
    for suffix in WORKBOOK_FILES {
        let mut file = name.to_owned();
        file.push(suffix);
        let from = dir.join(&file);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let to = dir.join(format!(
            ".{}.{}.{n}{DROPPED_SUFFIX}",
            file.to_string_lossy(),
            std::process::id()
        ));
        match std::fs::rename(&from, &to) {
            Ok(()) => aside.push(to),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => {
                let _ = std::fs::remove_file(&from);
            }
        }
    }
    if !aside.is_empty() {
        tokio::task::spawn_blocking(move || {
            for file in aside {
                let _ = std::fs::remove_file(file);
            }
        });
    }
}

fn internal(message: &str) -> UserError {
    UserError::new(ErrorCode::Internal, message.to_string())
}

/// Removes a workbook file with its `-wal` and `-shm` companions.
pub fn remove_workbook_file(path: &Path) {
    for suffix in WORKBOOK_FILES {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durable_copy_leaves_no_partial_and_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, vec![7u8; 100_000]).unwrap();
        durable_copy(&a, &b).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        let err = durable_copy(&dir.path().join("missing"), &b).unwrap_err();
        assert_eq!(err.code, "INTERNAL");
        assert!(err.message.contains("missing"), "{}", err.message);
    }

    #[tokio::test]
    async fn a_file_removed_in_the_background_frees_its_path_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("sb_1.workbook");
        std::fs::write(&live, vec![1u8; 1 << 20]).unwrap();
        std::fs::write(dir.path().join("sb_1.workbook-wal"), b"wal").unwrap();
        remove_in_background(&live);
        assert!(!live.exists());
        assert!(!dir.path().join("sb_1.workbook-wal").exists());
        // A copy made next under the same name is not touched.
        std::fs::write(&live, b"new").unwrap();
        // The set-aside files go (bounded wait for the blocking task).
        let mut left = usize::MAX;
        for _ in 0..600 {
            left = std::fs::read_dir(dir.path()).unwrap().count();
            if left == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(left, 1);
        assert_eq!(std::fs::read(&live).unwrap(), b"new");
        // Nothing to set aside: nothing happens.
        remove_in_background(&dir.path().join("sb_missing.workbook"));
    }
}
