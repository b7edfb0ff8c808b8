//! Writing a [`PageChange`] into a replica file, then reading it back.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::{context, invalid, sync_parent, PageChange};

/// Applies `change` to the replica file at `path` (created if missing):
/// writes every page at `(number - 1) * page_size`, sets the length to
/// `db_pages * page_size` and fsyncs (and the directory if the file was
/// created). Then reads the written pages and the length back and checks
/// them against the change: an error if anything differs.
///
/// Applying the same change twice gives the same file (idempotent).
pub fn apply_change(path: &Path, change: &PageChange) -> io::Result<()> {
    change.check(path)?;
    let created = !path.exists();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| context("open replica", path, e))?;
    let page_size = u64::from(change.page_size);
    for page in &change.pages {
        file.write_all_at(&page.data, offset(page.number, page_size))
            .map_err(|e| context(&format!("write page {} of", page.number), path, e))?;
    }
    let len = u64::from(change.db_pages) * page_size;
    file.set_len(len)
        .map_err(|e| context("set the length of", path, e))?;
    file.sync_all().map_err(|e| context("fsync", path, e))?;
    if created {
        sync_parent(path)?;
    }
    verify(&file, path, change, len)
}

/// Byte offset of 1-based page `number`.
fn offset(number: u32, page_size: u64) -> u64 {
    u64::from(number.saturating_sub(1)) * page_size
}

/// Reads back the length and every page of `change` from `file`.
fn verify(file: &File, path: &Path, change: &PageChange, len: u64) -> io::Result<()> {
    let actual = file.metadata().map_err(|e| context("stat", path, e))?.len();
    if actual != len {
        return Err(invalid(format!(
            "replica {}: length {actual} after apply, expected {len}",
            path.display()
        )));
    }
    let page_size = u64::from(change.page_size);
    let mut buf = vec![0u8; change.page_size as usize];
    for page in &change.pages {
        file.read_exact_at(&mut buf, offset(page.number, page_size))
            .map_err(|e| context(&format!("read back page {} of", page.number), path, e))?;
        if buf != page.data {
            return Err(invalid(format!(
                "replica {}: page {} differs from the change after apply",
                path.display(),
                page.number
            )));
        }
    }
    Ok(())
}
