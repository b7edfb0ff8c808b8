//! Tenant writes: a tenant and its first API key, in one command.

use nexus_raft::{Command, Response, Role, Tenant};

use super::{unexpected, RegistryHandle};
use nexus_errors::UserError;

impl RegistryHandle {
    /// Creates `tenant` (its id, name and creation time chosen by the
    /// caller) with its first API key, stored by hash only: one registry
    /// command, so afterwards both exist or, when either is refused (name
    /// taken or invalid, key id or hash taken), neither does.
    pub async fn create_tenant(
        &self,
        tenant: Tenant,
        key_id: String,
        key_hash: String,
        role: Role,
    ) -> Result<Tenant, UserError> {
        let cmd = Command::CreateTenantWithKey {
            tenant_id: tenant.id,
            name: tenant.name,
            key_id,
            key_hash,
            role,
            at_ms: tenant.created_at_ms,
        };
        match self.write(cmd).await? {
            Response::TenantCreated(tenant) => Ok(tenant),
            other => Err(unexpected("CreateTenantWithKey", &other)),
        }
    }
}
