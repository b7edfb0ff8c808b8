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
//!
//! The first commit into a WAL that starts over writes the WAL's header and
//! fsyncs it (SQLite's guard against out-of-order writes). Left to the
//! writers, a write arriving after a quiet spell paid that extra fsync on
//! its way to the client (~0.2 ms on each database it touched). So once a
//! pass has copied the whole WAL, the checkpointer starts it over itself
//! with a write that changes nothing ([`restart_wal`]), and skips its next
//! passes until another connection commits: an idle database costs no I/O.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};

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
        let conn = open(path)?;
        let (stop, stopped) = mpsc::channel();
        let label = name.to_owned();
        thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || run(&conn, &stopped, &label))
            .map_err(|e| StoreError::io(format!("spawn the {name} thread"), e))?;
        Ok(Checkpointer { _stop: stop })
    }
}

/// The checkpointer's connection to the database at `path`.
fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(RESTART_WAIT)?;
    // Its only write changes nothing; checkpoints still sync (SQLite syncs
    // them at every level but OFF).
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // It starts the WAL over too, so it cuts the file back like a writer.
    hand_over(&conn)?;
    Ok(conn)
}

fn run(conn: &Connection, stopped: &mpsc::Receiver<()>, name: &str) {
    let mut quiet_since = None;
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        if let Err(e) = pass(conn, &mut quiet_since) {
            tracing::warn!(checkpointer = name, error = %e, "WAL checkpoint failed");
        }
    }
}

/// One pass: nothing while the database's data version is still
/// `quiet_since` (no other connection committed since this one started the
/// WAL over); else a passive checkpoint, a `RESTART` past
/// [`WAL_PAGES_LIMIT`], and [`restart_wal`] once the WAL is all copied.
fn pass(conn: &Connection, quiet_since: &mut Option<i64>) -> rusqlite::Result<()> {
    if let Some(version) = *quiet_since {
        if version == data_version(conn)? {
            return Ok(());
        }
    }
    *quiet_since = None;
    // The passive pass copies first, so the restart (which holds the
    // writers off) has little left to copy.
    let (wal_pages, copied) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    })?;
    let all_copied = match wal_pages {
        0 => false,
        1..=WAL_PAGES_LIMIT => copied == wal_pages,
        _ => checkpoint(conn, "RESTART")? == 0,
    };
    if all_copied {
        *quiet_since = Some(restart_wal(conn)?);
    }
    Ok(())
}

/// Starts a wholly copied WAL over with a write of this connection's own
/// that changes nothing (the database header's `user_version`, set to
/// what it is), so the WAL header's fsync happens here and the next
/// writer's commit just appends. Returns the data version the write began
/// at. A WAL a reader still uses is not started over; the write then only
/// appends one page.
fn restart_wal(conn: &Connection) -> rusqlite::Result<i64> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let version = data_version(&tx)?;
    let user_version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    tx.pragma_update(None, "user_version", user_version)?;
    tx.commit()?;
    Ok(version)
}

/// SQLite's data version: it changes when another connection commits.
fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0))
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

        // The same when the checkpointer starts the WAL over.
        writer.execute_batch("BEGIN").unwrap();
        insert(&writer, 6_000);
        writer.execute_batch("COMMIT").unwrap();
        assert!(std::fs::metadata(&wal).unwrap().len() > 20 << 20);
        let mut quiet = None;
        pass(&open(&path).unwrap(), &mut quiet).unwrap();
        assert!(quiet.is_some(), "the pass did not start the WAL over");
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

    /// How many times the WAL of the database at `path` started over (its
    /// header's checkpoint sequence number, rewritten at each start).
    fn wal_starts(path: &std::path::Path) -> u32 {
        let header = std::fs::read(path.with_file_name("db-wal")).unwrap();
        u32::from_be_bytes(header[12..16].try_into().unwrap())
    }

    #[test]
    fn a_pass_that_copies_the_whole_wal_starts_it_over_so_the_next_write_appends() {
        let (_dir, path, writer) = handed_over();
        insert(&writer, 50);
        let other = open(&path).unwrap();
        let starts = wal_starts(&path);
        let mut quiet = None;
        pass(&other, &mut quiet).unwrap();
        assert!(quiet.is_some(), "the pass did not start the WAL over");
        assert_eq!(wal_starts(&path), starts + 1);
        // The writer appends to the WAL the checkpointer started: no new
        // header (and so no header fsync) in its commit.
        insert(&writer, 1);
        assert_eq!(wal_starts(&path), starts + 1);
        assert_eq!(
            writer
                .query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
                .unwrap(),
            51
        );
    }

    #[test]
    fn passes_over_an_idle_database_do_nothing_until_another_connection_writes() {
        let (_dir, path, writer) = handed_over();
        insert(&writer, 5);
        let other = open(&path).unwrap();
        let mut quiet = None;
        pass(&other, &mut quiet).unwrap();
        let starts = wal_starts(&path);
        let wal_bytes = std::fs::metadata(path.with_file_name("db-wal"))
            .unwrap()
            .len();
        for _ in 0..3 {
            pass(&other, &mut quiet).unwrap();
        }
        assert_eq!(
            wal_starts(&path),
            starts,
            "an idle pass started the WAL over"
        );
        assert_eq!(
            std::fs::metadata(path.with_file_name("db-wal"))
                .unwrap()
                .len(),
            wal_bytes
        );
        insert(&writer, 1);
        pass(&other, &mut quiet).unwrap();
        assert_eq!(
            wal_starts(&path),
            starts + 1,
            "a write was not checkpointed"
        );
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
