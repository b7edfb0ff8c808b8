//! # nexus-transport
//!
//! How Nexus nodes talk to each other: openraft's vote, append and snapshot
//! RPCs, and a peer service that forwards registry writes and read barriers
//! to the leader — all gRPC (tonic) over mutual TLS.
//!
//! - [`server::serve`] answers both services on one listener, and — on the
//!   same port, for connections that ask for [`nexus_tls::ALPN_JOIN`] — the
//!   join service, the only one served to a client without a certificate.
//! - [`join::request_join`] is the joiner's side: it pins the cluster CA
//!   before anything is sent.
//! - [`JoinForwarder`] hands a join that reached a member without the CA
//!   key to a member that holds it (`PeerService.AdmitJoin`).
//! - [`Network`] is openraft's network: one reused channel per peer
//!   ([`Channels`]), unreachable peers backed off, failures logged at a
//!   bounded rate and refusals of this node's certificate noticed
//!   ([`PeerHealth`]).
//! - [`LeaderWatch`] decides when the leader is gone and starts the
//!   campaigns (openraft's own timer elections are off): a probe the
//!   leader's host refuses, or silence, and a pre-vote of the voters.
//! - [`Liveness`] is when each member last renewed its home lease through
//!   this node as leader (its read barriers), for the node's failover.
//! - [`Gateway`] is what the node writes and reads the registry through:
//!   local when this node leads, forwarded to the leader otherwise, with the
//!   write's idempotency key so a retry applies at most once.
//!
//! - [`bulk`] is the data plane: a QUIC endpoint (quinn) with the same mTLS
//!   and peer policy, one reused connection per peer and one stream per
//!   routed request or file transfer.
//!
//! Messages are openraft's serde types encoded as MessagePack
//! ([`codec::MsgPackCodec`]); no `.proto` files and no `protoc`. Every
//! message may be up to [`MAX_MESSAGE_BYTES`] in both directions (tonic's
//! default 4 MiB decode cap would refuse snapshot chunks).

#![deny(missing_docs)]

pub mod bulk;
mod channels;
pub mod codec;
pub mod contact;
mod forward;
mod gateway;
pub mod join;
pub mod leader_watch;
mod liveness;
pub mod messages;
mod network;
pub mod peer_health;
mod proposer;
pub mod server;
pub mod tls;

/// Generated gRPC clients and servers (see `build.rs`).
#[allow(missing_docs, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/nexus.raft.RaftService.rs"));
    include!(concat!(env!("OUT_DIR"), "/nexus.peer.PeerService.rs"));
    include!(concat!(env!("OUT_DIR"), "/nexus.join.JoinService.rs"));
}

pub use channels::Channels;
pub use contact::{Health, PeerContact};
pub use forward::{ForwardError, JoinForwarder};
pub use gateway::{Gateway, GatewayError};
pub use leader_watch::{LeaderWatch, WatchTiming};
pub use liveness::Liveness;
pub use network::{Network, PeerLink};
pub use peer_health::PeerHealth;
pub use proposer::{Proposer, WriteResult};
pub use tls::DialError;

/// The largest message either side sends or accepts (a snapshot chunk of
/// [`nexus_raft::replication::SNAPSHOT_CHUNK_BYTES`] plus its framing fits).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
