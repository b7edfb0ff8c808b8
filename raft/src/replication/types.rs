//! The openraft type configuration: node id, node info, log payload and
//! apply result.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::refusal::Refusal;
use super::state_machine::SnapshotFile;
use crate::registry::{Command, RegistryError, Response};

openraft::declare_raft_types!(
    /// Raft types of the Nexus registry.
    pub TypeConfig:
        D = Proposal,
        R = Outcome,
        NodeId = u64,
        Node = NodeInfo,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = SnapshotFile,
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

/// The payload of one log entry: a single [`Request`], or several proposed
/// together. A batch shares one append, one fsync and one replication round
/// among its requests; each is applied in order, with its own idempotency
/// record and its own [`Outcome`], exactly as if it had its own entry.
///
/// Written untagged, so an entry written before batches existed (a bare
/// request) still reads as [`Proposal::One`]. Read through
/// [`ProposalFields`] in one pass: serde's untagged reading buffers the whole
/// value in an allocated tree first, once per entry on every follower.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Proposal {
    /// Several requests, applied in order; the entry's outcome is
    /// [`Outcome::Batch`].
    Batch {
        /// The requests, in the order they were proposed.
        batch: Vec<Request>,
    },
    /// One request.
    One(Request),
}

/// Every field either form of a [`Proposal`] has: `batch`, or a
/// [`Request`]'s own fields.
#[derive(Deserialize)]
struct ProposalFields {
    batch: Option<Vec<Request>>,
    idempotency_key: Option<String>,
    command: Option<Command>,
    #[serde(default)]
    proposed_at_ms: u64,
}

impl<'de> Deserialize<'de> for Proposal {
    /// A map with `batch` is a [`Proposal::Batch`] (as the untagged form
    /// read it: its first variant wins); one with `command` is a
    /// [`Proposal::One`].
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fields = ProposalFields::deserialize(deserializer)?;
        match (fields.batch, fields.command) {
            (Some(batch), _) => Ok(Proposal::Batch { batch }),
            (None, Some(command)) => Ok(Proposal::One(Request {
                idempotency_key: fields.idempotency_key,
                command,
                proposed_at_ms: fields.proposed_at_ms,
            })),
            (None, None) => Err(serde::de::Error::custom(
                "a log entry's proposal has neither `batch` nor `command`",
            )),
        }
    }
}

impl From<Request> for Proposal {
    fn from(request: Request) -> Proposal {
        Proposal::One(request)
    }
}

impl Proposal {
    /// The requests of the entry, in order.
    pub fn requests(&self) -> &[Request] {
        match self {
            Proposal::Batch { batch } => batch,
            Proposal::One(request) => std::slice::from_ref(request),
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
    /// A [`Proposal::Batch`]: one outcome per request, in order.
    Batch(Vec<Outcome>),
}

impl Outcome {
    /// The outcome as the registry's own result type, for callers that map
    /// [`RegistryError`] variants to their error codes. `Empty` (never the
    /// outcome of a [`Request`]) and `Batch` (the outcome of an entry, not
    /// of one request) become [`RegistryError::Codec`].
    pub fn into_result(self) -> Result<Response, RegistryError> {
        match self {
            Outcome::Applied(response) => Ok(response),
            Outcome::Refused(refusal) => Err(refusal.into()),
            Outcome::Empty => Err(RegistryError::Codec(
                "log entry carried no registry command".to_owned(),
            )),
            Outcome::Batch(_) => Err(RegistryError::Codec(
                "a batch's outcome is not one request's".to_owned(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(key: &str) -> Request {
        Request::idempotent(
            key,
            Command::CreateTenant {
                tenant_id: format!("t_{key}"),
                name: key.to_owned(),
                at_ms: 1,
            },
        )
    }

    #[test]
    fn an_entry_from_before_batches_reads_as_one_request() {
        // One request: a second `request("a")` may carry a later
        // `proposed_at_ms` (the clock ticked between them).
        let sent = request("a");
        let bare = serde_json::to_vec(&sent).unwrap();
        let read: Proposal = serde_json::from_slice(&bare).unwrap();
        assert_eq!(read, Proposal::One(sent));
    }

    #[test]
    fn both_forms_round_trip_through_the_peer_codec() {
        // MessagePack with named fields, as the gRPC codec sends entries.
        let one = Proposal::One(Request::new(Command::CreateTenant {
            tenant_id: "t_x".to_owned(),
            name: "x".to_owned(),
            at_ms: 1,
        }));
        let batch = Proposal::Batch {
            batch: vec![request("a"), request("b")],
        };
        for sent in [one, batch] {
            let bytes = rmp_serde::to_vec_named(&sent).unwrap();
            let read: Proposal = rmp_serde::from_slice(&bytes).unwrap();
            assert_eq!(read, sent);
        }
    }

    #[test]
    fn a_proposal_without_batch_or_command_is_refused() {
        let err = serde_json::from_str::<Proposal>(r#"{"idempotency_key":"k"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a log entry's proposal has neither `batch` nor `command`"
        );
    }

    #[test]
    fn a_batch_round_trips_and_lists_its_requests_in_order() {
        let batch = Proposal::Batch {
            batch: vec![request("a"), request("b")],
        };
        let read: Proposal = serde_json::from_slice(&serde_json::to_vec(&batch).unwrap()).unwrap();
        assert_eq!(read, batch);
        let keys: Vec<_> = read
            .requests()
            .iter()
            .map(|r| r.idempotency_key.as_deref())
            .collect();
        assert_eq!(keys, [Some("a"), Some("b")]);
    }
}
