//! The tenant signing keys as the `sign` host functions see them: a trait
//! the engine owns and the node implements over its key store, so the
//! engine never touches key files itself.

use std::fmt::Debug;

/// Why a tenant key could not sign or be read; the guest sees `ERR_IO` and
/// the message is logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SignerError(pub String);

/// Ed25519 signatures with host-held tenant keys. No method hands out a
/// secret key.
pub trait TenantSigner: Send + Sync + Debug {
    /// The 64-byte Ed25519 signature of `message` by `tenant`'s key (made on
    /// first use).
    fn sign(&self, tenant: &str, message: &[u8]) -> Result<[u8; 64], SignerError>;
    /// `tenant`'s 32-byte Ed25519 public key.
    fn public_key(&self, tenant: &str) -> Result<[u8; 32], SignerError>;
}
