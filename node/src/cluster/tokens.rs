//! Minting join tokens: the secret is made here, shown once, and only its
//! SHA-256 goes into the registry.

use nexus_raft::{JoinTokenInfo, NodeRole};
use nexus_tls::JoinToken;

use super::registry::{NewJoinToken, RegistryHandle};
use crate::clock::now_ms;
use nexus_errors::{ErrorCode, UserError};

/// Longest lifetime of a token, in seconds (a year).
pub const MAX_TOKEN_TTL_SECS: u64 = 365 * 24 * 3600;

/// Most joins one token may allow.
pub const MAX_TOKEN_USES: u32 = 10_000;

/// What a new token allows.
#[derive(Debug, Clone, Copy)]
pub struct TokenTerms {
    /// Lifetime from now, in seconds.
    pub ttl_secs: u64,
    /// Joins it allows (1 to [`MAX_TOKEN_USES`]).
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
    if !(1..=MAX_TOKEN_TTL_SECS).contains(&terms.ttl_secs) {
        return Err(UserError::new(
            ErrorCode::RequestInvalid,
            format!(
                "ttl_secs is {}: between 1 and {MAX_TOKEN_TTL_SECS} (a year)",
                terms.ttl_secs
            ),
        ));
    }
    if !(1..=MAX_TOKEN_USES).contains(&terms.uses) {
        return Err(UserError::new(
            ErrorCode::RequestInvalid,
            format!("uses is {}: between 1 and {MAX_TOKEN_USES}", terms.uses),
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
