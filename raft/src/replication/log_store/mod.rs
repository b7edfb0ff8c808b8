//! The Raft log on its own SQLite file (`raft-log.db`).
//!
//! WAL journal, `synchronous=FULL`. All writes go through one writer thread
//! ([`writer`]); the committed log id rides along with the next write instead
//! of costing an fsync of its own; the WAL is checkpointed by its own thread
//! ([`Checkpointer`]), never inside a commit. Reads use a separate
//! connection, after the in-memory run of the newest entries ([`recent`]).
//! Each row holds a complete serialized [`Entry`] (its full `LogId`, leader
//! node id included).
//! `meta` holds the vote, the committed log id and `last_purged`.

mod reader;
mod recent;
mod writer;

use std::ops::RangeBounds;
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, StorageError, Vote};
use rusqlite::Connection;
use serde::Serialize;
use tokio::sync::oneshot;

pub use reader::LogReader;
use recent::Recent;
use writer::{CommittedSlot, WriteOp};

use super::checkpointer::{self, Checkpointer};
use super::error::{OrStorage, StoreError, Subject};
use super::fresh_db;
use super::types::{NodeId, TypeConfig};

const LAST_PURGED: &str = "last_purged";
const VOTE: &str = "vote";
const COMMITTED: &str = "committed";

const DDL: &str = "
CREATE TABLE IF NOT EXISTS log (
    idx   INTEGER PRIMARY KEY,
    entry BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;
";

/// The durable Raft log store ([`RaftLogStorage`]).
#[derive(Debug)]
pub struct LogStore {
    writer: mpsc::Sender<WriteOp>,
    reader: LogReader,
    recent: Recent,
    committed: CommittedSlot,
    _checkpointer: Checkpointer,
}

impl LogStore {
    /// Opens (creating if new) the log database at `path` and starts its
    /// writer thread. The thread stops when the store is dropped.
    pub fn open(path: &Path) -> Result<LogStore, StoreError> {
        fresh_db::create_if_missing(path, |tx| Ok(tx.execute_batch(DDL)?))?;
        let conn = Connection::open(path)?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // A no-op on the file made above; an empty file left by hand gets its tables.
        conn.execute_batch(DDL)?;
        checkpointer::hand_over(&conn)?;
        let checkpointer = Checkpointer::spawn(path, "raft-log-checkpoint")?;
        let committed = CommittedSlot::default();
        let writer = writer::spawn(conn, committed.clone())?;
        let read = Connection::open(path)?;
        read.pragma_update(None, "query_only", true)?;
        let recent = Recent::default();
        Ok(LogStore {
            writer,
            reader: LogReader::new(Arc::new(Mutex::new(read)), recent.clone()),
            recent,
            committed,
            _checkpointer: checkpointer,
        })
    }

    /// Sends `make(done)` to the writer and waits until it is committed.
    async fn write(&self, make: impl FnOnce(writer::Done) -> WriteOp) -> Result<(), StoreError> {
        let (done, committed) = oneshot::channel();
        self.writer
            .send(make(done))
            .map_err(|_| StoreError::WriterGone)?;
        committed.await.map_err(|_| StoreError::WriterGone)?
    }

    async fn put_meta<T: Serialize>(&self, key: &'static str, value: &T) -> Result<(), StoreError> {
        let value = encode(key, value)?;
        self.write(|done| WriteOp::PutMeta { key, value, done })
            .await
    }
}

fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::codec(what, e))
}

/// A log index as an SQLite integer.
fn sql_index(index: u64) -> Result<i64, StoreError> {
    i64::try_from(index).map_err(|_| StoreError::Corrupt(format!("log index {index} too large")))
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + std::fmt::Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
        self.reader.try_get_log_entries(range).await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let last_purged_log_id = self
            .reader
            .meta::<LogId<NodeId>>(LAST_PURGED)
            .await
            .or_storage(Subject::ReadLogs)?;
        let last_log_id = self
            .reader
            .last_log_id()
            .await
            .or_storage(Subject::ReadLogs)?
            .or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> LogReader {
        self.reader.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.put_meta(VOTE, vote)
            .await
            .or_storage(Subject::WriteVote)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        self.reader.meta(VOTE).await.or_storage(Subject::ReadVote)
    }

    /// Returns at once: the value is written with the log's next write (see
    /// the writer module), so a crash may lose it and openraft then starts from an
    /// older committed id, which only means it applies less before the
    /// leader tells it more.
    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        let encoded = encode(COMMITTED, &committed).or_storage(Subject::WriteLogs)?;
        self.committed.set(encoded);
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        let committed: Option<Option<LogId<NodeId>>> = self
            .reader
            .meta(COMMITTED)
            .await
            .or_storage(Subject::ReadLogs)?;
        Ok(committed.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<_> = entries.into_iter().collect();
        let rows = entries
            .iter()
            .map(|entry| Ok((sql_index(entry.log_id.index)?, encode("log entry", entry)?)))
            .collect::<Result<Vec<_>, StoreError>>()
            .or_storage(Subject::WriteLogs)?;
        let sizes: Vec<usize> = rows.iter().map(|(_, bytes)| bytes.len()).collect();
        // Returns once committed: then the entries are readable and durable,
        // and the writer has already called `callback`.
        self.write(|done| WriteOp::Append {
            rows,
            flushed: callback,
            done,
        })
        .await
        .or_storage(Subject::WriteLogs)?;
        self.recent
            .appended(entries.into_iter().zip(sizes).collect());
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let from = sql_index(log_id.index).or_storage(Subject::WriteLogs)?;
        self.recent.truncated(log_id.index);
        self.write(|done| WriteOp::Truncate { from, done })
            .await
            .or_storage(Subject::WriteLogs)
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let upto = sql_index(log_id.index).or_storage(Subject::WriteLogs)?;
        let last_purged = encode(LAST_PURGED, &log_id).or_storage(Subject::WriteLogs)?;
        self.recent.purged(log_id.index);
        self.write(|done| WriteOp::Purge {
            upto,
            last_purged,
            done,
        })
        .await
        .or_storage(Subject::WriteLogs)
    }
}
