//! The coordinator's side of one worker stream (a peer's QUIC stream or a
//! container's stdin and stdout): send the module if the worker asks for
//! it, then keep `slots` inputs in flight, taking the next from the job's
//! queue as each result comes back — work is pulled, so a faster worker
//! takes more. The caller puts the inputs still in flight back when this
//! fails.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::job::Outcome;
use super::local::Local;
use super::wire::{self, ToCoordinator, ToWorker, MAX_PAYLOAD};
use nexus_transport::bulk::head::HeadError;

/// How long a worker may take to get ready (receive and compile the
/// module; for a container, start it too).
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How much longer than the profile's wall time a result may be overdue
/// before its worker counts as failed.
const RESULT_GRACE: Duration = Duration::from_secs(10);

/// One worker stream of a job.
pub struct Feed<'a> {
    /// The job's shared state.
    pub local: &'a Local,
    /// The node results are credited to.
    pub node: u64,
    /// Inputs kept in flight.
    pub slots: usize,
    /// Whether this node counts the worker's inputs in its metrics (a peer
    /// counts its own).
    pub count_here: bool,
}

impl Feed<'_> {
    /// Runs inputs on the worker until the queue is drained, then closes
    /// the stream's sending side. On error, `in_flight` holds the inputs
    /// sent and not answered.
    pub async fn drive<W, R>(
        &self,
        send: &mut W,
        recv: &mut R,
        in_flight: &mut BTreeSet<usize>,
    ) -> Result<(), String>
    where
        W: AsyncWrite + Unpin,
        R: AsyncRead + Unpin,
    {
        self.handshake(send, recv).await?;
        let patience = self.local.source.profile().wall_time + RESULT_GRACE;
        let queue = &self.local.queue;
        loop {
            while in_flight.len() < self.slots {
                let Some(index) = queue.try_next() else {
                    break;
                };
                self.dispatch(send, index, in_flight).await?;
            }
            if in_flight.is_empty() {
                // Nothing waits now; inputs may still come back from a failed worker.
                match queue.next().await {
                    Some(index) => self.dispatch(send, index, in_flight).await?,
                    None => break,
                }
                continue;
            }
            let failed = |e: HeadError| format!("no result: {e}");
            let (index, outcome) = match wire::receive(recv, patience).await.map_err(failed)? {
                ToCoordinator::Output { index, len } => {
                    let bytes = wire::payload(recv, len, MAX_PAYLOAD, patience)
                        .await
                        .map_err(|e| format!("output of input {index} unreadable: {e}"))?;
                    (index, Outcome::Output(bytes))
                }
                ToCoordinator::Failed { index, error } => (index, Outcome::Error(error)),
                other => return Err(format!("unexpected message {other:?}")),
            };
            let index =
                usize::try_from(index).map_err(|_| format!("input {index} out of range"))?;
            if in_flight.remove(&index) {
                if self.count_here {
                    let local = self.local;
                    local.metrics.fabric_input(local.tier, &outcome.label());
                }
                self.local.job.record(index, outcome, self.node);
                queue.done();
            }
        }
        Ok(())
    }

    /// Sends the module if the worker asks for it; returns once it is ready.
    async fn handshake<W, R>(&self, send: &mut W, recv: &mut R) -> Result<(), String>
    where
        W: AsyncWrite + Unpin,
        R: AsyncRead + Unpin,
    {
        loop {
            match wire::receive(recv, READY_TIMEOUT)
                .await
                .map_err(|e| e.to_string())?
            {
                ToCoordinator::Ready => return Ok(()),
                ToCoordinator::NeedModule => {
                    let wasm = self
                        .local
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

    /// Sends input `index` to the worker and counts it in flight.
    async fn dispatch<W: AsyncWrite + Unpin>(
        &self,
        send: &mut W,
        index: usize,
        in_flight: &mut BTreeSet<usize>,
    ) -> Result<(), String> {
        in_flight.insert(index);
        let input = self
            .local
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
}
