//! openraft [`Config`] for the registry.

use std::time::Duration;

use openraft::{Config, ConfigError, SnapshotPolicy};

/// Raft timing. [`Timing::daemon`] is the node's (whose leader watch starts
/// the elections); [`Timing::fast`] suits in-process tests that let openraft
/// elect on its own timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Leader heartbeat period.
    pub heartbeat: Duration,
    /// Lower bound of the randomized election timeout.
    pub election_min: Duration,
    /// Upper bound of the randomized election timeout.
    pub election_max: Duration,
}

impl Timing {
    /// Daemon defaults: heartbeat 100 ms, election timeout 200–300 ms. The
    /// node does not let openraft elect on this timer (its leader watch
    /// decides when to campaign); the timeout bounds the voters' leader
    /// lease and the pause between campaigns.
    pub fn daemon() -> Timing {
        Timing {
            heartbeat: Duration::from_millis(100),
            election_min: Duration::from_millis(200),
            election_max: Duration::from_millis(300),
        }
    }

    /// Short timings for in-process tests: heartbeat 50 ms, election 300–600 ms.
    pub fn fast() -> Timing {
        Timing {
            heartbeat: Duration::from_millis(50),
            election_min: Duration::from_millis(300),
            election_max: Duration::from_millis(600),
        }
    }
}

/// Per-chunk snapshot install timeout. openraft's default (200 ms) made
/// snapshot transfers loop forever in real deployments.
pub const INSTALL_SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(30);

/// Snapshot chunk size (the transport must allow messages this large).
pub const SNAPSHOT_CHUNK_BYTES: u64 = 4 * 1024 * 1024;

/// Build a snapshot after this many log entries since the last one.
pub const SNAPSHOT_EVERY_LOGS: u64 = 10_000;

/// Log entries kept behind a snapshot, so a follower that is a little behind
/// catches up from the log instead of a fresh snapshot (the leader does not
/// stop purging while a follower installs one).
pub const LOGS_KEPT_AFTER_SNAPSHOT: u64 = 20_000;

/// When snapshots are built and how much log is kept behind them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Build a snapshot after this many entries since the last one.
    pub snapshot_every_logs: u64,
    /// Entries kept behind a snapshot for followers that are a little behind.
    pub logs_kept_after_snapshot: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            snapshot_every_logs: SNAPSHOT_EVERY_LOGS,
            logs_kept_after_snapshot: LOGS_KEPT_AFTER_SNAPSHOT,
        }
    }
}

/// A validated openraft config for the registry cluster `cluster_name`
/// with the default [`Retention`].
///
/// Fails when the timing is inconsistent (e.g. `election_min >= election_max`
/// or `heartbeat >= election_min`).
#[allow(clippy::result_large_err)] // openraft's own error type
pub fn raft_config(cluster_name: &str, timing: Timing) -> Result<Config, ConfigError> {
    raft_config_with(cluster_name, timing, Retention::default())
}

/// [`raft_config`] with an explicit snapshot and log retention.
#[allow(clippy::result_large_err)] // openraft's own error type
pub fn raft_config_with(
    cluster_name: &str,
    timing: Timing,
    retention: Retention,
) -> Result<Config, ConfigError> {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    Config {
        cluster_name: cluster_name.to_owned(),
        heartbeat_interval: ms(timing.heartbeat),
        election_timeout_min: ms(timing.election_min),
        election_timeout_max: ms(timing.election_max),
        install_snapshot_timeout: ms(INSTALL_SNAPSHOT_TIMEOUT),
        snapshot_max_chunk_size: SNAPSHOT_CHUNK_BYTES,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(retention.snapshot_every_logs),
        max_in_snapshot_log_to_keep: retention.logs_kept_after_snapshot,
        // Must exceed the snapshot policy, or lagging followers are sent
        // snapshots needlessly.
        replication_lag_threshold: 2 * retention
            .logs_kept_after_snapshot
            .max(retention.snapshot_every_logs),
        purge_batch_size: 256,
        ..Config::default()
    }
    .validate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_and_fast_timings_validate() {
        let config = raft_config("nexus", Timing::daemon()).expect("daemon config");
        assert_eq!(config.heartbeat_interval, 100);
        assert_eq!(config.election_timeout_min, 200);
        assert_eq!(config.install_snapshot_timeout, 30_000);
        raft_config("nexus", Timing::fast()).expect("fast config");
    }

    #[test]
    fn inverted_election_timeout_is_refused() {
        let timing = Timing {
            election_min: Duration::from_millis(300),
            election_max: Duration::from_millis(200),
            ..Timing::daemon()
        };
        assert!(raft_config("nexus", timing).is_err());
    }
}
