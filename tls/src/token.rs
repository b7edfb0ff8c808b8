//! Join tokens (k3s-style). A token carries the cluster CA fingerprint, so the joiner can pin
//! the CA *before* revealing anything, plus a token id and a secret.
//!
//! Format (version 1), four fields separated by `.`:
//!
//! ```text
//! NXJ1.<ca_fingerprint>.<token_id>.<secret>
//!   ca_fingerprint  64 hex chars: sha256 of the cluster CA DER (case-insensitive, kept lowercase)
//!   token_id        16 lowercase hex chars (64 random bits): the registry key of the token
//!   secret          64 lowercase hex chars (256 random bits)
//! ```
//!
//! The registry stores only [`TokenRecordSeed`] (`id`, sha256 of the secret) together with the
//! expiry and remaining uses, which it enforces; tokens are single-use unless asked otherwise.
//! A presented secret is checked with [`verify_secret`] (constant time).

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Version prefix of the current token format.
pub const TOKEN_PREFIX: &str = "NXJ1";
const ID_HEX_LEN: usize = 16;
const SECRET_HEX_LEN: usize = 64;
const FINGERPRINT_HEX_LEN: usize = 64;

/// Why a token string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a Nexus join token at all.
    #[error("join token: not a Nexus join token (expected NXJ1.<ca-hash>.<id>.<secret>)")]
    Garbage,
    /// A Nexus token of another format version.
    #[error("join token: unsupported version {0:?} (this build reads {TOKEN_PREFIX})")]
    WrongVersion(String),
    /// The CA fingerprint is not 64 characters.
    #[error("join token: CA fingerprint must be 64 hex characters, got {0}")]
    FingerprintLength(usize),
    /// The CA fingerprint has a non-hex character.
    #[error("join token: CA fingerprint is not hex")]
    FingerprintNotHex,
    /// The token id is not 16 lowercase hex characters.
    #[error("join token: token id must be {ID_HEX_LEN} lowercase hex characters")]
    BadId,
    /// The secret is not 64 lowercase hex characters.
    #[error("join token: secret must be {SECRET_HEX_LEN} lowercase hex characters")]
    BadSecret,
}

/// A parsed join token. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinToken {
    /// Lowercase hex sha256 of the cluster CA DER.
    pub ca_fingerprint: String,
    /// Token id (registry key).
    pub id: String,
    /// The secret, as typed (lowercase hex).
    pub secret: String,
}

/// What the registry stores for a minted token (plus expiry and uses, which it owns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecordSeed {
    /// Token id.
    pub id: String,
    /// [`hash_secret`] of the secret.
    pub secret_hash: String,
}

impl fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinToken")
            .field("ca_fingerprint", &self.ca_fingerprint)
            .field("id", &self.id)
            .field("secret", &"[elided]")
            .finish()
    }
}

impl fmt::Display for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{TOKEN_PREFIX}.{}.{}.{}",
            self.ca_fingerprint, self.id, self.secret
        )
    }
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn check_fingerprint(fp: &str) -> Result<String, TokenError> {
    if fp.len() != FINGERPRINT_HEX_LEN {
        return Err(TokenError::FingerprintLength(fp.len()));
    }
    if !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TokenError::FingerprintNotHex);
    }
    Ok(fp.to_ascii_lowercase())
}

impl JoinToken {
    /// Parses a token string (surrounding whitespace is ignored).
    pub fn parse(s: &str) -> Result<JoinToken, TokenError> {
        let parts: Vec<&str> = s.trim().split('.').collect();
        let version = parts[0];
        if version != TOKEN_PREFIX {
            let looks_nexus = version.len() > 3
                && version.starts_with("NXJ")
                && version[3..].bytes().all(|b| b.is_ascii_digit());
            return Err(if looks_nexus {
                TokenError::WrongVersion(version.to_string())
            } else {
                TokenError::Garbage
            });
        }
        let [_, fp, id, secret] = parts[..] else {
            return Err(TokenError::Garbage);
        };
        let ca_fingerprint = check_fingerprint(fp)?;
        if !is_lower_hex(id, ID_HEX_LEN) {
            return Err(TokenError::BadId);
        }
        if !is_lower_hex(secret, SECRET_HEX_LEN) {
            return Err(TokenError::BadSecret);
        }
        Ok(JoinToken {
            ca_fingerprint,
            id: id.to_string(),
            secret: secret.to_string(),
        })
    }

    /// Mints a token for the CA with `ca_fingerprint`: a random 64-bit id and 256-bit secret.
    /// Returns the token (shown to the operator once) and what the registry stores.
    pub fn mint(ca_fingerprint: &str) -> Result<(JoinToken, TokenRecordSeed), TokenError> {
        let ca_fingerprint = check_fingerprint(ca_fingerprint)?;
        let id = hex::encode(rand::random::<[u8; ID_HEX_LEN / 2]>());
        let secret = hex::encode(rand::random::<[u8; SECRET_HEX_LEN / 2]>());
        let seed = TokenRecordSeed {
            id: id.clone(),
            secret_hash: hash_secret(&secret),
        };
        Ok((
            JoinToken {
                ca_fingerprint,
                id,
                secret,
            },
            seed,
        ))
    }
}

/// Lowercase hex sha256 of a token secret: the only form the registry stores.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// True when `secret` hashes to `stored_hash`, compared in constant time.
pub fn verify_secret(secret: &str, stored_hash: &str) -> bool {
    hash_secret(secret)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}
