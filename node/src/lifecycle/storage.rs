//! File mechanics of the lifecycle: durable copies into and out of the cold
//! directory. Every copy goes through `nexus_durable` (a `*.partial` temp
//! file, fsynced, renamed into place, its directory fsynced), so a crash
//! leaves either the old state or the new one, never a half-written file
//! under the final name.

use std::fs::File;
use std::path::{Path, PathBuf};

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
    let workbook = Workbook::open_live(path).map_err(|e| internal(&e.to_string()))?;
    workbook.close().map_err(|e| internal(&e.to_string()))?;
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| internal(&format!("cannot sync {}: {e}", path.display())))
}

/// Empties the `tmp` volume of a live workbook (done on every resume). An
/// already empty volume is only read, so the common resume writes nothing.
pub fn clear_tmp(path: &Path) -> Result<u64, UserError> {
    let workbook = Workbook::open_live(path).map_err(|e| internal(&e.to_string()))?;
    let tmp = workbook
        .volume_stats(nexus_workbook::Volume::Tmp)
        .map_err(|e| internal(&e.to_string()))?;
    if tmp.files == 0 {
        return Ok(0);
    }
    let removed = workbook
        .clear_volume(nexus_workbook::Volume::Tmp)
        .map_err(|e| internal(&e.to_string()))?;
    workbook.close().map_err(|e| internal(&e.to_string()))?;
    Ok(removed)
}

/// Deletes a workbook file (and its SQLite side files), then syncs its dir.
pub fn remove_durably(path: &Path) {
    remove_workbook_file(path);
    if let Some(dir) = path.parent() {
        let _ = nexus_durable::sync_dir(dir);
    }
}

fn internal(message: &str) -> UserError {
    UserError::new(ErrorCode::Internal, message.to_string())
}

/// Removes a workbook file with its `-wal` and `-shm` companions.
pub fn remove_workbook_file(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
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
}
