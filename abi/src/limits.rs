//! The caps host functions enforce: anything larger is refused with
//! [`ERR_TOO_LARGE`](crate::error::ERR_TOO_LARGE) (log lines past
//! [`LOG_LINES_PER_CALL`] with [`ERR_RATE`](crate::error::ERR_RATE)).

/// Longest `kv` key, in bytes (keys are 1..=`MAX_KEY` bytes).
pub const MAX_KEY: usize = 1024;
/// Largest `kv` value, in bytes.
pub const MAX_VALUE: usize = 1 << 20;
/// Longest `vfs` path, in bytes.
pub const MAX_PATH: usize = 1024;
/// Largest file written through `vfs_write`, in bytes.
pub const MAX_FILE: usize = 8 << 20;
/// Longest log message, in bytes.
pub const MAX_LOG: usize = 4096;
/// Log lines a guest may write per call.
pub const LOG_LINES_PER_CALL: u32 = 100;
/// Most bytes one `random_fill` call fills.
pub const MAX_RANDOM: usize = 64 << 10;
/// Longest queue name, in bytes.
pub const MAX_QUEUE_NAME: usize = 128;
/// Longest message `sign_message` signs, in bytes.
pub const MAX_SIGN_MESSAGE: usize = 1 << 20;
/// Length of an Ed25519 signature (what `sign_message` writes).
pub const SIGNATURE_LEN: usize = 64;
/// Length of an Ed25519 public key (what `sign_public_key` writes).
pub const PUBLIC_KEY_LEN: usize = 32;
/// Most inputs one `fabric_map` call may give.
pub const MAX_FABRIC_INPUTS: usize = 4096;
/// Largest encoded `fabric_map` request, in bytes.
pub const MAX_FABRIC_REQUEST: usize = 16 << 20;
/// Largest encoded `fabric_map` response, in bytes: a call whose results
/// encode larger fails with `ERR_TOO_LARGE`.
pub const MAX_FABRIC_RESPONSE: usize = 64 << 20;
