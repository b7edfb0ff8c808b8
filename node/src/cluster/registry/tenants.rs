//! Tenant and API key writes: a tenant with its first key, further keys,
//! revocation, batched last-use reports, and tenant removal.

use nexus_raft::{Command, KeyUse, Response, Role, Sandbox, Tenant};

use super::{unexpected, RegistryHandle};
use nexus_errors::UserError;

/// An API key to record (by hash only); id, name and time chosen by the caller.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// New key id.
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Name, unique among the tenant's live keys.
    pub name: String,
    /// SHA-256 of the key ([`nexus_raft::hash_api_key`]).
    pub hash: String,
    /// What the key may do.
    pub role: Role,
    /// Creation time, ms since the Unix epoch.
    pub at_ms: u64,
}

/// What a tenant removal took with it.
#[derive(Debug, Clone)]
pub struct TenantRemoval {
    /// The sandbox records removed (their home nodes delete the files).
    pub sandboxes: Vec<Sandbox>,
    /// How many API keys went.
    pub keys: u64,
}

impl RegistryHandle {
    /// Creates `tenant` (its id, name and creation time chosen by the
    /// caller) with its first API key `key` (whose tenant id and time are
    /// the tenant's): one registry command, so afterwards both exist or,
    /// when either is refused (name taken or invalid, key id or hash
    /// taken), neither does.
    pub async fn create_tenant(&self, tenant: Tenant, key: NewApiKey) -> Result<Tenant, UserError> {
        let cmd = Command::CreateTenantWithKey {
            tenant_id: tenant.id,
            name: tenant.name,
            key_id: key.id,
            key_hash: key.hash,
            role: key.role,
            at_ms: tenant.created_at_ms,
            key_name: Some(key.name),
        };
        match self.write(cmd).await? {
            Response::TenantCreated(tenant) => Ok(tenant),
            other => Err(unexpected("CreateTenantWithKey", &other)),
        }
    }

    /// Records a new key of an existing tenant; returns its id.
    pub async fn create_api_key(&self, key: NewApiKey) -> Result<String, UserError> {
        let cmd = Command::CreateApiKey {
            key_id: key.id,
            tenant_id: key.tenant_id,
            key_hash: key.hash,
            role: key.role,
            at_ms: key.at_ms,
            name: Some(key.name),
        };
        match self.write(cmd).await? {
            Response::ApiKeyCreated { key_id } => Ok(key_id),
            other => Err(unexpected("CreateApiKey", &other)),
        }
    }

    /// Revokes a live key (refused for the last live admin key).
    pub async fn revoke_api_key(&self, key_id: &str, at_ms: u64) -> Result<(), UserError> {
        let cmd = Command::RevokeApiKey {
            key_id: key_id.to_owned(),
            at_ms,
        };
        match self.write(cmd).await? {
            Response::ApiKeyRevoked { .. } => Ok(()),
            other => Err(unexpected("RevokeApiKey", &other)),
        }
    }

    /// Reports the latest uses of some keys in one command; returns how
    /// many keys' last-use time moved.
    pub async fn touch_api_keys(&self, uses: Vec<KeyUse>) -> Result<u64, UserError> {
        match self.write(Command::TouchApiKeys { uses }).await? {
            Response::ApiKeysTouched { updated } => Ok(updated),
            other => Err(unexpected("TouchApiKeys", &other)),
        }
    }

    /// Removes a tenant and its keys; with `force`, its sandboxes too.
    pub async fn remove_tenant(
        &self,
        tenant_id: &str,
        force: bool,
    ) -> Result<TenantRemoval, UserError> {
        let cmd = Command::RemoveTenant {
            tenant_id: tenant_id.to_owned(),
            force,
        };
        match self.write(cmd).await? {
            Response::TenantRemoved {
                sandboxes, keys, ..
            } => Ok(TenantRemoval { sandboxes, keys }),
            other => Err(unexpected("RemoveTenant", &other)),
        }
    }
}
