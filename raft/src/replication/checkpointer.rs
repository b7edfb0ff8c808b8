//! [`Checkpointer`]: moves a database's WAL into its main file from a thread
//! of its own, so no commit on the write path ever runs a checkpoint.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses 1,000
//! WAL pages: one write in a few hundred paid for copying 4 MiB and an
//! fsync (the 1-client p99 of registry writes was ten times its p50). The
//! writers turn it off ([`disable_auto_checkpoint`]) and a checkpointer runs
//! a `PASSIVE` checkpoint every [`INTERVAL`] on its own connection: it
//! copies what no reader still needs and never blocks a writer. Should
//! readers keep the WAL from being reset until it passes [`WAL_PAGES_LIMIT`],
//! it runs a `RESTART` checkpoint, which waits for them, so the WAL is
//! bounded.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use rusqlite::Connection;

use super::error::StoreError;

/// Time between checkpoints.
pub(crate) const INTERVAL: Duration = Duration::from_millis(100);

/// WAL pages left after a passive checkpoint that make the next one a
/// `RESTART` (16,384 pages of 4 KiB: 64 MiB).
pub(crate) const WAL_PAGES_LIMIT: i64 = 16_384;

/// Turns off SQLite's automatic checkpoint on a writer's connection.
pub(crate) fn disable_auto_checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "wal_autocheckpoint", 0)
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
    let mut mode = "PASSIVE";
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        match checkpoint(conn, mode) {
            Ok(left) => {
                mode = if left > WAL_PAGES_LIMIT {
                    "RESTART"
                } else {
                    "PASSIVE"
                }
            }
            Err(e) => tracing::warn!(checkpointer = name, error = %e, "WAL checkpoint failed"),
        }
    }
}

/// Runs one checkpoint and returns the WAL pages it could not copy yet.
pub(crate) fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<i64> {
    // Columns: busy (a RESTART that could not finish), pages in the WAL,
    // pages copied.
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok(r.get::<_, i64>(1)? - r.get::<_, i64>(2)?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_pages(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
            .unwrap()
    }

    #[test]
    fn a_writer_without_auto_checkpoint_leaves_the_wal_to_the_checkpointer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let writer = Connection::open(&path).unwrap();
        writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
            .unwrap();
        disable_auto_checkpoint(&writer).unwrap();
        writer.execute_batch("CREATE TABLE t (v BLOB)").unwrap();
        // Past SQLite's 1,000-page automatic threshold: nothing copied.
        for _ in 0..1_200 {
            writer
                .execute("INSERT INTO t VALUES (zeroblob(4000))", [])
                .unwrap();
        }
        let main_before = std::fs::metadata(&path).unwrap().len();
        assert!(main_before < 64 * 1024, "main file {main_before} bytes");

        let other = Connection::open(&path).unwrap();
        assert_eq!(checkpoint(&other, "PASSIVE").unwrap(), 0);
        let main_after = std::fs::metadata(&path).unwrap().len();
        assert!(main_after > 4_000 * 1_200, "main file {main_after} bytes");
        // The next write starts the WAL over.
        writer
            .execute("INSERT INTO t VALUES (zeroblob(10))", [])
            .unwrap();
        assert!(wal_pages(&other) < 10);
    }

    #[test]
    fn the_thread_checkpoints_on_its_own_and_stops_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let writer = Connection::open(&path).unwrap();
        writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
            .unwrap();
        disable_auto_checkpoint(&writer).unwrap();
        writer.execute_batch("CREATE TABLE t (v BLOB)").unwrap();
        for _ in 0..100 {
            writer
                .execute("INSERT INTO t VALUES (zeroblob(4000))", [])
                .unwrap();
        }
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
