//! Live migration: a sandbox's home pushes its files to a new home over one
//! QUIC stream and commits the new home in Raft.
//!
//! Steps, on the source (the current home):
//!
//! 1. **pre-copy** — every file the sandbox has (live, cold) is streamed
//!    whole while the sandbox keeps serving (read and hashed a few blocks
//!    ahead of the network), followed by the SHA-256 of each 1 MiB block.
//!    The target reads what it wrote back from disk, checks it against
//!    those hashes, compiles the entry module from it unless its module
//!    cache holds that SHA-256 already (compiled code never crosses the
//!    wire), and says so before the source pauses.
//! 2. **pause** — the sandbox's gate closes: calls in flight finish, new
//!    ones are held. The workbook is closed and its WAL checkpointed.
//! 3. **delta** — a file nothing wrote to since before the pre-copy changed
//!    only through its SQLite WAL: the blocks the WAL's pages fall in are
//!    read again after the checkpoint, nothing else; any other file is read
//!    and hashed whole. Only changed blocks and the final length are sent
//!    ([`delta`]).
//! 4. **verify** — the target applies the delta (reading each written
//!    block back), computes the digest of every file (SHA-256 over the
//!    block hashes and the length) and compares it with the source's; on a
//!    match it puts the files in place (durable rename) and says so.
//! 5. **commit** — `MoveSandbox` in Raft, fenced by the generation the
//!    pause read: the sandbox's home is the target from then on, and the
//!    source can no longer answer for it.
//! 6. **release** — the source waits until its own registry shows the
//!    commit, deletes its copy and opens the gate: held requests go to the
//!    new home.
//!
//! One move of a sandbox runs at a time (a second is refused). While it
//! runs the replica keeper leaves the sandbox alone and a seed of it in
//! flight stops, and once the target is the home it drops any replica copy
//! of the sandbox it held: the moved files supersede it.
//!
//! A failure before the commit leaves the source the home with its files
//! untouched (a copy the target placed is an orphan there, removed at its
//! next start); after the commit the target is the home with verified
//! files. `NEXUS_FAULT_CRASH_AT=move:<side>:<point>` aborts a node at each
//! step for the crash tests (docs/operations.md lists the points).

mod blocks;
mod delta;
mod source;
mod target;

use serde::{Deserialize, Serialize};

use crate::sandbox::FileKind;

pub use source::{move_sandbox, MoveReport};
pub(crate) use target::receive;

/// One control message on a move's stream; file bytes follow `File` and
/// `Delta` raw.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum MoveMsg {
    /// A whole file of `len` bytes follows, then the SHA-256 of each of
    /// its blocks (32 bytes each, in order).
    File { kind: FileKind, len: u64 },
    /// The source paused: the blocks `blocks` of the file follow, in
    /// order (each [`blocks::BLOCK`] bytes, the file's last one shorter), and
    /// the file is `len` bytes long.
    Delta {
        kind: FileKind,
        len: u64,
        blocks: Vec<u64>,
    },
    /// The pre-copy is complete: the target checks it on disk and answers
    /// [`MoveReply::Verified`].
    PreCopied,
    /// Every file was sent; each must have its digest.
    Finish { digests: Vec<(FileKind, String)> },
}

/// The target's answer, once, at the end (or as soon as it refuses).
#[derive(Debug, Clone, Serialize, Deserialize)]
enum MoveReply {
    /// The pre-copy is on the target's disk as sent.
    Verified,
    /// The files are verified and in place.
    Placed,
    /// The target will not take the sandbox; nothing was placed.
    Refused { message: String },
}

/// The largest file a move carries.
pub const MAX_MOVE_FILE_BYTES: u64 = 64 << 30;
