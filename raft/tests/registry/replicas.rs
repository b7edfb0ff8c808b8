//! Replica sets: fenced by the generation without advancing it, checked,
//! left by a node that becomes the home, and forgotten with removed nodes
//! and sandboxes.

use nexus_raft::{Durability, Replica};

use super::*;

fn replica(node_id: u64, version: u64) -> Replica {
    Replica { node_id, version }
}

fn set(expected_generation: u64, replicas: Vec<Replica>) -> Command {
    Command::SetReplicas {
        sandbox_id: "sb".into(),
        tenant_id: "t1".into(),
        expected_generation,
        replicas,
        at_ms: 500,
    }
}

/// Tenant `t1` with sandbox `sb` homed on node 7 (generation 0).
fn docked() -> Registry {
    let mut reg = fresh();
    setup_tenant(&mut reg, "t1", "acme");
    setup_sandbox(&mut reg, "sb", "t1", "box");
    reg
}

fn refusal(reg: &mut Registry, cmd: &Command) -> String {
    let before = reg.sandbox("t1", "sb").unwrap();
    let err = reg.apply(cmd).unwrap_err();
    assert!(err.is_refusal(), "{err:?}");
    assert_eq!(reg.sandbox("t1", "sb").unwrap(), before, "a refusal wrote");
    err.to_string()
}

#[test]
fn a_replica_set_is_stored_by_node_without_moving_the_generation() {
    let mut reg = docked();
    let after = match ok(&mut reg, &set(0, vec![replica(9, 4), replica(3, 0)])) {
        Response::ReplicasSet(sandbox) => sandbox,
        other => panic!("expected ReplicasSet, got {other:?}"),
    };
    assert_eq!(after.replicas, vec![replica(3, 0), replica(9, 4)]);
    assert_eq!(after.generation, 0);
    assert_eq!(reg.sandbox("t1", "sb").unwrap().unwrap(), after);
    assert_eq!(reg.all_sandboxes().unwrap(), vec![after.clone()]);
    // A whole new set replaces the old one.
    ok(&mut reg, &set(0, vec![replica(3, 12)]));
    let now = reg.sandbox("t1", "sb").unwrap().unwrap();
    assert_eq!(now.replicas, vec![replica(3, 12)]);
}

#[test]
fn a_bad_replica_set_is_refused_with_its_reason() {
    let mut reg = docked();
    ok(
        &mut reg,
        &transition("sb", "t1", SandboxState::Active, 0, 200),
    );
    assert_eq!(
        refusal(&mut reg, &set(0, vec![replica(3, 0)])),
        "sandbox sb: stale generation 0, current is 1"
    );
    assert_eq!(
        refusal(&mut reg, &set(1, vec![replica(7, 0)])),
        "invalid replica set for sandbox sb: node 7 is the sandbox's home, not a replica"
    );
    assert_eq!(
        refusal(&mut reg, &set(1, vec![replica(3, 0), replica(3, 1)])),
        "invalid replica set for sandbox sb: node 3 is named twice"
    );
    let eight = (1..=9).filter(|n| *n != 7).map(|n| replica(n, 0)).collect();
    assert_eq!(
        refusal(&mut reg, &set(1, eight)),
        "invalid replica set for sandbox sb: 8 replicas named, at most 7 allowed"
    );
    ok(
        &mut reg,
        &Command::RemoveNode {
            node_id: 4,
            at_ms: 300,
        },
    );
    assert_eq!(
        refusal(&mut reg, &set(1, vec![replica(4, 0)])),
        "invalid replica set for sandbox sb: node 4 was removed from the cluster"
    );
}

#[test]
fn the_new_home_leaves_the_set_and_a_removed_node_leaves_every_set() {
    let mut reg = docked();
    setup_sandbox(&mut reg, "other", "t1", "second");
    ok(&mut reg, &set(0, vec![replica(2, 5), replica(3, 6)]));
    ok(
        &mut reg,
        &Command::SetReplicas {
            sandbox_id: "other".into(),
            tenant_id: "t1".into(),
            expected_generation: 0,
            replicas: vec![replica(2, 1)],
            at_ms: 500,
        },
    );
    // A failover (or a move) to replica 3: node 3 is the home now, node 2
    // stays a replica, the old home (7) is not one.
    let moved = match ok(
        &mut reg,
        &Command::MoveSandbox {
            sandbox_id: "sb".into(),
            tenant_id: "t1".into(),
            to_node: 3,
            expected_generation: 0,
            at_ms: 600,
        },
    ) {
        Response::SandboxMoved(sandbox) => sandbox,
        other => panic!("expected SandboxMoved, got {other:?}"),
    };
    assert_eq!((moved.home_node, moved.generation), (3, 1));
    assert_eq!(moved.replicas, vec![replica(2, 5)]);
    assert_eq!(reg.sandbox("t1", "sb").unwrap().unwrap(), moved);
    // Node 2 is removed: it leaves both sets.
    ok(
        &mut reg,
        &Command::RemoveNode {
            node_id: 2,
            at_ms: 700,
        },
    );
    for id in ["sb", "other"] {
        let sandbox = reg.sandbox("t1", id).unwrap().unwrap();
        assert_eq!(sandbox.replicas, vec![], "{id}");
    }
}

#[test]
fn a_removed_sandbox_takes_its_replicas_with_it() {
    let mut reg = docked();
    ok(&mut reg, &set(0, vec![replica(2, 5)]));
    ok(&mut reg, &remove("sb", "t1"));
    setup_sandbox(&mut reg, "sb", "t1", "box");
    assert_eq!(reg.sandbox("t1", "sb").unwrap().unwrap().replicas, vec![]);
}

#[test]
fn the_replication_asked_for_at_dock_is_kept() {
    let mut reg = fresh();
    setup_tenant(&mut reg, "t1", "acme");
    let docked = match ok(
        &mut reg,
        &Command::DockSandbox {
            sandbox_id: "sb".into(),
            tenant_id: "t1".into(),
            name: "box".into(),
            profile: "compute".into(),
            workbook_sha256: "0f".repeat(32),
            home_node: 7,
            at_ms: 100,
            replication_factor: Some(3),
            durability: Some(Durability::Async),
        },
    ) {
        Response::SandboxDocked(sandbox) => sandbox,
        other => panic!("expected SandboxDocked, got {other:?}"),
    };
    assert_eq!(
        (docked.replication_factor, docked.durability),
        (Some(3), Some(Durability::Async))
    );
    assert_eq!(reg.sandbox("t1", "sb").unwrap().unwrap(), docked);
    // Absent in the JSON of a sandbox that asked for nothing.
    let plain = setup_sandbox(&mut reg, "sb2", "t1", "plain");
    let json = serde_json::to_value(&plain).unwrap();
    assert!(json.get("replication_factor").is_none(), "{json}");
    assert_eq!(json["replicas"], serde_json::json!([]));
}
