//! The log store's single writer thread.
//!
//! It owns the only write connection and takes [`WriteOp`]s over a channel.
//! Ops that queue up while a transaction commits are committed together in
//! the next one (group commit); each op is acknowledged only after `COMMIT`
//! returned, which under `synchronous=FULL` means it is on disk.
//!
//! The committed log id is not an op: openraft saves it after every commit,
//! on its critical path, and it is only a hint (on start openraft applies up
//! to it; an older value just means less is applied before the leader says
//! more). It waits in a [`CommittedSlot`] and goes into the next group's
//! transaction, or the last one when the writer stops.

use std::sync::{mpsc, Arc, Mutex};
use std::thread;

use openraft::storage::LogFlushed;
use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use crate::replication::error::StoreError;
use crate::replication::types::TypeConfig;

/// Most ops committed in one transaction.
const MAX_GROUP: usize = 256;

/// The newest committed log id (encoded) not yet written, if any.
#[derive(Debug, Clone, Default)]
pub(crate) struct CommittedSlot(Arc<Mutex<Option<Vec<u8>>>>);

impl CommittedSlot {
    /// Replaces the value the next transaction writes.
    pub(crate) fn set(&self, encoded: Vec<u8>) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(encoded);
        }
    }

    fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Reply channel of one op.
pub(crate) type Done = oneshot::Sender<Result<(), StoreError>>;

/// One write to the log database.
pub(crate) enum WriteOp {
    /// Insert (or overwrite) serialized entries by index.
    Append {
        rows: Vec<(i64, Vec<u8>)>,
        flushed: LogFlushed<TypeConfig>,
        done: Done,
    },
    /// Set a `meta` value (the vote).
    PutMeta {
        key: &'static str,
        value: Vec<u8>,
        done: Done,
    },
    /// Delete entries with index `>= from`.
    Truncate { from: i64, done: Done },
    /// Record `last_purged`, then delete entries with index `<= upto`.
    Purge {
        upto: i64,
        last_purged: Vec<u8>,
        done: Done,
    },
}

impl WriteOp {
    fn execute(&self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        match self {
            WriteOp::Append { rows, .. } => {
                let mut insert =
                    tx.prepare_cached("INSERT OR REPLACE INTO log (idx, entry) VALUES (?1, ?2)")?;
                for (idx, entry) in rows {
                    insert.execute(params![idx, entry])?;
                }
            }
            WriteOp::PutMeta { key, value, .. } => put_meta(tx, key, value)?,
            WriteOp::Truncate { from, .. } => {
                tx.execute("DELETE FROM log WHERE idx >= ?1", [from])?;
            }
            WriteOp::Purge {
                upto, last_purged, ..
            } => {
                put_meta(tx, super::LAST_PURGED, last_purged)?;
                tx.execute("DELETE FROM log WHERE idx <= ?1", [upto])?;
            }
        }
        Ok(())
    }

    /// Reports the outcome to the waiter (and, for appends, to openraft).
    fn finish(self, result: Result<(), String>) {
        let (done, flushed) = match self {
            WriteOp::Append { done, flushed, .. } => (done, Some(flushed)),
            WriteOp::PutMeta { done, .. }
            | WriteOp::Truncate { done, .. }
            | WriteOp::Purge { done, .. } => (done, None),
        };
        if let Some(flushed) = flushed {
            flushed.log_io_completed(result.clone().map_err(std::io::Error::other));
        }
        // The waiter may have gone away (its future dropped); nothing to do.
        let _ = done.send(result.map_err(StoreError::LogWrite));
    }
}

fn put_meta(tx: &Transaction<'_>, key: &str, value: &[u8]) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?
        .execute(params![key, value])?;
    Ok(())
}

/// Starts the writer thread on `conn`, writing `committed` with its
/// transactions; it stops when every sender is dropped.
pub(crate) fn spawn(
    conn: Connection,
    committed: CommittedSlot,
) -> Result<mpsc::Sender<WriteOp>, StoreError> {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("raft-log-writer".to_owned())
        .spawn(move || run(conn, rx, committed))
        .map_err(|e| StoreError::io("spawn raft log writer thread", e))?;
    Ok(tx)
}

fn run(mut conn: Connection, rx: mpsc::Receiver<WriteOp>, committed: CommittedSlot) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(op) => group.push(op),
                Err(_) => break,
            }
        }
        let result = commit_group(&mut conn, &group, committed.take()).map_err(|e| {
            tracing::error!(error = %e, ops = group.len(), "raft log write failed");
            e.to_string()
        });
        for op in group {
            op.finish(result.clone());
        }
    }
    if let Some(value) = committed.take() {
        if let Err(e) = commit_group(&mut conn, &[], Some(value)) {
            tracing::warn!(error = %e, "raft log: the committed log id was not saved at stop");
        }
    }
}

fn commit_group(
    conn: &mut Connection,
    group: &[WriteOp],
    committed: Option<Vec<u8>>,
) -> rusqlite::Result<()> {
    // IMMEDIATE: waits out a checkpoint holding the write lock (see
    // `checkpointer`) instead of failing.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for op in group {
        op.execute(&tx)?;
    }
    if let Some(value) = committed {
        put_meta(&tx, super::COMMITTED, &value)?;
    }
    tx.commit()
}
