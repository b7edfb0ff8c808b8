//! Tests of page shipping against real SQLite databases in WAL mode.

use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};
use tempfile::TempDir;

use super::*;

mod journal;
mod prop;
mod wal;

/// A live database in WAL mode with automatic checkpoints off, and its
/// writing connection (kept open: closing the last connection would
/// checkpoint and delete the WAL).
struct Live {
    dir: TempDir,
    db: PathBuf,
    conn: Connection,
}

impl Live {
    fn new() -> Live {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("live.db");
        let conn = open_writer(&db);
        conn.execute_batch("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);")
            .unwrap();
        Live { dir, db, conn }
    }

    /// A path in the test's directory.
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Inserts `count` rows of `size` bytes filled with `fill`, one transaction.
    fn insert(&self, count: usize, size: usize, fill: u8) {
        let tx = self.conn.unchecked_transaction().unwrap();
        for _ in 0..count {
            tx.execute("INSERT INTO t(v) VALUES (?1)", params![vec![fill; size]])
                .unwrap();
        }
        tx.commit().unwrap();
    }

    /// A full checkpoint that truncates the WAL: the main file is then the
    /// whole database.
    fn checkpoint(&self) {
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .unwrap();
        assert_eq!(busy, 0, "checkpoint blocked");
    }

    /// Checkpoints and copies the main file to `name`: a replica at rest.
    fn seed(&self, name: &str) -> PathBuf {
        self.checkpoint();
        let replica = self.path(name);
        fs::copy(&self.db, &replica).unwrap();
        replica
    }

    /// Checkpoints and asserts `replica` equals the main file byte for byte.
    fn assert_replica(&self, replica: &Path) {
        self.checkpoint();
        let live = fs::read(&self.db).unwrap();
        let copy = fs::read(replica).unwrap();
        assert_eq!(live.len(), copy.len(), "replica length");
        assert!(live == copy, "replica differs from the checkpointed file");
    }
}

/// Opens a connection in WAL mode without automatic checkpoints.
fn open_writer(db: &Path) -> Connection {
    let conn = Connection::open(db).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    conn.execute_batch("PRAGMA wal_autocheckpoint=0;").unwrap();
    conn
}

/// Reads the WAL from `cursor`, applies the change to `replica` and moves
/// the cursor; returns the change (None if unchanged). Panics on Restarted.
fn ship(db: &Path, cursor: &mut Option<WalCursor>, replica: &Path) -> Option<PageChange> {
    match read_wal(db, cursor.as_ref()).unwrap() {
        WalRead::Changed { change, cursor: c } => {
            apply_change(replica, &change).unwrap();
            *cursor = Some(c);
            Some(change)
        }
        WalRead::Unchanged => None,
        WalRead::Restarted => panic!("cursor lost"),
    }
}

/// The change and cursor of a read that must find something.
fn changed(read: WalRead) -> (PageChange, WalCursor) {
    match read {
        WalRead::Changed { change, cursor } => (change, cursor),
        other => panic!("expected a change, got {other:?}"),
    }
}

/// Whether any page of `change` contains `needle`.
fn contains(change: &PageChange, needle: &[u8]) -> bool {
    change
        .pages
        .iter()
        .any(|p| p.data.windows(needle.len()).any(|w| w == needle))
}
