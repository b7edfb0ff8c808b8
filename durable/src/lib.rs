//! Durable file writes for Nexus: every file that must survive a crash intact
//! (keys, certificates, tokens, the join record, schedules, snapshots,
//! workbook copies) is replaced through this crate, never written in place.
//!
//! | module | holds |
//! |---|---|
//! | this file | [`write_file`], [`write_with`], [`copy_file`], [`PendingFile`]: the atomic replace; [`write_files`]: a set of files in one directory, one directory fsync; [`read_to_string`] |
//! | `dir` | [`create_private_dir`] (0700), [`sync_dir`] |
//! | `temp` | unique temp names beside the target, [`TEMP_SUFFIX`], [`remove_temps_of`] (a crashed writer's leftovers) |
//! | `error` | [`FileError`]: the operation and the path that failed |
//!
//! # The rules
//!
//! 1. The new content goes to a **temp file in the target's directory** (a
//!    rename is atomic only within one filesystem), with a unique name
//!    (`.NAME.PID.SEQ.partial`, created exclusively) so two writers never
//!    share one.
//! 2. The temp file is **created with its final mode**: a key file is 0600
//!    from its first byte, never world-readable in between. As with
//!    `open(2)`, the process umask can only remove bits.
//! 3. The content is written and the **file fsynced** before the rename, so
//!    the name never points at data that is not on disk.
//! 4. The temp file is **renamed over the target**: a reader sees the old
//!    file or the new one, never a mix.
//! 5. The **directory is fsynced**, so the rename itself survives a crash.
//!
//! A crash at any point leaves either the old file or the new one under the
//! target's name, never a torn one; at worst a `*.partial` temp file stays
//! beside it. A write that fails removes its temp file.
//!
//! Unix only (file modes, directory fsync).

#![deny(missing_docs)]

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

mod dir;
mod error;
mod temp;

pub use dir::{create_private_dir, sync_dir};
pub use error::FileError;
pub use temp::{remove_temps_of, TEMP_SUFFIX};

/// Mode of a secret (keys, tokens): read and write by the owner only.
pub const PRIVATE_FILE: u32 = 0o600;
/// Mode of a file others may read (certificates, state files).
pub const PUBLIC_FILE: u32 = 0o644;

/// Replaces `path` with `bytes`, mode `mode` (e.g. `0o600` for a secret).
pub fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FileError> {
    write_with(path, mode, |file| file.write_all(bytes))
}

/// Replaces `path` with what `write` writes into the temp file, mode `mode`,
/// and returns what `write` returned. For content written in pieces.
pub fn write_with<T>(
    path: &Path,
    mode: u32,
    write: impl FnOnce(&mut File) -> io::Result<T>,
) -> Result<T, FileError> {
    let mut pending = PendingFile::create(path, mode)?;
    let value = write(pending.file()).map_err(FileError::at("write", path))?;
    pending.commit()?;
    Ok(value)
}

/// Replaces `to` with a copy of `from`, which keeps `from`'s mode (as
/// `std::fs::copy` does). Returns the number of bytes copied.
pub fn copy_file(from: &Path, to: &Path) -> Result<u64, FileError> {
    let mut source = File::open(from).map_err(FileError::at("open", from))?;
    let mode = source
        .metadata()
        .map_err(FileError::at("stat", from))?
        .permissions()
        .mode()
        & 0o7777;
    // File to file: std copies in the kernel (copy_file_range) where it can.
    write_with(to, mode, |out| io::copy(&mut source, out))
}

/// Reads a whole file as UTF-8 text, naming the path on error.
pub fn read_to_string(path: &Path) -> Result<String, FileError> {
    fs::read_to_string(path).map_err(FileError::at("read", path))
}

/// A new file being written beside its target. [`PendingFile::commit`] makes
/// it the target; dropped uncommitted, it is removed.
#[derive(Debug)]
pub struct PendingFile {
    file: File,
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl PendingFile {
    /// Creates an empty temp file beside `target` with mode `mode` (rules 1
    /// and 2). The target's directory must exist.
    pub fn create(target: &Path, mode: u32) -> Result<PendingFile, FileError> {
        let (file, temp) = temp::create_beside(target, mode)?;
        Ok(PendingFile {
            file,
            temp,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    /// The temp file's path, for writers that open it by name (SQLite).
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// The open temp file.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Fsyncs the temp file, renames it over the target and fsyncs the
    /// directory (rules 3 to 5). Data written through another handle of the
    /// same file (a writer that opened [`PendingFile::path`]) is synced too.
    pub fn commit(self) -> Result<(), FileError> {
        self.sync()?;
        let dir = dir::parent_dir(&self.target).to_path_buf();
        self.rename()?;
        // Rule 5: the rename itself survives a crash.
        sync_dir(&dir)
    }

    /// Rule 3: the data is on disk before any name points at it.
    fn sync(&self) -> Result<(), FileError> {
        self.file
            .sync_all()
            .map_err(FileError::at("sync", &self.target))
    }

    /// Rule 4: readers see the old file or the new one, never a mix.
    fn rename(mut self) -> Result<(), FileError> {
        fs::rename(&self.temp, &self.target)
            .map_err(FileError::at("rename a temp file onto", &self.target))?;
        self.committed = true;
        Ok(())
    }
}

/// One file of a [`write_files`] set: its name in the directory, its
/// content and its mode.
#[derive(Debug, Clone, Copy)]
pub struct NewFile<'a> {
    /// The file's name inside the directory.
    pub name: &'a str,
    /// The whole content.
    pub bytes: &'a [u8],
    /// Its mode (e.g. [`PRIVATE_FILE`]).
    pub mode: u32,
}

/// Replaces the files of a set in one directory `dir`: every file is written
/// and fsynced under its temp name first, then all are renamed and the
/// directory is fsynced once (not once per file). Each file is whole, old or
/// new, after a crash; a crash among the renames leaves some files of the
/// set replaced and the rest not. A failure before the renames replaces none.
pub fn write_files(dir: &Path, files: &[NewFile<'_>]) -> Result<(), FileError> {
    let mut pending = Vec::with_capacity(files.len());
    for new in files {
        let target = dir.join(new.name);
        let mut file = PendingFile::create(&target, new.mode)?;
        file.file()
            .write_all(new.bytes)
            .map_err(FileError::at("write", &target))?;
        file.sync()?;
        pending.push(file);
    }
    for file in pending {
        file.rename()?;
    }
    sync_dir(dir)
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests;
