//! The head of a data-plane stream: a 4-byte big-endian length, then that
//! many bytes of MessagePack. Whatever follows belongs to the stream's kind
//! (an HTTP exchange, a file's bytes). Reading one is bounded in size and
//! time, since the other side may be slow or hostile.

use std::time::Duration;

use quinn::{RecvStream, SendStream};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The largest head either side sends or accepts.
pub const MAX_HEAD_BYTES: u32 = 64 * 1024;
/// How long a head may take to arrive once the stream is open.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a head could not be sent or read.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    /// The stream failed or ended early.
    #[error("stream head: {0}")]
    Io(#[from] std::io::Error),
    /// Longer than [`MAX_HEAD_BYTES`].
    #[error("stream head of {0} bytes is over the {MAX_HEAD_BYTES}-byte limit")]
    TooLarge(u64),
    /// Not the MessagePack of the expected type.
    #[error("stream head is malformed: {0}")]
    Malformed(String),
    /// Did not arrive within [`HEAD_TIMEOUT`].
    #[error("no stream head within {} s", HEAD_TIMEOUT.as_secs())]
    TimedOut,
}

/// Writes `head` at the start of `send`.
pub async fn write<T: Serialize>(send: &mut SendStream, head: &T) -> Result<(), HeadError> {
    let bytes = rmp_serde::to_vec_named(head).map_err(|e| HeadError::Malformed(e.to_string()))?;
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|len| *len <= MAX_HEAD_BYTES)
        .ok_or(HeadError::TooLarge(bytes.len() as u64))?;
    send.write_all(&len.to_be_bytes()).await?;
    send.write_all(&bytes).await?;
    Ok(())
}

/// Reads the head at the start of `recv`.
pub async fn read<T: DeserializeOwned>(recv: &mut RecvStream) -> Result<T, HeadError> {
    tokio::time::timeout(HEAD_TIMEOUT, async {
        let len = recv.read_u32().await?;
        if len > MAX_HEAD_BYTES {
            return Err(HeadError::TooLarge(u64::from(len)));
        }
        let mut bytes = vec![0; len as usize];
        recv.read_exact(&mut bytes).await?;
        rmp_serde::from_slice(&bytes).map_err(|e| HeadError::Malformed(e.to_string()))
    })
    .await
    .map_err(|_| HeadError::TimedOut)?
}
