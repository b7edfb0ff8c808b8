//! A new SQLite database made whole before its name exists.
//!
//! Made in place, a database pays an fsync per step: the rollback journal
//! of the first commit, the switch to WAL, then one WAL commit per
//! statement — about ten fsyncs for the Raft log and fifteen for the
//! registry on a node's first start. [`create_if_missing`] builds it under
//! a temp name with no fsync at all (`synchronous=OFF`: nothing is at stake
//! while no name points at it), closes it (which folds the WAL into the
//! file), then fsyncs the file once, renames it into place and fsyncs the
//! directory ([`nexus_durable::PendingFile`]). A crash leaves no database
//! under the name, or a complete one — never a half-made schema; the temp
//! files a crashed creation left are removed by the next one.

use std::path::Path;

use nexus_durable::{PendingFile, PRIVATE_FILE};
use rusqlite::Connection;

use super::error::StoreError;

/// Creates the database at `path` in WAL mode with what `init` writes,
/// unless a file is already there. `init` runs inside one transaction.
/// The directory holding `path` must exist.
pub(crate) fn create_if_missing(
    path: &Path,
    init: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    if path.exists() {
        return Ok(());
    }
    // What a crashed creation left (no creation runs: the node holds its lock).
    nexus_durable::remove_temps_of(path)?;
    let pending = PendingFile::create(path, PRIVATE_FILE)?;
    let mut conn = Connection::open(pending.path())?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
    let tx = conn.transaction()?;
    init(&tx)?;
    tx.commit()?;
    // The last connection's close checkpoints and removes the WAL.
    conn.close().map_err(|(_, e)| e)?;
    pending.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_new_database_is_whole_in_wal_mode_with_nothing_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        create_if_missing(&path, |tx| {
            tx.execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (7);")?;
            Ok(())
        })
        .unwrap();
        assert_eq!(names(dir.path()), ["new.db"]);
        let conn = Connection::open(&path).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let v: i64 = conn.query_row("SELECT v FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(v, 7);
    }

    #[test]
    fn leftovers_of_a_crashed_creation_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        let leftovers = [
            ".log.db.41.0.partial",
            ".log.db.41.0.partial-wal",
            ".log.db.41.0.partial-shm",
        ];
        let kept = [
            ".other.db.41.0.partial",
            "log.db.notes",
            ".log.db.41.0.partial.txt",
        ];
        for name in leftovers.iter().chain(&kept) {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        create_if_missing(&path, |tx| Ok(tx.execute_batch("CREATE TABLE t (v)")?)).unwrap();
        let mut expected: Vec<String> = kept.iter().map(|n| n.to_string()).collect();
        expected.push("log.db".into());
        expected.sort();
        assert_eq!(names(dir.path()), expected);
    }

    #[test]
    fn an_existing_file_is_left_alone_and_a_failed_init_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        std::fs::write(&path, b"not touched").unwrap();
        create_if_missing(&path, |_| panic!("init must not run")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"not touched");

        let missing = dir.path().join("failed.db");
        let err = create_if_missing(&missing, |tx| {
            tx.execute_batch("CREATE TABLE broken (")?;
            Ok(())
        })
        .unwrap_err();
        assert!(matches!(err, StoreError::Sqlite(_)), "{err}");
        assert_eq!(names(dir.path()), ["old.db"]);
    }
}
