//! [`Refusal`]: the serializable mirror of [`RegistryError`]'s deterministic
//! refusal variants, carried in Raft apply results.

use serde::{Deserialize, Serialize};

use crate::registry::{MeshRefusal, RegistryError, SandboxState, TokenRefusal};

/// A deterministic refusal of a command, with the same variant names and
/// fields as the matching [`RegistryError`] variants (convert with `From` /
/// `TryFrom`). Local failures (storage, codec, schema) are never refusals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // fields documented on `RegistryError`
pub enum Refusal {
    /// See [`RegistryError::TenantExists`].
    #[error("tenant {name} already exists")]
    TenantExists { name: String },
    /// See [`RegistryError::TenantIdExists`].
    #[error("tenant id {tenant_id} already exists")]
    TenantIdExists { tenant_id: String },
    /// See [`RegistryError::TenantNotFound`].
    #[error("tenant {tenant_id} not found")]
    TenantNotFound { tenant_id: String },
    /// See [`RegistryError::TenantNameInvalid`].
    #[error("invalid tenant name {name:?}: {reason}")]
    TenantNameInvalid { name: String, reason: String },
    /// See [`RegistryError::SandboxNameInvalid`].
    #[error("invalid sandbox name {name:?}: {reason}")]
    SandboxNameInvalid { name: String, reason: String },
    /// See [`RegistryError::SandboxNameTaken`].
    #[error("sandbox name {name} is already taken")]
    SandboxNameTaken { name: String },
    /// See [`RegistryError::SandboxExists`].
    #[error("sandbox {sandbox_id} already exists")]
    SandboxExists { sandbox_id: String },
    /// See [`RegistryError::SandboxNotFound`].
    #[error("sandbox {sandbox_id} not found")]
    SandboxNotFound { sandbox_id: String },
    /// See [`RegistryError::InvalidTransition`].
    #[error("sandbox {sandbox_id} is {from} and cannot become {to}")]
    InvalidTransition {
        sandbox_id: String,
        from: SandboxState,
        to: SandboxState,
        allowed: Vec<SandboxState>,
    },
    /// See [`RegistryError::StaleGeneration`].
    #[error("sandbox {sandbox_id}: stale generation {expected}, current is {current}")]
    StaleGeneration {
        sandbox_id: String,
        expected: u64,
        current: u64,
    },
    /// See [`RegistryError::ReplicaSetInvalid`].
    #[error("invalid replica set for sandbox {sandbox_id}: {reason}")]
    ReplicaSetInvalid { sandbox_id: String, reason: String },
    /// See [`RegistryError::ApiKeyExists`].
    #[error("api key {key_id} already exists")]
    ApiKeyExists { key_id: String },
    /// See [`RegistryError::ApiKeyHashInvalid`].
    #[error("api key {key_id}: key_hash must be a sha256 digest")]
    ApiKeyHashInvalid { key_id: String },
    /// See [`RegistryError::ApiKeyNameInvalid`].
    #[error("invalid key name {name:?}: {reason}")]
    ApiKeyNameInvalid { name: String, reason: String },
    /// See [`RegistryError::ApiKeyNameTaken`].
    #[error("tenant {tenant_id} already has a key named {name}")]
    ApiKeyNameTaken { tenant_id: String, name: String },
    /// See [`RegistryError::ApiKeyNotFound`].
    #[error("api key {key_id} not found (or already revoked)")]
    ApiKeyNotFound { key_id: String },
    /// See [`RegistryError::ApiKeyLastAdmin`].
    #[error("api key {key_id} is the last live admin key")]
    ApiKeyLastAdmin { key_id: String },
    /// See [`RegistryError::TenantHasSandboxes`].
    #[error("tenant {tenant_id} owns {count} sandbox(es)")]
    TenantHasSandboxes { tenant_id: String, count: u64 },
    /// See [`RegistryError::JoinToken`].
    #[error(transparent)]
    JoinToken(TokenRefusal),
    /// See [`RegistryError::Mesh`].
    #[error(transparent)]
    Mesh(MeshRefusal),
}

impl From<Refusal> for RegistryError {
    fn from(refusal: Refusal) -> RegistryError {
        use Refusal as R;
        match refusal {
            R::TenantExists { name } => RegistryError::TenantExists { name },
            R::TenantIdExists { tenant_id } => RegistryError::TenantIdExists { tenant_id },
            R::TenantNotFound { tenant_id } => RegistryError::TenantNotFound { tenant_id },
            R::TenantNameInvalid { name, reason } => {
                RegistryError::TenantNameInvalid { name, reason }
            }
            R::SandboxNameInvalid { name, reason } => {
                RegistryError::SandboxNameInvalid { name, reason }
            }
            R::SandboxNameTaken { name } => RegistryError::SandboxNameTaken { name },
            R::SandboxExists { sandbox_id } => RegistryError::SandboxExists { sandbox_id },
            R::SandboxNotFound { sandbox_id } => RegistryError::SandboxNotFound { sandbox_id },
            R::InvalidTransition {
                sandbox_id,
                from,
                to,
                allowed,
            } => RegistryError::InvalidTransition {
                sandbox_id,
                from,
                to,
                allowed,
            },
            R::StaleGeneration {
                sandbox_id,
                expected,
                current,
            } => RegistryError::StaleGeneration {
                sandbox_id,
                expected,
                current,
            },
            R::ReplicaSetInvalid { sandbox_id, reason } => {
                RegistryError::ReplicaSetInvalid { sandbox_id, reason }
            }
            R::ApiKeyExists { key_id } => RegistryError::ApiKeyExists { key_id },
            R::ApiKeyHashInvalid { key_id } => RegistryError::ApiKeyHashInvalid { key_id },
            R::ApiKeyNameInvalid { name, reason } => {
                RegistryError::ApiKeyNameInvalid { name, reason }
            }
            R::ApiKeyNameTaken { tenant_id, name } => {
                RegistryError::ApiKeyNameTaken { tenant_id, name }
            }
            R::ApiKeyNotFound { key_id } => RegistryError::ApiKeyNotFound { key_id },
            R::ApiKeyLastAdmin { key_id } => RegistryError::ApiKeyLastAdmin { key_id },
            R::TenantHasSandboxes { tenant_id, count } => {
                RegistryError::TenantHasSandboxes { tenant_id, count }
            }
            R::JoinToken(refusal) => RegistryError::JoinToken(refusal),
            R::Mesh(refusal) => RegistryError::Mesh(refusal),
        }
    }
}

impl TryFrom<RegistryError> for Refusal {
    /// A local failure is handed back unchanged.
    type Error = RegistryError;

    fn try_from(err: RegistryError) -> Result<Refusal, RegistryError> {
        use RegistryError as E;
        Ok(match err {
            E::TenantExists { name } => Refusal::TenantExists { name },
            E::TenantIdExists { tenant_id } => Refusal::TenantIdExists { tenant_id },
            E::TenantNotFound { tenant_id } => Refusal::TenantNotFound { tenant_id },
            E::TenantNameInvalid { name, reason } => Refusal::TenantNameInvalid { name, reason },
            E::SandboxNameInvalid { name, reason } => Refusal::SandboxNameInvalid { name, reason },
            E::SandboxNameTaken { name } => Refusal::SandboxNameTaken { name },
            E::SandboxExists { sandbox_id } => Refusal::SandboxExists { sandbox_id },
            E::SandboxNotFound { sandbox_id } => Refusal::SandboxNotFound { sandbox_id },
            E::InvalidTransition {
                sandbox_id,
                from,
                to,
                allowed,
            } => Refusal::InvalidTransition {
                sandbox_id,
                from,
                to,
                allowed,
            },
            E::StaleGeneration {
                sandbox_id,
                expected,
                current,
            } => Refusal::StaleGeneration {
                sandbox_id,
                expected,
                current,
            },
            E::ReplicaSetInvalid { sandbox_id, reason } => {
                Refusal::ReplicaSetInvalid { sandbox_id, reason }
            }
            E::ApiKeyExists { key_id } => Refusal::ApiKeyExists { key_id },
            E::ApiKeyHashInvalid { key_id } => Refusal::ApiKeyHashInvalid { key_id },
            E::ApiKeyNameInvalid { name, reason } => Refusal::ApiKeyNameInvalid { name, reason },
            E::ApiKeyNameTaken { tenant_id, name } => Refusal::ApiKeyNameTaken { tenant_id, name },
            E::ApiKeyNotFound { key_id } => Refusal::ApiKeyNotFound { key_id },
            E::ApiKeyLastAdmin { key_id } => Refusal::ApiKeyLastAdmin { key_id },
            E::TenantHasSandboxes { tenant_id, count } => {
                Refusal::TenantHasSandboxes { tenant_id, count }
            }
            E::JoinToken(refusal) => Refusal::JoinToken(refusal),
            E::Mesh(refusal) => Refusal::Mesh(refusal),
            local @ (E::Storage(_) | E::Codec(_) | E::Schema(_)) => return Err(local),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_round_trips_through_registry_error_and_json() {
        let refusal = Refusal::StaleGeneration {
            sandbox_id: "sb".into(),
            expected: 1,
            current: 2,
        };
        let err = RegistryError::from(refusal.clone());
        assert!(matches!(err, RegistryError::StaleGeneration { .. }));
        assert!(err.is_refusal());
        assert_eq!(Refusal::try_from(err).ok(), Some(refusal.clone()));
        let json = serde_json::to_string(&refusal).expect("serialize");
        assert_eq!(
            serde_json::from_str::<Refusal>(&json).expect("deserialize"),
            refusal
        );
    }

    #[test]
    fn local_failures_are_not_refusals() {
        assert!(Refusal::try_from(RegistryError::Codec("x".into())).is_err());
    }
}
