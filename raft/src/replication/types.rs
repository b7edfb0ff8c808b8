//! The openraft type configuration: node id, node info, log payload and
//! apply result.

use std::fmt;
use std::io::Cursor;

use serde::{Deserialize, Serialize};

use super::refusal::Refusal;
use crate::registry::{Command, RegistryError, Response};

openraft::declare_raft_types!(
    /// Raft types of the Nexus registry.
    pub TypeConfig:
        D = Request,
        R = Outcome,
        NodeId = u64,
        Node = NodeInfo,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A Raft node id. Never reused for another node.
pub type NodeId = u64;

/// What the membership records about a node: everything needed to dial it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Address of the node's Raft RPC endpoint (gRPC, mTLS).
    pub raft_addr: String,
    /// Address of the node's HTTP/JSON API.
    pub api_addr: String,
    /// Address of the node's QUIC bulk-data endpoint.
    pub bulk_addr: String,
    /// The node's WireGuard public key (base64), if it joins the mesh.
    pub wg_pubkey: Option<String>,
}

impl NodeInfo {
    /// Where the node's data plane answers: `bulk_addr`, or (unset) the
    /// Raft address — the same port number, over UDP.
    pub fn bulk_target(&self) -> &str {
        if self.bulk_addr.is_empty() {
            &self.raft_addr
        } else {
            &self.bulk_addr
        }
    }
}

impl fmt::Display for NodeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "raft={} api={} bulk={}",
            self.raft_addr, self.api_addr, self.bulk_addr
        )?;
        if let Some(key) = &self.wg_pubkey {
            write!(f, " wg={key}")?;
        }
        Ok(())
    }
}

/// A client write: one registry [`Command`], optionally with an idempotency
/// key. A key seen before yields the recorded [`Outcome`] without applying
/// the command again (so a retried or forwarded write applies at most once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Deduplication key chosen by the client; `None` applies unconditionally.
    pub idempotency_key: Option<String>,
    /// The registry write.
    pub command: Command,
    /// When the proposing node made the request (its wall clock, ms since
    /// the Unix epoch; 0 in entries written before it existed). It travels
    /// in the log, so every replica ages the request's idempotency record
    /// alike.
    #[serde(default)]
    pub proposed_at_ms: u64,
}

impl Request {
    /// A request without an idempotency key.
    pub fn new(command: Command) -> Request {
        Request {
            idempotency_key: None,
            command,
            proposed_at_ms: 0,
        }
    }

    /// A request deduplicated by `key`.
    pub fn idempotent(key: impl Into<String>, command: Command) -> Request {
        Request {
            idempotency_key: Some(key.into()),
            command,
            proposed_at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

/// The result of applying one log entry, identical on every replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The command was applied.
    Applied(Response),
    /// The command was refused; the registry is unchanged.
    Refused(Refusal),
    /// A blank or membership entry: no registry command.
    Empty,
}

impl Outcome {
    /// The outcome as the registry's own result type, for callers that map
    /// [`RegistryError`] variants to their error codes. `Empty` (never the
    /// outcome of a [`Request`]) becomes [`RegistryError::Codec`].
    pub fn into_result(self) -> Result<Response, RegistryError> {
        match self {
            Outcome::Applied(response) => Ok(response),
            Outcome::Refused(refusal) => Err(refusal.into()),
            Outcome::Empty => Err(RegistryError::Codec(
                "log entry carried no registry command".to_owned(),
            )),
        }
    }
}
