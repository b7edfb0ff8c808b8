//! [`Readers`]: a few query-only connections to a registry file, so that
//! reads (an API key check on every request, a sandbox lookup on every call)
//! do not wait while the state machine applies a batch on its own
//! connection. WAL lets readers and the writer run at once; a read runs in
//! one read transaction, so all its statements see the same state: every
//! batch committed before it began, none committed while it runs (as when
//! reads took the writer's lock).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, TryLockError};

use rusqlite::Connection;

use super::{Registry, RegistryError, STATEMENT_CACHE};

/// Query-only connections to one registry file, each used by one read at a
/// time.
#[derive(Debug)]
pub struct Readers {
    pool: Vec<Mutex<Registry>>,
    next: AtomicUsize,
}

impl Readers {
    /// Opens `count` (at least one) query-only connections to the registry
    /// at `path`, which its writer has already opened (and so created and
    /// brought to the current schema).
    pub fn open(path: &Path, count: usize) -> Result<Readers, RegistryError> {
        let pool = (0..count.max(1))
            .map(|_| {
                let conn = Connection::open(path)?;
                conn.pragma_update(None, "query_only", true)?;
                conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                Ok(Mutex::new(Registry { conn }))
            })
            .collect::<Result<_, RegistryError>>()?;
        Ok(Readers {
            pool,
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `f` in one read transaction on a free connection (waiting for
    /// one only when every connection is busy).
    pub fn read<T>(&self, f: impl FnOnce(&Registry) -> T) -> T {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.pool.len();
        for i in 0..count {
            // A poisoned connection is still usable: `in_snapshot` ends
            // the transaction a panicking read left open.
            match self.pool[(start + i) % count].try_lock() {
                Ok(registry) => return in_snapshot(&registry, f),
                Err(TryLockError::Poisoned(poisoned)) => {
                    return in_snapshot(&poisoned.into_inner(), f)
                }
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let registry = self.pool[start % count]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        in_snapshot(&registry, f)
    }
}

/// Runs `f` inside one read transaction on `registry`'s connection. Should
/// `BEGIN` fail, `f` runs without one (each of its statements then sees the
/// newest state).
fn in_snapshot<T>(registry: &Registry, f: impl FnOnce(&Registry) -> T) -> T {
    let run = |sql: &str| {
        registry
            .conn
            .prepare_cached(sql)
            .and_then(|mut statement| statement.execute([]))
            .is_ok()
    };
    if !registry.conn.is_autocommit() {
        run("ROLLBACK");
    }
    let began = run("BEGIN");
    let out = f(registry);
    if began {
        run("COMMIT");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Command;

    fn tenant(id: &str, name: &str) -> Command {
        Command::CreateTenant {
            tenant_id: id.into(),
            name: name.into(),
            at_ms: 1,
        }
    }

    #[test]
    fn reads_run_beside_an_open_write_and_see_only_what_it_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.db");
        let mut writer = Registry::open(&path).unwrap();
        let readers = Readers::open(&path, 2).unwrap();
        writer.apply(&tenant("t1", "acme")).unwrap();
        let seen = readers.read(|r| r.tenant_by_name("acme")).unwrap();
        assert_eq!(seen.map(|t| t.id), Some("t1".to_owned()));

        // A batch being applied: its transaction is open, not committed.
        let tx = writer.conn.transaction().unwrap();
        Registry::apply_in(&tx, &tenant("t2", "initech")).unwrap();
        let names = |r: &Registry| {
            r.tenants()
                .map(|ts| ts.into_iter().map(|t| t.name).collect::<Vec<_>>())
        };
        assert_eq!(readers.read(names).unwrap(), ["acme"]);
        tx.commit().unwrap();
        assert_eq!(readers.read(names).unwrap(), ["acme", "initech"]);
    }

    #[test]
    fn every_statement_of_one_read_sees_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.db");
        let writer = std::cell::RefCell::new(Registry::open(&path).unwrap());
        let readers = Readers::open(&path, 1).unwrap();
        writer.borrow_mut().apply(&tenant("t1", "acme")).unwrap();
        let (first, second) = readers.read(|r| {
            let first = r.tenants().unwrap().len();
            // A batch commits between the read's two statements.
            writer.borrow_mut().apply(&tenant("t2", "initech")).unwrap();
            (first, r.tenants().unwrap().len())
        });
        assert_eq!((first, second), (1, 1));
        // The next read sees it, and the connection is usable after a read
        // that panicked inside its transaction.
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            readers.read(|r| {
                let _ = r.tenants();
                panic!("a read that fails half-way");
            })
        }));
        assert!(panicked.is_err());
        assert_eq!(readers.read(|r| r.tenants().unwrap().len()), 2);
    }

    #[test]
    fn a_reader_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.db");
        let _writer = Registry::open(&path).unwrap();
        let readers = Readers::open(&path, 1).unwrap();
        let err = readers
            .read(|r| r.conn.execute("DELETE FROM tenants", []))
            .unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
    }
}
