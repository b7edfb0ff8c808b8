//! Bounded FIFO queues between the sandboxes of one tenant, in memory on the
//! node (lost on restart). Queues are keyed by (tenant id, queue name), so
//! no tenant can reach another's; each queue holds at most
//! [`QueueLimits::max_messages`] messages of at most
//! [`QueueLimits::max_message_bytes`], and a tenant has at most
//! [`QueueLimits::max_queues`] non-empty queues.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use serde::Deserialize;

/// Bounds of the queues (`[queue]` in `nexus.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueLimits {
    /// Messages one queue holds; a push to a full queue is refused.
    pub max_messages: usize,
    /// Largest message, in bytes.
    pub max_message_bytes: usize,
    /// Non-empty queues one tenant may have at once.
    pub max_queues: usize,
}

impl Default for QueueLimits {
    /// 1024 messages of up to 64 KiB per queue, 64 queues per tenant.
    fn default() -> Self {
        QueueLimits {
            max_messages: 1024,
            max_message_bytes: 64 << 10,
            max_queues: 64,
        }
    }
}

/// Why a push was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The queue holds its maximum of messages.
    #[error("queue `{0}` is full ({1} messages)")]
    Full(String, usize),
    /// The tenant has its maximum of queues.
    #[error("queue `{0}` would be a new queue past the tenant's {1}-queue limit")]
    TooManyQueues(String, usize),
}

/// The result of a pop.
#[derive(Debug, PartialEq, Eq)]
pub enum Popped {
    /// The queue is empty.
    Empty,
    /// The head message is longer than the caller's buffer; it stays queued.
    TooLong(usize),
    /// The head message, now removed.
    Message(Vec<u8>),
}

/// Every queue of the node.
#[derive(Debug, Default)]
pub struct QueueHub {
    limits: QueueLimits,
    queues: Mutex<Queues>,
}

/// Messages by (tenant id, queue name).
type Queues = HashMap<(String, String), VecDeque<Vec<u8>>>;

impl QueueHub {
    /// An empty hub enforcing `limits`.
    pub fn new(limits: QueueLimits) -> QueueHub {
        QueueHub {
            limits,
            queues: Mutex::new(HashMap::new()),
        }
    }

    /// The bounds this hub enforces.
    pub fn limits(&self) -> &QueueLimits {
        &self.limits
    }

    /// Appends `message` to `tenant`'s queue `name` (the caller checks its size).
    pub fn push(&self, tenant: &str, name: &str, message: Vec<u8>) -> Result<(), PushError> {
        let mut queues = self.lock();
        let key = (tenant.to_string(), name.to_string());
        if !queues.contains_key(&key) {
            let owned = queues.keys().filter(|(t, _)| t == tenant).count();
            if owned >= self.limits.max_queues {
                return Err(PushError::TooManyQueues(
                    name.to_string(),
                    self.limits.max_queues,
                ));
            }
        }
        let queue = queues.entry(key).or_default();
        if queue.len() >= self.limits.max_messages {
            return Err(PushError::Full(name.to_string(), self.limits.max_messages));
        }
        queue.push_back(message);
        Ok(())
    }

    /// Removes and returns the head of `tenant`'s queue `name` if it is at
    /// most `max` bytes long.
    pub fn pop(&self, tenant: &str, name: &str, max: usize) -> Popped {
        let mut queues = self.lock();
        let key = (tenant.to_string(), name.to_string());
        let Some(queue) = queues.get_mut(&key) else {
            return Popped::Empty;
        };
        match queue.front().map(Vec::len) {
            None => Popped::Empty,
            Some(len) if len > max => Popped::TooLong(len),
            Some(_) => {
                let message = queue.pop_front().unwrap_or_default();
                if queue.is_empty() {
                    queues.remove(&key);
                }
                Popped::Message(message)
            }
        }
    }

    /// Messages in `tenant`'s queue `name`.
    pub fn len(&self, tenant: &str, name: &str) -> usize {
        self.lock()
            .get(&(tenant.to_string(), name.to_string()))
            .map_or(0, VecDeque::len)
    }

    fn lock(&self) -> MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> QueueHub {
        QueueHub::new(QueueLimits {
            max_messages: 2,
            max_message_bytes: 8,
            max_queues: 2,
        })
    }

    #[test]
    fn fifo_bounded_and_per_tenant() {
        let h = hub();
        h.push("a", "q", b"1".to_vec()).expect("push");
        h.push("a", "q", b"22".to_vec()).expect("push");
        assert_eq!(
            h.push("a", "q", b"3".to_vec()),
            Err(PushError::Full("q".into(), 2))
        );
        assert_eq!(h.len("a", "q"), 2);
        assert_eq!(h.len("b", "q"), 0);
        assert_eq!(h.pop("b", "q", 8), Popped::Empty);
        assert_eq!(h.pop("a", "q", 8), Popped::Message(b"1".to_vec()));
        assert_eq!(h.pop("a", "q", 1), Popped::TooLong(2));
        assert_eq!(h.pop("a", "q", 2), Popped::Message(b"22".to_vec()));
        assert_eq!(h.pop("a", "q", 8), Popped::Empty);
    }

    #[test]
    fn queues_per_tenant_are_capped() {
        let h = hub();
        h.push("a", "x", vec![]).expect("x");
        h.push("a", "y", vec![]).expect("y");
        assert!(matches!(
            h.push("a", "z", vec![]),
            Err(PushError::TooManyQueues(..))
        ));
        h.push("b", "z", vec![])
            .expect("another tenant has its own count");
        assert_eq!(h.pop("a", "x", 8), Popped::Message(vec![]));
        h.push("a", "z", vec![]).expect("x is gone once empty");
    }
}
