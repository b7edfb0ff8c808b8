//! The inputs of a job waiting to run, shared by every worker that pulls
//! from it (local workers and, on the node tier, each peer's stream). An
//! input taken by a worker is *outstanding* until the worker reports it
//! done or puts it back (its node died): put-back inputs run again first.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

/// A job's input indexes `0..total`, handed out once each, again if put back.
pub struct InputQueue {
    state: Mutex<State>,
    changed: Notify,
}

struct State {
    next: usize,
    total: usize,
    again: VecDeque<usize>,
    outstanding: usize,
    closed: bool,
}

impl InputQueue {
    /// A queue of `total` inputs.
    pub fn new(total: usize) -> InputQueue {
        InputQueue {
            state: Mutex::new(State {
                next: 0,
                total,
                again: VecDeque::new(),
                outstanding: 0,
                closed: false,
            }),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next input to run, now, if one is waiting.
    pub fn try_next(&self) -> Option<usize> {
        let mut state = self.state();
        if state.closed {
            return None;
        }
        let index = match state.again.pop_front() {
            Some(index) => index,
            None if state.next < state.total => {
                state.next += 1;
                state.next - 1
            }
            None => return None,
        };
        state.outstanding += 1;
        Some(index)
    }

    /// The next input to run, waiting while none is left but some are
    /// outstanding (they may be put back). `None`: nothing more will come.
    pub async fn next(&self) -> Option<usize> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(index) = self.try_next() {
                return Some(index);
            }
            if self.is_drained() {
                return None;
            }
            changed.await;
        }
    }

    /// Whether nothing is left to hand out and nothing may come back.
    pub fn is_drained(&self) -> bool {
        let state = self.state();
        state.closed
            || (state.again.is_empty() && state.next >= state.total && state.outstanding == 0)
    }

    /// An input taken before has its result.
    pub fn done(&self) {
        let mut state = self.state();
        state.outstanding = state.outstanding.saturating_sub(1);
        drop(state);
        self.changed.notify_waiters();
    }

    /// Inputs taken before go back to run again (their node failed).
    pub fn put_back(&self, indexes: impl IntoIterator<Item = usize>) {
        let mut state = self.state();
        for index in indexes {
            state.outstanding = state.outstanding.saturating_sub(1);
            state.again.push_back(index);
        }
        drop(state);
        self.changed.notify_waiters();
    }

    /// Hands out nothing more (the job ended).
    pub fn close(&self) {
        self.state().closed = true;
        self.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::InputQueue;

    #[test]
    fn put_back_inputs_run_again_first() {
        let queue = InputQueue::new(3);
        assert_eq!(queue.try_next(), Some(0));
        assert_eq!(queue.try_next(), Some(1));
        queue.put_back([0]);
        assert_eq!(queue.try_next(), Some(0));
        assert_eq!(queue.try_next(), Some(2));
        assert_eq!(queue.try_next(), None);
        assert!(!queue.is_drained(), "three are outstanding");
        for _ in 0..3 {
            queue.done();
        }
        assert!(queue.is_drained());
    }

    #[tokio::test]
    async fn a_waiting_worker_gets_a_put_back_input() {
        let queue = std::sync::Arc::new(InputQueue::new(1));
        assert_eq!(queue.try_next(), Some(0));
        let waiter = tokio::spawn({
            let queue = queue.clone();
            async move { queue.next().await }
        });
        tokio::task::yield_now().await;
        queue.put_back([0]);
        assert_eq!(waiter.await.unwrap(), Some(0));
        queue.done();
        assert_eq!(queue.next().await, None);
    }
}
