//! Tenants and their API keys. A key is shown once, when it is made; the
//! registry keeps only its hash.

use nexus_raft::{hash_api_key, ApiKey, Role, Tenant};

use crate::clock::now_ms;
use crate::cluster::{NewApiKey, RegistryHandle};
use nexus_errors::UserError;

/// The tenant that owns the admin key made on a node's first start.
pub const DEFAULT_TENANT: &str = "default";

/// The name of a tenant's first key (the admin key of [`DEFAULT_TENANT`]
/// is named `admin`).
pub const FIRST_KEY_NAME: &str = "initial";

/// A fresh API key: `nxk_` and 256 random bits in hex.
pub fn new_api_key() -> String {
    format!("nxk_{}", hex::encode(rand::random::<[u8; 32]>()))
}

fn new_key_id() -> String {
    format!("key_{}", hex::encode(rand::random::<[u8; 8]>()))
}

/// Creates tenant `name` with one key of `role` named `key_name` (one
/// registry write: both or neither); returns the tenant and the key in clear.
pub async fn create_tenant(
    registry: &RegistryHandle,
    name: &str,
    role: Role,
    key_name: &str,
) -> Result<(Tenant, String), UserError> {
    let suffix = hex::encode(rand::random::<[u8; 8]>());
    let key = new_api_key();
    let tenant = Tenant {
        id: format!("tn_{suffix}"),
        name: name.to_string(),
        created_at_ms: now_ms(),
    };
    let new_key = NewApiKey {
        id: format!("key_{suffix}"),
        tenant_id: tenant.id.clone(),
        name: key_name.to_owned(),
        hash: hash_api_key(&key),
        role,
        at_ms: tenant.created_at_ms,
    };
    #[cfg(debug_assertions)]
    if crate::broken::ack_before_commit() {
        let (registry, answer) = (registry.clone(), tenant.clone());
        tokio::spawn(async move {
            tokio::time::sleep(crate::broken::LATE_COMMIT).await;
            let _ = registry.create_tenant(tenant, new_key).await;
        });
        return Ok((answer, key));
    }
    let tenant = registry.create_tenant(tenant, new_key).await?;
    Ok((tenant, key))
}

/// Makes a new key of `role` named `name` for the existing tenant
/// `tenant_id`; returns its record and the key in clear.
pub async fn create_key(
    registry: &RegistryHandle,
    tenant_id: &str,
    name: &str,
    role: Role,
) -> Result<(ApiKey, String), UserError> {
    let secret = new_api_key();
    let key = NewApiKey {
        id: new_key_id(),
        tenant_id: tenant_id.to_owned(),
        name: name.to_owned(),
        hash: hash_api_key(&secret),
        role,
        at_ms: now_ms(),
    };
    let record = ApiKey {
        id: key.id.clone(),
        tenant_id: key.tenant_id.clone(),
        name: key.name.clone(),
        role,
        created_at_ms: key.at_ms,
        last_used_at_ms: None,
        revoked_at_ms: None,
    };
    registry.create_api_key(key).await?;
    Ok((record, secret))
}
