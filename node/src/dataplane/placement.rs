//! Where a new sandbox goes. The client may name a node (`--on`) or labels
//! it must carry (`--where`); among the members that qualify — drained ones
//! never do — the one with the most free capacity comes first: free
//! sandbox slots and free memory against what each node reported
//! ([`NodeReport`]), the smaller of the two fractions, with the new
//! sandbox counted in. The load is read from the sandbox records (live =
//! created or active), so it is never stale. Ties: fewer live sandboxes,
//! then the receiving node (its upload need not travel), then by id. A
//! member that cannot be reached is skipped when the upload is routed.

use nexus_engine::ProfileTable;
use nexus_raft::replication::NodeId;
use nexus_raft::{NodeLoad, NodeReport};

use super::DataPlane;
use crate::cluster::RegistryHandle;
use crate::config::{matches, render, Labels};
use nexus_errors::{ErrorCode, UserError};

/// What a new sandbox asks of its home.
#[derive(Debug, Clone, Default)]
pub struct Demand {
    /// Labels the home must carry.
    pub selector: Labels,
    /// The guest memory of the sandbox's profile.
    pub memory_bytes: u64,
}

/// One qualifying member as placement weighs it.
#[derive(Debug, Clone, PartialEq)]
struct Candidate {
    id: NodeId,
    /// Free capacity after placing, parts per million.
    free_ppm: u64,
    live: u64,
}

impl DataPlane {
    /// The qualifying members in the order a new sandbox should try them;
    /// `PLACEMENT_NO_MATCH` when none carries the labels asked for.
    pub fn placement_order(
        &self,
        registry: &RegistryHandle,
        demand: &Demand,
        profiles: &ProfileTable,
    ) -> Result<Vec<NodeId>, UserError> {
        let mut members: Vec<NodeId> = self.members().into_iter().map(|(id, _)| id).collect();
        if !members.contains(&self.node_id) {
            members.push(self.node_id);
        }
        let (drained, reports, loads) =
            registry.read(|r| Ok((r.drained_nodes()?, r.node_reports()?, r.node_loads()?)))?;
        members.retain(|id| !drained.contains(id));
        let no_labels = Labels::new();
        let labels_of = |id: &NodeId| reports.get(id).map_or(&no_labels, |r| &r.labels);
        let qualifying: Vec<NodeId> = members
            .iter()
            .copied()
            .filter(|id| matches(labels_of(id), &demand.selector))
            .collect();
        if qualifying.is_empty() && !demand.selector.is_empty() {
            let seen: Vec<String> = members
                .iter()
                .map(|id| format!("node {id} {{{}}}", render(labels_of(id))))
                .collect();
            return Err(UserError::new(
                ErrorCode::PlacementNoMatch,
                format!(
                    "no available node has the labels {}: {}",
                    render(&demand.selector),
                    seen.join(", ")
                ),
            ));
        }
        let no_load = NodeLoad::default();
        let candidates = qualifying
            .into_iter()
            .map(|id| {
                let load = loads.get(&id).unwrap_or(&no_load);
                let reserved = load
                    .profiles
                    .iter()
                    .map(|(name, count)| profiles.resolve(name).memory_bytes.saturating_mul(*count))
                    .sum();
                Candidate {
                    id,
                    free_ppm: free_ppm(reports.get(&id), load.sandboxes, reserved, demand),
                    live: load.sandboxes,
                }
            })
            .collect();
        Ok(rank(candidates, self.node_id))
    }

    /// Refuses `node` as the home of a new or moved sandbox when it is
    /// drained (`NODE_DRAINED`) or lacks a label of `selector`
    /// (`PLACEMENT_NO_MATCH`).
    pub fn check_placeable(
        &self,
        registry: &RegistryHandle,
        node: NodeId,
        selector: &Labels,
    ) -> Result<(), UserError> {
        let (drained, report) =
            registry.read(|r| Ok((r.drained_nodes()?, r.node_report(node)?)))?;
        if drained.contains(&node) {
            return Err(UserError::new(
                ErrorCode::NodeDrained,
                format!("node {node} is drained: it takes no new sandboxes"),
            ));
        }
        check_labels(
            node,
            &report.map(|r| r.labels).unwrap_or_default(),
            selector,
        )
    }

    /// Whether `node` is a member (a sandbox may be placed there).
    pub fn is_member(&self, node: NodeId) -> bool {
        self.address_of(node).is_some() || node == self.node_id
    }
}

/// Refuses a node whose `labels` lack a pair of `selector`
/// (`PLACEMENT_NO_MATCH`).
pub fn check_labels(node: NodeId, labels: &Labels, selector: &Labels) -> Result<(), UserError> {
    if matches(labels, selector) {
        return Ok(());
    }
    Err(UserError::new(
        ErrorCode::PlacementNoMatch,
        format!(
            "node {node} does not have the labels {} (it has {{{}}})",
            render(selector),
            render(labels)
        ),
    ))
}

/// The free capacity a node has left once the new sandbox is placed on it,
/// in parts per million: the smaller of its free sandbox slots and its free
/// memory. A node that reported nothing (or 0) is not limited by that
/// measure.
fn free_ppm(report: Option<&NodeReport>, live: u64, reserved: u64, demand: &Demand) -> u64 {
    const WHOLE: u64 = 1_000_000;
    let fraction = |left: u64, total: u64| {
        if total == 0 {
            WHOLE
        } else {
            u64::try_from(u128::from(left) * u128::from(WHOLE) / u128::from(total)).unwrap_or(WHOLE)
        }
    };
    let (max, memory) = report.map_or((0, 0), |r| (r.max_sandboxes, r.memory_bytes));
    let by_count = fraction(max.saturating_sub(live.saturating_add(1)), max);
    let taken = reserved.saturating_add(demand.memory_bytes);
    let by_memory = fraction(memory.saturating_sub(taken), memory);
    by_count.min(by_memory)
}

/// Most free capacity first; then fewer live sandboxes, `here`, lower id.
fn rank(mut candidates: Vec<Candidate>, here: NodeId) -> Vec<NodeId> {
    candidates.sort_by_key(|c| (std::cmp::Reverse(c.free_ppm), c.live, c.id != here, c.id));
    candidates.into_iter().map(|c| c.id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(max_sandboxes: u64, memory_bytes: u64) -> NodeReport {
        NodeReport {
            labels: Labels::new(),
            memory_bytes,
            max_sandboxes,
        }
    }

    const MIB: u64 = 1 << 20;

    #[test]
    fn free_capacity_is_the_scarcer_of_slots_and_memory() {
        let demand = Demand {
            selector: Labels::new(),
            memory_bytes: 64 * MIB,
        };
        // 1 of 4 slots taken, the new one makes 2: half the slots free;
        // memory 64 of 1024 MiB taken, 128 with the new one.
        assert_eq!(
            free_ppm(Some(&report(4, 1024 * MIB)), 1, 64 * MIB, &demand),
            500_000
        );
        // Memory is the scarcer: 192 of 256 MiB taken with the new one.
        assert_eq!(
            free_ppm(Some(&report(100, 256 * MIB)), 1, 128 * MIB, &demand),
            250_000
        );
        // A full node has nothing left; one that reported nothing is open.
        assert_eq!(free_ppm(Some(&report(2, 0)), 2, 0, &demand), 0);
        assert_eq!(free_ppm(None, 50, 0, &demand), 1_000_000);
    }

    #[test]
    fn the_freest_node_comes_first_then_fewer_live_then_here_then_id() {
        let c = |id, free_ppm, live| Candidate { id, free_ppm, live };
        // Node 3 has fewer sandboxes but less room (a small node): it
        // comes after the larger, busier ones.
        let order = rank(
            vec![c(1, 990_000, 2), c(2, 990_000, 2), c(3, 500_000, 1)],
            2,
        );
        assert_eq!(order, vec![2, 1, 3]);
        let order = rank(
            vec![c(1, 700_000, 3), c(2, 700_000, 1), c(3, 900_000, 9)],
            1,
        );
        assert_eq!(order, vec![3, 2, 1]);
    }
}
