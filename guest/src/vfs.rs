//! `vfs`: files in the sandbox's own volumes.

use crate::error::{check, read_growing, Error};
use crate::sys;

/// A volume of the workbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Volume {
    /// The work: survives everything, ships on export.
    Workspace = 0,
    /// What the agent learned: survives suspend and freeze, stripped on export.
    Memory = 1,
    /// Scratch: cleared on every resume.
    Tmp = 2,
}

/// Size and last write of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Size in bytes.
    pub size: u64,
    /// Last write, Unix milliseconds.
    pub mtime_ms: u64,
}

/// The contents of `path`, if it exists.
pub fn read(volume: Volume, path: &str) -> Result<Option<Vec<u8>>, Error> {
    let vol = volume as i32;
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
    let vol = volume as i32;
    check(unsafe { sys::vfs_write(vol, path.as_ptr(), path.len(), data.as_ptr(), data.len()) })
        .map(|_| ())
}

/// The paths starting with `prefix`, sorted.
pub fn list(volume: Volume, prefix: &str) -> Result<Vec<String>, Error> {
    let vol = volume as i32;
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
    let mut out = [0u8; 16];
    let code = unsafe { sys::vfs_stat(volume as i32, path.as_ptr(), path.len(), out.as_mut_ptr()) };
    match check(code) {
        Ok(_) => {
            let (size, mtime) = out.split_at(8);
            Ok(Some(Stat {
                size: u64::from_le_bytes(size.try_into().unwrap_or_default()),
                mtime_ms: u64::from_le_bytes(mtime.try_into().unwrap_or_default()),
            }))
        }
        Err(Error::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes `path`; whether it existed.
pub fn delete(volume: Volume, path: &str) -> Result<bool, Error> {
    check(unsafe { sys::vfs_delete(volume as i32, path.as_ptr(), path.len()) }).map(|n| n == 1)
}
