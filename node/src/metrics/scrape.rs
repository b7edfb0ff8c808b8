//! Levels read from the node at each scrape, and the text a scrape gets.

use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, TextEncoder};

use super::{broken, counter_vec, Metrics};
use nexus_raft::SandboxState;
use nexus_transport::bulk::BulkTraffic;

/// The gauges (and counters mirrored from running totals) set at scrape.
pub(super) struct Levels {
    instances_active: IntGauge,
    instance_slots: IntGauge,
    sandboxes: IntGaugeVec,
    raft_term: IntGauge,
    raft_last_log: IntGauge,
    raft_applied: IntGauge,
    raft_commit: IntGauge,
    raft_leader: IntGauge,
    raft_members: IntGauge,
    raft_peer_lag: IntGaugeVec,
    idempotency_records: IntGauge,
    quic_bytes: IntCounterVec,
    quic_streams: IntCounterVec,
    quic_connections: IntGauge,
    quic_handshakes_failed: IntCounter,
}

fn gauge(name: &str, help: &str) -> IntGauge {
    IntGauge::new(name, help).unwrap_or_else(|e| broken(name, e))
}

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels).unwrap_or_else(|e| broken(name, e))
}

/// Raises `counter` to `total`, a running total kept elsewhere that only grows.
fn catch_up(counter: &IntCounter, total: u64) {
    counter.inc_by(total.saturating_sub(counter.get()));
}

fn level(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Levels {
    pub(super) fn new() -> Levels {
        Levels {
            instances_active: gauge(
                "nexus_instances_active",
                "Wasm instances running now (pool slots in use).",
            ),
            instance_slots: gauge(
                "nexus_instance_pool_slots",
                "Size of the engine's instance pool (instances that may run at once).",
            ),
            sandboxes: gauge_vec(
                "nexus_sandboxes",
                "Sandboxes homed on this node, by lifecycle state.",
                &["state"],
            ),
            raft_term: gauge("nexus_raft_term", "Current Raft term."),
            raft_last_log: gauge(
                "nexus_raft_last_log_index",
                "Index of the last entry in this node's Raft log.",
            ),
            raft_applied: gauge(
                "nexus_raft_applied_index",
                "Index of the last entry applied to this node's registry.",
            ),
            raft_commit: gauge(
                "nexus_raft_commit_index",
                "Highest index a quorum of voters holds (on the leader; elsewhere the applied index, a lower bound).",
            ),
            raft_leader: gauge("nexus_raft_leader", "1 when this node is the Raft leader."),
            raft_members: gauge("nexus_raft_members", "Members of the cluster, voters and learners."),
            raft_peer_lag: gauge_vec(
                "nexus_raft_peer_lag_entries",
                "Log entries each member is behind the leader (reported by the leader only).",
                &["peer"],
            ),
            idempotency_records: gauge(
                "nexus_registry_idempotency_records",
                "Idempotency records the registry keeps (pruned by log index and age).",
            ),
            quic_bytes: counter_vec(
                "nexus_quic_bytes_total",
                "UDP payload bytes of the data plane (QUIC), by direction (sent, received).",
                &["direction"],
            ),
            quic_streams: counter_vec(
                "nexus_quic_streams_total",
                "Data-plane streams, by direction (opened by this node, accepted from peers).",
                &["direction"],
            ),
            quic_connections: gauge(
                "nexus_quic_connections",
                "Data-plane connections to peers open now.",
            ),
            quic_handshakes_failed: IntCounter::new(
                "nexus_quic_handshakes_failed_total",
                "Data-plane handshakes refused or failed (wrong or revoked certificate, timeout).",
            )
            .unwrap_or_else(|e| broken("nexus_quic_handshakes_failed_total", e)),
        }
    }

    pub(super) fn register_into(&self, metrics: &Metrics) {
        for g in [
            &self.instances_active,
            &self.instance_slots,
            &self.raft_term,
            &self.raft_last_log,
            &self.raft_applied,
            &self.raft_commit,
            &self.raft_leader,
            &self.raft_members,
            &self.idempotency_records,
            &self.quic_connections,
        ] {
            metrics.register(g.clone());
        }
        metrics.register(self.sandboxes.clone());
        metrics.register(self.raft_peer_lag.clone());
        metrics.register(self.quic_bytes.clone());
        metrics.register(self.quic_streams.clone());
        metrics.register(self.quic_handshakes_failed.clone());
    }

    fn set(&self, r: &Readings) {
        self.instance_slots.set(level(r.instance_slots as u64));
        self.instances_active.set(level(
            r.instance_slots.saturating_sub(r.instances_free) as u64
        ));
        for (state, n) in &r.sandboxes {
            self.sandboxes
                .with_label_values(&[state.as_str()])
                .set(level(*n));
        }
        let raft = &r.raft;
        self.raft_term.set(level(raft.term));
        self.raft_last_log.set(level(raft.last_log_index));
        self.raft_applied.set(level(raft.applied_index));
        self.raft_commit.set(level(raft.commit_index));
        self.raft_leader.set(i64::from(raft.leader));
        self.raft_members.set(level(raft.members));
        self.idempotency_records.set(level(r.idempotency_records));
        self.raft_peer_lag.reset();
        for (peer, lag) in &raft.peer_lag {
            self.raft_peer_lag
                .with_label_values(&[&peer.to_string()])
                .set(level(*lag));
        }
        if let Some(traffic) = &r.quic {
            self.set_quic(traffic);
        }
    }

    fn set_quic(&self, traffic: &BulkTraffic) {
        for (counter, total) in [
            (
                self.quic_bytes.with_label_values(&["sent"]),
                traffic.bytes_sent,
            ),
            (
                self.quic_bytes.with_label_values(&["received"]),
                traffic.bytes_received,
            ),
            (
                self.quic_streams.with_label_values(&["opened"]),
                traffic.streams_opened,
            ),
            (
                self.quic_streams.with_label_values(&["accepted"]),
                traffic.streams_accepted,
            ),
        ] {
            catch_up(&counter, total);
        }
        catch_up(&self.quic_handshakes_failed, traffic.handshakes_failed);
        self.quic_connections.set(level(traffic.connections));
    }
}

/// What a scrape reads from the node.
#[derive(Debug, Clone, Default)]
pub struct Readings {
    /// The engine's instance pool size.
    pub instance_slots: usize,
    /// Its slots free now.
    pub instances_free: usize,
    /// Sandboxes homed on this node, per state (every state, zeros too).
    pub sandboxes: Vec<(SandboxState, u64)>,
    /// This node's Raft figures.
    pub raft: RaftReading,
    /// Idempotency records in this node's registry.
    pub idempotency_records: u64,
    /// Data-plane totals (`None` on a node without a peer port).
    pub quic: Option<BulkTraffic>,
}

/// Raft figures of one node.
#[derive(Debug, Clone, Default)]
pub struct RaftReading {
    /// Current term.
    pub term: u64,
    /// Last log index.
    pub last_log_index: u64,
    /// Last applied index.
    pub applied_index: u64,
    /// Commit index ([`quorum_index`] on the leader, else the applied index).
    pub commit_index: u64,
    /// Whether this node leads.
    pub leader: bool,
    /// Members, voters and learners.
    pub members: u64,
    /// Entries each member is behind (the leader's view; empty elsewhere).
    pub peer_lag: Vec<(u64, u64)>,
}

/// The highest log index held by a majority of `voters`, given the indexes
/// the leader knows they hold (`None` off the leader, where none are known).
pub fn quorum_index(mut matched: Vec<u64>, voters: usize) -> Option<u64> {
    let majority = voters / 2 + 1;
    if voters == 0 || matched.len() < majority {
        return None;
    }
    matched.sort_unstable_by(|a, b| b.cmp(a));
    matched.get(majority - 1).copied()
}

/// The Prometheus text exposition of `metrics`, levels set from `readings`.
pub fn render(metrics: &Metrics, readings: &Readings) -> String {
    metrics.levels.set(readings);
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&metrics.registry.gather(), &mut out) {
        tracing::warn!(error = %e, "metrics could not be encoded");
    }
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commit_index_is_what_a_majority_of_voters_hold() {
        assert_eq!(quorum_index(vec![10], 1), Some(10));
        assert_eq!(quorum_index(vec![10, 7, 3], 3), Some(7));
        assert_eq!(quorum_index(vec![10, 7, 3, 9, 1], 5), Some(7));
        assert_eq!(quorum_index(vec![10, 2], 3), Some(2));
        assert_eq!(
            quorum_index(vec![10], 3),
            None,
            "not the leader's full view"
        );
        assert_eq!(quorum_index(vec![], 0), None);
    }

    #[test]
    fn a_mirrored_counter_only_catches_up() {
        let c = IntCounter::new("c_total", "c").unwrap();
        catch_up(&c, 5);
        catch_up(&c, 3);
        catch_up(&c, 9);
        assert_eq!(c.get(), 9);
    }
}
