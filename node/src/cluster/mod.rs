//! Glue between the node and the cluster's control plane: the replicated
//! registry ([`Replica`], [`RegistryHandle`]), this node's TLS identity, the
//! `[cluster]` configuration and the status `nexus status` shows.

mod admission;
mod ca_holding;
pub mod identity;
pub mod join;
mod join_forward;
pub mod join_record;
mod join_turns;
pub mod node_report;
mod recording;
mod registry;
pub mod removal;
mod replica;
pub mod status;
mod steward;
pub mod tokens;

pub use crate::config::{ClusterConfig, PeerConfig};
pub(crate) use recording::keep_trying;
pub use registry::{
    NewApiKey, NewJoinToken, NewSandbox, Redemption, RegistryHandle, TenantRemoval,
};
pub use replica::Replica;
