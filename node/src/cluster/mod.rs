//! Glue between the node and the cluster's control plane: the replicated
//! registry ([`Replica`], [`RegistryHandle`]), this node's TLS identity, the
//! `[cluster]` configuration and the status `nexus status` shows.

pub mod config;
pub mod identity;
mod registry;
mod replica;
pub mod status;

pub use config::{ClusterConfig, PeerConfig};
pub use registry::RegistryHandle;
pub use replica::Replica;
