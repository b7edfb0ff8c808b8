//! Sandbox replicas: the home ships each change of a sandbox's workbook to
//! the nodes of its replica set over the data plane, and (in `sync` mode)
//! releases a call's response only once a replica acknowledged the change.
//!
//! | module | concern |
//! |---|---|
//! | `copies` | the replica side's files: copies, their versions, crash-safe changes |
//! | `receive` | the replica's end of a stream (its wire form: `dataplane/replica_wire.rs`) |
//! | `ship` | the home's shipping state, what a call changed, whole copies |
//! | `send` | the home's end of one stream to one replica |
//! | `gate` | after a call: ship, wait for an acknowledgement (`sync`), drop replicas that failed |
//! | `hooks` | the sandbox manager's view of it (`sandbox::Replication`) |
//! | `info` | what `sandbox info` shows: factor, mode, each replica's version and lag |
//! | `keeper` | the home keeps each sandbox at its factor: seeds and records new replicas |
//! | `lease` | the home lease: a home answers for replicated sandboxes only while it holds one |
//! | `promote` | a move to one of the sandbox's replicas: no file copied |
//! | `failover` | the leader gives the sandboxes of a home that stopped renewing to their best replica |

mod copies;
mod failover;
mod gate;
mod hooks;
mod info;
mod keeper;
pub mod lease;
mod promote;
mod receive;
mod send;
mod ship;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nexus_raft::replication::{NodeId, Raft};

pub use copies::Copies;
pub use hooks::Hooks;
pub use lease::HomeLease;

use crate::cluster::RegistryHandle;
use crate::config::ReplicationConfig;
use crate::dataplane::DataPlane;

/// How long the home waits for one replica's answer to a shipment.
pub const SHIP_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a replica waits to apply the registry index a home sent.
const APPLY_WAIT: Duration = Duration::from_secs(2);

/// This node's replication: the copies it keeps for other homes and the
/// shipments of the sandboxes it homes.
pub struct Replicas {
    node_id: NodeId,
    config: ReplicationConfig,
    copies: Arc<Copies>,
    registry: RegistryHandle,
    raft: Raft,
    dataplane: Arc<DataPlane>,
    lease: Arc<HomeLease>,
    sandboxes_dir: PathBuf,
    cold_dir: PathBuf,
    /// One entry per sandbox homed here that has replicas (bounded by them).
    shipments: Mutex<HashMap<String, Arc<tokio::sync::Mutex<ship::Shipment>>>>,
}

/// What [`Replicas::new`] is made of.
pub struct ReplicasParts {
    /// This node.
    pub node_id: NodeId,
    /// `[replication]`.
    pub config: ReplicationConfig,
    /// The copies this node keeps for other homes.
    pub copies: Arc<Copies>,
    /// The registry.
    pub registry: RegistryHandle,
    /// The Raft instance (leadership, applied index).
    pub raft: Raft,
    /// The data plane the streams go over.
    pub dataplane: Arc<DataPlane>,
    /// This node's home lease.
    pub lease: Arc<HomeLease>,
    /// The data directory (live files in `sandboxes/`, cold ones in `cold/`).
    pub data_dir: PathBuf,
}

impl Replicas {
    /// Replication for one node.
    pub fn new(parts: ReplicasParts) -> Replicas {
        Replicas {
            node_id: parts.node_id,
            config: parts.config,
            copies: parts.copies,
            registry: parts.registry,
            raft: parts.raft,
            dataplane: parts.dataplane,
            lease: parts.lease,
            sandboxes_dir: parts.data_dir.join("sandboxes"),
            cold_dir: parts.data_dir.join("cold"),
            shipments: Mutex::new(HashMap::new()),
        }
    }

    /// Waits (a bounded time) until this node has applied `index`.
    async fn catch_up(&self, index: Option<u64>) {
        if index.is_none() {
            return;
        }
        let _ = self
            .raft
            .wait(Some(APPLY_WAIT))
            .applied_index_at_least(index, "replica write")
            .await;
    }
}
