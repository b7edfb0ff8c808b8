//! The node tier, on the node running the job: this node's own workers and
//! one stream to every peer pull inputs from the job's queue (see
//! [`Feed`]). A peer gets the module once, by SHA-256, when it does not
//! hold it compiled. A peer that fails (its stream breaks or a result is
//! overdue) puts its in-flight inputs back for the others; the job keeps
//! the first result of each input.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::task::JoinSet;
use tracing::{info, warn};

use super::feed::Feed;
use super::local::{self, Local};
use super::wire::Open;
use crate::dataplane::DataPlane;
use nexus_engine::KernelInstance;

/// Runs the job's inputs on this node and every peer of `dataplane`, with
/// `width` inputs in flight in all (split evenly, at least one per node).
pub async fn run(
    local: Local,
    dataplane: Option<Arc<DataPlane>>,
    width: usize,
    first: KernelInstance,
) {
    let peers = dataplane.as_ref().map(|d| d.peers()).unwrap_or_default();
    let slots = (width / (peers.len() + 1)).max(1);
    let mut tasks = JoinSet::new();
    tasks.spawn(local::run(local.clone(), slots, true, Some(first)));
    if let Some(dataplane) = dataplane {
        for node in peers {
            tasks.spawn(peer(local.clone(), dataplane.clone(), node, slots));
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// Drives one peer until the queue is drained; on failure puts its
/// in-flight inputs back.
async fn peer(local: Local, dataplane: Arc<DataPlane>, node: u64, slots: usize) {
    let mut in_flight = BTreeSet::new();
    let feed = Feed {
        local: &local,
        node,
        slots,
        count_here: false,
    };
    let open = Open {
        sha256: local.source.sha256().to_owned(),
        profile: local.source.profile().name.clone(),
        slots: u32::try_from(slots).unwrap_or(u32::MAX),
    };
    let driven = match dataplane.open_fabric(node, &open).await {
        Ok((mut send, mut recv)) => {
            info!(job = local.job.id(), node, slots, "fabric peer stream open");
            let driven = feed.drive(&mut send, &mut recv, &mut in_flight).await;
            let _ = send.finish();
            driven
        }
        Err(e) => Err(e),
    };
    if let Err(reason) = driven {
        warn!(job = local.job.id(), node, %reason, put_back = in_flight.len(), "fabric peer failed; its inputs run elsewhere");
        local.queue.put_back(in_flight);
    }
}
