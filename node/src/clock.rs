//! The node's wall clock: Unix milliseconds, as carried in registry
//! commands (ids and timestamps are chosen by the proposer).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, 0 on a clock set before 1970.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
