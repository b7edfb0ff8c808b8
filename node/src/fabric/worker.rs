//! A peer's side of a node-tier stream: get the kernel (from the engine's
//! cache by SHA-256, or shipped once by the coordinator), then run the
//! inputs that arrive on `slots` reused instances and send each result
//! back as it completes. The coordinator closing its side ends the stream.

use std::sync::Arc;

use quinn::{RecvStream, SendStream};
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
    let (source, first) = match kernel(&manager, &open, &mut send, &mut recv).await {
        Ok((source, first)) => (Arc::new(source), first),
        Err(error) => {
            debug!(node = peer, %error, "fabric kernel refused");
            let _ = wire::send(&mut send, &ToCoordinator::Refused { error }, &[]).await;
            let _ = send.finish();
            return;
        }
    };
    if wire::send(&mut send, &ToCoordinator::Ready, &[])
        .await
        .is_err()
    {
        return;
    }
    let slots = open.slots.clamp(1, MAX_SLOTS) as usize;
    let (inputs_tx, inputs_rx) = mpsc::channel::<(u64, Vec<u8>)>(slots);
    let (results_tx, mut results_rx) = mpsc::channel::<(u64, Outcome)>(slots);
    let inputs_rx = Arc::new(Mutex::new(inputs_rx));
    let mut first = Some(first);
    for _ in 0..slots {
        let (source, inputs, results) = (source.clone(), inputs_rx.clone(), results_tx.clone());
        let metrics = manager.metrics().clone();
        let mut instance = first.take();
        tokio::spawn(async move {
            loop {
                let Some((index, input)) = inputs.lock().await.recv().await else {
                    return;
                };
                let outcome = run_input(&source, &mut instance, true, &input).await;
                metrics.fabric_input("node", &outcome.label());
                if results.send((index, outcome)).await.is_err() {
                    return;
                }
            }
        });
    }
    drop(results_tx);
    let reader = async move {
        loop {
            match wire::receive::<ToWorker>(&mut recv, WORKER_IDLE).await {
                Ok(ToWorker::Input { index, len }) => {
                    let input = match wire::payload(&mut recv, len, MAX_PAYLOAD, WORKER_IDLE).await
                    {
                        Ok(input) => input,
                        Err(e) => {
                            warn!(node = peer, error = %e, "fabric input unreadable");
                            return;
                        }
                    };
                    if inputs_tx.send((index, input)).await.is_err() {
                        return;
                    }
                }
                Ok(ToWorker::Module { .. }) => {
                    warn!(node = peer, "fabric module sent twice; stream closed");
                    return;
                }
                // The coordinator finished its side (or went away).
                Err(_) => return,
            }
        }
    };
    let writer = async move {
        while let Some((index, outcome)) = results_rx.recv().await {
            let sent = match outcome {
                Outcome::Output(bytes) => {
                    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
                    wire::send(&mut send, &ToCoordinator::Output { index, len }, &bytes).await
                }
                Outcome::Error(error) => {
                    wire::send(&mut send, &ToCoordinator::Failed { index, error }, &[]).await
                }
            };
            if sent.is_err() {
                return;
            }
        }
        let _ = send.finish();
    };
    tokio::join!(reader, writer);
}

/// The kernel `open` names (cached here, or shipped by the coordinator)
/// and its first instance.
async fn kernel(
    manager: &SandboxManager,
    open: &Open,
    send: &mut SendStream,
    recv: &mut RecvStream,
) -> Result<(KernelSource, KernelInstance), UserError> {
    let source = match manager.cached_kernel(&open.profile, &open.sha256)? {
        Some(source) => source,
        None => {
            let lost = |e: nexus_transport::bulk::head::HeadError| {
                UserError::new(
                    ErrorCode::Internal,
                    format!("fabric module not received: {e}"),
                )
            };
            wire::send(send, &ToCoordinator::NeedModule, &[])
                .await
                .map_err(lost)?;
            let ToWorker::Module { len } = wire::receive(recv, WORKER_IDLE).await.map_err(lost)?
            else {
                return Err(UserError::new(
                    ErrorCode::RequestInvalid,
                    "the coordinator sent an input before the module it was asked for",
                ));
            };
            let wasm = wire::payload(recv, len, MAX_MODULE, WORKER_IDLE)
                .await
                .map_err(lost)?;
            let source = manager.wasm_kernel(&open.profile, wasm).await?;
            if source.sha256() != open.sha256 {
                return Err(UserError::new(
                    ErrorCode::RequestInvalid,
                    format!(
                        "the module shipped for {} has SHA-256 {}",
                        open.sha256,
                        source.sha256()
                    ),
                ));
            }
            source
        }
    };
    let first = source.instance().await.map_err(|e| e.to_user_error())?;
    Ok((source, first))
}
