//! Failover, run by the leader: a home that renewed no lease for
//! `home_timeout` (see [`super::lease`]) loses each of its replicated
//! sandboxes to the replica holding the highest version, with the
//! sandbox's generation + 1 (`MoveSandbox`). The old home, when it comes
//! back, finds the sandbox homed elsewhere and drops its files.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nexus_raft::replication::NodeId;
use nexus_raft::{Sandbox, SandboxState};
use nexus_transport::Liveness;
use tracing::{info, warn};

use super::send::Body;
use super::Replicas;
use crate::clock::now_ms;
use crate::dataplane::replica_wire::{ReplicaOpen, ReplicaReply};

/// How often the leader looks for homes that stopped renewing.
const CHECK_EVERY: Duration = Duration::from_millis(50);
/// How often the leader tries again for a home that stays gone (its
/// sandboxes with no live replica wait for it; reading them every check
/// would cost a registry scan each time).
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// How long the leader waits for a replica to say which version it holds.
const VERSION_TIMEOUT: Duration = Duration::from_millis(500);

/// The leader's view of which homes are alive.
struct Watch {
    liveness: Arc<Liveness>,
    home_timeout: Duration,
    /// The term this node leads and since when (a new leader counts every
    /// home's silence from its own election).
    leading: Option<(u64, Instant)>,
    /// When the leader last failed each gone home over (one entry per
    /// member at most).
    tried: HashMap<NodeId, Instant>,
}

impl Watch {
    fn is_gone(&self, node: NodeId, since: Instant) -> bool {
        let heard = self
            .liveness
            .last_heard(node)
            .map_or(since, |h| h.max(since));
        heard.elapsed() > self.home_timeout
    }
}

impl Replicas {
    /// Fails over the sandboxes of homes that stopped renewing their lease
    /// while this node leads. Runs until the task is dropped.
    pub async fn fail_over_gone_homes(
        self: Arc<Self>,
        liveness: Arc<Liveness>,
        home_timeout: Duration,
    ) {
        let mut watch = Watch {
            liveness,
            home_timeout,
            leading: None,
            tried: HashMap::new(),
        };
        loop {
            tokio::time::sleep(CHECK_EVERY).await;
            let (leader, term) = {
                let metrics = self.raft.metrics();
                let metrics = metrics.borrow();
                (metrics.current_leader, metrics.current_term)
            };
            if leader != Some(self.node_id) {
                watch.leading = None;
                continue;
            }
            let since = match watch.leading {
                Some((t, since)) if t == term => since,
                _ => {
                    let now = Instant::now();
                    watch.leading = Some((term, now));
                    now
                }
            };
            let peers = self.dataplane.peers();
            let mut members = peers.clone();
            members.push(self.node_id);
            watch.liveness.retain(&members);
            let gone: Vec<NodeId> = peers
                .into_iter()
                .filter(|node| watch.is_gone(*node, since))
                .collect();
            watch
                .tried
                .retain(|node, at| gone.contains(node) && at.elapsed() < RETRY_EVERY);
            let due: Vec<NodeId> = gone
                .iter()
                .copied()
                .filter(|node| !watch.tried.contains_key(node))
                .collect();
            if due.is_empty() {
                continue;
            }
            for node in &due {
                watch.tried.insert(*node, Instant::now());
            }
            let alive = |node: NodeId| node == self.node_id || !watch.is_gone(node, since);
            self.fail_over(&due, &alive).await;
        }
    }

    /// Gives every replicated sandbox homed on a node of `gone` a new home.
    async fn fail_over(&self, gone: &[NodeId], alive: &(dyn Fn(NodeId) -> bool + Sync)) {
        let sandboxes = match self.registry.read(|r| r.all_sandboxes()) {
            Ok(all) => all,
            Err(e) => {
                warn!(error = %e.message, "failover cannot read the registry");
                return;
            }
        };
        let orphaned = sandboxes.into_iter().filter(|s| {
            gone.contains(&s.home_node)
                && !s.replicas.is_empty()
                && s.state != SandboxState::Deleted
        });
        for sandbox in orphaned {
            let Some((to, version)) = self.best_replica(&sandbox, alive).await else {
                continue;
            };
            match self.registry.move_sandbox(&sandbox, to, now_ms()).await {
                Ok(moved) => info!(
                    sandbox = %sandbox.id,
                    from = sandbox.home_node,
                    to,
                    version,
                    generation = moved.generation,
                    "failed over to a replica"
                ),
                Err(e) => {
                    warn!(sandbox = %sandbox.id, error = %e.message, "failover not committed")
                }
            }
        }
    }

    /// The live replica of `sandbox` holding the highest version (ties:
    /// the lowest node id), as the replicas themselves say.
    async fn best_replica(
        &self,
        sandbox: &Sandbox,
        alive: &(dyn Fn(NodeId) -> bool + Sync),
    ) -> Option<(NodeId, u64)> {
        let mut best: Option<(NodeId, u64)> = None;
        for replica in sandbox.replicas.iter().filter(|r| alive(r.node_id)) {
            let ask = ReplicaOpen::Version {
                sandbox_id: sandbox.id.clone(),
            };
            let reply = tokio::time::timeout(
                VERSION_TIMEOUT,
                self.send(replica.node_id, ask, Body::Empty),
            )
            .await;
            if let Ok(Ok(ReplicaReply::Holds { version })) = reply {
                if best.is_none_or(|(_, v)| version > v) {
                    best = Some((replica.node_id, version));
                }
            }
        }
        if best.is_none() {
            warn!(sandbox = %sandbox.id, "no replica answered; the sandbox waits for its home");
        }
        best
    }
}
