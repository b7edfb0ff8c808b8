//! The gates a migration closes: every request a node serves for one of
//! its own sandboxes passes a gate (a shared lock) for as long as the
//! handler runs; a move takes the gate exclusively for its pause, so
//! requests in flight finish first and new ones wait — held, not refused —
//! until the move has committed or failed, then go on to wherever the
//! sandbox lives.
//!
//! The gates are a fixed set of shards keyed by a hash of the sandbox id:
//! bounded memory, no clean-up. A pause also holds the requests of the few
//! other sandboxes sharing its shard, for the pause's length.

use std::hash::BuildHasher;
use std::sync::Arc;

use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

/// How many shards the gates have.
const SHARDS: usize = 1024;

/// The gates of one node.
pub struct MoveGates {
    shards: Vec<Arc<RwLock<()>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for MoveGates {
    fn default() -> MoveGates {
        MoveGates {
            shards: (0..SHARDS).map(|_| Arc::new(RwLock::new(()))).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }
}

impl std::fmt::Debug for MoveGates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MoveGates").finish_non_exhaustive()
    }
}

impl MoveGates {
    fn shard(&self, sandbox_id: &str) -> Arc<RwLock<()>> {
        let index = (self.hasher.hash_one(sandbox_id) % SHARDS as u64) as usize;
        self.shards[index].clone()
    }

    /// Passes the gate of `sandbox_id`, waiting while a move pauses it.
    pub async fn pass(&self, sandbox_id: &str) -> OwnedRwLockReadGuard<()> {
        self.shard(sandbox_id).read_owned().await
    }

    /// Closes the gate of `sandbox_id` once the requests that passed it
    /// have finished; it opens again when the guard drops.
    pub async fn close(&self, sandbox_id: &str) -> OwnedRwLockWriteGuard<()> {
        self.shard(sandbox_id).write_owned().await
    }
}
