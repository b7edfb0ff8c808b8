//! The home keeps each of its sandboxes at its replication factor: where a
//! replica is missing (a new sandbox, a replica dropped or on a node that
//! left) it seeds a copy on another member and records it; replicas beyond
//! the factor, or on nodes no longer members, leave the set.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use nexus_errors::UserError;
use nexus_raft::replication::NodeId;
use nexus_raft::{NodeReport, Replica, Sandbox, SandboxState};
use tracing::{info, warn};

use super::send::Body;
use super::Replicas;
use crate::clock::now_ms;
use crate::dataplane::replica_wire::ReplicaOpen;

/// How long a copy seeded here may wait for its home to record it.
const SEED_GRACE: Duration = Duration::from_secs(60);

/// How long a candidate for a new replica has to answer.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// The label replicas are spread over when nodes carry it.
const SPREAD_LABEL: &str = "zone";

/// What the keeper reads once per pass.
struct Cluster {
    /// Every other member, by id.
    peers: Vec<NodeId>,
    drained: Vec<NodeId>,
    reports: BTreeMap<NodeId, NodeReport>,
    /// How many replicas each node holds.
    held: BTreeMap<NodeId, usize>,
}

impl Replicas {
    /// How many copies `sandbox` should have (home included), given
    /// `members` nodes in the cluster.
    pub fn factor_of(&self, sandbox: &Sandbox, members: usize) -> usize {
        let asked = sandbox.replication_factor.unwrap_or(self.config.factor) as usize;
        asked.min(members).max(1)
    }

    /// How many of `sandboxes` have fewer replicas than their factor asks,
    /// in a cluster of `members` nodes.
    pub fn below_factor(&self, sandboxes: &[Sandbox], members: usize) -> u64 {
        let below = sandboxes.iter().filter(|s| {
            s.state != SandboxState::Deleted && s.replicas.len() + 1 < self.factor_of(s, members)
        });
        below.count() as u64
    }

    /// Runs [`Replicas::keep_pass`] every `keep_interval` until the task
    /// is dropped.
    pub async fn keep_factors(self: Arc<Self>) {
        loop {
            tokio::time::sleep(self.config.keep_interval()).await;
            if let Err(e) = self.keep_pass().await {
                warn!(error = %e.message, "replica keeper pass failed");
            }
        }
    }

    /// One pass over the sandboxes homed here.
    pub async fn keep_pass(self: &Arc<Self>) -> Result<(), UserError> {
        if !self.lease.holds() {
            return Ok(());
        }
        let node_id = self.node_id;
        let (all, drained, reports) = self
            .registry
            .read(|r| Ok((r.all_sandboxes()?, r.drained_nodes()?, r.node_reports()?)))?;
        let mut held = BTreeMap::new();
        for replica in all.iter().flat_map(|s| &s.replicas) {
            *held.entry(replica.node_id).or_insert(0) += 1;
        }
        self.prune_copies(&all);
        let cluster = Cluster {
            peers: self.dataplane.peers(),
            drained,
            reports,
            held,
        };
        let mine = all
            .into_iter()
            .filter(|s| s.home_node == node_id && s.state != SandboxState::Deleted);
        for sandbox in mine {
            self.keep_one(&sandbox, &cluster).await;
        }
        Ok(())
    }

    async fn keep_one(self: &Arc<Self>, sandbox: &Sandbox, cluster: &Cluster) {
        // A move takes the sandbox's state with it (and stops a seed of it
        // in flight); its new home keeps the factor from there.
        let moving = || self.dataplane.moves().is_moving(&sandbox.id);
        if moving() {
            return;
        }
        let want = self.factor_of(sandbox, cluster.peers.len() + 1) - 1;
        let mut set: Vec<Replica> = sandbox
            .replicas
            .iter()
            .filter(|r| cluster.peers.contains(&r.node_id))
            .copied()
            .collect();
        set.truncate(want);
        if set.len() < want {
            let Some(file) = self.file_of(sandbox) else {
                return;
            };
            for node in self.candidates(sandbox, &set, cluster) {
                if moving() {
                    return;
                }
                if set.len() >= want {
                    break;
                }
                if !self.answers(node, &sandbox.id).await {
                    continue;
                }
                match self.seed_new(sandbox, &file, node).await {
                    Ok(version) => set.push(Replica {
                        node_id: node,
                        version,
                    }),
                    Err(e) => {
                        warn!(sandbox = %sandbox.id, node, error = %e.message, "cannot seed a replica")
                    }
                }
            }
        }
        set.sort_by_key(|r| r.node_id);
        if set == sandbox.replicas {
            self.flush(sandbox).await;
            return;
        }
        let fresh = match self
            .registry
            .read(|r| r.sandbox(&sandbox.tenant_id, &sandbox.id))
        {
            Ok(Some(fresh)) if fresh.home_node == self.node_id => fresh,
            _ => return,
        };
        match self
            .registry
            .set_replicas(&fresh, set.clone(), now_ms())
            .await
        {
            Ok(_) => info!(
                sandbox = %sandbox.id,
                replicas = ?set.iter().map(|r| r.node_id).collect::<Vec<_>>(),
                "replica set recorded"
            ),
            Err(e) => warn!(sandbox = %sandbox.id, error = %e.message, "replica set not recorded"),
        }
    }

    /// Whether `node` answers a replica stream within [`PROBE_TIMEOUT`] (a
    /// dead candidate is passed over without holding anything up).
    async fn answers(&self, node: NodeId, sandbox_id: &str) -> bool {
        let ask = ReplicaOpen::Version {
            sandbox_id: sandbox_id.to_owned(),
        };
        let reply = tokio::time::timeout(PROBE_TIMEOUT, self.send(node, ask, Body::Empty)).await;
        matches!(reply, Ok(Ok(_)))
    }

    /// Ships what changed outside calls (schedules, kernels, an `async`
    /// shipment that failed) and catches up replicas that fell behind.
    async fn flush(self: &Arc<Self>, sandbox: &Sandbox) {
        // Without replicas (factor 1, a one-node cluster) there is nothing
        // to ship: no file lookups, two `stat`s per sandbox per pass.
        let targets: Vec<NodeId> = sandbox.replicas.iter().map(|r| r.node_id).collect();
        if targets.is_empty() {
            return;
        }
        let Some(file) = self.file_of(sandbox) else {
            return;
        };
        match self.ship(sandbox, &file, &targets).await {
            Ok((_, failed)) if !failed.is_empty() => {
                if let Err(e) = self.drop_failed(sandbox, failed).await {
                    warn!(sandbox = %sandbox.id, error = %e.message, "replica set not updated");
                }
            }
            Ok(_) => {}
            Err(e) => warn!(sandbox = %sandbox.id, error = %e.message, "shipment failed"),
        }
    }

    /// Deletes the copies this node keeps for sandboxes that are gone, or
    /// whose set no longer names this node (a copy seeded less than
    /// [`SEED_GRACE`] ago may not be recorded yet, and stays).
    fn prune_copies(&self, all: &[Sandbox]) {
        let held = self.copies.list();
        for id in unkept(held.iter().map(|(id, _)| id.as_str()), all, self.node_id) {
            if self.copies.younger_than(id, SEED_GRACE) {
                continue;
            }
            self.copies.remove(id);
            info!(sandbox = %id, "replica copy dropped: this node no longer keeps one");
        }
    }

    /// The members that may take a new replica of `sandbox`, best first:
    /// not its home, not in `set`, not drained; nodes in a `zone` none of
    /// its copies is in first, then those holding fewer replicas.
    fn candidates(&self, sandbox: &Sandbox, set: &[Replica], cluster: &Cluster) -> Vec<NodeId> {
        let zone = |node: NodeId| {
            cluster
                .reports
                .get(&node)
                .and_then(|r| r.labels.get(SPREAD_LABEL).cloned())
        };
        let used: BTreeSet<Option<String>> = set
            .iter()
            .map(|r| zone(r.node_id))
            .chain([zone(self.node_id)])
            .filter(Option::is_some)
            .collect();
        let mut out: Vec<NodeId> = cluster
            .peers
            .iter()
            .copied()
            .filter(|n| {
                *n != sandbox.home_node
                    && !set.iter().any(|r| r.node_id == *n)
                    && !cluster.drained.contains(n)
            })
            .collect();
        out.sort_by_key(|n| {
            let zone = zone(*n);
            let shared = zone.is_some() && used.contains(&zone);
            (shared, cluster.held.get(n).copied().unwrap_or(0), *n)
        });
        out
    }

    /// The file holding `sandbox`'s state on its home: the live file, or
    /// the cold copy of a frozen or archived one.
    pub(super) fn file_of(&self, sandbox: &Sandbox) -> Option<PathBuf> {
        let live = self.sandboxes_dir.join(format!("{}.workbook", sandbox.id));
        let cold = self.cold_dir.join(format!("{}.workbook", sandbox.id));
        [live, cold].into_iter().find(|p| p.exists())
    }
}

/// Of the copies `held` on `node`, those no sandbox in `all` keeps there:
/// the sandbox is gone, or neither homed on `node` nor naming it among its
/// replicas. One pass with a map by id: a node may hold thousands of copies
/// in a registry of thousands of sandboxes, checked every keeper pass.
fn unkept<'a>(
    held: impl IntoIterator<Item = &'a str>,
    all: &[Sandbox],
    node: NodeId,
) -> Vec<&'a str> {
    let by_id: HashMap<&str, &Sandbox> = all.iter().map(|s| (s.id.as_str(), s)).collect();
    held.into_iter()
        .filter(|id| {
            !by_id.get(id).is_some_and(|s| {
                s.home_node == node || s.replicas.iter().any(|r| r.node_id == node)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox(id: &str, home_node: NodeId, replicas: &[NodeId]) -> Sandbox {
        Sandbox {
            id: id.to_owned(),
            tenant_id: "t".to_owned(),
            name: id.to_owned(),
            profile: "default".to_owned(),
            workbook_sha256: String::new(),
            home_node,
            state: SandboxState::Active,
            generation: 1,
            created_at_ms: 0,
            updated_at_ms: 0,
            replicas: replicas
                .iter()
                .map(|&node_id| Replica {
                    node_id,
                    version: 1,
                })
                .collect(),
            replication_factor: None,
            durability: None,
        }
    }

    #[test]
    fn copies_of_sandboxes_gone_or_kept_elsewhere_are_unkept() {
        let all = [
            sandbox("kept", 1, &[2]),
            sandbox("moved-away", 1, &[3]),
            sandbox("homed-here", 2, &[]),
        ];
        let held = ["gone", "homed-here", "kept", "moved-away"];
        assert_eq!(unkept(held, &all, 2), ["gone", "moved-away"]);
        assert_eq!(
            unkept(held, &[], 2),
            ["gone", "homed-here", "kept", "moved-away"]
        );
        assert!(unkept([], &all, 2).is_empty());
    }
}
