//! # nexus-raft
//!
//! The Nexus registry: the control plane (tenants, hashed API keys, sandboxes)
//! as a deterministic state machine over SQLite.
//!
//! Writes are [`Command`]s applied with [`Registry::apply`]; each yields a
//! [`Response`] or a [`RegistryError`]. `apply` reads nothing but the command
//! and the current state — every id and timestamp is chosen by the proposer
//! and carried in the command — so the same command sequence produces the
//! same registry on every node. That is what lets openraft replicate it later:
//! log entries are serialized `Command`s and every node applies them. Until
//! then a single node applies commands directly.

#![warn(missing_docs)]

pub mod registry;

pub use registry::{
    hash_api_key, Command, Principal, Registry, RegistryError, Response, Role, Sandbox,
    SandboxState, Tenant,
};
