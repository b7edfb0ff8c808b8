//! [`FileError`]: a failed file operation, naming what was done and to which path.

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

impl FileError {
    /// A `map_err` adapter: turns an I/O error into a [`FileError`] for `op` on `path`.
    pub fn at<'a>(
        op: &'static str,
        path: &'a Path,
    ) -> impl FnOnce(std::io::Error) -> FileError + 'a {
        move |source| FileError {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}
