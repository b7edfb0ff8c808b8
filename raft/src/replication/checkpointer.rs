//! [`Checkpointer`]: moves a database's WAL into its main file from a thread
//! of its own, so no commit on the write path ever runs a checkpoint.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses 1,000
//! WAL pages: one write in a few hundred paid for copying 4 MiB and an
//! fsync (the 1-client p99 of registry writes was ten times its p50). The
//! writers turn it off ([`hand_over`]) and a checkpointer runs
//! a `PASSIVE` checkpoint every [`INTERVAL`] on its own connection: it
//! copies what no reader still needs and never blocks a writer.
//!
//! A writer starts the WAL over only when no reader still reads from it,
//! and under steady load some reader nearly always does (each began while
//! the WAL held frames not yet copied), so a WAL fed by passive checkpoints
//! alone grows without end. Once it holds more than [`WAL_PAGES_LIMIT`]
//! pages the checkpointer follows its passive pass with a `RESTART`: it holds
//! the writers off until the readers of the WAL have finished (reads are
//! single queries; it gives up after [`RESTART_WAIT`]), so the next write
//! starts the WAL over and cuts the file back to [`WAL_BYTES_KEPT`].
//! Writers therefore begin `IMMEDIATE` transactions: they wait for the
//! write lock, where a deferred transaction that had already read would
//! fail with `SQLITE_BUSY` at its first write.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use rusqlite::Connection;

use super::error::StoreError;

/// Time between checkpoints.
pub(crate) const INTERVAL: Duration = Duration::from_millis(100);

/// WAL pages that make the next checkpoint a `RESTART` (4,096 pages of
/// 4 KiB: 16 MiB).
pub(crate) const WAL_PAGES_LIMIT: i64 = 4_096;

/// How long a `RESTART` waits for the WAL's readers before it gives up
/// (and is tried again at the next interval). It holds the write lock
/// meanwhile; writers wait up to their own busy timeout (5 s), far longer.
pub(crate) const RESTART_WAIT: Duration = Duration::from_millis(100);

/// Bytes of WAL file kept when the WAL starts over; SQLite truncates a
/// bigger one then (a WAL file never shrinks otherwise).
pub(crate) const WAL_BYTES_KEPT: i64 = 16 << 20;

/// Hands a writer's WAL over to a checkpointer: no automatic checkpoint on
/// `conn`, and the WAL file cut back to [`WAL_BYTES_KEPT`] when it starts
/// over.
pub(crate) fn hand_over(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update_and_check(None, "journal_size_limit", WAL_BYTES_KEPT, |_| Ok(()))
}

/// A running checkpointer; its thread stops when this is dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing the WAL database at `path` (which must exist)
    /// in a thread named `name`.
    pub(crate) fn spawn(path: &Path, name: &str) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(RESTART_WAIT)?;
        let (stop, stopped) = mpsc::channel();
        let label = name.to_owned();
        thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || run(&conn, &stopped, &label))
            .map_err(|e| StoreError::io(format!("spawn the {name} thread"), e))?;
        Ok(Checkpointer { _stop: stop })
    }
}

fn run(conn: &Connection, stopped: &mpsc::Receiver<()>, name: &str) {
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        // The passive pass copies first, so the restart (which holds the
        // writers off) has little left to copy.
        let result = checkpoint(conn, "PASSIVE").and_then(|wal_pages| match wal_pages {
            0..=WAL_PAGES_LIMIT => Ok(wal_pages),
            _ => checkpoint(conn, "RESTART"),
        });
        if let Err(e) = result {
            tracing::warn!(checkpointer = name, error = %e, "WAL checkpoint failed");
        }
    }
}

/// Runs one checkpoint and returns the pages the WAL holds after it (0
/// once a `RESTART` finished: the next write starts it over).
pub(crate) fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<i64> {
    // Columns: busy (a RESTART that could not finish), pages in the WAL,
    // pages copied.
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        match r.get::<_, i64>(0)? {
            0 if mode == "RESTART" => Ok(0),
            _ => r.get(1),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_pages(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
            .unwrap()
    }

    /// A WAL database whose writer handed its WAL over, with a table `t`.
    fn handed_over() -> (tempfile::TempDir, std::path::PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let writer = Connection::open(&path).unwrap();
        writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
            .unwrap();
        hand_over(&writer).unwrap();
        writer.execute_batch("CREATE TABLE t (v BLOB)").unwrap();
        (dir, path, writer)
    }

    /// `rows` rows of about a page each, one transaction per row.
    fn insert(writer: &Connection, rows: usize) {
        for _ in 0..rows {
            writer
                .execute("INSERT INTO t VALUES (zeroblob(4000))", [])
                .unwrap();
        }
    }

    #[test]
    fn a_writer_without_auto_checkpoint_leaves_the_wal_to_the_checkpointer() {
        let (_dir, path, writer) = handed_over();
        // Past SQLite's 1,000-page automatic threshold: nothing copied.
        insert(&writer, 1_200);
        let main_before = std::fs::metadata(&path).unwrap().len();
        assert!(main_before < 64 * 1024, "main file {main_before} bytes");

        let other = Connection::open(&path).unwrap();
        assert!(checkpoint(&other, "PASSIVE").unwrap() >= 1_200);
        let main_after = std::fs::metadata(&path).unwrap().len();
        assert!(main_after > 4_000 * 1_200, "main file {main_after} bytes");
        // The next write starts the WAL over.
        writer
            .execute("INSERT INTO t VALUES (zeroblob(10))", [])
            .unwrap();
        assert!(wal_pages(&other) < 10);
    }

    #[test]
    fn a_wal_grown_past_the_bound_is_cut_back_when_it_starts_over() {
        let (dir, path, writer) = handed_over();
        let wal = dir.path().join("db-wal");
        // One transaction of ~24 MiB.
        writer.execute_batch("BEGIN").unwrap();
        insert(&writer, 6_000);
        writer.execute_batch("COMMIT").unwrap();
        let grown = std::fs::metadata(&wal).unwrap().len();
        assert!(grown > 20 << 20, "WAL {grown} bytes");
        let other = Connection::open(&path).unwrap();
        assert!(checkpoint(&other, "PASSIVE").unwrap() >= 6_000);
        writer
            .execute("INSERT INTO t VALUES (zeroblob(10))", [])
            .unwrap();
        let kept = std::fs::metadata(&wal).unwrap().len();
        assert!(kept <= WAL_BYTES_KEPT as u64, "WAL {kept} bytes");
    }

    #[test]
    fn a_wal_a_reader_keeps_from_starting_over_is_restarted() {
        let (_dir, path, writer) = handed_over();
        insert(&writer, 50);
        let reader = Connection::open(&path).unwrap();
        let other = Connection::open(&path).unwrap();
        // A read that began before the passive checkpoint copied its frames.
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        let before = checkpoint(&other, "PASSIVE").unwrap();
        insert(&writer, 50);
        // The writer could not start the WAL over: it only grew.
        assert!(checkpoint(&other, "PASSIVE").unwrap() > before);
        reader.execute_batch("COMMIT").unwrap();
        assert_eq!(checkpoint(&other, "RESTART").unwrap(), 0);
        insert(&writer, 1);
        assert!(checkpoint(&other, "PASSIVE").unwrap() < 5);
    }

    #[test]
    fn the_thread_checkpoints_on_its_own_and_stops_when_dropped() {
        let (_dir, path, writer) = handed_over();
        insert(&writer, 100);
        let checkpointer = Checkpointer::spawn(&path, "test-checkpointer").unwrap();
        // Waits (a bounded number of intervals) for the main file to grow.
        let copied = (0..600).any(|_| {
            std::thread::sleep(INTERVAL);
            std::fs::metadata(&path).unwrap().len() > 4_000 * 100
        });
        assert!(copied, "the checkpointer never copied the WAL");
        drop(checkpointer);
    }
}
