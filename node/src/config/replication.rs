//! `[replication]` in `nexus.toml`: how many copies of each sandbox the
//! cluster keeps and when a call's response waits for them.

use std::time::Duration;

use nexus_raft::Durability;
use serde::Deserialize;

/// The defaults of every sandbox that asked for nothing at dock, and the
/// timings of replication and failover.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicationConfig {
    /// Copies of each sandbox, its home included (1–8). The cluster keeps
    /// as many as it has members, up to this: a single node keeps one.
    pub factor: u32,
    /// `sync`: a call's response waits until a replica holds its change;
    /// `async`: it goes at once and the change follows.
    pub durability: Durability,
    /// How often the home checks that each of its sandboxes has its
    /// replicas, seeding new ones where some are missing.
    pub keep_interval_ms: u64,
    /// A home the leader has not heard renew its lease for this long loses
    /// its replicated sandboxes to their replicas. Its own lease lasts
    /// three quarters of it, so it has stopped answering by then.
    pub home_timeout_ms: u64,
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        ReplicationConfig {
            factor: 2,
            durability: Durability::Sync,
            keep_interval_ms: 1000,
            home_timeout_ms: 1000,
        }
    }
}

impl ReplicationConfig {
    /// [`ReplicationConfig::home_timeout_ms`] as a duration.
    pub fn home_timeout(&self) -> Duration {
        Duration::from_millis(self.home_timeout_ms)
    }

    /// How long one lease renewal lets a home answer: three quarters of
    /// the home timeout (the rest absorbs the machines' clock rates).
    pub fn home_lease(&self) -> Duration {
        self.home_timeout() * 3 / 4
    }

    /// [`ReplicationConfig::keep_interval_ms`] as a duration (at least 10 ms).
    pub fn keep_interval(&self) -> Duration {
        Duration::from_millis(self.keep_interval_ms.max(10))
    }
}
