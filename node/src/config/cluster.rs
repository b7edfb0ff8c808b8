//! `[cluster]` in `nexus.toml`: this node's Raft listener and, for a static
//! cluster, the members every node starts with.

use std::net::SocketAddr;
use std::time::Duration;

use nexus_raft::replication::{Retention, Timing};
use nexus_transport::WatchTiming;
use serde::Deserialize;

use nexus_errors::{ErrorCode, UserError};

/// The cluster settings of one node. Without `peers` the node is a cluster
/// of one (dev mode) and needs no listener.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Cluster name (the CA's name when this node creates one).
    pub name: String,
    /// Where this node answers its peers (Raft and forwarded writes, mTLS).
    pub raft_listen: Option<SocketAddr>,
    /// The Raft address peers dial, if not `raft_listen` (e.g. behind NAT).
    pub advertise_raft: Option<String>,
    /// The data-plane address peers dial (QUIC, UDP). The node listens on
    /// the `raft_listen` address over UDP; unset, peers dial the Raft
    /// address's host and port over UDP.
    pub advertise_bulk: Option<String>,
    /// Which addresses this node gives its peers for Raft, QUIC and the
    /// API: `underlay` (the ones above) or `mesh` (its mesh address, once
    /// the registry gave it one; needs `[mesh] enabled`).
    pub advertise: Advertise,
    /// The static members, this node included; the same list on every node.
    pub peers: Vec<PeerConfig>,
    /// Leader heartbeat period.
    pub heartbeat_ms: u64,
    /// Randomized election timeout, lower bound.
    pub election_min_ms: u64,
    /// Randomized election timeout, upper bound: also the lease during
    /// which voters refuse to elect another leader.
    pub election_max_ms: u64,
    /// Silence after which a leader whose host still accepts connections
    /// (a paused process, a cut link) counts as gone; a leader whose host
    /// refuses them counts as gone at once.
    pub leader_timeout_ms: u64,
    /// How long a registry write or fresh read may wait for a leader.
    pub write_timeout_ms: u64,
    /// Build a registry snapshot after this many log entries.
    pub snapshot_every_logs: u64,
    /// Log entries kept behind a snapshot (followers less far behind catch
    /// up from the log, the rest by snapshot).
    pub logs_kept_after_snapshot: u64,
}

/// Which addresses a node advertises to its peers.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Advertise {
    /// Its configured (underlay) addresses.
    #[default]
    Underlay,
    /// Its mesh address with its Raft, API and data-plane ports.
    Mesh,
}

/// One static member.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// Its node id (never reused).
    pub id: u64,
    /// Its Raft address (`host:port`).
    pub raft: String,
    /// Its HTTP API address (`host:port`).
    pub api: String,
    /// Its data-plane address (`host:port`, UDP); unset: its Raft address.
    pub bulk: Option<String>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        let timing = Timing::daemon();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        ClusterConfig {
            name: "nexus".to_owned(),
            raft_listen: None,
            advertise_raft: None,
            advertise_bulk: None,
            advertise: Advertise::Underlay,
            peers: Vec::new(),
            heartbeat_ms: ms(timing.heartbeat),
            election_min_ms: ms(timing.election_min),
            election_max_ms: ms(timing.election_max),
            leader_timeout_ms: 1_000,
            write_timeout_ms: 10_000,
            snapshot_every_logs: Retention::default().snapshot_every_logs,
            logs_kept_after_snapshot: Retention::default().logs_kept_after_snapshot,
        }
    }
}

impl ClusterConfig {
    /// Raft timing from the configured milliseconds.
    pub fn timing(&self) -> Timing {
        Timing {
            heartbeat: Duration::from_millis(self.heartbeat_ms),
            election_min: Duration::from_millis(self.election_min_ms),
            election_max: Duration::from_millis(self.election_max_ms),
        }
    }

    /// The leader watch's timings.
    pub fn watch_timing(&self) -> WatchTiming {
        let timing = self.timing();
        WatchTiming {
            heartbeat: timing.heartbeat,
            leader_timeout: Duration::from_millis(self.leader_timeout_ms),
            election_min: timing.election_min,
            election_max: timing.election_max,
        }
    }

    /// Snapshot and log retention.
    pub fn retention(&self) -> Retention {
        Retention {
            snapshot_every_logs: self.snapshot_every_logs,
            logs_kept_after_snapshot: self.logs_kept_after_snapshot,
        }
    }

    /// The Raft address peers reach this node at, if it has one.
    pub fn raft_addr(&self) -> Option<String> {
        self.advertise_raft
            .clone()
            .or_else(|| self.raft_listen.map(|a| a.to_string()))
    }

    /// The data-plane address peers reach this node at, if it has one.
    pub fn bulk_addr(&self) -> Option<String> {
        self.advertise_bulk.clone().or_else(|| self.raft_addr())
    }

    /// Checks the static membership against this node's id.
    pub fn validate(&self, node_id: u64) -> Result<(), UserError> {
        let invalid = |message: String| UserError::new(ErrorCode::ConfigInvalid, message);
        if node_id == 0 {
            return Err(invalid("node_id must be 1 or more".to_owned()));
        }
        if self.leader_timeout_ms < 2 * self.heartbeat_ms {
            return Err(invalid(format!(
                "[cluster] leader_timeout_ms ({}) must be at least two heartbeats (heartbeat_ms = {})",
                self.leader_timeout_ms, self.heartbeat_ms
            )));
        }
        if self.peers.is_empty() {
            return Ok(());
        }
        if self.raft_listen.is_none() {
            return Err(invalid(
                "[cluster] peers are listed but cluster.raft_listen is not set".to_owned(),
            ));
        }
        if !self.peers.iter().any(|p| p.id == node_id) {
            return Err(invalid(format!(
                "[cluster] peers does not list this node (node_id {node_id})"
            )));
        }
        let mut ids: Vec<u64> = self.peers.iter().map(|p| p.id).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid("[cluster] peers lists a node id twice".to_owned()));
        }
        Ok(())
    }
}
