//! Temp files beside a target: unique names (`.NAME.PID.SEQ.partial`), created
//! exclusively with their final mode.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::dir::parent_dir;
use crate::FileError;

/// Suffix of every temp file this crate makes. A crash can leave one behind
/// (never under the target's name); whoever owns a directory may delete
/// files ending in it when no write is running.
pub const TEMP_SUFFIX: &str = ".partial";

/// How many names to try when a leftover of a crashed process with the same
/// pid already holds one.
const ATTEMPTS: u32 = 64;

/// Distinguishes temp files of concurrent writers in one process; the pid
/// distinguishes processes.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// Creates an empty temp file in `target`'s directory with mode `mode` and
/// returns it with its path. `create_new` (O_EXCL) guarantees the file is
/// ours alone: two writers never share a temp file.
pub(crate) fn create_beside(target: &Path, mode: u32) -> Result<(File, PathBuf), FileError> {
    let fail = |source| FileError {
        op: "create a temp file beside",
        path: target.to_path_buf(),
        source,
    };
    let name = target.file_name().ok_or_else(|| {
        fail(std::io::Error::new(
            ErrorKind::InvalidInput,
            "the path does not name a file",
        ))
    })?;
    let dir = parent_dir(target);
    let mut attempt = 0;
    loop {
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let mut temp_name = OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}.{seq}{TEMP_SUFFIX}", std::process::id()));
        let temp = dir.join(temp_name);
        // The final mode from the first byte: a key file is never readable
        // by others, not even while empty. The umask can only remove bits.
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)
        {
            Ok(file) => return Ok((file, temp)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists && attempt + 1 < ATTEMPTS => {
                attempt += 1;
            }
            Err(e) => return Err(fail(e)),
        }
    }
}

/// Removes the temp files a crashed writer of `target` left beside it
/// (`.NAME.PID.SEQ.partial`) and the files a writer that opened one by its
/// path made beside it, named after it with a `-` suffix (SQLite's
/// `…partial-wal`, `…partial-shm`, `…partial-journal`). Call it only while
/// no write of `target` is running.
pub fn remove_temps_of(target: &Path) -> Result<(), FileError> {
    let Some(name) = target.file_name() else {
        return Ok(());
    };
    let dir = parent_dir(target);
    let prefix = format!(".{}.", name.to_string_lossy());
    let entries = std::fs::read_dir(dir).map_err(FileError::at("list", dir))?;
    for entry in entries.flatten() {
        let entry_name = entry.file_name();
        let entry_name = entry_name.to_string_lossy();
        let after_suffix = entry_name.rsplit_once(TEMP_SUFFIX).map(|(_, rest)| rest);
        if entry_name.starts_with(&prefix)
            && after_suffix.is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
        {
            let leftover = entry.path();
            std::fs::remove_file(&leftover).map_err(FileError::at("remove", &leftover))?;
        }
    }
    Ok(())
}
