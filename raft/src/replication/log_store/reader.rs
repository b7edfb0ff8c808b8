//! Reads of the Raft log through its own (query-only) SQLite connection.

use std::fmt;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex};

use openraft::storage::RaftLogReader;
use openraft::{Entry, LogId, OptionalSend, StorageError};
use rusqlite::{Connection, OptionalExtension};
use serde::de::DeserializeOwned;

use super::recent::Recent;
use crate::replication::error::{OrStorage, StoreError, Subject};
use crate::replication::types::{NodeId, TypeConfig};

/// A handle for reading the log, shared by openraft's replication tasks.
/// WAL lets it read while the writer thread commits.
#[derive(Clone)]
pub struct LogReader {
    conn: Arc<Mutex<Connection>>,
    recent: Recent,
}

impl fmt::Debug for LogReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogReader").finish_non_exhaustive()
    }
}

impl LogReader {
    pub(super) fn new(conn: Arc<Mutex<Connection>>, recent: Recent) -> LogReader {
        LogReader { conn, recent }
    }

    /// Runs `read` on the connection in a blocking task.
    async fn with_conn<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let conn = conn
                .lock()
                .map_err(|_| StoreError::Task("raft log reader lock poisoned".to_owned()))?;
            read(&conn)
        })
        .await?
    }

    /// A JSON value from `meta`, `None` if unset.
    pub(super) async fn meta<T: DeserializeOwned + Send + 'static>(
        &self,
        key: &'static str,
    ) -> Result<Option<T>, StoreError> {
        self.with_conn(move |conn| {
            let raw: Option<Vec<u8>> = conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()?;
            raw.map(|raw| serde_json::from_slice(&raw).map_err(|e| StoreError::codec(key, e)))
                .transpose()
        })
        .await
    }

    /// The id of the last entry in the log, `None` if the log is empty.
    pub(super) async fn last_log_id(&self) -> Result<Option<LogId<NodeId>>, StoreError> {
        self.with_conn(|conn| {
            let raw: Option<Vec<u8>> = conn
                .query_row("SELECT entry FROM log ORDER BY idx DESC LIMIT 1", [], |r| {
                    r.get(0)
                })
                .optional()?;
            raw.map(|raw| decode_entry(&raw).map(|e| e.log_id))
                .transpose()
        })
        .await
    }

    /// Entries with index in `[start, end)`, in order.
    async fn entries(&self, start: i64, end: i64) -> Result<Vec<Entry<TypeConfig>>, StoreError> {
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT entry FROM log WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            )?;
            let rows = stmt.query_map([start, end], |r| r.get::<_, Vec<u8>>(0))?;
            let mut entries = Vec::new();
            for raw in rows {
                entries.push(decode_entry(&raw?)?);
            }
            Ok(entries)
        })
        .await
    }
}

fn decode_entry(raw: &[u8]) -> Result<Entry<TypeConfig>, StoreError> {
    serde_json::from_slice(raw).map_err(|e| StoreError::codec("log entry", e))
}

/// `range` as a half-open `[start, end)` over SQLite integers.
fn sql_range(range: &impl RangeBounds<u64>) -> (i64, i64) {
    let clamp = |i: u64| i64::try_from(i).unwrap_or(i64::MAX);
    let start = match range.start_bound() {
        Bound::Included(&i) => clamp(i),
        Bound::Excluded(&i) => clamp(i.saturating_add(1)),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&i) => clamp(i.saturating_add(1)),
        Bound::Excluded(&i) => clamp(i),
        Bound::Unbounded => i64::MAX,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + fmt::Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
        let (start, end) = sql_range(&range);
        // Both bounds are non-negative, so they convert back losslessly.
        let cached = match (u64::try_from(start), u64::try_from(end)) {
            (Ok(start), Ok(end)) => self.recent.read(start, end),
            _ => None,
        };
        match cached {
            Some(entries) => Ok(entries),
            None => self.entries(start, end).await.or_storage(Subject::ReadLogs),
        }
    }
}
