//! Per-tenant Ed25519 signing keys held by the node. A tenant's key is made
//! on first use and kept at `{data_dir}/keys/tenants/{tenant_id}.ed25519`
//! (hex seed, mode 0600, directory 0700). Nothing here hands out the secret:
//! callers get signatures, the public key and its `did:key`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ed25519_dalek::VerifyingKey;
use nexus_engine::{SignerError, TenantSigner};
use nexus_tls::{DidError, DidKey, SigningIdentity};

use nexus_errors::{Coded, ErrorCode};

/// A key-store failure.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The tenant id cannot name a key file.
    #[error("tenant id {0:?} cannot name a key file (use a-z, A-Z, 0-9, '-' and '_')")]
    BadTenant(String),
    /// The key directory could not be made.
    #[error("tenant key directory: {0}")]
    Dir(#[from] nexus_durable::FileError),
    /// Reading or writing a key file failed.
    #[error("tenant key: {0}")]
    Key(#[from] DidError),
}

impl Coded for KeyError {
    fn code(&self) -> ErrorCode {
        ErrorCode::Internal
    }
}

/// The node's tenant signing keys, cached in memory once loaded.
#[derive(Debug)]
pub struct TenantKeys {
    dir: PathBuf,
    loaded: Mutex<HashMap<String, Arc<SigningIdentity>>>,
}

impl TenantKeys {
    /// The key store of the node whose data dir is `data_dir`.
    pub fn new(data_dir: &Path) -> TenantKeys {
        TenantKeys {
            dir: data_dir.join("keys").join("tenants"),
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// Where the key of `tenant_id` is kept.
    pub fn path(&self, tenant_id: &str) -> Result<PathBuf, KeyError> {
        let valid = !tenant_id.is_empty()
            && tenant_id.len() <= 128
            && tenant_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(KeyError::BadTenant(tenant_id.to_string()));
        }
        Ok(self.dir.join(format!("{tenant_id}.ed25519")))
    }

    /// The signing key of `tenant_id`, made and saved on first use.
    pub fn signing_key(&self, tenant_id: &str) -> Result<Arc<SigningIdentity>, KeyError> {
        let path = self.path(tenant_id)?;
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(key) = loaded.get(tenant_id) {
            return Ok(key.clone());
        }
        let key = if path.exists() {
            SigningIdentity::load(&path)?
        } else {
            nexus_durable::create_private_dir(&self.dir)?;
            let key = SigningIdentity::generate();
            key.save(&path)?;
            tracing::info!(tenant = tenant_id, did = %key.did_key(), "made tenant signing key");
            key
        };
        let key = Arc::new(key);
        loaded.insert(tenant_id.to_string(), key.clone());
        Ok(key)
    }

    /// The public key of `tenant_id` (its key is made if it has none).
    pub fn public_key(&self, tenant_id: &str) -> Result<VerifyingKey, KeyError> {
        Ok(self.signing_key(tenant_id)?.verifying_key())
    }

    /// The `did:key:z6Mk…` name of `tenant_id`'s public key.
    pub fn did_key(&self, tenant_id: &str) -> Result<String, KeyError> {
        Ok(DidKey::encode(&self.public_key(tenant_id)?))
    }

    /// Signs `message` with `tenant_id`'s key (64-byte Ed25519 signature).
    pub fn sign(&self, tenant_id: &str, message: &[u8]) -> Result<[u8; 64], KeyError> {
        Ok(self.signing_key(tenant_id)?.sign(message))
    }
}

impl TenantSigner for TenantKeys {
    fn sign(&self, tenant: &str, message: &[u8]) -> Result<[u8; 64], SignerError> {
        TenantKeys::sign(self, tenant, message).map_err(|e| SignerError(e.to_string()))
    }

    fn public_key(&self, tenant: &str) -> Result<[u8; 32], SignerError> {
        TenantKeys::public_key(self, tenant)
            .map(|k| k.to_bytes())
            .map_err(|e| SignerError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keys_are_made_once_private_and_per_tenant() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = TenantKeys::new(dir.path());
        let a = keys.public_key("tn_a").expect("key a");
        assert_eq!(keys.public_key("tn_a").expect("again"), a);
        assert_ne!(keys.public_key("tn_b").expect("key b"), a);
        let path = keys.path("tn_a").expect("path");
        let mode = std::fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let reopened = TenantKeys::new(dir.path());
        assert_eq!(reopened.public_key("tn_a").expect("reload"), a);
        let sig = reopened.sign("tn_a", b"hi").expect("sign");
        assert!(nexus_tls::didkey::verify(&a, b"hi", &sig));
        assert!(keys
            .did_key("tn_a")
            .expect("did")
            .starts_with("did:key:z6Mk"));
        for bad in ["", "../x", "a/b", "a.b"] {
            assert!(
                matches!(keys.path(bad), Err(KeyError::BadTenant(_))),
                "{bad}"
            );
        }
    }
}
