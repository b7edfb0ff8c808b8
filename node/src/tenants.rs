//! Tenants and their API keys. A key is shown once, when it is made; the
//! registry keeps only its hash.

use nexus_raft::{Role, Tenant};

use crate::clock::now_ms;
use crate::cluster::RegistryHandle;
use nexus_errors::UserError;

/// The tenant that owns the admin key made on a node's first start.
pub const DEFAULT_TENANT: &str = "default";

/// A fresh API key: `nxk_` and 256 random bits in hex.
pub fn new_api_key() -> String {
    format!("nxk_{}", hex::encode(rand::random::<[u8; 32]>()))
}

/// Creates tenant `name` with one key of `role` (one registry write: both
/// or neither); returns the tenant and the key in clear.
pub async fn create_tenant(
    registry: &RegistryHandle,
    name: &str,
    role: Role,
) -> Result<(Tenant, String), UserError> {
    let suffix = hex::encode(rand::random::<[u8; 8]>());
    let key = new_api_key();
    let tenant = Tenant {
        id: format!("tn_{suffix}"),
        name: name.to_string(),
        created_at_ms: now_ms(),
    };
    let tenant = registry
        .create_tenant(
            tenant,
            format!("key_{suffix}"),
            nexus_raft::hash_api_key(&key),
            role,
        )
        .await?;
    Ok((tenant, key))
}
