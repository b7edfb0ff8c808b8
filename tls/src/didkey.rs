//! Ed25519 signing identities and their `did:key` names (`did:key:z6Mk…`: multibase base58btc
//! of the multicodec `ed25519-pub` prefix 0xed 0x01 followed by the 32-byte public key).

use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use nexus_durable::{FileError, PRIVATE_FILE};

/// Multicodec prefix of an Ed25519 public key (varint of 0xed).
const ED25519_PUB_MULTICODEC: [u8; 2] = [0xed, 0x01];
/// The `did:key` method prefix, including the multibase `z` (base58btc).
const DID_KEY_PREFIX: &str = "did:key:z";

/// Errors of signing identities and did:key parsing.
#[derive(Debug, thiserror::Error)]
pub enum DidError {
    /// The string does not start with `did:key:z`.
    #[error("did:key: {0:?} does not start with did:key:z (base58btc)")]
    NotDidKey(String),
    /// The multibase body is not base58btc.
    #[error("did:key: body is not base58btc")]
    BadBase58,
    /// The key is not an Ed25519 public key (wrong multicodec or length).
    #[error("did:key: not an Ed25519 public key (multicodec 0xed01 + 32 bytes)")]
    NotEd25519,
    /// The bytes are not a valid Ed25519 point.
    #[error("did:key: invalid Ed25519 public key")]
    BadKey,
    /// A key file does not hold 64 hex characters.
    #[error("signing key file {0} must hold 64 hex characters")]
    BadKeyFile(String),
    /// Reading or writing the key file failed.
    #[error("signing key: {0}")]
    File(#[from] FileError),
}

/// An Ed25519 signing key held by this process.
pub struct SigningIdentity {
    key: SigningKey,
}

impl std::fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningIdentity({})", self.did_key())
    }
}

impl SigningIdentity {
    /// A fresh key from the OS random source.
    pub fn generate() -> SigningIdentity {
        SigningIdentity {
            key: SigningKey::generate(&mut rand_core::OsRng),
        }
    }

    /// A key from its 32-byte secret seed.
    pub fn from_seed(seed: &[u8; 32]) -> SigningIdentity {
        SigningIdentity {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The public half.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// This key's `did:key:z6Mk…` name.
    pub fn did_key(&self) -> String {
        DidKey::encode(&self.verifying_key())
    }

    /// Signs `message` (64-byte Ed25519 signature).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Writes the secret seed as hex to `path` with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), DidError> {
        let seed = hex::encode(self.key.to_bytes());
        nexus_durable::write_file(path, seed.as_bytes(), PRIVATE_FILE)?;
        Ok(())
    }

    /// Reads a key written by [`SigningIdentity::save`].
    pub fn load(path: &Path) -> Result<SigningIdentity, DidError> {
        let text = nexus_durable::read_to_string(path)?;
        let seed: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| DidError::BadKeyFile(path.display().to_string()))?;
        Ok(SigningIdentity::from_seed(&seed))
    }
}

/// `did:key` encoding and decoding for Ed25519 keys.
pub struct DidKey;

impl DidKey {
    /// The `did:key` of an Ed25519 public key.
    pub fn encode(key: &VerifyingKey) -> String {
        let mut bytes = ED25519_PUB_MULTICODEC.to_vec();
        bytes.extend_from_slice(key.as_bytes());
        format!("{DID_KEY_PREFIX}{}", bs58::encode(bytes).into_string())
    }

    /// Parses `did:key:z6Mk…` into the Ed25519 public key it names.
    pub fn parse(did: &str) -> Result<VerifyingKey, DidError> {
        let body = did
            .strip_prefix(DID_KEY_PREFIX)
            .ok_or_else(|| DidError::NotDidKey(did.to_string()))?;
        let bytes = bs58::decode(body)
            .into_vec()
            .map_err(|_| DidError::BadBase58)?;
        let key: [u8; 32] = bytes
            .strip_prefix(&ED25519_PUB_MULTICODEC[..])
            .and_then(|k| k.try_into().ok())
            .ok_or(DidError::NotEd25519)?;
        VerifyingKey::from_bytes(&key).map_err(|_| DidError::BadKey)
    }
}

/// True when `signature` is a valid (strict) Ed25519 signature of `message` by `key`.
pub fn verify(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    let Ok(sig) = Signature::from_slice(signature) else {
        return false;
    };
    key.verify_strict(message, &sig).is_ok()
}
