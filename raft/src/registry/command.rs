//! Commands (the future Raft log entries) and their responses.
//!
//! Both enums are externally tagged with snake_case variant names, which works
//! with self-describing formats (JSON: `{"create_tenant": {...}}`) and with
//! compact binary ones alike.

use serde::{Deserialize, Serialize};

use super::model::{Role, Sandbox, Tenant};
use super::state::SandboxState;

/// A write to the registry. Every id and timestamp is chosen by the proposer,
/// so applying a command is a pure function of (command, state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Create a tenant with a unique id and name.
    CreateTenant {
        /// New tenant id.
        tenant_id: String,
        /// Unique name, 1–63 chars of `[a-z0-9_-]`.
        name: String,
        /// Creation time, ms since the Unix epoch.
        at_ms: u64,
    },
    /// Register an API key (by hash only) for an existing tenant.
    CreateApiKey {
        /// New key id.
        key_id: String,
        /// Owning tenant; must exist.
        tenant_id: String,
        /// [`hash_api_key`](super::hash_api_key) of the key; never the key.
        key_hash: String,
        /// What the key may do.
        role: Role,
        /// Creation time, ms since the Unix epoch.
        at_ms: u64,
    },
    /// Dock a workbook as a new sandbox in state `created`, generation 0.
    DockSandbox {
        /// New sandbox id, unique across the registry.
        sandbox_id: String,
        /// Owning tenant; must exist.
        tenant_id: String,
        /// Name, 1–63 chars of `[A-Za-z0-9._-]`, unique within the tenant.
        name: String,
        /// Profile name.
        profile: String,
        /// Hex sha256 of the workbook file.
        workbook_sha256: String,
        /// Raft node id of the hosting node.
        home_node: u64,
        /// Dock time, ms since the Unix epoch.
        at_ms: u64,
    },
    /// Remove a sandbox record (any state); its name becomes free again.
    RemoveSandbox {
        /// The sandbox.
        sandbox_id: String,
        /// Its tenant; another tenant's sandbox is "not found".
        tenant_id: String,
    },
    /// Move a sandbox along its lifecycle, fenced by its generation.
    Transition {
        /// The sandbox.
        sandbox_id: String,
        /// Its tenant; another tenant's sandbox is "not found".
        tenant_id: String,
        /// Target state.
        to: SandboxState,
        /// Must equal the stored generation.
        expected_generation: u64,
        /// Transition time, ms since the Unix epoch.
        at_ms: u64,
    },
}

/// The result of a successfully applied [`Command`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// From [`Command::CreateTenant`].
    TenantCreated(Tenant),
    /// From [`Command::CreateApiKey`].
    ApiKeyCreated {
        /// The new key's id.
        key_id: String,
    },
    /// From [`Command::DockSandbox`]: the new sandbox.
    SandboxDocked(Sandbox),
    /// From [`Command::RemoveSandbox`].
    SandboxRemoved {
        /// The removed sandbox's id.
        sandbox_id: String,
    },
    /// From [`Command::Transition`]: the sandbox after the hop.
    Transitioned(Sandbox),
}
