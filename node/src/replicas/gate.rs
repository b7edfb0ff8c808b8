//! After a call on a sandbox homed here: ship what it changed to every
//! replica and, in `sync` mode, release the response only once a replica
//! holds the change (the output gate). A replica that did not take it is
//! dropped from the sandbox's replica set before the response goes, so a
//! failover can only pick a replica that holds every acknowledged change.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nexus_errors::{ErrorCode, UserError};
use nexus_raft::replication::NodeId;
use nexus_raft::{Durability, Sandbox};
use tracing::{info, warn};

use super::send::Body;
use super::ship::{self, Base, Pending, Shipment};
use super::Replicas;
use crate::clock::now_ms;
use crate::dataplane::replica_wire::{ReplicaOpen, ReplicaReply, Target};
use crate::sandbox::{blocking, wal};

/// How many times a whole copy is retaken while the workbook changes under it.
const SNAPSHOT_ATTEMPTS: u32 = 5;

impl Replicas {
    /// The durability mode `sandbox` runs under.
    pub fn durability_of(&self, sandbox: &Sandbox) -> Durability {
        sandbox.durability.unwrap_or(self.config.durability)
    }

    /// Refuses to act for a replicated sandbox while this node's home
    /// lease does not hold (see [`super::lease`]): another node may be
    /// taking it over.
    pub fn check_lease(&self, sandbox: &Sandbox) -> Result<(), UserError> {
        if sandbox.replicas.is_empty() || self.lease.holds() {
            return Ok(());
        }
        Err(UserError::new(
            ErrorCode::SandboxHomeFenced,
            format!(
                "node {} cannot confirm it still homes sandbox {}: it lost contact with the \
                 cluster's majority",
                self.node_id, sandbox.id
            ),
        ))
    }

    /// Ships what the last call changed in `sandbox`'s live file (at
    /// `live`) to its replicas. `sync`: returns once a replica holds it
    /// (or every replica that did not was dropped from the set), and only
    /// while the home lease holds; `async`: at once, the shipment goes on
    /// in the background.
    pub async fn after_call(
        self: &Arc<Self>,
        sandbox: &Sandbox,
        live: PathBuf,
    ) -> Result<(), UserError> {
        if sandbox.replicas.is_empty() {
            return Ok(());
        }
        let targets: Vec<NodeId> = sandbox.replicas.iter().map(|r| r.node_id).collect();
        match self.durability_of(sandbox) {
            Durability::Sync => {
                let (_, failed) = self.ship(sandbox, &live, &targets).await?;
                if !failed.is_empty() {
                    self.drop_failed(sandbox, failed).await?;
                }
                self.check_lease(sandbox)
            }
            Durability::Async => {
                let (me, shipped) = (self.clone(), sandbox.clone());
                tokio::spawn(async move {
                    match me.ship(&shipped, &live, &targets).await {
                        Ok((_, failed)) if !failed.is_empty() => {
                            if let Err(e) = me.drop_failed(&shipped, failed).await {
                                warn!(sandbox = %shipped.id, error = %e.message, "async shipment: replica set not updated");
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            warn!(sandbox = %shipped.id, error = %e.message, "async shipment failed")
                        }
                    }
                });
                self.check_lease(sandbox)
            }
        }
    }

    /// Seeds `node` with `sandbox`'s state (its file at `file`) as a new
    /// replica; returns the version it holds. The registered replicas get
    /// what is pending first; the copy is taken while nothing is pending
    /// and sent without holding up the sandbox's calls.
    pub(super) async fn seed_new(
        self: &Arc<Self>,
        sandbox: &Sandbox,
        file: &Path,
        node: NodeId,
    ) -> Result<u64, UserError> {
        let registered: Vec<NodeId> = sandbox.replicas.iter().map(|r| r.node_id).collect();
        let (_, failed) = self.ship(sandbox, file, &registered).await?;
        if !failed.is_empty() {
            self.drop_failed(sandbox, failed).await?;
        }
        let shipment = self.shipment(sandbox);
        let (open, body) = {
            let mut state = shipment.lock().await;
            let (base, path) = (state.base.clone(), file.to_path_buf());
            let pending =
                blocking(move || ship::pending(&path, &base).map_err(|e| internal(&e))).await?;
            let to = self.copies.outgoing_path(&sandbox.id, "seed");
            match pending {
                // The copy is the version the registered replicas hold.
                Pending::Nothing => {
                    let (copy, base) = self.take_copy(file, &to).await?;
                    if base != state.base {
                        copy.discard();
                        return Err(internal(&"the workbook changed while it was copied"));
                    }
                    copy.seed(self.target(sandbox), state.version)
                }
                // No replica to keep in step: the copy is the next version.
                _ if registered.is_empty() => {
                    let (copy, base) = self.take_copy(file, &to).await?;
                    state.version += 1;
                    state.base = base;
                    state.progress.clear();
                    copy.seed(self.target(sandbox), state.version)
                }
                _ => {
                    return Err(internal(
                        &"the workbook changed while the seed was prepared",
                    ))
                }
            }
        };
        let version = match &open {
            ReplicaOpen::Seed { version, .. } => *version,
            _ => return Err(internal(&"a seed that is not one")),
        };
        let reply = tokio::select! {
            reply = self.send(node, open, body.clone()) => reply,
            () = self.dataplane.moves().until_moving(&sandbox.id) => {
                Err(format!("a move of sandbox {} began; the seed to node {node} stopped", sandbox.id))
            }
        };
        body.discard();
        match reply {
            Ok(ReplicaReply::Holds { version: held }) if held == version => {
                let mut state = shipment.lock().await;
                let progress = state.progress.entry(node).or_default();
                progress.acked = Some(version);
                progress.bytes += body.len();
                progress.error = None;
                Ok(version)
            }
            Ok(other) => Err(internal(&format!("node {node} answered {other:?}"))),
            Err(e) => Err(internal(&e)),
        }
    }

    /// The shipping state of `sandbox` (made on first use, starting after
    /// the highest version its replicas confirmed).
    fn shipment(&self, sandbox: &Sandbox) -> Arc<tokio::sync::Mutex<Shipment>> {
        let mut all = self.shipments.lock().unwrap_or_else(|p| p.into_inner());
        all.entry(sandbox.id.clone())
            .or_insert_with(|| {
                let confirmed = sandbox.replicas.iter().map(|r| r.version).max();
                let mut shipment = Shipment::new(confirmed.unwrap_or(0));
                // A copy this node was promoted from: its version and the
                // file as it was placed are where shipping goes on.
                if let Some(promoted) = self.copies.take_promoted(&sandbox.id) {
                    shipment.version = shipment.version.max(promoted.version);
                    shipment.base = Base::Rest {
                        len: promoted.len,
                        modified: promoted.modified,
                        spent: None,
                    };
                }
                Arc::new(tokio::sync::Mutex::new(shipment))
            })
            .clone()
    }

    /// Forgets a sandbox's shipping state (it left this node).
    pub fn forget(&self, sandbox_id: &str) {
        self.shipments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(sandbox_id);
    }

    /// Brings every node of `targets` to the state of `sandbox`'s file at
    /// `file`: the change since the last shipment to those holding the
    /// last version, a whole copy to the others (to all of them when the
    /// last shipment's end is not known). Returns the version shipped and
    /// the targets that did not take it, with why.
    pub(super) async fn ship(
        self: &Arc<Self>,
        sandbox: &Sandbox,
        file: &Path,
        targets: &[NodeId],
    ) -> Result<(u64, Vec<(NodeId, String)>), UserError> {
        if targets.is_empty() {
            return Ok((0, Vec::new()));
        }
        let shipment = self.shipment(sandbox);
        let mut state = shipment.lock().await;
        let shipped = self.ship_locked(&mut state, sandbox, file, targets).await?;
        self.checkpoint_shipped(&mut state, sandbox, file, wal::CHECKPOINT_BYTES)
            .await;
        Ok(shipped)
    }

    /// Checkpoints `sandbox`'s live file at `live` if its WAL holds only
    /// what was shipped, before a suspend brings it to rest (closing it would
    /// checkpoint it behind the shipper's back).
    pub async fn settle(self: &Arc<Self>, sandbox: &Sandbox, live: PathBuf) {
        let shipment = self.shipment(sandbox);
        let mut state = shipment.lock().await;
        self.checkpoint_shipped(&mut state, sandbox, &live, 1).await;
    }

    /// Checkpoints the live file at `file` once its WAL holds `at_least`
    /// shipped bytes, if everything in it was shipped: the replicas' copies
    /// are then the main file, and the next change starts a new WAL.
    async fn checkpoint_shipped(
        &self,
        state: &mut Shipment,
        sandbox: &Sandbox,
        file: &Path,
        at_least: u64,
    ) {
        if ship::shipped_wal_bytes(&state.base) < at_least {
            return;
        }
        let (base, path) = (state.base.clone(), file.to_path_buf());
        match blocking(move || ship::checkpoint_shipped(&path, &base).map_err(|e| internal(&e)))
            .await
        {
            Ok(base) => state.base = base,
            Err(e) => {
                warn!(sandbox = %sandbox.id, error = %e.message, "WAL checkpoint after a shipment failed")
            }
        }
    }

    /// [`Replicas::ship`] with the sandbox's shipping state locked.
    async fn ship_locked(
        self: &Arc<Self>,
        state: &mut Shipment,
        sandbox: &Sandbox,
        file: &Path,
        targets: &[NodeId],
    ) -> Result<(u64, Vec<(NodeId, String)>), UserError> {
        let (base, path) = (state.base.clone(), file.to_path_buf());
        let pending =
            blocking(move || ship::pending(&path, &base).map_err(|e| internal(&e))).await?;
        let current = state.version;
        let behind: Vec<NodeId> = targets
            .iter()
            .copied()
            .filter(|n| state.progress.get(n).and_then(|p| p.acked) != Some(current))
            .collect();
        let target = self.target(sandbox);
        let copy_to = self.copies.outgoing_path(&sandbox.id, "ship");
        // (version, change for `fresh`, copy for `copied`, base after)
        let mut plan = match pending {
            Pending::Nothing if behind.is_empty() => return Ok((current, Vec::new())),
            Pending::Nothing => Plan::at(current, state.base.clone()),
            Pending::Change(change, cursor) => {
                let bytes = change.encode(current + 1).map_err(|e| internal(&e))?;
                let open = ReplicaOpen::Change {
                    target: target.clone(),
                    base: current,
                    version: current + 1,
                    len: bytes.len() as u64,
                };
                let mut plan = Plan::at(current + 1, Base::Wal(cursor));
                plan.change = Some((open, Body::Bytes(Arc::new(bytes))));
                plan
            }
            Pending::Copy => Plan::at(current + 1, Base::Unknown),
        };
        let mut copied = behind;
        if plan.change.is_none() && plan.version > current {
            copied = targets.to_vec();
        }
        if !copied.is_empty() {
            let (copy, base) = self.take_copy(file, &copy_to).await?;
            if plan.base != base {
                // Something committed after the change was read (or the
                // base was unknown): the copy is the newer state, for all.
                plan = Plan::at(current + 1, base);
                copied = targets.to_vec();
            }
            plan.copy = Some(copy.seed(target, plan.version));
        }
        let mut sends = tokio::task::JoinSet::new();
        for node in targets.iter().copied() {
            let what = if copied.contains(&node) {
                plan.copy.clone()
            } else {
                plan.change.clone()
            };
            let Some((open, body)) = what else {
                continue;
            };
            let me = self.clone();
            sends.spawn(async move {
                let len = body.len();
                (node, len, me.send(node, open, body).await)
            });
        }
        let mut replies = Vec::with_capacity(targets.len());
        while let Some(joined) = sends.join_next().await {
            if let Ok(reply) = joined {
                replies.push(reply);
            }
        }
        if let Some((_, body)) = &plan.copy {
            body.discard();
        }
        state.version = plan.version;
        state.base = plan.base;
        let mut failed = Vec::new();
        for (node, len, reply) in replies {
            let progress = state.progress.entry(node).or_default();
            match reply {
                Ok(ReplicaReply::Holds { version }) if version == plan.version => {
                    progress.acked = Some(version);
                    progress.bytes += len;
                    progress.error = None;
                }
                other => {
                    let reason = match other {
                        Ok(reply) => format!("{reply:?}"),
                        Err(e) => e,
                    };
                    progress.acked = None;
                    progress.error = Some(reason.clone());
                    failed.push((node, reason));
                }
            }
        }
        Ok((plan.version, failed))
    }

    /// A whole copy of `sandbox`'s file at `file`, written to `to`, and
    /// the base shipping continues from after it.
    async fn take_copy(&self, file: &Path, to: &Path) -> Result<(Copy, Base), UserError> {
        let (from, to) = (file.to_path_buf(), to.to_path_buf());
        blocking(move || {
            let base = ship::snapshot(&from, &to, SNAPSHOT_ATTEMPTS).map_err(|e| internal(&e))?;
            let (sha256, len) = ship::file_sha256(&to).map_err(|e| internal(&e))?;
            let copy = Copy {
                path: to.into(),
                len,
                sha256,
            };
            Ok((copy, base))
        })
        .await
    }

    /// Takes the replicas that did not hold a change out of the set before
    /// the response goes; if that write fails, the call's response cannot
    /// go either.
    pub(super) async fn drop_failed(
        &self,
        sandbox: &Sandbox,
        failed: Vec<(NodeId, String)>,
    ) -> Result<(), UserError> {
        for (node, reason) in &failed {
            warn!(sandbox = %sandbox.id, node, reason, "replica did not take a change; dropping it");
        }
        let current = self
            .registry
            .read(|r| r.sandbox(&sandbox.tenant_id, &sandbox.id))?;
        let Some(current) = current else {
            return Ok(());
        };
        let keep = current
            .replicas
            .iter()
            .filter(|r| !failed.iter().any(|(node, _)| *node == r.node_id))
            .copied()
            .collect::<Vec<_>>();
        if keep.len() == current.replicas.len() {
            return Ok(());
        }
        self.registry
            .set_replicas(&current, keep, now_ms())
            .await
            .map_err(|e| {
                UserError::new(
                    ErrorCode::ReplicationUnavailable,
                    format!(
                        "sandbox {}: no replica took the call's change and the set could not be \
                         updated: {}",
                        sandbox.id, e.message
                    ),
                )
            })?;
        info!(sandbox = %sandbox.id, dropped = failed.len(), "replica set shrunk");
        Ok(())
    }

    /// The head fields naming `sandbox` as its home sees it now.
    pub(super) fn target(&self, sandbox: &Sandbox) -> Target {
        Target {
            sandbox_id: sandbox.id.clone(),
            tenant_id: sandbox.tenant_id.clone(),
            applied: self.dataplane.applied(),
        }
    }
}

/// What one shipment sends: its version, the change for the replicas that
/// hold the version before it, the copy for the others, and where shipping
/// goes on after it.
struct Plan {
    version: u64,
    change: Option<(ReplicaOpen, Body)>,
    copy: Option<(ReplicaOpen, Body)>,
    base: Base,
}

impl Plan {
    fn at(version: u64, base: Base) -> Plan {
        Plan {
            version,
            change: None,
            copy: None,
            base,
        }
    }
}

/// A whole copy of a workbook, staged to be sent.
struct Copy {
    path: Arc<Path>,
    len: u64,
    sha256: String,
}

impl Copy {
    /// The seed stream opening and body that send it as `version`.
    fn seed(self, target: Target, version: u64) -> (ReplicaOpen, Body) {
        let open = ReplicaOpen::Seed {
            target,
            version,
            len: self.len,
            sha256: self.sha256,
        };
        (open, Body::File(self.path))
    }

    fn discard(self) {
        let _ = std::fs::remove_file(&*self.path);
    }
}

fn internal(e: &dyn std::fmt::Display) -> UserError {
    UserError::new(ErrorCode::Internal, format!("replication: {e}"))
}
