//! A worker's side of a fabric stream — a peer's node-tier stream, or a
//! container worker's stdin and stdout: get the kernel (from the engine's
//! cache by SHA-256, or shipped once by the coordinator), then run the
//! inputs that arrive on `slots` reused instances and send each result
//! back as it completes. The coordinator closing its side ends the stream.

use std::sync::Arc;

use quinn::{RecvStream, SendStream};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, Mutex};
use tracing::{debug, warn};

use super::job::Outcome;
use super::local::run_input;
use super::wire::{self, Open, ToCoordinator, ToWorker, MAX_MODULE, MAX_PAYLOAD, WORKER_IDLE};
use crate::sandbox::{KernelSource, SandboxManager};
use nexus_engine::KernelInstance;
use nexus_errors::{Coded, ErrorCode, UserError};

/// The most inputs a coordinator may keep in flight on one stream.
const MAX_SLOTS: u32 = 64;

/// Serves one node-tier stream from node `peer`.
pub async fn serve(
    manager: Arc<SandboxManager>,
    peer: u64,
    open: Open,
    mut send: SendStream,
    mut recv: RecvStream,
) {
    let kernel = match manager.cached_kernel(&open.profile, &open.sha256) {
        Ok(Some(source)) => Ok(source),
        Ok(None) => match receive_module(&mut send, &mut recv).await {
            Ok(wasm) => manager.wasm_kernel(&open.profile, wasm).await,
            Err(error) => Err(error),
        },
        Err(error) => Err(error),
    };
    let metrics = manager.metrics().clone();
    let count = move |outcome: &Outcome| metrics.fabric_input("node", &outcome.label());
    let served = match kernel {
        Ok(source) => serve_inputs(source, &open.sha256, open.slots, send, recv, count).await,
        Err(error) => refuse(error, &mut send).await,
    };
    if let Err(error) = served {
        debug!(node = peer, %error, "fabric kernel refused");
    }
}

/// Asks the coordinator for the module and reads it.
pub async fn receive_module<W, R>(send: &mut W, recv: &mut R) -> Result<Vec<u8>, UserError>
where
    W: AsyncWrite + Unpin,
    R: AsyncRead + Unpin,
{
    let lost = |e: nexus_transport::bulk::head::HeadError| {
        UserError::new(
            ErrorCode::Internal,
            format!("fabric module not received: {e}"),
        )
    };
    wire::send(send, &ToCoordinator::NeedModule, &[])
        .await
        .map_err(lost)?;
    let ToWorker::Module { len } = wire::receive(recv, WORKER_IDLE).await.map_err(lost)? else {
        return Err(UserError::new(
            ErrorCode::RequestInvalid,
            "the coordinator sent an input before the module it was asked for",
        ));
    };
    wire::payload(recv, len, MAX_MODULE, WORKER_IDLE)
        .await
        .map_err(lost)
}

/// Tells the coordinator the kernel cannot run here; returns `error`.
pub async fn refuse<W: AsyncWrite + Unpin>(
    error: UserError,
    send: &mut W,
) -> Result<(), UserError> {
    let _ = wire::send(
        send,
        &ToCoordinator::Refused {
            error: error.clone(),
        },
        &[],
    )
    .await;
    Err(error)
}

/// Checks that `source` is the module `sha256` names and makes its first
/// instance, then runs the inputs that arrive on `slots` instances until
/// the coordinator closes its side, `count`ing each outcome. A kernel that
/// cannot run is refused (and its error returned).
pub async fn serve_inputs<W, R>(
    source: KernelSource,
    sha256: &str,
    slots: u32,
    mut send: W,
    mut recv: R,
    count: impl Fn(&Outcome) + Clone + Send + 'static,
) -> Result<(), UserError>
where
    W: AsyncWrite + Unpin,
    R: AsyncRead + Unpin,
{
    if source.sha256() != sha256 {
        let error = UserError::new(
            ErrorCode::RequestInvalid,
            format!(
                "the module shipped for {sha256} has SHA-256 {}",
                source.sha256()
            ),
        );
        return refuse(error, &mut send).await;
    }
    let first = match source.instance().await {
        Ok(first) => first,
        Err(e) => return refuse(e.to_user_error(), &mut send).await,
    };
    if wire::send(&mut send, &ToCoordinator::Ready, &[])
        .await
        .is_err()
    {
        return Ok(());
    }
    let slots = slots.clamp(1, MAX_SLOTS) as usize;
    let (inputs_tx, inputs_rx) = mpsc::channel::<(u64, Vec<u8>)>(slots);
    let (results_tx, results_rx) = mpsc::channel::<(u64, Outcome)>(slots);
    start_instances(Arc::new(source), first, slots, inputs_rx, results_tx, count);
    tokio::join!(
        read_inputs(&mut recv, inputs_tx),
        write_results(&mut send, results_rx)
    );
    Ok(())
}

/// Starts `slots` tasks, each running inputs on its own reused instance.
fn start_instances(
    source: Arc<KernelSource>,
    first: KernelInstance,
    slots: usize,
    inputs: mpsc::Receiver<(u64, Vec<u8>)>,
    results: mpsc::Sender<(u64, Outcome)>,
    count: impl Fn(&Outcome) + Clone + Send + 'static,
) {
    let inputs = Arc::new(Mutex::new(inputs));
    let mut first = Some(first);
    for _ in 0..slots {
        let (source, inputs, results) = (source.clone(), inputs.clone(), results.clone());
        let count = count.clone();
        let mut instance = first.take();
        tokio::spawn(async move {
            loop {
                let Some((index, input)) = inputs.lock().await.recv().await else {
                    return;
                };
                let outcome = run_input(&source, &mut instance, true, &input).await;
                count(&outcome);
                if results.send((index, outcome)).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// Reads inputs until the coordinator finishes its side (or goes away).
async fn read_inputs<R: AsyncRead + Unpin>(recv: &mut R, inputs: mpsc::Sender<(u64, Vec<u8>)>) {
    loop {
        match wire::receive::<ToWorker, _>(recv, WORKER_IDLE).await {
            Ok(ToWorker::Input { index, len }) => {
                let input = match wire::payload(recv, len, MAX_PAYLOAD, WORKER_IDLE).await {
                    Ok(input) => input,
                    Err(e) => {
                        warn!(error = %e, "fabric input unreadable");
                        return;
                    }
                };
                if inputs.send((index, input)).await.is_err() {
                    return;
                }
            }
            Ok(ToWorker::Module { .. }) => {
                warn!("fabric module sent twice; stream closed");
                return;
            }
            Err(_) => return,
        }
    }
}

/// Sends each result as it completes; closes the stream after the last.
async fn write_results<W: AsyncWrite + Unpin>(
    send: &mut W,
    mut results: mpsc::Receiver<(u64, Outcome)>,
) {
    while let Some((index, outcome)) = results.recv().await {
        let sent = match outcome {
            Outcome::Output(bytes) => {
                let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
                wire::send(send, &ToCoordinator::Output { index, len }, &bytes).await
            }
            Outcome::Error(error) => {
                wire::send(send, &ToCoordinator::Failed { index, error }, &[]).await
            }
        };
        if sent.is_err() {
            return;
        }
    }
    let _ = tokio::io::AsyncWriteExt::shutdown(send).await;
}
