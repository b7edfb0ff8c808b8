//! The node's Prometheus metrics (`GET /metrics`, or `[metrics] listen`).
//!
//! Each node has its own [`prometheus::Registry`] (several nodes share a
//! process in tests and `nexus bench`). Events are counted where they
//! happen — calls and migrations here, denials through the engine's
//! [`DenialObserver`], registry writes and lifecycle transitions in
//! the registry handle; levels (Raft indexes, instances, sandboxes by
//! state, QUIC totals) are read from the node at each scrape and passed in
//! as [`Readings`]. docs/operations.md lists every metric.

mod scrape;

use std::time::Duration;

use nexus_engine::DenialObserver;
use prometheus::core::Collector;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use tracing::warn;

use scrape::Levels;
pub use scrape::{quorum_index, render, RaftReading, Readings};

/// Histogram buckets for calls and moves, in seconds: 0.5 ms to ~65 s.
fn latency_buckets() -> Vec<f64> {
    prometheus::exponential_buckets(0.0005, 2.0, 18).unwrap_or_default()
}

/// The node's metric registry and the instruments its parts update.
pub struct Metrics {
    registry: Registry,
    calls: IntCounterVec,
    call_seconds: HistogramVec,
    denials: IntCounterVec,
    migrations: IntCounterVec,
    migration_seconds: HistogramVec,
    fabric_inputs: IntCounterVec,
    levels: Levels,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// A counter family `name` with `labels`.
pub fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).unwrap_or_else(|e| broken(name, e))
}

/// A latency histogram family `name` with `labels`.
pub fn histogram_vec(name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(latency_buckets()),
        labels,
    )
    .unwrap_or_else(|e| broken(name, e))
}

/// Metric names and labels are constants: a bad one is a bug caught by the
/// first test that builds the metrics.
#[allow(clippy::panic)]
fn broken<T>(name: &str, e: prometheus::Error) -> T {
    panic!("metric {name} is malformed: {e}")
}

impl Metrics {
    /// Fresh instruments in a registry of their own.
    pub fn new() -> Metrics {
        let metrics = Metrics {
            registry: Registry::new(),
            calls: counter_vec(
                "nexus_calls_total",
                "Calls run on this node, by shape (command, http) and outcome (ok, exit_nonzero, or the error code).",
                &["shape", "outcome"],
            ),
            call_seconds: histogram_vec(
                "nexus_call_duration_seconds",
                "Wall-clock time of calls run on this node, resume and instantiation included.",
                &["shape"],
            ),
            denials: counter_vec(
                "nexus_capability_denials_total",
                "Guest requests refused, by the capability involved.",
                &["capability"],
            ),
            migrations: counter_vec(
                "nexus_migrations_total",
                "Moves of a sandbox away from this node, by outcome (moved or the error code).",
                &["outcome"],
            ),
            migration_seconds: histogram_vec(
                "nexus_migration_duration_seconds",
                "Time of moves of a sandbox away from this node, pre-copy to release.",
                &["outcome"],
            ),
            fabric_inputs: counter_vec(
                "nexus_fabric_inputs_total",
                "Fabric inputs run on this node, by tier (instance, process, node, container) and outcome (ok or the error code).",
                &["tier", "outcome"],
            ),
            levels: Levels::new(),
        };
        metrics.register(metrics.calls.clone());
        metrics.register(metrics.call_seconds.clone());
        metrics.register(metrics.denials.clone());
        metrics.register(metrics.migrations.clone());
        metrics.register(metrics.migration_seconds.clone());
        metrics.register(metrics.fabric_inputs.clone());
        metrics.levels.register_into(&metrics);
        metrics
    }

    /// Adds `collector` (a metric another part of the node updates) to
    /// this node's registry.
    pub fn register(&self, collector: impl Collector + 'static) {
        if let Err(e) = self.registry.register(Box::new(collector)) {
            warn!(error = %e, "a metric could not be registered; it is left out of /metrics");
        }
    }

    /// Counts one call of `shape` that ended with `outcome` after `elapsed`.
    pub fn call(&self, shape: &str, outcome: &str, elapsed: Duration) {
        self.calls.with_label_values(&[shape, outcome]).inc();
        self.call_seconds
            .with_label_values(&[shape])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one fabric input of `tier` run here that ended with `outcome`.
    pub fn fabric_input(&self, tier: &str, outcome: &str) {
        self.fabric_inputs.with_label_values(&[tier, outcome]).inc();
    }

    /// Counts one move away from this node.
    pub fn migration(&self, outcome: &str, elapsed: Duration) {
        self.migrations.with_label_values(&[outcome]).inc();
        self.migration_seconds
            .with_label_values(&[outcome])
            .observe(elapsed.as_secs_f64());
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl DenialObserver for Metrics {
    fn denied(&self, capability: &str) {
        self.denials.with_label_values(&[capability]).inc();
    }
}

/// The outcome label of an error: its catalog code in lower case.
pub fn outcome_of(code: nexus_errors::ErrorCode) -> String {
    code.as_str().to_ascii_lowercase()
}
