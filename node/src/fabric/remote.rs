//! The node tier, on the node running the job: this node's own workers and
//! one stream to every peer pull inputs from the job's queue. A peer keeps
//! `slots` inputs in flight (it takes another as each result comes back, so
//! no node idles while inputs wait); it gets the module once, by SHA-256,
//! when it does not hold it compiled. A peer that fails (its stream breaks
//! or a result is overdue) puts its in-flight inputs back for the others;
//! the job keeps the first result of each input.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use quinn::{RecvStream, SendStream};
use tokio::task::JoinSet;
use tracing::{info, warn};

use super::job::Outcome;
use super::local::{self, Local};
use super::wire::{self, Open, ToCoordinator, ToWorker, MAX_PAYLOAD};
use crate::dataplane::DataPlane;
use nexus_engine::KernelInstance;
use nexus_transport::bulk::head::HeadError;

/// How long a peer may take to get ready (receive and compile the module).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How much longer than the profile's wall time a result may be overdue
/// before its peer counts as failed.
const RESULT_GRACE: Duration = Duration::from_secs(10);

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
    if let Err(reason) = drive(&local, &dataplane, node, slots, &mut in_flight).await {
        warn!(job = local.job.id(), node, %reason, put_back = in_flight.len(), "fabric peer failed; its inputs run elsewhere");
        local.queue.put_back(in_flight);
    }
}

async fn drive(
    local: &Local,
    dataplane: &DataPlane,
    node: u64,
    slots: usize,
    in_flight: &mut BTreeSet<usize>,
) -> Result<(), String> {
    let open = Open {
        sha256: local.source.sha256().to_owned(),
        profile: local.source.profile().name.clone(),
        slots: u32::try_from(slots).unwrap_or(u32::MAX),
    };
    let (mut send, mut recv) = dataplane.open_fabric(node, &open).await?;
    handshake(local, &mut send, &mut recv).await?;
    info!(job = local.job.id(), node, slots, "fabric peer ready");
    let patience = local.source.profile().wall_time + RESULT_GRACE;
    loop {
        while in_flight.len() < slots {
            let Some(index) = local.queue.try_next() else {
                break;
            };
            dispatch(local, &mut send, index, in_flight).await?;
        }
        if in_flight.is_empty() {
            // Nothing waits now; inputs may still come back from a failed peer.
            match local.queue.next().await {
                Some(index) => dispatch(local, &mut send, index, in_flight).await?,
                None => break,
            }
            continue;
        }
        let failed = |e: HeadError| format!("no result: {e}");
        let (index, outcome) = match wire::receive(&mut recv, patience).await.map_err(failed)? {
            ToCoordinator::Output { index, len } => {
                let bytes = wire::payload(&mut recv, len, MAX_PAYLOAD, patience)
                    .await
                    .map_err(|e| format!("output of input {index} unreadable: {e}"))?;
                (index, Outcome::Output(bytes))
            }
            ToCoordinator::Failed { index, error } => (index, Outcome::Error(error)),
            other => return Err(format!("unexpected message {other:?}")),
        };
        let index = usize::try_from(index).map_err(|_| format!("input {index} out of range"))?;
        if in_flight.remove(&index) {
            local.job.record(index, outcome, node);
            local.queue.done();
        }
    }
    let _ = send.finish();
    Ok(())
}

/// Sends the module if the peer asks for it; returns once it is ready.
async fn handshake(
    local: &Local,
    send: &mut SendStream,
    recv: &mut RecvStream,
) -> Result<(), String> {
    loop {
        match wire::receive(recv, READY_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?
        {
            ToCoordinator::Ready => return Ok(()),
            ToCoordinator::NeedModule => {
                let wasm = local
                    .source
                    .wasm()
                    .ok_or("the module's bytes are not at hand to ship")?;
                let len =
                    u32::try_from(wasm.len()).map_err(|_| "the module is too large to ship")?;
                wire::send(send, &ToWorker::Module { len }, wasm)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            ToCoordinator::Refused { error } => {
                return Err(format!(
                    "it refused the kernel: {}: {}",
                    error.code, error.message
                ))
            }
            other => return Err(format!("unexpected message {other:?} before ready")),
        }
    }
}

/// Sends input `index` to the peer and counts it in flight.
async fn dispatch(
    local: &Local,
    send: &mut SendStream,
    index: usize,
    in_flight: &mut BTreeSet<usize>,
) -> Result<(), String> {
    in_flight.insert(index);
    let input = local
        .inputs
        .get(index)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let len = u32::try_from(input.len()).map_err(|_| format!("input {index} is too large"))?;
    let index = index as u64;
    wire::send(send, &ToWorker::Input { index, len }, input)
        .await
        .map_err(|e| format!("input {index} not sent: {e}"))
}
