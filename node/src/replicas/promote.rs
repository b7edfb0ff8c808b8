//! A move to a node that keeps a replica of the sandbox: no file is copied.
//! The sandbox is held (its gate closed, its activity taken), what is
//! pending goes to its replicas as after any call, and the new home is
//! committed; the target makes its copy the sandbox's file at its first
//! request.

use std::sync::Arc;
use std::time::Instant;

use nexus_errors::{ErrorCode, UserError};
use nexus_raft::replication::NodeId;
use nexus_raft::Sandbox;
use tracing::{info, warn};

use super::Replicas;
use crate::clock::now_ms;
use crate::dataplane::migrate::MoveReport;
use crate::sandbox::SandboxManager;

impl Replicas {
    /// The bytes shipped to `node` for `sandbox_id` since this node started.
    async fn shipped_to(&self, sandbox_id: &str, node: NodeId) -> u64 {
        let shipment = self
            .shipments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(sandbox_id)
            .cloned();
        match shipment {
            Some(shipment) => shipment
                .lock()
                .await
                .progress
                .get(&node)
                .map_or(0, |p| p.bytes),
            None => 0,
        }
    }

    /// Moves `sandbox` (homed here) to `to` when `to` is one of its
    /// replicas; `None` when it is not (the caller copies the files).
    pub async fn move_to_replica(
        self: &Arc<Self>,
        manager: &SandboxManager,
        sandbox: &Sandbox,
        to: NodeId,
    ) -> Result<Option<MoveReport>, UserError> {
        if !sandbox.replicas.iter().any(|r| r.node_id == to) {
            return Ok(None);
        }
        let started = Instant::now();
        let failed = |step: &str, reason: String| {
            UserError::new(
                ErrorCode::SandboxMoveFailed,
                format!(
                    "moving sandbox {} from node {} to its replica on node {to} failed at {step}: \
                     {reason}; it stays on node {} with its data",
                    sandbox.id, self.node_id, self.node_id
                ),
            )
        };
        let _underway = self.dataplane.moves().begin(&sandbox.id, to)?;
        let gate = self.dataplane.gates().close(&sandbox.id).await;
        let paused = Instant::now();
        let sandbox = manager
            .hosted(&sandbox.tenant_id, &sandbox.id)
            .unwrap_or_else(|_| sandbox.clone());
        let held = manager.hold_for_move(&sandbox).await;
        let file = self
            .file_of(&sandbox)
            .ok_or_else(|| failed("ship", "its file is not on this node".to_owned()))?;
        let targets: Vec<NodeId> = sandbox.replicas.iter().map(|r| r.node_id).collect();
        let before = self.shipped_to(&sandbox.id, to).await;
        let (version, shipped_failed) = self.ship(&sandbox, &file, &targets).await?;
        if let Some((_, reason)) = shipped_failed.iter().find(|(n, _)| *n == to) {
            return Err(failed("ship", reason.clone()));
        }
        let bytes_sent = self
            .shipped_to(&sandbox.id, to)
            .await
            .saturating_sub(before);
        let moved = match self.registry.move_sandbox(&sandbox, to, now_ms()).await {
            Ok(moved) => moved,
            Err(e) => {
                // The write may have committed before it failed here.
                self.registry.linearize().await.ok();
                match manager.get(&sandbox.tenant_id, &sandbox.id) {
                    Ok(now) if now.home_node == to => now,
                    _ => return Err(failed("commit", e.message)),
                }
            }
        };
        if let Err(e) = self.registry.linearize().await {
            warn!(sandbox = %sandbox.id, error = %e, "cannot confirm the move locally yet");
        }
        drop(held);
        let pause = paused.elapsed();
        drop(gate);
        manager.forget_moved(&sandbox.id);
        info!(sandbox = %sandbox.id, to, version, "moved to its replica");
        let micros = |d: std::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Ok(Some(MoveReport {
            sandbox: moved,
            from_node: self.node_id,
            bytes_sent,
            delta_bytes: 0,
            pause_us: micros(pause),
            elapsed_us: micros(started.elapsed()),
        }))
    }
}
