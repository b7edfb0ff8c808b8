//! Replication of the registry with openraft 0.9 (storage v2).
//!
//! - [`TypeConfig`]: the Raft types — log entries carry a [`Proposal`] (one
//!   [`Request`] or a batch of them), applying one yields an [`Outcome`];
//!   membership carries [`NodeInfo`].
//! - [`LogStore`]: the Raft log on its own SQLite file, written by one
//!   dedicated thread; entries are durable before openraft is told so.
//! - [`StateMachine`]: the [`Registry`](crate::Registry) itself; a batch of
//!   entries, `last_applied` and the membership commit in one transaction.
//! - [`raft_config`]: a validated openraft config.
//!
//! The network (`RaftNetworkFactory`) is provided by the node.

mod checkpointer;
mod config;
mod error;
mod fresh_db;
mod log_store;
mod refusal;
mod state_machine;
mod types;

pub use config::{
    raft_config, raft_config_with, Retention, Timing, INSTALL_SNAPSHOT_TIMEOUT,
    LOGS_KEPT_AFTER_SNAPSHOT, SNAPSHOT_CHUNK_BYTES, SNAPSHOT_EVERY_LOGS,
};
pub use error::StoreError;
pub use log_store::{LogReader, LogStore};
pub use refusal::Refusal;
pub use state_machine::{
    NodeObserver, SharedRegistry, SnapshotBuilder, SnapshotFile, StateMachine,
};
pub use types::{NodeId, NodeInfo, Outcome, Proposal, Request, TypeConfig};

/// The registry's Raft instance.
pub type Raft = openraft::Raft<TypeConfig>;
