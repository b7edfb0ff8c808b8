//! Identifiers and timestamps chosen by the proposer of a registry command.

use std::time::{SystemTime, UNIX_EPOCH};

/// A fresh sandbox id: `sb_` and 16 random hex digits.
pub fn new_sandbox_id() -> String {
    format!("sb_{:016x}", rand::random::<u64>())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
