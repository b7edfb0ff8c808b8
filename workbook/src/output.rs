//! Writing a workbook file atomically: build it in a temp file next to the
//! destination, then fsync and rename it into place (through
//! `nexus_durable`).

use std::path::{Path, PathBuf};

use nexus_durable::PendingFile;

use super::WorkbookError;

/// A temp file next to `out`, removed (with any SQLite sidecar files) on
/// drop unless [`Staged::commit`] renamed it onto `out`.
pub(super) struct Staged {
    pending: Option<PendingFile>,
    out: PathBuf,
}

impl Staged {
    /// Creates an empty temp file `.NAME.PID.SEQ.partial` in `out`'s directory.
    pub(super) fn new(out: &Path) -> Result<Staged, WorkbookError> {
        // A workbook is an ordinary user file: 0666 minus the umask.
        let pending =
            PendingFile::create(out, 0o666).map_err(|e| WorkbookError::io_write(out, &e.source))?;
        Ok(Staged {
            pending: Some(pending),
            out: out.to_path_buf(),
        })
    }

    /// Path of the temp file.
    pub(super) fn path(&self) -> &Path {
        self.pending
            .as_ref()
            .map_or(self.out.as_path(), PendingFile::path)
    }

    /// Fsyncs the temp file (whose workbook the caller has closed), renames
    /// it onto `out` and fsyncs the directory. Refuses to replace a
    /// workbook that still has a `-wal` file: that WAL would be applied to
    /// the new file and corrupt it.
    pub(super) fn commit(mut self) -> Result<(), WorkbookError> {
        let wal = sidecar(&self.out, "-wal");
        if wal.exists() {
            return Err(WorkbookError::WriteFailed {
                path: self.out.clone(),
                reason: format!(
                    "{} exists: the workbook there is open or was not closed cleanly; \
                     close it or remove both files first",
                    wal.display()
                ),
            });
        }
        let Some(pending) = self.pending.take() else {
            return Ok(());
        };
        pending
            .commit()
            .map_err(|e| WorkbookError::io_write(&self.out, &e.source))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            for suffix in ["-wal", "-shm", "-journal"] {
                let _ = std::fs::remove_file(sidecar(pending.path(), suffix));
            }
        }
    }
}

/// Re-labels an error about the temp file as one about `out`.
pub(super) fn report_as(err: WorkbookError, out: &Path) -> WorkbookError {
    match err {
        WorkbookError::WriteFailed { reason, .. } => WorkbookError::WriteFailed {
            path: out.to_path_buf(),
            reason,
        },
        WorkbookError::Corrupt { detail, .. } => WorkbookError::Corrupt {
            path: out.to_path_buf(),
            detail,
        },
        other => other,
    }
}

/// `PATH` + `suffix`, e.g. `x.workbook-wal`.
pub(super) fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}
