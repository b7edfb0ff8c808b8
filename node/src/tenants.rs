//! Tenants and their API keys. A key is shown once, when it is made; the
//! registry keeps only its hash.

use nexus_raft::{Command, Response, Role, Tenant};

use crate::clock::now_ms;
use crate::cluster::RegistryHandle;
use nexus_errors::{ErrorCode, UserError};

/// The tenant that owns the admin key made on a node's first start.
pub const DEFAULT_TENANT: &str = "default";

/// A fresh API key: `nxk_` and 256 random bits in hex.
pub fn new_api_key() -> String {
    format!("nxk_{}", hex::encode(rand::random::<[u8; 32]>()))
}

/// Creates tenant `name` with one key of `role`; returns the key in clear.
pub async fn create_tenant(
    registry: &RegistryHandle,
    name: &str,
    role: Role,
) -> Result<(Tenant, String), UserError> {
    let suffix = hex::encode(rand::random::<[u8; 8]>());
    let tenant = match registry
        .write(Command::CreateTenant {
            tenant_id: format!("tn_{suffix}"),
            name: name.to_string(),
            at_ms: now_ms(),
        })
        .await?
    {
        Response::TenantCreated(tenant) => tenant,
        other => {
            return Err(UserError::new(
                ErrorCode::Internal,
                format!("registry answered CreateTenant with {other:?}"),
            ))
        }
    };
    let key = new_api_key();
    registry
        .write(Command::CreateApiKey {
            key_id: format!("key_{suffix}"),
            tenant_id: tenant.id.clone(),
            key_hash: nexus_raft::hash_api_key(&key),
            role,
            at_ms: now_ms(),
        })
        .await?;
    Ok((tenant, key))
}
