//! Draining a node: it is marked drained in the registry (placement passes
//! it over, moves to it are refused), then every sandbox it homes is moved
//! — to a member keeping one of its replicas when placement allows one, so
//! no file is copied, else to the member placement picks — one at a time,
//! each move reported as it ends. Runs on the node being drained, which
//! homes the sandboxes.

use std::future::Future;

use nexus_raft::replication::NodeId;
use nexus_raft::Sandbox;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::migrate::MoveReport;
use super::{DataPlane, Demand};
use crate::clock::now_ms;
use crate::cluster::RegistryHandle;
use crate::config::Labels;
use crate::sandbox::SandboxManager;
use nexus_errors::{ErrorCode, UserError};

/// One step of a drain, streamed to the client as a JSON line.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DrainEvent {
    /// The node is drained; `sandboxes` are to move.
    Started {
        /// The node drained.
        node: u64,
        /// How many sandboxes it homes.
        sandboxes: usize,
    },
    /// A sandbox moved.
    Moved {
        /// The sandbox.
        sandbox: String,
        /// Its new home.
        to: u64,
        /// How long its calls were held, in microseconds.
        pause_us: u64,
        /// Bytes sent (0 or little for a move to one of its replicas).
        #[serde(default)]
        bytes_sent: u64,
    },
    /// A sandbox could not be moved; it stays, serving, on the drained node.
    Failed {
        /// The sandbox.
        sandbox: String,
        /// The error's code.
        code: String,
        /// What failed.
        message: String,
    },
    /// Every sandbox was tried.
    Done {
        /// How many moved.
        moved: usize,
        /// How many stayed.
        failed: usize,
    },
}

/// Drains this node, moving each sandbox with `mover` — the API's move (to
/// the replica there when the node keeps one, else by copying its files) —
/// and sending each step to `events` (a client that went away does not
/// stop the drain).
pub async fn drain<Moved>(
    plane: &DataPlane,
    manager: &SandboxManager,
    registry: &RegistryHandle,
    mover: impl Fn(Sandbox, NodeId) -> Moved,
    events: mpsc::Sender<DrainEvent>,
) -> Result<(), UserError>
where
    Moved: Future<Output = Result<MoveReport, UserError>>,
{
    registry
        .set_node_drained(plane.node_id, true, now_ms())
        .await?;
    let sandboxes = manager.local_sandboxes()?;
    let _ = events
        .send(DrainEvent::Started {
            node: plane.node_id,
            sandboxes: sandboxes.len(),
        })
        .await;
    let (mut moved, mut failed) = (0, 0);
    for sandbox in sandboxes {
        let outcome = match destination(plane, manager, registry, &sandbox).await {
            Ok((sandbox, to)) => mover(sandbox, to).await,
            Err(e) => Err(e),
        };
        let event = match outcome {
            Ok(report) => {
                moved += 1;
                DrainEvent::Moved {
                    sandbox: sandbox.id.clone(),
                    to: report.sandbox.home_node,
                    pause_us: report.pause_us,
                    bytes_sent: report.bytes_sent,
                }
            }
            Err(e) => {
                failed += 1;
                DrainEvent::Failed {
                    sandbox: sandbox.id.clone(),
                    code: e.code.as_str().to_owned(),
                    message: e.message,
                }
            }
        };
        let _ = events.send(event).await;
    }
    let _ = events.send(DrainEvent::Done { moved, failed }).await;
    Ok(())
}

/// Where one sandbox goes (as the registry has it now): the first member
/// placement picks that keeps one of its replicas, else the first it picks.
async fn destination(
    plane: &DataPlane,
    manager: &SandboxManager,
    registry: &RegistryHandle,
    sandbox: &Sandbox,
) -> Result<(Sandbox, NodeId), UserError> {
    registry.linearize().await?;
    let sandbox = manager.hosted(&sandbox.tenant_id, &sandbox.id)?;
    let profiles = manager.profiles();
    let demand = Demand {
        selector: Labels::new(),
        memory_bytes: profiles.resolve(&sandbox.profile).memory_bytes,
    };
    let order: Vec<NodeId> = plane
        .placement_order(registry, &demand, profiles)?
        .into_iter()
        .filter(|node| *node != plane.node_id)
        .collect();
    let keeps_replica = |node: &NodeId| sandbox.replicas.iter().any(|r| r.node_id == *node);
    let to = order
        .iter()
        .copied()
        .find(keeps_replica)
        .or_else(|| order.first().copied())
        .ok_or_else(|| {
            UserError::new(
                ErrorCode::NodeDrained,
                format!(
                    "sandbox {} has nowhere to go: every other member is drained",
                    sandbox.id
                ),
            )
        })?;
    Ok((sandbox, to))
}
