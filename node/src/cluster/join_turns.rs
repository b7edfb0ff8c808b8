//! [`JoinTurns`]: joins are admitted one at a time on the admitting node.
//!
//! The token check and the redemption it leads to run under one lock, so
//! of many concurrent joins with a one-use token only the first proposes a
//! `Redeem`; the others see the spent token in their check and are refused
//! before they propose anything. The queue in front of the lock is bounded
//! and so is the wait: a join that cannot get its turn is `JOIN_BUSY`.

use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard, Semaphore, SemaphorePermit};

use nexus_errors::{ErrorCode, UserError};

/// Joins that may wait for their turn at once (more are refused).
pub const MAX_WAITING_JOINS: usize = 128;
/// How long a join waits for its turn (below the joiner's 30 s RPC timeout).
pub const TURN_TIMEOUT: Duration = Duration::from_secs(20);

/// The admitting node's join lock and its bounded queue.
#[derive(Debug)]
pub struct JoinTurns {
    queue: Semaphore,
    lock: Mutex<()>,
}

/// A join's turn: while held, no other join on this node checks or redeems.
pub struct Turn<'a> {
    _queued: SemaphorePermit<'a>,
    _locked: MutexGuard<'a, ()>,
}

impl Default for JoinTurns {
    fn default() -> Self {
        JoinTurns::new(MAX_WAITING_JOINS)
    }
}

impl JoinTurns {
    /// A lock with room for `waiting` joins in its queue.
    pub fn new(waiting: usize) -> JoinTurns {
        JoinTurns {
            queue: Semaphore::new(waiting),
            lock: Mutex::new(()),
        }
    }

    /// Waits for this join's turn: `JOIN_BUSY` when the queue is full or
    /// the turn does not come within [`TURN_TIMEOUT`].
    pub async fn take(&self) -> Result<Turn<'_>, UserError> {
        let queued = self.queue.try_acquire().map_err(|_| {
            UserError::new(
                ErrorCode::JoinBusy,
                format!("{MAX_WAITING_JOINS} joins are already waiting at this node"),
            )
        })?;
        let locked = tokio::time::timeout(TURN_TIMEOUT, self.lock.lock())
            .await
            .map_err(|_| {
                UserError::new(
                    ErrorCode::JoinBusy,
                    format!("this join waited {TURN_TIMEOUT:?} for the joins before it"),
                )
            })?;
        Ok(Turn {
            _queued: queued,
            _locked: locked,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn turns_are_exclusive_and_a_full_queue_is_busy() {
        let turns = JoinTurns::new(1);
        let first = turns.take().await.unwrap();
        let err = turns.take().await.err().unwrap();
        assert!(err.is(ErrorCode::JoinBusy), "{err:?}");
        drop(first);
        assert!(turns.take().await.is_ok());
    }
}
