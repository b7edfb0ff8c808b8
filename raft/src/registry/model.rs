//! The records the registry holds: tenants, API keys and their principals,
//! and sandboxes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::ParseEnumError;
use super::replicas::{Durability, Replica};
use super::state::SandboxState;

/// What an API key may do (serialized lowercase).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Cluster administrator.
    Admin,
    /// Acts within its own tenant only.
    Tenant,
}

impl Role {
    /// The lowercase name, as serialized and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Tenant => "tenant",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ParseEnumError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "tenant" => Ok(Role::Tenant),
            _ => Err(ParseEnumError::new("role", s, &["admin", "tenant"])),
        }
    }
}

/// A tenant: the unit of isolation that owns API keys and sandboxes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tenant {
    /// Proposer-chosen unique id.
    pub id: String,
    /// Unique name, 1–63 chars of `[a-z0-9_-]`.
    pub name: String,
    /// Creation time (ms since the Unix epoch, chosen by the proposer).
    pub created_at_ms: u64,
}

/// Who an API key authenticates as.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Principal {
    /// The key's id (never the key itself).
    pub key_id: String,
    /// The tenant the key belongs to.
    pub tenant_id: String,
    /// What the key may do.
    pub role: Role,
}

/// An API key as the registry lists it: never the key, never its hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// Proposer-chosen unique id.
    pub id: String,
    /// The tenant it belongs to.
    pub tenant_id: String,
    /// Name, 1–63 chars of `[a-z0-9_-]`, unique among the tenant's live
    /// keys (keys made before names existed are named after their id).
    pub name: String,
    /// What the key may do.
    pub role: Role,
    /// Creation time (ms since the Unix epoch, chosen by the proposer).
    pub created_at_ms: u64,
    /// The last use some node recorded (nodes report uses in batches, so
    /// this may lag by the flush interval), if any.
    pub last_used_at_ms: Option<u64>,
    /// When it was revoked; a revoked key authenticates nothing.
    pub revoked_at_ms: Option<u64>,
}

impl ApiKey {
    /// Who the key authenticates as (whether or not it is revoked).
    pub fn principal(&self) -> Principal {
        Principal {
            key_id: self.id.clone(),
            tenant_id: self.tenant_id.clone(),
            role: self.role,
        }
    }
}

/// One key's latest use seen by a node, reported in
/// [`Command::TouchApiKeys`](super::Command::TouchApiKeys).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyUse {
    /// The key.
    pub key_id: String,
    /// When it was last used, ms since the Unix epoch.
    pub at_ms: u64,
}

/// A docked workbook.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Sandbox {
    /// Proposer-chosen id, unique across the registry.
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Name, 1–63 chars of `[A-Za-z0-9._-]`, unique within the tenant.
    pub name: String,
    /// Resource/capability profile name (resolved by the node).
    pub profile: String,
    /// Hex sha256 of the workbook file as docked.
    pub workbook_sha256: String,
    /// Raft node id of the node that hosts it.
    pub home_node: u64,
    /// Lifecycle state.
    pub state: SandboxState,
    /// Bumped by one on every transition (optimistic concurrency fence).
    pub generation: u64,
    /// Dock time (ms since the Unix epoch, chosen by the proposer).
    pub created_at_ms: u64,
    /// Time of the last transition, or the dock time.
    pub updated_at_ms: u64,
    /// The nodes keeping a copy for the home, by node id.
    #[serde(default)]
    pub replicas: Vec<Replica>,
    /// The replication factor (home + replicas) asked for at dock; `None`:
    /// the home node's configured default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_factor: Option<u32>,
    /// The durability mode asked for at dock; `None`: the default for its
    /// factor (`sync` with replicas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub durability: Option<Durability>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_round_trips_through_str_and_serde() {
        for role in [Role::Admin, Role::Tenant] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            let json = serde_json::to_string(&role).expect("serialize");
            assert_eq!(json, format!("\"{role}\""));
        }
        assert!("Admin".parse::<Role>().is_err());
    }
}
