//! Errors of the Raft stores, and their mapping to openraft's `StorageError`.

use openraft::{StorageError, StorageIOError};

use super::types::NodeId;
use crate::registry::RegistryError;

/// A failure of the log store or the state machine store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("raft store sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The registry failed (storage, codec or schema; never a refusal).
    #[error("raft store registry: {0}")]
    Registry(#[from] RegistryError),
    /// A file operation failed.
    #[error("raft store io ({what}): {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A stored or received value could not be (de)serialized.
    #[error("raft store codec ({what}): {source}")]
    Codec {
        /// What was being decoded or encoded.
        what: &'static str,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// Stored data breaks an invariant (e.g. a snapshot file too short).
    #[error("raft store corrupt: {0}")]
    Corrupt(String),
    /// The log writer thread failed to commit a write.
    #[error("raft log write failed: {0}")]
    LogWrite(String),
    /// The log writer thread is gone (it panicked or the store shut down).
    #[error("raft log writer thread has stopped")]
    WriterGone,
    /// A blocking task was cancelled or panicked.
    #[error("raft store task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// A file-operation failure on `what`.
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> StoreError {
        StoreError::Io {
            what: what.into(),
            source,
        }
    }

    /// A codec failure on `what`.
    pub(crate) fn codec(what: &'static str, source: serde_json::Error) -> StoreError {
        StoreError::Codec { what, source }
    }
}

impl From<nexus_durable::FileError> for StoreError {
    fn from(err: nexus_durable::FileError) -> StoreError {
        StoreError::io(format!("{} {}", err.op, err.path.display()), err.source)
    }
}

impl From<tokio::task::JoinError> for StoreError {
    fn from(err: tokio::task::JoinError) -> StoreError {
        StoreError::Task(err.to_string())
    }
}

/// Which openraft error subject a failure is reported under.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Subject {
    ReadLogs,
    WriteLogs,
    ReadVote,
    WriteVote,
    ReadStateMachine,
    WriteStateMachine,
    ReadSnapshot,
    WriteSnapshot,
}

/// Wraps a [`StoreError`] as an openraft [`StorageError`].
pub(crate) fn storage_error(subject: Subject, err: &StoreError) -> StorageError<NodeId> {
    let io = match subject {
        Subject::ReadLogs => StorageIOError::read_logs(err),
        Subject::WriteLogs => StorageIOError::write_logs(err),
        Subject::ReadVote => StorageIOError::read_vote(err),
        Subject::WriteVote => StorageIOError::write_vote(err),
        Subject::ReadStateMachine => StorageIOError::read_state_machine(err),
        Subject::WriteStateMachine => StorageIOError::write_state_machine(err),
        Subject::ReadSnapshot => StorageIOError::read_snapshot(None, err),
        Subject::WriteSnapshot => StorageIOError::write_snapshot(None, err),
    };
    StorageError::from(io)
}

/// `result.map_err(...)` shorthand: `result.or_storage(Subject::ReadLogs)?`.
#[allow(clippy::result_large_err)] // openraft's own error type
pub(crate) trait OrStorage<T> {
    fn or_storage(self, subject: Subject) -> Result<T, StorageError<NodeId>>;
}

impl<T, E: Into<StoreError>> OrStorage<T> for Result<T, E> {
    fn or_storage(self, subject: Subject) -> Result<T, StorageError<NodeId>> {
        self.map_err(|e| storage_error(subject, &e.into()))
    }
}
