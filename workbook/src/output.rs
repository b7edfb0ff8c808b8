//! Writing a workbook file atomically: build it in a temp file next to the
//! destination, then fsync and rename it into place.

use std::fs::File;
use std::path::{Path, PathBuf};

use tempfile::TempPath;

use super::WorkbookError;

/// A temp file next to `out`, removed (with any SQLite sidecar files) on
/// drop unless [`Staged::commit`] renamed it onto `out`.
pub(super) struct Staged {
    tmp: Option<TempPath>,
    out: PathBuf,
}

impl Staged {
    /// Creates an empty temp file `.NAME.XXXXXX.workbook.tmp` in `out`'s directory.
    pub(super) fn new(out: &Path) -> Result<Staged, WorkbookError> {
        let name = out.file_name().ok_or_else(|| WorkbookError::WriteFailed {
            path: out.to_path_buf(),
            reason: "the output path does not name a file".to_string(),
        })?;
        let dir = parent_dir(out);
        let prefix = format!(".{}.", name.to_string_lossy());
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".workbook.tmp");
        // A workbook is an ordinary user file: 0666 minus the umask, not
        // tempfile's private 0600.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let tmp = builder
            .tempfile_in(dir)
            .map_err(|e| WorkbookError::io_write(out, &e))?
            .into_temp_path();
        Ok(Staged {
            tmp: Some(tmp),
            out: out.to_path_buf(),
        })
    }

    /// Path of the temp file.
    pub(super) fn path(&self) -> &Path {
        self.tmp.as_deref().unwrap_or(&self.out)
    }

    /// Fsyncs the temp file (whose workbook the caller has closed), renames
    /// it onto `out` and fsyncs the directory. Refuses to replace a
    /// workbook that still has a `-wal` file: that WAL would be applied to
    /// the new file and corrupt it.
    pub(super) fn commit(mut self) -> Result<(), WorkbookError> {
        let fail = |e: &std::io::Error| WorkbookError::io_write(&self.out, e);
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
        let Some(tmp) = self.tmp.take() else {
            return Ok(());
        };
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| fail(&e))?;
        tmp.persist(&self.out).map_err(|e| fail(&e.error))?;
        sync_dir(parent_dir(&self.out)).map_err(|e| fail(&e))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            for suffix in ["-wal", "-shm", "-journal"] {
                let _ = std::fs::remove_file(sidecar(&tmp, suffix));
            }
            drop(tmp);
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

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}
