//! Join tokens: what lets a new machine join the cluster. The registry keeps
//! each token's id, the SHA-256 of its secret (never the secret), the role
//! it grants, its expiry and its remaining uses; redeeming one checks all of
//! that deterministically (the time is the proposer's, carried in the
//! command) and allocates the joiner a node id that is never reused.

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::error::RegistryError;
use super::store::{from_db, to_db};

/// What a redeemed token lets the new node become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// A voting member (when the cluster has fewer than five voters).
    Voter,
    /// A non-voting member that only replicates.
    Learner,
}

impl NodeRole {
    /// `voter` or `learner`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Voter => "voter",
            NodeRole::Learner => "learner",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<NodeRole> {
        [NodeRole::Voter, NodeRole::Learner]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// A join token as listed (no secret, no hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JoinTokenInfo {
    /// Token id (the public half of the token string).
    pub id: String,
    /// What a joiner becomes.
    pub role: NodeRole,
    /// Expiry, ms since the Unix epoch.
    pub expires_at_ms: u64,
    /// Joins it still allows.
    pub uses_left: u32,
    /// Whether it was revoked.
    pub revoked: bool,
    /// Creation time, ms since the Unix epoch.
    pub created_at_ms: u64,
}

/// Why a token command was refused. Deterministic: every replica reaches
/// the same verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum TokenRefusal {
    /// No token with this id.
    #[error("join token {token_id} does not exist")]
    NotFound {
        /// The id looked up.
        token_id: String,
    },
    /// The proposer picked an id that is taken.
    #[error("join token {token_id} already exists")]
    Exists {
        /// The id.
        token_id: String,
    },
    /// The token's lifetime is over.
    #[error("join token {token_id} expired at {expires_at_ms} ms")]
    Expired {
        /// The id.
        token_id: String,
        /// When it expired.
        expires_at_ms: u64,
    },
    /// Every use of the token is spent.
    #[error("join token {token_id} has no uses left")]
    UsedUp {
        /// The id.
        token_id: String,
    },
    /// The token was revoked.
    #[error("join token {token_id} was revoked")]
    Revoked {
        /// The id.
        token_id: String,
    },
    /// The secret does not hash to the stored hash.
    #[error("join token {token_id}: the secret does not match")]
    SecretMismatch {
        /// The id.
        token_id: String,
    },
}

/// The first node id handed to a joiner when the proposer asks for less.
const FIRST_JOINED_NODE_ID: u64 = 2;

/// How long a token is listed after it expired; minting a token removes
/// the ones expired longer ago, so the table holds at most the tokens
/// minted within their lifetime plus this.
pub const TOKENS_KEPT_AFTER_EXPIRY_MS: u64 = 60 * 60 * 1000;

/// Stores a new token, and removes the tokens that expired more than
/// [`TOKENS_KEPT_AFTER_EXPIRY_MS`] before it was minted (the time is the
/// proposer's, in the command: every replica removes the same ones).
pub(crate) fn create(
    conn: &Connection,
    token: &JoinTokenInfo,
    secret_hash: &str,
) -> Result<(), RegistryError> {
    let horizon = token
        .created_at_ms
        .saturating_sub(TOKENS_KEPT_AFTER_EXPIRY_MS);
    conn.prepare_cached("DELETE FROM join_tokens WHERE expires_at_ms < ?1")?
        .execute([to_db(horizon)])?;
    if find(conn, &token.id)?.is_some() {
        return Err(TokenRefusal::Exists {
            token_id: token.id.clone(),
        }
        .into());
    }
    conn.prepare_cached(
        "INSERT INTO join_tokens (id, secret_hash, role, expires_at_ms, uses_left, revoked, \
         created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
    )?
    .execute((
        &token.id,
        secret_hash,
        token.role.as_str(),
        to_db(token.expires_at_ms),
        token.uses_left,
        to_db(token.created_at_ms),
    ))?;
    Ok(())
}

/// Marks a token revoked (revoking twice is not an error).
pub(crate) fn revoke(conn: &Connection, token_id: &str) -> Result<(), RegistryError> {
    let changed = conn
        .prepare_cached("UPDATE join_tokens SET revoked = 1 WHERE id = ?1")?
        .execute([token_id])?;
    if changed == 0 {
        return Err(not_found(token_id));
    }
    Ok(())
}

/// Checks that `secret_hash` may redeem the token at `at_ms`, without
/// spending it. Checks, in order: exists, secret, revoked, expired, uses left.
pub(crate) fn check(
    conn: &Connection,
    token_id: &str,
    secret_hash: &str,
    at_ms: u64,
) -> Result<JoinTokenInfo, RegistryError> {
    let (token, stored_hash) = find(conn, token_id)?.ok_or_else(|| not_found(token_id))?;
    let token_id = token_id.to_owned();
    // Hashes, not secrets, and compared in constant time all the same.
    if !bool::from(stored_hash.as_bytes().ct_eq(secret_hash.as_bytes())) {
        return Err(TokenRefusal::SecretMismatch { token_id }.into());
    }
    if token.revoked {
        return Err(TokenRefusal::Revoked { token_id }.into());
    }
    if at_ms >= token.expires_at_ms {
        let expires_at_ms = token.expires_at_ms;
        return Err(TokenRefusal::Expired {
            token_id,
            expires_at_ms,
        }
        .into());
    }
    if token.uses_left == 0 {
        return Err(TokenRefusal::UsedUp { token_id }.into());
    }
    Ok(token)
}

/// Spends one use of a token (after [`check`]) and allocates the joiner's
/// node id (at least `min_node_id`, above every id allocated before).
pub(crate) fn redeem(
    conn: &Connection,
    token_id: &str,
    secret_hash: &str,
    min_node_id: u64,
    at_ms: u64,
) -> Result<(u64, NodeRole), RegistryError> {
    let token = check(conn, token_id, secret_hash, at_ms)?;
    conn.prepare_cached("UPDATE join_tokens SET uses_left = uses_left - 1 WHERE id = ?1")?
        .execute([token_id])?;
    let next: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'next_node_id'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let next = next
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(FIRST_JOINED_NODE_ID);
    let node_id = next.max(min_node_id);
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('next_node_id', ?1) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([(node_id + 1).to_string()])?;
    Ok((node_id, token.role))
}

/// Every token, oldest first.
pub(crate) fn list(conn: &Connection) -> Result<Vec<JoinTokenInfo>, RegistryError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM join_tokens ORDER BY created_at_ms, id"
    ))?;
    let rows = stmt.query_map([], row)?;
    rows.map(|r| r.map_err(RegistryError::from).and_then(|info| info))
        .collect()
}

const COLS: &str = "id, role, expires_at_ms, uses_left, revoked, created_at_ms, secret_hash";

fn find(
    conn: &Connection,
    token_id: &str,
) -> Result<Option<(JoinTokenInfo, String)>, RegistryError> {
    let found = conn
        .prepare_cached(&format!("SELECT {COLS} FROM join_tokens WHERE id = ?1"))?
        .query_row([token_id], |r| Ok((row(r)?, r.get::<_, String>(6)?)))
        .optional()?;
    found
        .map(|(info, hash)| info.map(|i| (i, hash)))
        .transpose()
}

/// Maps a row; an unknown role text is a codec error, not a panic.
fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<JoinTokenInfo, RegistryError>> {
    let role: String = r.get(1)?;
    let Some(role) = NodeRole::parse(&role) else {
        return Ok(Err(RegistryError::Codec(format!(
            "unknown node role {role:?}"
        ))));
    };
    Ok(Ok(JoinTokenInfo {
        id: r.get(0)?,
        role,
        expires_at_ms: from_db(r.get(2)?),
        uses_left: r.get(3)?,
        revoked: r.get::<_, i64>(4)? != 0,
        created_at_ms: from_db(r.get(5)?),
    }))
}

fn not_found(token_id: &str) -> RegistryError {
    TokenRefusal::NotFound {
        token_id: token_id.to_owned(),
    }
    .into()
}
