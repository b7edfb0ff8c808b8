//! Errors returned by the registry.

use std::fmt;

use nexus_errors::{Coded, ErrorCode};

use super::mesh::MeshRefusal;
use super::tokens::TokenRefusal;

use super::state::{join_states, SandboxState};

/// Why a command was refused or a read failed.
///
/// Every variant except [`Storage`](RegistryError::Storage),
/// [`Codec`](RegistryError::Codec) and [`Schema`](RegistryError::Schema) is a
/// *refusal*: a deterministic verdict on (command, state) that every replica
/// reaches identically, leaving the registry unchanged. See
/// [`RegistryError::is_refusal`].
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A tenant with this name already exists.
    #[error("tenant {name} already exists")]
    TenantExists {
        /// The requested name.
        name: String,
    },
    /// A tenant with this id already exists (proposer picked a taken id).
    #[error("tenant id {tenant_id} already exists")]
    TenantIdExists {
        /// The requested id.
        tenant_id: String,
    },
    /// No tenant with this id.
    #[error("tenant {tenant_id} not found")]
    TenantNotFound {
        /// The id looked up.
        tenant_id: String,
    },
    /// The tenant name breaks the naming rule.
    #[error("invalid tenant name {name:?}: {reason}")]
    TenantNameInvalid {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The sandbox name breaks the naming rule.
    #[error("invalid sandbox name {name:?}: {reason}")]
    SandboxNameInvalid {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The tenant already has a sandbox with this name.
    #[error("sandbox name {name} is already taken")]
    SandboxNameTaken {
        /// The requested name.
        name: String,
    },
    /// A sandbox with this id already exists (proposer picked a taken id).
    #[error("sandbox {sandbox_id} already exists")]
    SandboxExists {
        /// The requested id.
        sandbox_id: String,
    },
    /// No such sandbox for this tenant (another tenant's sandbox is reported
    /// the same way).
    #[error("sandbox {sandbox_id} not found")]
    SandboxNotFound {
        /// The id looked up.
        sandbox_id: String,
    },
    /// The lifecycle does not allow `from -> to`.
    #[error(
        "sandbox {sandbox_id} is {from} and cannot become {to}; allowed next states: {}",
        join_states(.allowed)
    )]
    InvalidTransition {
        /// The sandbox.
        sandbox_id: String,
        /// Its current state.
        from: SandboxState,
        /// The requested state.
        to: SandboxState,
        /// The states it may move to.
        allowed: Vec<SandboxState>,
    },
    /// The writer's view of the sandbox is out of date.
    #[error("sandbox {sandbox_id}: stale generation {expected}, current is {current}")]
    StaleGeneration {
        /// The sandbox.
        sandbox_id: String,
        /// The generation the command expected.
        expected: u64,
        /// The generation actually stored.
        current: u64,
    },
    /// A proposed replica set is not valid for its sandbox.
    #[error("invalid replica set for sandbox {sandbox_id}: {reason}")]
    ReplicaSetInvalid {
        /// The sandbox.
        sandbox_id: String,
        /// What is wrong with the set.
        reason: String,
    },
    /// An API key with this id, or with this hash, already exists.
    #[error("api key {key_id} already exists")]
    ApiKeyExists {
        /// The id of the key being created.
        key_id: String,
    },
    /// The key hash is not a sha256 digest (64 lowercase hex characters);
    /// refuses to store what may be a plaintext key.
    #[error("api key {key_id}: key_hash must be 64 lowercase hex characters (a sha256 digest)")]
    ApiKeyHashInvalid {
        /// The id of the key being created.
        key_id: String,
    },
    /// The key name breaks the naming rule.
    #[error("invalid key name {name:?}: {reason}")]
    ApiKeyNameInvalid {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The tenant already has a live key with this name.
    #[error("tenant {tenant_id} already has a key named {name}")]
    ApiKeyNameTaken {
        /// The tenant.
        tenant_id: String,
        /// The requested name.
        name: String,
    },
    /// No live key with this id (unknown or already revoked).
    #[error("api key {key_id} not found (or already revoked)")]
    ApiKeyNotFound {
        /// The id looked up.
        key_id: String,
    },
    /// The write would leave the registry without a live admin key.
    #[error("api key {key_id} is the last live admin key; the cluster would be locked out")]
    ApiKeyLastAdmin {
        /// The last admin key.
        key_id: String,
    },
    /// The tenant owns sandboxes and the removal was not forced.
    #[error("tenant {tenant_id} owns {count} sandbox(es); remove them or force the removal")]
    TenantHasSandboxes {
        /// The tenant.
        tenant_id: String,
        /// How many sandboxes it owns.
        count: u64,
    },
    /// SQLite failed.
    #[error("registry storage: {0}")]
    Storage(#[from] rusqlite::Error),
    /// A join-token command was refused.
    #[error(transparent)]
    JoinToken(#[from] super::tokens::TokenRefusal),
    /// A mesh record was refused.
    #[error(transparent)]
    Mesh(#[from] super::mesh::MeshRefusal),
    /// A stored value could not be decoded.
    #[error("registry codec: {0}")]
    Codec(String),
    /// The database is not a registry, or has a schema this build cannot use.
    #[error("registry schema: {0}")]
    Schema(String),
}

impl RegistryError {
    /// Whether this is a deterministic refusal of a command (same verdict on
    /// every replica, nothing changed) rather than a local failure of storage,
    /// decoding or schema, which a replica must not paper over.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            RegistryError::Storage(_) | RegistryError::Codec(_) | RegistryError::Schema(_)
        )
    }
}

/// A string that names none of an enum's variants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseEnumError {
    kind: &'static str,
    value: String,
    expected: &'static [&'static str],
}

impl ParseEnumError {
    pub(crate) fn new(kind: &'static str, value: &str, expected: &'static [&'static str]) -> Self {
        ParseEnumError {
            kind,
            value: value.to_owned(),
            expected,
        }
    }
}

impl fmt::Display for ParseEnumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} {:?}; expected one of: {}",
            self.kind,
            self.value,
            self.expected.join(", ")
        )
    }
}

impl std::error::Error for ParseEnumError {}

/// The catalog code a user sees for each registry error.
impl Coded for RegistryError {
    fn code(&self) -> ErrorCode {
        match self {
            RegistryError::TenantExists { .. } => ErrorCode::TenantExists,
            RegistryError::TenantNameInvalid { .. } => ErrorCode::TenantNameInvalid,
            RegistryError::TenantNotFound { .. } => ErrorCode::TenantNotFound,
            RegistryError::TenantHasSandboxes { .. } => ErrorCode::TenantHasSandboxes,
            RegistryError::ApiKeyNameInvalid { .. } => ErrorCode::KeyNameInvalid,
            RegistryError::ApiKeyNameTaken { .. } => ErrorCode::KeyNameTaken,
            RegistryError::ApiKeyNotFound { .. } => ErrorCode::KeyNotFound,
            RegistryError::ApiKeyLastAdmin { .. } => ErrorCode::KeyLastAdmin,
            RegistryError::SandboxNameInvalid { .. } => ErrorCode::SandboxNameInvalid,
            RegistryError::SandboxNameTaken { .. } => ErrorCode::SandboxNameTaken,
            RegistryError::SandboxNotFound { .. } => ErrorCode::SandboxNotFound,
            RegistryError::InvalidTransition { .. } => ErrorCode::SandboxInvalidTransition,
            RegistryError::StaleGeneration { .. } => ErrorCode::SandboxStaleGeneration,
            RegistryError::ReplicaSetInvalid { .. } => ErrorCode::ReplicaSetInvalid,
            RegistryError::JoinToken(refusal) => match refusal {
                TokenRefusal::NotFound { .. } => ErrorCode::JoinTokenNotFound,
                TokenRefusal::Expired { .. } => ErrorCode::JoinTokenExpired,
                TokenRefusal::UsedUp { .. } => ErrorCode::JoinTokenUsedUp,
                TokenRefusal::Revoked { .. } => ErrorCode::JoinTokenRevoked,
                TokenRefusal::SecretMismatch { .. } => ErrorCode::JoinTokenInvalid,
                TokenRefusal::Exists { .. } => ErrorCode::Internal,
            },
            RegistryError::Mesh(refusal) => match refusal {
                MeshRefusal::Exhausted { .. } => ErrorCode::MeshAddressesExhausted,
                MeshRefusal::KeyInvalid { .. } | MeshRefusal::KeyTaken { .. } => {
                    ErrorCode::MeshKeyInvalid
                }
                MeshRefusal::CidrInvalid { .. } | MeshRefusal::CidrMismatch { .. } => {
                    ErrorCode::MeshConfigInvalid
                }
            },
            _ => ErrorCode::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_transition_message_names_sandbox_and_allowed_states() {
        let err = RegistryError::InvalidTransition {
            sandbox_id: "sb_123".into(),
            from: SandboxState::Suspended,
            to: SandboxState::Archived,
            allowed: SandboxState::Suspended.allowed_next().to_vec(),
        };
        assert_eq!(
            err.to_string(),
            "sandbox sb_123 is suspended and cannot become archived; \
             allowed next states: active, frozen"
        );
        assert!(err.is_refusal());
    }

    #[test]
    fn local_failures_are_not_refusals() {
        assert!(!RegistryError::Codec("x".into()).is_refusal());
        assert!(!RegistryError::Schema("x".into()).is_refusal());
        let storage = RegistryError::from(rusqlite::Error::QueryReturnedNoRows);
        assert!(!storage.is_refusal());
        assert!(RegistryError::SandboxNotFound {
            sandbox_id: "s".into()
        }
        .is_refusal());
    }
}
