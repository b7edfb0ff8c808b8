//! # nexus-cluster-tests
//!
//! A harness that runs a real Nexus cluster on one machine and breaks it on
//! purpose.
//!
//! - [`Cluster::start`] gives each node its own process (`nexus serve`), data
//!   dir, loopback address (`127.0.1.{id}`) and certificate from a cluster CA
//!   made for the test; the nodes form a static cluster over mTLS.
//! - Every node's Raft port sits behind a [`FaultProxy`] at `127.0.2.{id}`:
//!   the address the other nodes dial. Nodes send from their own
//!   `127.0.1.{id}` address, so the proxy knows which node each connection
//!   comes from and can drop exactly the links a fault names:
//!   [`Cluster::isolate`] cuts one node off from all others (both ways,
//!   existing connections included), [`Cluster::heal`] restores every link.
//! - [`Cluster::kill`] sends SIGKILL, [`Cluster::terminate`] SIGTERM;
//!   [`Cluster::restart`] starts the node again on the same data dir and
//!   ports.
//!
//! - [`Cluster::init_and_join`] grows a cluster with `nexus init` and
//!   `nexus join` instead (no test CA, no proxies);
//!   [`Cluster::join_attempt`] runs a join expected to be refused and
//!   [`Cluster::spawn_joiner`] starts one without waiting (races).
//!
//! The proxy only copies bytes: TLS runs end to end between the nodes.
//!
//! The fault suite: [`workload`] clients record a [`history`] of registry
//! writes, linearizable reads and counter-workbook increments; the
//! [`checker`] proves the history linearizable (a Wing–Gong search) and the
//! counter exact. `tests/history.rs` runs them against a loopback cluster
//! (and against a node built to ack before it commits); [`suite`] runs them
//! against the docker-compose cluster while the [`nemesis`] kills, pauses
//! and partitions its [`compose`] containers (`src/bin/faults.rs`).

// A test harness: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod binary;
pub mod checker;
mod cluster;
pub mod compose;
pub mod history;
mod joining;
pub mod knock;
pub mod mesh;
pub mod nemesis;
pub mod netns;
mod proxy;
pub mod suite;
pub mod workload;

pub use binary::nexus;
pub use cluster::{json_lines, Cluster, ClusterOptions, NodeHandle};
pub use joining::{JoinAttempt, Joiner, TokenVia};
pub use proxy::FaultProxy;
