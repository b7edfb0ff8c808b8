//! Minting join tokens: the secret is made here, shown once, and only its
//! SHA-256 goes into the registry.

use nexus_raft::{JoinTokenInfo, NodeRole};
use nexus_tls::JoinToken;

use super::registry::{NewJoinToken, RegistryHandle};
use crate::clock::now_ms;
use nexus_errors::{ErrorCode, UserError};

/// What a new token allows.
#[derive(Debug, Clone, Copy)]
pub struct TokenTerms {
    /// Lifetime from now, in seconds.
    pub ttl_secs: u64,
    /// Joins it allows (1 or more).
    pub uses: u32,
    /// What a joiner becomes.
    pub role: NodeRole,
}

/// Mints a token pinned to the CA with `ca_fingerprint` and records it.
/// Returns the token string (the only copy of its secret) and the record.
pub async fn mint(
    registry: &RegistryHandle,
    ca_fingerprint: &str,
    terms: TokenTerms,
) -> Result<(String, JoinTokenInfo), UserError> {
    if terms.uses == 0 {
        return Err(UserError::new(
            ErrorCode::RequestInvalid,
            "uses must be 1 or more",
        ));
    }
    let (token, seed) = JoinToken::mint(ca_fingerprint).map_err(|e| {
        UserError::new(
            ErrorCode::Internal,
            format!("cannot mint a join token: {e}"),
        )
    })?;
    let at_ms = now_ms();
    let info = registry
        .create_join_token(NewJoinToken {
            id: seed.id,
            secret_hash: seed.secret_hash,
            role: terms.role,
            uses: terms.uses,
            at_ms,
            expires_at_ms: at_ms.saturating_add(terms.ttl_secs.saturating_mul(1000)),
        })
        .await?;
    Ok((token.to_string(), info))
}
