//! [`Proposer`]: this node's registry writes, batched into log entries.
//!
//! openraft 0.9 appends each client write as its own entry and waits for
//! that append's fsync before it takes the next one, so under load a leader
//! commits at most one write per fsync. The proposer sits in front of
//! `client_write`: a write that arrives while [`MAX_IN_FLIGHT`] proposals
//! are already on their way queues, and the queued writes go out together as
//! one [`Proposal::Batch`] entry — one append, one fsync, one replication
//! round for all of them. A lone write goes out at once, as itself, so a
//! single client sees no added wait.
//!
//! Each request in a batch keeps its own idempotency key and gets its own
//! outcome: the caller sees exactly the reply it would have had alone.

use std::sync::Arc;

use nexus_raft::replication::{NodeId, NodeInfo, Outcome, Proposal, Raft, Request, TypeConfig};
use openraft::error::{ClientWriteError, Fatal, RaftError};
use openraft::raft::ClientWriteResponse;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Proposals on their way through Raft at once; writes arriving meanwhile
/// queue and form the next batch.
const MAX_IN_FLIGHT: usize = 2;

/// Most requests in one entry.
const MAX_BATCH: usize = 256;

/// Writes waiting for a proposal slot; a caller beyond it waits to enqueue.
const QUEUE_BOUND: usize = 4096;

/// What `client_write` answers for one request.
pub type WriteResult =
    Result<ClientWriteResponse<TypeConfig>, RaftError<NodeId, ClientWriteError<NodeId, NodeInfo>>>;

/// One queued write and where its reply goes.
struct Pending {
    request: Request,
    reply: oneshot::Sender<WriteResult>,
}

/// Batches this node's writes into log entries (see the module docs).
/// Cloning shares the queue.
#[derive(Clone)]
pub struct Proposer {
    raft: Raft,
    queue: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for Proposer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proposer").finish_non_exhaustive()
    }
}

impl Proposer {
    /// A proposer over `raft`; its task ends when the last clone is dropped.
    pub fn new(raft: Raft) -> Proposer {
        let (queue, queued) = mpsc::channel(QUEUE_BOUND);
        tokio::spawn(run(raft.clone(), queued));
        Proposer { raft, queue }
    }

    /// The local Raft instance.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Proposes `request` (alone or in a batch) and returns its own reply:
    /// its outcome once committed and applied, or why this node could not
    /// propose it (`ForwardToLeader` on a follower).
    pub async fn write(&self, request: Request) -> WriteResult {
        let (reply, answer) = oneshot::channel();
        if self.queue.send(Pending { request, reply }).await.is_err() {
            return Err(RaftError::Fatal(Fatal::Stopped));
        }
        answer
            .await
            .unwrap_or(Err(RaftError::Fatal(Fatal::Stopped)))
    }
}

/// Takes queued writes and proposes them, at most [`MAX_IN_FLIGHT`]
/// proposals at a time, each with everything queued when its slot freed.
async fn run(raft: Raft, mut queued: mpsc::Receiver<Pending>) {
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    while let Some(first) = queued.recv().await {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queued.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            propose(&raft, batch).await;
            drop(slot);
        });
    }
}

/// Proposes `batch` as one entry and answers each of its writers.
async fn propose(raft: &Raft, mut batch: Vec<Pending>) {
    if batch.len() == 1 {
        if let Some(Pending { request, reply }) = batch.pop() {
            // The writer may have given up waiting; nothing to tell then.
            let _ = reply.send(raft.client_write(request.into()).await);
        }
        return;
    }
    let (requests, replies): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .map(|Pending { request, reply }| (request, reply))
        .unzip();
    let count = requests.len();
    match raft.client_write(Proposal::Batch { batch: requests }).await {
        Ok(written) => {
            for (reply, data) in replies.into_iter().zip(split(written.data, count)) {
                let _ = reply.send(Ok(ClientWriteResponse {
                    log_id: written.log_id,
                    data,
                    membership: written.membership.clone(),
                }));
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

/// A batch entry's outcome as `count` outcomes, one per request. Applying a
/// batch always yields one per request; anything else (a bug) leaves each
/// request [`Outcome::Empty`], which its caller reports as a codec error.
fn split(outcome: Outcome, count: usize) -> Vec<Outcome> {
    match outcome {
        Outcome::Batch(outcomes) if outcomes.len() == count => outcomes,
        other => {
            tracing::error!(
                ?other,
                count,
                "a batch entry's outcome does not match its requests"
            );
            vec![Outcome::Empty; count]
        }
    }
}
