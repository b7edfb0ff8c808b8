//! Small file helpers: private files are created with mode 0600 and their directory with 0700.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A file operation failed; names the operation and the path.
#[derive(Debug, thiserror::Error)]
#[error("{op} {}: {source}", path.display())]
pub struct FileError {
    /// What was being done ("read", "write", "create directory", ...).
    pub op: &'static str,
    /// The file or directory.
    pub path: PathBuf,
    /// The underlying I/O error.
    #[source]
    pub source: std::io::Error,
}

fn err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> FileError + 'a {
    move |source| FileError {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` (and parents) and restricts it to mode 0700.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), FileError> {
    fs::create_dir_all(dir).map_err(err("create directory", dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(err("set mode 0700 on", dir))
}

/// Writes `data` to `path` with the given mode, replacing any previous content and mode.
fn write_mode(path: &Path, data: &[u8], mode: u32) -> Result<(), FileError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(err("open for writing", path))?;
    // `mode` only applies on creation; force it on a pre-existing file too.
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(err("set mode on", path))?;
    file.write_all(data).map_err(err("write", path))?;
    file.sync_all().map_err(err("sync", path))
}

/// Writes a secret (private key) readable by the owner only (0600).
pub(crate) fn write_private(path: &Path, data: &[u8]) -> Result<(), FileError> {
    write_mode(path, data, 0o600)
}

/// Writes a public file (certificate) with mode 0644.
pub(crate) fn write_public(path: &Path, data: &[u8]) -> Result<(), FileError> {
    write_mode(path, data, 0o644)
}

/// Reads a whole file as UTF-8 text.
pub(crate) fn read_string(path: &Path) -> Result<String, FileError> {
    fs::read_to_string(path).map_err(err("read", path))
}
