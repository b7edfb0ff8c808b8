//! Page shipping: copies a live workbook's committed changes to replica
//! files page by page.
//!
//! The live workbook is an SQLite database in WAL mode (`X` and `X-wal`).
//! [`read_wal`] reads the WAL with plain file reads (no SQLite) from a
//! [`WalCursor`] and returns the latest image of every page written by
//! transactions committed since then ([`PageChange`]). [`apply_change`]
//! writes such a change into a replica (a plain database file without a
//! WAL), which then equals the live file as it will be after a full
//! checkpoint. [`apply_change_durably`] does the same through two journal
//! slots used in turn, so that a crash mid-apply is completed by
//! [`recover`].
//!
//! - `wal`: the WAL reader (header, frames, cumulative checksums);
//! - `apply`: writing a change into a replica and reading it back;
//! - `journal`: the crash-safe apply and its recovery.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod apply;
mod journal;
mod wal;

#[cfg(test)]
mod tests;

pub use apply::apply_change;
pub use journal::{apply_change_durably, clear, recover, MAX_JOURNAL_BYTES};
pub use wal::{read_wal, wal_path, wal_salts};

/// Where a reader stopped in a WAL: the WAL cycle (its salts), how many
/// valid frames were consumed, the running checksum after the last of them
/// (so reading can continue there) and the page size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalCursor {
    salts: (u32, u32),
    frames: u64,
    checksum: (u32, u32),
    page_size: u32,
}

impl WalCursor {
    /// The WAL header's salt-1 and salt-2: they identify one WAL cycle.
    pub fn salts(&self) -> (u32, u32) {
        self.salts
    }

    /// How many frames of the WAL were consumed (all up to a commit frame).
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The page size of the WAL, in bytes.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// Bytes of the WAL up to the cursor: its header and the frames read.
    pub fn wal_bytes(&self) -> u64 {
        let frame = wal::FRAME_HEADER_BYTES as u64 + u64::from(self.page_size);
        wal::HEADER_BYTES + self.frames * frame
    }
}

/// The pages one shipment carries: the latest image of every page written
/// by committed transactions since a cursor, and the database size (in
/// pages) after the last of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageChange {
    /// Page size in bytes (a power of two, 512 to 65536).
    pub page_size: u32,
    /// Size of the database in pages after the change.
    pub db_pages: u32,
    /// The changed pages, by ascending page number, each `page_size` bytes.
    pub pages: Vec<PageImage>,
}

/// One page's new content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageImage {
    /// Page number, 1-based (page 1 starts at offset 0).
    pub number: u32,
    /// The page's bytes.
    pub data: Vec<u8>,
}

impl PageChange {
    /// The change in the journal's layout (see `journal.rs`: big-endian
    /// sizes, raw pages, a SHA-256 trailer) with `tag`, for sending it to a
    /// replica. An error above [`MAX_JOURNAL_BYTES`].
    pub fn encode(&self, tag: u64) -> io::Result<Vec<u8>> {
        journal::encode(self, tag, Path::new("page change"))
    }

    /// The change and tag [`PageChange::encode`] wrote; an error when the
    /// bytes are cut, corrupted (the trailer does not match) or malformed.
    pub fn decode(bytes: &[u8]) -> io::Result<(PageChange, u64)> {
        let label = Path::new("page change");
        journal::decode(bytes, label)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "page change: cut or corrupted (its SHA-256 trailer does not match)",
            )
        })
    }

    /// SHA-256 over the page size, the database size and every page's
    /// number, length and data in order (integers big-endian; lengths as
    /// u64 so that no two changes share an input).
    pub fn digest(&self) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(self.page_size.to_be_bytes());
        hash.update(self.db_pages.to_be_bytes());
        hash.update((self.pages.len() as u64).to_be_bytes());
        for page in &self.pages {
            hash.update(page.number.to_be_bytes());
            hash.update((page.data.len() as u64).to_be_bytes());
            hash.update(&page.data);
        }
        hash.finalize().into()
    }

    /// Total bytes of page data carried.
    pub fn bytes(&self) -> u64 {
        self.pages.iter().map(|p| p.data.len() as u64).sum()
    }

    /// Checks that the change is well formed: a valid page size, pages in
    /// ascending order, each within `1..=db_pages` and `page_size` long.
    /// `what` names the file the change is for, for the error message.
    fn check(&self, what: &Path) -> io::Result<()> {
        if !valid_page_size(self.page_size) {
            return Err(invalid(format!(
                "change for {}: invalid page size {}",
                what.display(),
                self.page_size
            )));
        }
        let mut previous = 0u32;
        for page in &self.pages {
            if page.number <= previous || page.number > self.db_pages {
                return Err(invalid(format!(
                    "change for {}: page {} out of order or beyond the database size of {} pages",
                    what.display(),
                    page.number,
                    self.db_pages
                )));
            }
            if page.data.len() != self.page_size as usize {
                return Err(invalid(format!(
                    "change for {}: page {} has {} bytes, expected {}",
                    what.display(),
                    page.number,
                    page.data.len(),
                    self.page_size
                )));
            }
            previous = page.number;
        }
        Ok(())
    }
}

/// What reading a WAL from a cursor found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalRead {
    /// Committed frames past the cursor: the change and the cursor after it.
    Changed {
        /// The pages written by the newly committed transactions.
        change: PageChange,
        /// Where the next read continues.
        cursor: WalCursor,
    },
    /// Nothing committed past the cursor.
    Unchanged,
    /// The cursor cannot be continued: the WAL is missing, was restarted
    /// (other salts or page size) or is shorter than the cursor. The caller
    /// must resynchronise another way (e.g. copy the checkpointed file).
    Restarted,
}

/// SQLite page sizes: powers of two from 512 to 65536.
fn valid_page_size(size: u32) -> bool {
    (512..=65536).contains(&size) && size.is_power_of_two()
}

/// An [`io::ErrorKind::InvalidData`] error with `message`.
fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Wraps `err` with what was being done to which file.
fn context(op: &str, path: &Path, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{op} {}: {err}", path.display()))
}

/// Fsyncs the directory holding `path`, persisting creations and removals.
fn sync_parent(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| context("sync directory", dir, e))
}
