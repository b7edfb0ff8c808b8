//! Directories: private creation (0700) and fsync, which makes a rename or
//! a new entry in the directory survive a crash.

use std::fs::{self, DirBuilder, File};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use crate::FileError;

/// Creates `dir` and any missing parents with mode 0700, restricts `dir`
/// itself to 0700 if it already existed, and fsyncs the parent of every
/// directory it made so the new entries survive a crash.
pub fn create_private_dir(dir: &Path) -> Result<(), FileError> {
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .collect();
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(FileError::at("create directory", dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(FileError::at("set mode 0700 on", dir))?;
    for made in missing {
        sync_dir(parent_dir(made))?;
    }
    Ok(())
}

/// Fsyncs the directory `dir`, persisting renames, creations and removals
/// of its entries.
pub fn sync_dir(dir: &Path) -> Result<(), FileError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(FileError::at("sync directory", dir))
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
