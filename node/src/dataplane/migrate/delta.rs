//! What the pause re-sends of each file. In WAL mode SQLite writes a
//! database file only when a checkpoint copies WAL frames into it, so a
//! file changed since its pre-copy only in the pages its WAL holds when
//! either
//!
//! - the WAL is the same generation as when the pre-copy began (same
//!   checkpoint sequence and salts: a WAL is only reset, with new salts,
//!   after its frames went in), or
//! - nothing wrote to the file since before the pre-copy: same length and
//!   modification time, and left alone for longer than the file system's
//!   timestamp granularity before the pre-copy began ([`quiet_for`]).
//!
//! Then the blocks those pages fall in are all the pause reads again, after
//! the checkpoint folds them in. Any other file is read and hashed whole,
//! and the blocks whose hash changed are sent.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use nexus_workbook::pages::wal_path;

use super::blocks::{self, BlockHashes, BLOCK};
use crate::sandbox::FileKind;

/// How long a file must have been left alone before its pre-copy for an
/// unchanged modification time to prove it unchanged, on a file system
/// with whole-second timestamps (FAT's are 2 s).
const QUIET_COARSE: Duration = Duration::from_secs(2);
/// The same where timestamps have sub-second parts (ext4, XFS, btrfs,
/// tmpfs: nanoseconds, taken from a clock that ticks every 1–10 ms).
const QUIET_FINE: Duration = Duration::from_millis(50);

/// How long a file last modified at `modified` must have been left alone:
/// a timestamp with a sub-second part comes from a fine-grained file
/// system.
fn quiet_for(modified: SystemTime) -> Duration {
    let nanos = modified
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    if nanos == 0 {
        QUIET_COARSE
    } else {
        QUIET_FINE
    }
}

/// A WAL generation: its header's checkpoint sequence and salts.
type WalGeneration = [u8; 12];

/// A file as the pre-copy sent it.
#[derive(Clone)]
pub(super) struct Sent {
    pub kind: FileKind,
    pub path: PathBuf,
    pub hashes: BlockHashes,
    pub len: u64,
    /// Its modification time, when it had been quiet (see [`quiet_for`])
    /// before the pre-copy began.
    pub quiet_since: Option<SystemTime>,
    /// Its WAL's generation when the pre-copy began, if it had one.
    pub wal_generation: Option<WalGeneration>,
}

/// The blocks of a file that may differ from its pre-copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Changes {
    /// At most these (the file itself was not written; its WAL holds these).
    Known(BTreeSet<u64>),
    /// Unknown: the whole file is hashed again.
    Unknown,
}

/// A file's state at the end of the pause: its length, block hashes and
/// the blocks to send.
pub(super) struct Settled {
    pub len: u64,
    pub hashes: BlockHashes,
    pub blocks: Vec<u64>,
}

impl Sent {
    /// What the pause will compare, read just before the pre-copy reads
    /// the file: its modification time if it has been quiet, and its WAL's
    /// generation.
    pub fn before_pre_copy(path: &Path) -> (Option<SystemTime>, Option<WalGeneration>) {
        let quiet = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .filter(|modified| {
                SystemTime::now()
                    .duration_since(*modified)
                    .is_ok_and(|idle| idle >= quiet_for(*modified))
            });
        (quiet, wal_generation(path))
    }

    /// Which blocks may have changed since the pre-copy; to be judged in
    /// the pause, after writes stopped and before the checkpoint.
    pub fn changes(&self) -> Changes {
        let same_wal =
            self.wal_generation.is_some() && wal_generation(&self.path) == self.wal_generation;
        let untouched = self.quiet_since.is_some_and(|then| {
            std::fs::metadata(&self.path)
                .and_then(|m| Ok((m.len(), m.modified()?)))
                .is_ok_and(|(len, modified)| len == self.len && modified == then)
        });
        if !same_wal && !untouched {
            return Changes::Unknown;
        }
        match wal_blocks(&self.path) {
            Ok(blocks) => Changes::Known(blocks),
            Err(_) => Changes::Unknown,
        }
    }

    /// After the checkpoint: the file's length and hashes, and the blocks
    /// that differ from the pre-copy (a superset for [`Changes::Known`]).
    pub fn settle(&self, changes: Changes) -> std::io::Result<Settled> {
        let Changes::Known(mut changed) = changes else {
            let (hashes, len) = blocks::hash_file(&self.path)?;
            let blocks = blocks::changed(&self.hashes, &hashes);
            return Ok(Settled {
                len,
                hashes,
                blocks,
            });
        };
        let mut file = File::open(&self.path)?;
        let len = file.metadata()?.len();
        let before = self.hashes.len() as u64;
        let count = len.div_ceil(BLOCK as u64);
        if len != self.len {
            // The old last block may have grown; new blocks are new.
            changed.extend(before.saturating_sub(1)..count);
        }
        changed.retain(|index| *index < count);
        let mut hashes = self.hashes.clone();
        hashes.resize(usize::try_from(count).unwrap_or(usize::MAX), [0; 32]);
        for index in &changed {
            let block = blocks::read_block(&mut file, *index)?;
            if let Some(slot) = usize::try_from(*index).ok().and_then(|i| hashes.get_mut(i)) {
                *slot = blocks::hash_block(&block);
            }
        }
        Ok(Settled {
            len,
            hashes,
            blocks: changed.into_iter().collect(),
        })
    }
}

/// The generation of the WAL beside `db`, if it has a header.
fn wal_generation(db: &Path) -> Option<WalGeneration> {
    let mut header = [0u8; 32];
    let mut file = File::open(wal_path(db)).ok()?;
    if !read_full(&mut file, &mut header).ok()? {
        return None;
    }
    let mut generation = [0u8; 12];
    generation.copy_from_slice(&header[12..24]);
    Some(generation)
}

/// The blocks the pages in the WAL of the SQLite database at `db` fall in
/// (none without a WAL). Frames of an older WAL generation (other salts)
/// are not read; every frame of the current one counts, committed or not.
fn wal_blocks(db: &Path) -> std::io::Result<BTreeSet<u64>> {
    let mut file = match File::open(wal_path(db)) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(e),
    };
    let mut header = [0u8; 32];
    if !read_full(&mut file, &mut header)? {
        return Ok(BTreeSet::new());
    }
    let magic = be32(&header, 0);
    if magic & !1 != 0x377f_0682 {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            "not a SQLite WAL file",
        ));
    }
    let page_size = u64::from(be32(&header, 8));
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            "bad WAL page size",
        ));
    }
    let salts = &header[16..24];
    let mut frame = vec![0u8; 24 + page_size as usize];
    let mut blocks = BTreeSet::new();
    while read_full(&mut file, &mut frame)? {
        if &frame[8..16] != salts {
            break;
        }
        let page = u64::from(be32(&frame, 0));
        if page == 0 {
            break;
        }
        let offset = (page - 1) * page_size;
        blocks.insert(offset / BLOCK as u64);
    }
    Ok(blocks)
}

/// Fills `buf`; `false` at a clean or partial end of file.
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<bool> {
    match file.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAL database with `rows` rows of `size` bytes, the connection kept
    /// open (so the WAL stays) and its auto-checkpoint off.
    fn database(path: &Path) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.pragma_update(None, "journal_mode", "wal").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)")
            .unwrap();
        conn
    }

    fn insert(conn: &rusqlite::Connection, id: i64, size: usize) {
        conn.execute(
            "INSERT OR REPLACE INTO t (id, data) VALUES (?1, randomblob(?2))",
            (id, size as i64),
        )
        .unwrap();
    }

    #[test]
    fn the_wal_names_the_blocks_a_checkpoint_writes() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        let conn = database(&db);
        for id in 0..12 {
            insert(&conn, id, 512 << 10);
        }
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
        assert!(wal_blocks(&db).unwrap().is_empty());
        // A write starts a WAL generation the pre-copy will see.
        insert(&conn, 0, 512 << 10);

        // The pre-copy: the file as it is now (row 0 is still in the WAL).
        let (hashes, len) = blocks::hash_file(&db).unwrap();
        let sent = Sent {
            kind: FileKind::Live,
            path: db.clone(),
            hashes,
            len,
            quiet_since: None,
            wal_generation: wal_generation(&db),
        };
        // Writes after it, one row replaced and one added, then a
        // checkpoint that copies them into the file and leaves the WAL (as
        // SQLite's automatic one does).
        insert(&conn, 3, 512 << 10);
        insert(&conn, 40, 700 << 10);
        conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)")
            .unwrap();
        let Changes::Known(known) = sent.changes() else {
            panic!("the same WAL generation: known changes");
        };
        assert!(!known.is_empty());
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();

        let settled = sent.settle(Changes::Known(known)).unwrap();
        let (whole, whole_len) = blocks::hash_file(&db).unwrap();
        assert_eq!(
            (settled.hashes.clone(), settled.len),
            (whole.clone(), whole_len)
        );
        // Every block that differs was named (the WAL may name more).
        let differ = blocks::changed(&sent.hashes, &whole);
        assert!(
            differ.iter().all(|b| settled.blocks.contains(b)),
            "{differ:?}"
        );
        assert!(settled.blocks.len() < whole.len(), "not every block");
        // A reset WAL (a new generation) says nothing about the file.
        assert_eq!(sent.changes(), Changes::Unknown);
    }

    #[test]
    fn a_file_written_or_recently_touched_is_hashed_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![1u8; BLOCK + 10]).unwrap();
        let (hashes, len) = blocks::hash_file(&path).unwrap();
        let (quiet_since, wal_generation) = Sent::before_pre_copy(&path);
        let sent = Sent {
            kind: FileKind::Cold,
            path: path.clone(),
            hashes,
            len,
            quiet_since,
            wal_generation,
        };
        // Just written: not quiet, so unknown.
        assert_eq!(sent.changes(), Changes::Unknown);
        std::fs::write(&path, vec![2u8; BLOCK + 20]).unwrap();
        let settled = sent.settle(Changes::Unknown).unwrap();
        assert_eq!(settled.blocks, vec![0, 1]);
        assert_eq!(settled.len, BLOCK as u64 + 20);
    }

    #[test]
    fn fine_timestamps_need_a_short_quiet_coarse_ones_two_seconds() {
        let whole = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(quiet_for(whole), QUIET_COARSE);
        assert_eq!(quiet_for(whole + Duration::from_nanos(1_234)), QUIET_FINE);
    }
}
