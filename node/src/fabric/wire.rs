//! The messages of a node-tier stream between the node running a job (the
//! coordinator) and a peer running its inputs (the worker). Each message is
//! a head-framed MessagePack value; the bytes it announces (a module, an
//! input, an output) follow it raw. Every read is bounded in size and time.

use std::time::Duration;

use nexus_errors::UserError;
use nexus_transport::bulk::head::{self, HeadError};
use quinn::{RecvStream, SendStream};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use crate::dataplane::FabricOpen as Open;

/// The largest input or output that crosses a stream.
pub const MAX_PAYLOAD: u32 = 64 << 20;
/// The largest module a coordinator ships (the engine's module cap).
pub const MAX_MODULE: u32 = nexus_engine::DEFAULT_MAX_MODULE_BYTES as u32;
/// How long a worker waits for the coordinator's next message.
pub const WORKER_IDLE: Duration = Duration::from_secs(120);

/// Coordinator → worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToWorker {
    /// The module's `len` bytes follow.
    Module {
        /// Its length.
        len: u32,
    },
    /// Input `index`'s `len` bytes follow.
    Input {
        /// The input's index in the job.
        index: u64,
        /// Its length.
        len: u32,
    },
}

/// Worker → coordinator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToCoordinator {
    /// The worker lacks the module: send it.
    NeedModule,
    /// The worker has the kernel instantiated and takes inputs.
    Ready,
    /// The worker cannot run the kernel.
    Refused {
        /// Why.
        error: UserError,
    },
    /// Input `index` gave `len` bytes of output, which follow.
    Output {
        /// The input's index.
        index: u64,
        /// The output's length.
        len: u32,
    },
    /// Input `index` failed in the kernel.
    Failed {
        /// The input's index.
        index: u64,
        /// Why.
        error: UserError,
    },
}

/// Writes `message`, then `payload`, in one write (one packet for small
/// ones).
pub async fn send<T: Serialize>(
    stream: &mut SendStream,
    message: &T,
    payload: &[u8],
) -> Result<(), HeadError> {
    let mut framed = head::encode(message)?;
    framed.extend_from_slice(payload);
    stream
        .write_all(&framed)
        .await
        .map_err(|e| HeadError::Stream(nexus_errors::error_chain(&e)))
}

/// Reads one message, waiting at most `timeout`.
pub async fn receive<T: DeserializeOwned>(
    stream: &mut RecvStream,
    timeout: Duration,
) -> Result<T, HeadError> {
    head::read_within(stream, timeout).await
}

/// Reads the `len` payload bytes a message announced, refusing more than
/// `max`, within `timeout`.
pub async fn payload(
    stream: &mut RecvStream,
    len: u32,
    max: u32,
    timeout: Duration,
) -> Result<Vec<u8>, HeadError> {
    if len > max {
        return Err(HeadError::TooLarge(u64::from(len)));
    }
    let mut bytes = vec![0; len as usize];
    tokio::time::timeout(timeout, stream.read_exact(&mut bytes))
        .await
        .map_err(|_| HeadError::TimedOut)?
        .map_err(|e| HeadError::Stream(nexus_errors::error_chain(&e)))?;
    Ok(bytes)
}
