//! The head of a data-plane stream: a 4-byte big-endian length, then that
//! many bytes of MessagePack. Whatever follows belongs to the stream's kind
//! (an HTTP exchange, a file's bytes). Reading one is bounded in size and
//! time, since the other side may be slow or hostile.

use std::time::Duration;

use nexus_errors::error_chain;
use quinn::{RecvStream, SendStream};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The largest head either side sends or accepts.
pub const MAX_HEAD_BYTES: u32 = 64 * 1024;
/// How long a head may take to arrive once the stream is open.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a head could not be sent or read.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    /// The stream failed or ended early (the message keeps quinn's
    /// reason, e.g. the peer's close reason).
    #[error("stream head: {0}")]
    Stream(String),
    /// Longer than [`MAX_HEAD_BYTES`].
    #[error("stream head of {0} bytes is over the {MAX_HEAD_BYTES}-byte limit")]
    TooLarge(u64),
    /// Not the MessagePack of the expected type.
    #[error("stream head is malformed: {0}")]
    Malformed(String),
    /// Did not arrive in time.
    #[error("no stream head in time")]
    TimedOut,
}

/// Writes `head` at the start of `send`.
pub async fn write<T: Serialize>(send: &mut SendStream, head: &T) -> Result<(), HeadError> {
    let framed = encode(head)?;
    send.write_all(&framed)
        .await
        .map_err(|e| HeadError::Stream(error_chain(&e)))
}

/// `head` framed as [`write`] sends it: its length, then its MessagePack
/// (for a caller that sends more bytes in the same write).
pub fn encode<T: Serialize>(head: &T) -> Result<Vec<u8>, HeadError> {
    let bytes = rmp_serde::to_vec_named(head).map_err(|e| HeadError::Malformed(e.to_string()))?;
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|len| *len <= MAX_HEAD_BYTES)
        .ok_or(HeadError::TooLarge(bytes.len() as u64))?;
    let mut framed = Vec::with_capacity(4 + bytes.len());
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(&bytes);
    Ok(framed)
}

/// Reads the head at the start of `recv`.
pub async fn read<T: DeserializeOwned>(recv: &mut RecvStream) -> Result<T, HeadError> {
    read_within(recv, HEAD_TIMEOUT).await
}

/// Reads one head-framed message from `recv` (a QUIC stream, a pipe),
/// waiting at most `timeout`.
pub async fn read_within<T: DeserializeOwned, R: AsyncRead + Unpin>(
    recv: &mut R,
    timeout: Duration,
) -> Result<T, HeadError> {
    tokio::time::timeout(timeout, async {
        let failed = |e: std::io::Error| HeadError::Stream(error_chain(&e));
        let mut len = [0; 4];
        recv.read_exact(&mut len).await.map_err(failed)?;
        let len = u32::from_be_bytes(len);
        if len > MAX_HEAD_BYTES {
            return Err(HeadError::TooLarge(u64::from(len)));
        }
        let mut bytes = vec![0; len as usize];
        recv.read_exact(&mut bytes).await.map_err(failed)?;
        rmp_serde::from_slice(&bytes).map_err(|e| HeadError::Malformed(e.to_string()))
    })
    .await
    .map_err(|_| HeadError::TimedOut)?
}
