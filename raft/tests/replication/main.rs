//! Tests of the Raft stores and a small in-process cluster.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cluster;
mod memnet;
mod restart;
mod suite;

use std::path::Path;

use nexus_raft::replication::{LogStore, StateMachine};

/// A log store and a state machine under `dir`, as a node lays them out.
pub fn open_stores(dir: &Path) -> (LogStore, StateMachine) {
    let log = LogStore::open(&dir.join("raft-log.db")).expect("open log store");
    let sm = StateMachine::open(&dir.join("registry.db"), &dir.join("snapshots"))
        .expect("open state machine");
    (log, sm)
}
