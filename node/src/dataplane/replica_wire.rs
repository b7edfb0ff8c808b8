//! What travels on a replica stream (see [`crate::replicas`]): the head
//! that opens it ([`ReplicaOpen`], inside the data plane's stream head),
//! the bytes the head announces, and the replica's one answer
//! ([`ReplicaReply`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The largest encoded change a replica accepts in one stream.
pub const MAX_CHANGE_BYTES: u64 = 1 << 30;
/// The largest seed (a whole workbook) a replica accepts.
pub const MAX_SEED_BYTES: u64 = 64 << 30;

/// How long the bytes a head announced may take to arrive: 10 s plus one
/// second per MiB (a slow link still finishes; a stalled peer does not hold
/// the stream forever).
pub fn body_deadline(len: u64) -> Duration {
    Duration::from_secs(10 + len / (1 << 20))
}

/// Opens a replica stream from a sandbox's home.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ReplicaOpen {
    /// A whole copy follows: `len` bytes with SHA-256 `sha256`, the
    /// workbook at `version`.
    Seed {
        /// Which sandbox.
        target: Target,
        /// The version the copy holds.
        version: u64,
        /// Its length in bytes.
        len: u64,
        /// Lowercase hex SHA-256 of the bytes.
        sha256: String,
    },
    /// An encoded [`nexus_workbook::pages::PageChange`] follows (`len`
    /// bytes of [`PageChange::encode`](nexus_workbook::pages::PageChange::encode),
    /// tagged with `version`, its SHA-256 trailer included) taking the copy
    /// from `base` to `version`.
    Change {
        /// Which sandbox.
        target: Target,
        /// The version the change applies to.
        base: u64,
        /// The version it makes.
        version: u64,
        /// Its encoded length in bytes.
        len: u64,
    },
    /// Asks which version the node's copy holds.
    Version {
        /// The sandbox.
        sandbox_id: String,
    },
}

/// The sandbox a write to a replica is for, as its home sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    /// The sandbox.
    pub sandbox_id: String,
    /// Its tenant.
    pub tenant_id: String,
    /// The home's last applied registry index (the replica catches up to
    /// it before checking).
    pub applied: Option<u64>,
}

/// A replica's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplicaReply {
    /// The copy holds `version` now.
    Holds {
        /// The version.
        version: u64,
    },
    /// The node holds no copy.
    Missing,
    /// The change does not start at the copy's version: seed it again.
    NeedSeed {
        /// The version held, if any.
        have: Option<u64>,
    },
    /// Refused: the code and message of the error the home reports.
    Refused {
        /// A catalog code.
        code: String,
        /// What was refused and why.
        message: String,
    },
}
