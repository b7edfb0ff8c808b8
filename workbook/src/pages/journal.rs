//! The crash-safe apply, through two journal slots used in turn (the slot
//! of a change is its tag modulo 2, and tags go up by one per change): a
//! change is written to its slot and fsynced, then applied. The other slot
//! keeps the change before it, so a crash while a slot is written leaves
//! that slot torn and the previous change intact in the other one.
//! [`recover`], run at start, re-applies the newest complete change
//! (applying is idempotent) and ignores a torn slot. Two fsyncs per change;
//! the slots stay, overwritten in place ([`clear`] removes them when the
//! replica is replaced by a whole copy).
//!
//! Journal layout (integers big-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic `NXPGJRN1` |
//! | 8 | tag (opaque `u64`, e.g. the version the change brings) |
//! | 4 | page size |
//! | 4 | database size in pages |
//! | 4 | page count *n* |
//! | *n* × (4 + page size) | page number, page data |
//! | 32 | SHA-256 of all the bytes before it |

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{apply_change, context, invalid, sync_parent, valid_page_size, PageChange, PageImage};

/// Largest journal written or read, in bytes (1 GiB): a journal declaring
/// more, or a file longer than this, is refused with an error.
pub const MAX_JOURNAL_BYTES: u64 = 1 << 30;

/// The journal's magic bytes.
const MAGIC: &[u8; 8] = b"NXPGJRN1";
/// Bytes before the first page: magic, tag, page size, db size, count.
const FIXED_BYTES: usize = 28;
/// Bytes of the SHA-256 trailer.
const TRAILER_BYTES: usize = 32;

/// Crash-safe [`apply_change`]: writes `change` and `tag` to slot
/// `tag % 2` of `slots` (replacing what it held) and fsyncs it, then
/// applies the change to `path`. A crash leaves the slot torn (the replica
/// is untouched; [`recover`] takes the other slot) or complete (it is
/// applied again).
pub fn apply_change_durably(
    path: &Path,
    slots: &[PathBuf; 2],
    change: &PageChange,
    tag: u64,
) -> io::Result<()> {
    write_journal(&slots[(tag % 2) as usize], change, tag)?;
    apply_change(path, change)
}

/// Run at start: re-applies to `path` the newest complete change in
/// `slots` and returns its tag (`None`: no complete one; torn slots are
/// ignored). A slot longer than [`MAX_JOURNAL_BYTES`], or complete but
/// malformed, is an error.
pub fn recover(path: &Path, slots: &[PathBuf; 2]) -> io::Result<Option<u64>> {
    let mut newest: Option<(PageChange, u64)> = None;
    for slot in slots {
        let Some(bytes) = read_bounded(slot)? else {
            continue;
        };
        if let Some((change, tag)) = decode(&bytes, slot)? {
            if newest.as_ref().is_none_or(|(_, t)| tag > *t) {
                newest = Some((change, tag));
            }
        }
    }
    match newest {
        Some((change, tag)) => {
            apply_change(path, &change)?;
            Ok(Some(tag))
        }
        None => Ok(None),
    }
}

/// Removes both slots (the replica was replaced by a whole copy: their
/// changes belong to the copy it had before) and fsyncs the directory.
pub fn clear(slots: &[PathBuf; 2]) -> io::Result<()> {
    for slot in slots {
        match fs::remove_file(slot) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(context("remove journal", slot, e)),
        }
    }
    sync_parent(&slots[0])
}

/// Writes the journal for `change` and `tag` to `journal` (replacing it)
/// and makes it durable (the file fsynced; its directory too when the file
/// is new).
pub(super) fn write_journal(journal: &Path, change: &PageChange, tag: u64) -> io::Result<()> {
    change.check(journal)?;
    let bytes = encode(change, tag, journal)?;
    let existed = journal.exists();
    let mut file = File::create(journal).map_err(|e| context("create journal", journal, e))?;
    file.write_all(&bytes)
        .map_err(|e| context("write journal", journal, e))?;
    file.sync_all()
        .map_err(|e| context("fsync journal", journal, e))?;
    if existed {
        Ok(())
    } else {
        sync_parent(journal)
    }
}

/// The journal bytes for `change` and `tag`; an error if they would
/// exceed [`MAX_JOURNAL_BYTES`].
pub(super) fn encode(change: &PageChange, tag: u64, journal: &Path) -> io::Result<Vec<u8>> {
    let size = journal_size(change.page_size, change.pages.len() as u64);
    if size > MAX_JOURNAL_BYTES {
        return Err(invalid(format!(
            "journal {}: the change needs {size} bytes, more than the limit of {MAX_JOURNAL_BYTES}",
            journal.display()
        )));
    }
    let count = u32::try_from(change.pages.len())
        .map_err(|_| invalid(format!("journal {}: too many pages", journal.display())))?;
    let mut out = Vec::with_capacity(size as usize);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&tag.to_be_bytes());
    out.extend_from_slice(&change.page_size.to_be_bytes());
    out.extend_from_slice(&change.db_pages.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    for page in &change.pages {
        out.extend_from_slice(&page.number.to_be_bytes());
        out.extend_from_slice(&page.data);
    }
    let digest: [u8; 32] = Sha256::digest(&out).into();
    out.extend_from_slice(&digest);
    Ok(out)
}

/// Total journal bytes for `count` pages of `page_size` bytes.
fn journal_size(page_size: u32, count: u64) -> u64 {
    let per_page = 4 + u64::from(page_size);
    (FIXED_BYTES + TRAILER_BYTES) as u64 + count.saturating_mul(per_page)
}

/// The whole journal, or `None` if it does not exist. Refuses a file
/// longer than [`MAX_JOURNAL_BYTES`] without reading it.
fn read_bounded(journal: &Path) -> io::Result<Option<Vec<u8>>> {
    let file = match File::open(journal) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(context("open journal", journal, e)),
    };
    let len = file
        .metadata()
        .map_err(|e| context("stat journal", journal, e))?
        .len();
    if len > MAX_JOURNAL_BYTES {
        return Err(invalid(format!(
            "journal {}: {len} bytes, more than the limit of {MAX_JOURNAL_BYTES}; refusing to read it",
            journal.display()
        )));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_JOURNAL_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| context("read journal", journal, e))?;
    Ok(Some(bytes))
}

/// Decodes journal `bytes`: `None` if torn (too short or the SHA-256
/// trailer does not match), the change and tag if complete, an error if
/// complete but malformed.
pub(super) fn decode(bytes: &[u8], journal: &Path) -> io::Result<Option<(PageChange, u64)>> {
    let Some(body_len) = bytes.len().checked_sub(TRAILER_BYTES) else {
        return Ok(None);
    };
    let (body, trailer) = bytes.split_at(body_len);
    if body.len() < FIXED_BYTES || Sha256::digest(body).as_slice() != trailer {
        return Ok(None);
    }
    let bad = |what: String| invalid(format!("journal {}: {what}", journal.display()));
    if &body[..8] != MAGIC {
        return Err(bad("not a page journal (bad magic)".into()));
    }
    let u32_at = |i: usize| u32::from_be_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&body[8..16]);
    let tag = u64::from_be_bytes(tag);
    let (page_size, db_pages, count) = (u32_at(16), u32_at(20), u32_at(24));
    if !valid_page_size(page_size) {
        return Err(bad(format!("invalid page size {page_size}")));
    }
    let declared = journal_size(page_size, u64::from(count));
    if declared > MAX_JOURNAL_BYTES || declared != bytes.len() as u64 {
        return Err(bad(format!(
            "declares {count} pages of {page_size} bytes ({declared} bytes) but holds {} bytes \
             (limit {MAX_JOURNAL_BYTES})",
            bytes.len()
        )));
    }
    let pages = body[FIXED_BYTES..]
        .chunks_exact(4 + page_size as usize)
        .map(|chunk| PageImage {
            number: u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]),
            data: chunk[4..].to_vec(),
        })
        .collect();
    let change = PageChange {
        page_size,
        db_pages,
        pages,
    };
    change.check(journal)?;
    Ok(Some((change, tag)))
}
