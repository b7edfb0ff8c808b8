//! Node reports (labels, capacity) and the live load per home.

use std::collections::BTreeMap;

use nexus_raft::{Command, NodeLoad, NodeReport, Response, SandboxState};

use super::{fresh, ok, setup_sandbox, setup_tenant, transition};

fn report(zone: &str, memory_bytes: u64) -> NodeReport {
    NodeReport {
        labels: BTreeMap::from([("zone".to_owned(), zone.to_owned())]),
        memory_bytes,
        max_sandboxes: 100,
    }
}

fn report_cmd(node_id: u64, report: NodeReport, at_ms: u64) -> Command {
    Command::ReportNode {
        node_id,
        report,
        at_ms,
    }
}

#[test]
fn a_report_replaces_the_last_one_and_a_removed_node_keeps_none() {
    let mut reg = fresh();
    assert_eq!(
        ok(&mut reg, &report_cmd(1, report("a", 1 << 30), 10)),
        Response::NodeReported {
            node_id: 1,
            stored: true
        }
    );
    ok(&mut reg, &report_cmd(2, report("b", 2 << 30), 11));
    ok(&mut reg, &report_cmd(1, report("c", 4 << 30), 12));
    assert_eq!(reg.node_report(1).unwrap(), Some(report("c", 4 << 30)));
    assert_eq!(
        reg.node_reports().unwrap(),
        BTreeMap::from([(1, report("c", 4 << 30)), (2, report("b", 2 << 30))])
    );

    ok(
        &mut reg,
        &Command::RemoveNode {
            node_id: 2,
            at_ms: 20,
        },
    );
    assert_eq!(reg.node_report(2).unwrap(), None);
    assert_eq!(
        ok(&mut reg, &report_cmd(2, report("b", 2 << 30), 21)),
        Response::NodeReported {
            node_id: 2,
            stored: false
        }
    );
    assert_eq!(reg.node_reports().unwrap().len(), 1);
}

#[test]
fn the_load_counts_created_and_active_sandboxes_per_home_and_profile() {
    let mut reg = fresh();
    setup_tenant(&mut reg, "t1", "one");
    setup_sandbox(&mut reg, "s1", "t1", "a");
    setup_sandbox(&mut reg, "s2", "t1", "b");
    setup_sandbox(&mut reg, "s3", "t1", "c");
    // Suspended sandboxes hold nothing.
    ok(
        &mut reg,
        &transition("s2", "t1", SandboxState::Active, 0, 200),
    );
    ok(
        &mut reg,
        &transition("s3", "t1", SandboxState::Active, 0, 201),
    );
    ok(
        &mut reg,
        &transition("s3", "t1", SandboxState::Suspended, 1, 202),
    );
    // What a metrics scrape reads: the home's sandboxes by state.
    assert_eq!(
        reg.state_counts(7).unwrap(),
        BTreeMap::from([
            ("active".to_owned(), 1),
            ("created".to_owned(), 1),
            ("suspended".to_owned(), 1),
        ])
    );
    assert!(reg.state_counts(8).unwrap().is_empty());
    assert_eq!(
        reg.node_loads().unwrap(),
        BTreeMap::from([(
            7,
            NodeLoad {
                sandboxes: 2,
                profiles: BTreeMap::from([("compute".to_owned(), 2)]),
            }
        )])
    );
}
