//! [`RegistryHandle`]: the node's way to write and read the registry.
//!
//! Writes are one typed method per registry command, each checking the
//! command's one expected response:
//!
//! | module | writes |
//! |---|---|
//! | [`tenants`] | a tenant with its first API key, further keys, key revocation and last-use reports, tenant removal |
//! | [`sandboxes`] | dock, lifecycle transition, removal |
//! | [`membership`] | join tokens (create, revoke, redeem), node removal, CA holders |

mod membership;
mod sandboxes;
mod tenants;

pub use membership::{NewJoinToken, Redemption};
pub use sandboxes::NewSandbox;
pub use tenants::{NewApiKey, TenantRemoval};

use std::sync::{Arc, MutexGuard};

use nexus_raft::replication::{Request, SharedRegistry};
use nexus_raft::{Command, Readers, Registry, RegistryError, Response};
use nexus_transport::Gateway;

use nexus_errors::{Coded, ErrorCode, UserError};

use crate::clock::now_ms;

/// Shared access to the replicated registry. Writes are committed through
/// Raft (forwarded to the leader when this node does not lead); reads see
/// this node's applied state, and [`RegistryHandle::linearize`] makes them
/// fresh.
#[derive(Clone)]
pub struct RegistryHandle {
    gateway: Gateway,
    registry: SharedRegistry,
    readers: Arc<Readers>,
    instruments: Instruments,
}

/// What the handle measures for the node's metrics.
#[derive(Clone)]
struct Instruments {
    write_seconds: prometheus::HistogramVec,
    transitions: prometheus::IntCounterVec,
}

impl RegistryHandle {
    /// A handle writing through `gateway` and reading through `readers`,
    /// query-only connections to `registry`, the state machine's registry.
    pub fn new(gateway: Gateway, registry: SharedRegistry, readers: Readers) -> RegistryHandle {
        RegistryHandle {
            gateway,
            registry,
            readers: Arc::new(readers),
            instruments: Instruments {
                write_seconds: crate::metrics::histogram_vec(
                    "nexus_registry_write_duration_seconds",
                    "Time to commit one registry write through Raft, forwarding to the leader included.",
                    &["outcome"],
                ),
                transitions: crate::metrics::counter_vec(
                    "nexus_lifecycle_transitions_total",
                    "Lifecycle transitions committed by this node, by the state entered.",
                    &["to"],
                ),
            },
        }
    }

    /// Adds what this handle measures to `metrics`.
    pub fn register_metrics(&self, metrics: &crate::metrics::Metrics) {
        metrics.register(self.instruments.write_seconds.clone());
        metrics.register(self.instruments.transitions.clone());
    }

    /// Commits one command and returns its result. The write carries a fresh
    /// idempotency key, so the gateway's retries apply it at most once.
    async fn write(&self, cmd: Command) -> Result<Response, UserError> {
        let key = idempotency_key(now_ms(), rand::random());
        let started = std::time::Instant::now();
        let written = self.gateway.write(Request::idempotent(key, cmd)).await;
        let outcome = match &written {
            Ok(_) => "committed",
            Err(_) => "failed",
        };
        self.instruments
            .write_seconds
            .with_label_values(&[outcome])
            .observe(started.elapsed().as_secs_f64());
        let written = written.map_err(|e| e.to_user_error())?;
        written.data.into_result().map_err(|e| e.to_user_error())
    }

    /// Waits until this node has applied every write committed before the
    /// call; a read after it is linearizable.
    pub async fn linearize(&self) -> Result<(), UserError> {
        self.gateway
            .linearize()
            .await
            .map_err(|e| e.to_user_error())
    }

    /// Checkpoints the registry's WAL into its file.
    pub fn checkpoint(&self) -> Result<(), UserError> {
        lock(&self.registry)
            .checkpoint()
            .map_err(|e| e.to_user_error())
    }

    /// Runs a read against this node's applied state (every batch applied
    /// before it began), on a query-only connection: it does not wait for a
    /// batch being applied.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Registry) -> Result<T, RegistryError>,
    ) -> Result<T, UserError> {
        self.readers.read(f).map_err(|e| e.to_user_error())
    }
}

/// A fresh idempotency key: the time in ms (12 hex digits), then 80 random
/// bits. Time first, so each record lands at the end of the table's key
/// index instead of on a random page: with random keys a registry of a few
/// hundred thousand records wrote a page per record at every batch.
fn idempotency_key(at_ms: u64, random: [u8; 10]) -> String {
    format!("{at_ms:012x}{}", hex::encode(random))
}

/// The error for a response that does not belong to the command sent (a
/// bug: the registry answers each command with one kind of response).
fn unexpected(command: &str, response: &Response) -> UserError {
    UserError::new(
        ErrorCode::Internal,
        format!("registry answered {command} with {response:?}"),
    )
}

/// A panic while holding the lock cannot leave SQLite half-written (every
/// batch is one transaction), so a poisoned lock is still usable.
fn lock(m: &SharedRegistry) -> MutexGuard<'_, Registry> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_sort_by_time_and_differ_within_a_millisecond() {
        let early = idempotency_key(1_700_000_000_000, [0xff; 10]);
        let late = idempotency_key(1_700_000_000_001, [0; 10]);
        assert!(early < late, "{early} {late}");
        assert_eq!(early.len(), 32);
        assert_ne!(idempotency_key(5, [1; 10]), idempotency_key(5, [2; 10]));
    }

    #[test]
    fn an_unexpected_response_names_the_command_and_the_response() {
        let err = unexpected(
            "RemoveNode",
            &Response::JoinTokenRevoked {
                token_id: "tok".into(),
            },
        );
        assert!(err.is(ErrorCode::Internal));
        assert_eq!(
            err.message,
            r#"registry answered RemoveNode with JoinTokenRevoked { token_id: "tok" }"#
        );
    }
}
