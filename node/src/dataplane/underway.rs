//! The moves under way from this node, one per sandbox. The replica keeper
//! leaves a moving sandbox alone, and a seed of it in flight stops when its
//! move begins: the move carries the state itself, and a seed landing on
//! the new home after it would be a dead second copy there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use nexus_errors::{ErrorCode, UserError};
use nexus_raft::replication::NodeId;
use tokio::sync::watch;

/// The moves under way on one node (at most one per sandbox, so as many
/// entries as the node hosts sandboxes).
#[derive(Debug)]
pub struct MovesUnderway {
    moving: Mutex<HashMap<String, NodeId>>,
    /// Counts the moves begun, so a waiter wakes and looks again.
    begun: watch::Sender<u64>,
}

impl Default for MovesUnderway {
    fn default() -> MovesUnderway {
        MovesUnderway {
            moving: Mutex::new(HashMap::new()),
            begun: watch::channel(0).0,
        }
    }
}

/// A move under way; it ends when this drops.
#[derive(Debug)]
pub struct MoveUnderway {
    moves: Arc<MovesUnderway>,
    sandbox_id: String,
}

impl Drop for MoveUnderway {
    fn drop(&mut self) {
        self.moves.moving().remove(&self.sandbox_id);
    }
}

impl MovesUnderway {
    fn moving(&self) -> MutexGuard<'_, HashMap<String, NodeId>> {
        self.moving.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a move of `sandbox_id` to node `to`; refused while another
    /// move of it is under way.
    pub fn begin(
        self: &Arc<Self>,
        sandbox_id: &str,
        to: NodeId,
    ) -> Result<MoveUnderway, UserError> {
        {
            let mut moving = self.moving();
            if let Some(other) = moving.get(sandbox_id) {
                return Err(UserError::new(
                    ErrorCode::SandboxMoveInvalid,
                    format!("sandbox {sandbox_id} is already moving to node {other}"),
                ));
            }
            moving.insert(sandbox_id.to_owned(), to);
        }
        self.begun.send_modify(|n| *n = n.wrapping_add(1));
        Ok(MoveUnderway {
            moves: self.clone(),
            sandbox_id: sandbox_id.to_owned(),
        })
    }

    /// Whether a move of `sandbox_id` is under way.
    pub fn is_moving(&self, sandbox_id: &str) -> bool {
        self.moving().contains_key(sandbox_id)
    }

    /// Returns once a move of `sandbox_id` is under way.
    pub async fn until_moving(&self, sandbox_id: &str) {
        let mut begun = self.begun.subscribe();
        while !self.is_moving(sandbox_id) {
            if begun.changed().await.is_err() {
                // The sender lives as long as `self`: not reached.
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_second_move_is_refused_until_the_first_ends() {
        let moves = Arc::new(MovesUnderway::default());
        let first = moves.begin("s", 2).unwrap();
        let refused = moves.begin("s", 3).unwrap_err();
        assert_eq!(refused.code, ErrorCode::SandboxMoveInvalid);
        assert_eq!(refused.message, "sandbox s is already moving to node 2");
        assert!(moves.begin("other", 3).is_ok());
        drop(first);
        assert!(!moves.is_moving("s"));
        assert!(moves.begin("s", 3).is_ok());
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_its_sandbox_starts_moving_and_not_before() {
        let moves = Arc::new(MovesUnderway::default());
        let waiter = tokio::spawn({
            let moves = moves.clone();
            async move { moves.until_moving("s").await }
        });
        let _other = moves.begin("other", 2).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        let _moving = moves.begin("s", 2).unwrap();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
