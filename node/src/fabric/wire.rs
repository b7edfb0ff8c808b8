//! The messages between the node running a job (the coordinator) and a
//! worker running its inputs: a peer over a QUIC stream (node tier) or a
//! container over its stdin and stdout (container tier). Each message is a
//! head-framed MessagePack value; the bytes it announces (a module, an
//! input, an output) follow it raw. Every read is bounded in size and time.

use std::time::Duration;

use nexus_engine::Capabilities;
use nexus_errors::UserError;
use nexus_transport::bulk::head::{self, HeadError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub use crate::dataplane::FabricOpen as Open;

/// The largest input or output that crosses a stream.
pub const MAX_PAYLOAD: u32 = 64 << 20;
/// The largest module a coordinator ships (the engine's module cap).
pub const MAX_MODULE: u32 = nexus_engine::DEFAULT_MAX_MODULE_BYTES as u32;
/// How long a worker waits for the coordinator's next message.
pub const WORKER_IDLE: Duration = Duration::from_secs(120);

/// The first message to a container worker, which knows no profiles: the
/// kernel's SHA-256, the limits its instances run under and how many
/// inputs may be in flight.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerOpen {
    /// The module's SHA-256 (checked against the module shipped).
    pub sha256: String,
    /// Inputs kept in flight.
    pub slots: u32,
    /// The profile's name (for messages).
    pub profile: String,
    /// The profile's memory cap.
    pub memory_bytes: u64,
    /// The profile's CPU time per input, in milliseconds.
    pub cpu_time_ms: u64,
    /// The profile's wall time per input, in milliseconds.
    pub wall_time_ms: u64,
    /// The profile's output cap.
    pub output_bytes: u64,
    /// The profile's capabilities (each instance gets in-memory data).
    pub capabilities: Capabilities,
}

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
pub async fn send<T: Serialize, W: AsyncWrite + Unpin>(
    stream: &mut W,
    message: &T,
    payload: &[u8],
) -> Result<(), HeadError> {
    let mut framed = head::encode(message)?;
    framed.extend_from_slice(payload);
    let failed = |e: std::io::Error| HeadError::Stream(nexus_errors::error_chain(&e));
    stream.write_all(&framed).await.map_err(failed)?;
    stream.flush().await.map_err(failed)
}

/// Reads one message, waiting at most `timeout`.
pub async fn receive<T: DeserializeOwned, R: AsyncRead + Unpin>(
    stream: &mut R,
    timeout: Duration,
) -> Result<T, HeadError> {
    head::read_within(stream, timeout).await
}

/// Reads the `len` payload bytes a message announced, refusing more than
/// `max`, within `timeout`.
pub async fn payload<R: AsyncRead + Unpin>(
    stream: &mut R,
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
