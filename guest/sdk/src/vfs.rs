//! `vfs`: files in the sandbox's own volumes.

use crate::ret::{check, read_growing};
use crate::sys;
use crate::Error;

/// Size and last write of a file.
pub use nexus_abi::FileStat as Stat;
/// A volume of the workbook: workspace (ships on export), memory (survives
/// suspend and freeze) or tmp (cleared on every resume).
pub use nexus_abi::Volume;

/// The contents of `path`, if it exists.
pub fn read(volume: Volume, path: &str) -> Result<Option<Vec<u8>>, Error> {
    let vol = volume.number();
    match read_growing(|out, cap| unsafe {
        sys::vfs_read(vol, path.as_ptr(), path.len(), out, cap)
    }) {
        Ok(data) => Ok(Some(data)),
        Err(Error::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates or replaces `path` (relative, `/`-separated, no `..`).
pub fn write(volume: Volume, path: &str, data: &[u8]) -> Result<(), Error> {
    let vol = volume.number();
    check(unsafe { sys::vfs_write(vol, path.as_ptr(), path.len(), data.as_ptr(), data.len()) })
        .map(|_| ())
}

/// The paths starting with `prefix`, sorted.
pub fn list(volume: Volume, prefix: &str) -> Result<Vec<String>, Error> {
    let vol = volume.number();
    let raw = read_growing(|out, cap| unsafe {
        sys::vfs_list(vol, prefix.as_ptr(), prefix.len(), out, cap)
    })?;
    Ok(raw
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect())
}

/// Size and mtime of `path`, if it exists.
pub fn stat(volume: Volume, path: &str) -> Result<Option<Stat>, Error> {
    let mut out = [0u8; Stat::LEN];
    let code =
        unsafe { sys::vfs_stat(volume.number(), path.as_ptr(), path.len(), out.as_mut_ptr()) };
    match check(code) {
        Ok(_) => Ok(Some(Stat::decode(out))),
        Err(Error::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes `path`; whether it existed.
pub fn delete(volume: Volume, path: &str) -> Result<bool, Error> {
    check(unsafe { sys::vfs_delete(volume.number(), path.as_ptr(), path.len()) }).map(|n| n == 1)
}
