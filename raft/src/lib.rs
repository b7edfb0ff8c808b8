//! # nexus-raft
//!
//! The Nexus registry: the control plane (tenants, hashed API keys, sandboxes)
//! as a deterministic state machine over SQLite.
//!
//! Writes are [`Command`]s applied with [`Registry::apply`]; each yields a
//! [`Response`] or a [`RegistryError`]. `apply` reads nothing but the command
//! and the current state — every id and timestamp is chosen by the proposer
//! and carried in the command — so the same command sequence produces the
//! same registry on every node. That is what lets openraft replicate it:
//! [`replication`] holds the Raft type config, the SQLite log store and the
//! state machine over the registry (log entries carry `Command`s). A single
//! node may still apply commands directly with [`Registry::apply`].

#![deny(missing_docs)]

pub mod registry;
pub mod replication;

pub use registry::{
    hash_api_key, ApiKey, CaHolder, Command, Durability, JoinTokenInfo, JoinedNode, KeyUse,
    MeshPeer, MeshPorts, MeshRefusal, NodeLoad, NodeReport, NodeRole, Principal, Readers, Registry,
    RegistryError, Replica, Response, RevokedNode, Role, Sandbox, SandboxState, Tenant,
    TokenCommand, TokenRefusal, MAX_REPLICAS, TOKENS_KEPT_AFTER_EXPIRY_MS,
};
