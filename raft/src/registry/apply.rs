//! The state machine's transition function: one handler per [`Command`].
//!
//! Handlers run inside the transaction opened by `Registry::apply`, read only
//! their arguments and the database, and check everything before writing, so
//! a refusal never reaches the write step (and the rollback is a backstop).

use rusqlite::Connection;

use super::api_keys::{self, is_key_hash, NewKey};
use super::command::{Command, Response, TokenCommand};
use super::drains;
use super::error::RegistryError;
use super::mesh::{self, PeerProposal};
use super::model::{Role, Sandbox, Tenant};
use super::names::{validate_sandbox_name, validate_tenant_name};
use super::nodes::{self, JoinedNode};
use super::replicas::{self, Replica};
use super::reports;
use super::state::SandboxState;
use super::store;
use super::tokens::{self, JoinTokenInfo};

/// Applies one command to the database behind `conn`.
pub(crate) fn apply(conn: &Connection, cmd: &Command) -> Result<Response, RegistryError> {
    match cmd {
        Command::CreateTenant {
            tenant_id,
            name,
            at_ms,
        } => {
            let tenant = new_tenant(conn, tenant_id, name, *at_ms)?;
            store::insert_tenant(conn, &tenant)?;
            Ok(Response::TenantCreated(tenant))
        }
        Command::CreateTenantWithKey {
            tenant_id,
            name,
            key_id,
            key_hash,
            role,
            at_ms,
            key_name,
        } => {
            let tenant = new_tenant(conn, tenant_id, name, *at_ms)?;
            let key = NewKey {
                id: key_id,
                tenant_id,
                name: key_name.as_deref(),
                hash: key_hash,
                role: *role,
                at_ms: *at_ms,
            };
            api_keys::check_new(conn, &key)?;
            store::insert_tenant(conn, &tenant)?;
            api_keys::insert(conn, &key)?;
            Ok(Response::TenantCreated(tenant))
        }
        Command::CreateApiKey {
            key_id,
            tenant_id,
            key_hash,
            role,
            at_ms,
            name,
        } => {
            let key = NewKey {
                id: key_id,
                tenant_id,
                name: name.as_deref(),
                hash: key_hash,
                role: *role,
                at_ms: *at_ms,
            };
            // The hash shape first, as before tenants were checked here.
            if !is_key_hash(key_hash) {
                return Err(RegistryError::ApiKeyHashInvalid {
                    key_id: key_id.clone(),
                });
            }
            require_tenant(conn, tenant_id)?;
            api_keys::check_new(conn, &key)?;
            api_keys::insert(conn, &key)?;
            Ok(Response::ApiKeyCreated {
                key_id: key_id.clone(),
            })
        }
        Command::RevokeApiKey { key_id, at_ms } => {
            api_keys::revoke(conn, key_id, *at_ms)?;
            Ok(Response::ApiKeyRevoked {
                key_id: key_id.clone(),
            })
        }
        Command::TouchApiKeys { uses } => Ok(Response::ApiKeysTouched {
            updated: api_keys::touch(conn, uses)?,
        }),
        Command::RemoveTenant { tenant_id, force } => remove_tenant(conn, tenant_id, *force),
        Command::DockSandbox {
            sandbox_id,
            tenant_id,
            name,
            profile,
            workbook_sha256,
            home_node,
            at_ms,
            replication_factor,
            durability,
        } => dock_sandbox(
            conn,
            Sandbox {
                id: sandbox_id.clone(),
                tenant_id: tenant_id.clone(),
                name: name.clone(),
                profile: profile.clone(),
                workbook_sha256: workbook_sha256.clone(),
                home_node: *home_node,
                state: SandboxState::Created,
                generation: 0,
                created_at_ms: *at_ms,
                updated_at_ms: *at_ms,
                replicas: Vec::new(),
                replication_factor: *replication_factor,
                durability: *durability,
            },
        ),
        Command::RemoveSandbox {
            sandbox_id,
            tenant_id,
        } => {
            if !store::delete_sandbox(conn, tenant_id, sandbox_id)? {
                return Err(not_found(sandbox_id));
            }
            Ok(Response::SandboxRemoved {
                sandbox_id: sandbox_id.clone(),
            })
        }
        Command::Transition {
            sandbox_id,
            tenant_id,
            to,
            expected_generation,
            at_ms,
        } => transition(
            conn,
            sandbox_id,
            tenant_id,
            *to,
            *expected_generation,
            *at_ms,
        ),
        Command::SetReplicas {
            sandbox_id,
            tenant_id,
            expected_generation,
            replicas,
            at_ms,
        } => set_replicas(
            conn,
            sandbox_id,
            tenant_id,
            *expected_generation,
            replicas,
            *at_ms,
        ),
        Command::MoveSandbox {
            sandbox_id,
            tenant_id,
            to_node,
            expected_generation,
            at_ms,
        } => move_home(
            conn,
            sandbox_id,
            tenant_id,
            *to_node,
            *expected_generation,
            *at_ms,
        ),
        Command::JoinToken(cmd) => join_token(conn, cmd),
        Command::RemoveNode { node_id, at_ms } => {
            nodes::revoke(conn, *node_id, *at_ms)?;
            reports::forget(conn, *node_id)?;
            mesh::forget(conn, *node_id)?;
            replicas::forget_node(conn, *node_id)?;
            Ok(Response::NodeRemoved { node_id: *node_id })
        }
        Command::SetNodeDrained {
            node_id,
            drained,
            at_ms,
        } => {
            drains::set(conn, *node_id, *drained, *at_ms)?;
            Ok(Response::NodeDrainedSet {
                node_id: *node_id,
                drained: *drained,
            })
        }
        Command::ReportNode {
            node_id,
            report,
            at_ms,
        } => Ok(Response::NodeReported {
            node_id: *node_id,
            stored: reports::store(conn, *node_id, report, *at_ms)?,
        }),
        Command::SetMeshPeer {
            node_id,
            public_key,
            endpoint,
            cidr,
            advertise,
            at_ms,
        } => {
            let proposal = PeerProposal {
                node_id: *node_id,
                public_key,
                endpoint,
                cidr,
                advertise: *advertise,
            };
            Ok(Response::MeshPeerSet(mesh::set(conn, proposal, *at_ms)?))
        }
        Command::SetCaHolder {
            node_id,
            holds,
            at_ms,
        } => Ok(Response::CaHolderSet {
            node_id: *node_id,
            holds: nodes::set_ca_holder(conn, *node_id, *holds, *at_ms)?,
        }),
    }
}

/// Applies a join-token write.
fn join_token(conn: &Connection, cmd: &TokenCommand) -> Result<Response, RegistryError> {
    match cmd {
        TokenCommand::Create {
            token_id,
            secret_hash,
            role,
            expires_at_ms,
            uses,
            at_ms,
        } => {
            let token = JoinTokenInfo {
                id: token_id.clone(),
                role: *role,
                expires_at_ms: *expires_at_ms,
                uses_left: *uses,
                revoked: false,
                created_at_ms: *at_ms,
            };
            tokens::create(conn, &token, secret_hash)?;
            Ok(Response::JoinTokenCreated(token))
        }
        TokenCommand::Revoke { token_id } => {
            tokens::revoke(conn, token_id)?;
            Ok(Response::JoinTokenRevoked {
                token_id: token_id.clone(),
            })
        }
        TokenCommand::Redeem {
            token_id,
            secret_hash,
            min_node_id,
            at_ms,
            raft_addr,
            api_addr,
            bulk_addr,
        } => {
            let (node_id, role) =
                tokens::redeem(conn, token_id, secret_hash, *min_node_id, *at_ms)?;
            let node = JoinedNode {
                id: node_id,
                role,
                raft_addr: raft_addr.clone(),
                api_addr: api_addr.clone(),
                bulk_addr: bulk_addr.clone(),
                joined_at_ms: *at_ms,
            };
            nodes::insert(conn, &node)?;
            Ok(Response::JoinTokenRedeemed { node_id, role })
        }
    }
}

/// The tenant a create command would add, once checked (nothing written).
/// Order of checks: name rule, id taken, name taken.
fn new_tenant(
    conn: &Connection,
    tenant_id: &str,
    name: &str,
    at_ms: u64,
) -> Result<Tenant, RegistryError> {
    validate_tenant_name(name)?;
    if store::tenant(conn, tenant_id)?.is_some() {
        return Err(RegistryError::TenantIdExists {
            tenant_id: tenant_id.to_owned(),
        });
    }
    if store::tenant_by_name(conn, name)?.is_some() {
        return Err(RegistryError::TenantExists {
            name: name.to_owned(),
        });
    }
    Ok(Tenant {
        id: tenant_id.to_owned(),
        name: name.to_owned(),
        created_at_ms: at_ms,
    })
}

/// Order of checks: name rule, tenant exists, sandbox id taken (registry-wide;
/// ids are proposer-chosen, never user-chosen), name taken within the tenant.
fn dock_sandbox(conn: &Connection, sandbox: Sandbox) -> Result<Response, RegistryError> {
    validate_sandbox_name(&sandbox.name)?;
    require_tenant(conn, &sandbox.tenant_id)?;
    if store::sandbox_id_exists(conn, &sandbox.id)? {
        return Err(RegistryError::SandboxExists {
            sandbox_id: sandbox.id,
        });
    }
    if store::sandbox_name_taken(conn, &sandbox.tenant_id, &sandbox.name)? {
        return Err(RegistryError::SandboxNameTaken { name: sandbox.name });
    }
    store::insert_sandbox(conn, &sandbox)?;
    Ok(Response::SandboxDocked(sandbox))
}

/// Order of checks: sandbox exists for this tenant, generation matches (a
/// stale writer learns it is stale even if its hop would also be invalid),
/// then the lifecycle rule.
fn transition(
    conn: &Connection,
    sandbox_id: &str,
    tenant_id: &str,
    to: SandboxState,
    expected_generation: u64,
    at_ms: u64,
) -> Result<Response, RegistryError> {
    let mut sandbox = fenced(conn, sandbox_id, tenant_id, expected_generation)?;
    if !sandbox.state.can_transition_to(to) {
        return Err(RegistryError::InvalidTransition {
            sandbox_id: sandbox.id,
            from: sandbox.state,
            to,
            allowed: sandbox.state.allowed_next().to_vec(),
        });
    }
    sandbox.state = to;
    advance(conn, sandbox, at_ms).map(Response::Transitioned)
}

/// A new home for a sandbox whose generation is still `expected_generation`;
/// the generation moves on, so anything fenced by the old one is refused.
fn move_home(
    conn: &Connection,
    sandbox_id: &str,
    tenant_id: &str,
    to_node: u64,
    expected_generation: u64,
    at_ms: u64,
) -> Result<Response, RegistryError> {
    let mut sandbox = fenced(conn, sandbox_id, tenant_id, expected_generation)?;
    sandbox.home_node = to_node;
    replicas::drop_one(conn, sandbox_id, to_node)?;
    sandbox.replicas.retain(|r| r.node_id != to_node);
    advance(conn, sandbox, at_ms).map(Response::SandboxMoved)
}

/// A new replica set for a sandbox whose generation is still
/// `expected_generation` (which stays).
fn set_replicas(
    conn: &Connection,
    sandbox_id: &str,
    tenant_id: &str,
    expected_generation: u64,
    new: &[Replica],
    at_ms: u64,
) -> Result<Response, RegistryError> {
    let mut sandbox = fenced(conn, sandbox_id, tenant_id, expected_generation)?;
    replicas::check(conn, sandbox_id, sandbox.home_node, new)?;
    replicas::replace(conn, sandbox_id, new, at_ms)?;
    sandbox.replicas = new.to_vec();
    sandbox.replicas.sort_by_key(|r| r.node_id);
    Ok(Response::ReplicasSet(sandbox))
}

/// The tenant's sandbox, if its generation is still `expected_generation`.
fn fenced(
    conn: &Connection,
    sandbox_id: &str,
    tenant_id: &str,
    expected_generation: u64,
) -> Result<Sandbox, RegistryError> {
    let sandbox =
        store::sandbox(conn, tenant_id, sandbox_id)?.ok_or_else(|| not_found(sandbox_id))?;
    if sandbox.generation != expected_generation {
        return Err(RegistryError::StaleGeneration {
            sandbox_id: sandbox.id,
            expected: expected_generation,
            current: sandbox.generation,
        });
    }
    Ok(sandbox)
}

/// Stores a fenced write's result under the next generation.
fn advance(conn: &Connection, mut sandbox: Sandbox, at_ms: u64) -> Result<Sandbox, RegistryError> {
    sandbox.generation = sandbox.generation.checked_add(1).ok_or_else(|| {
        RegistryError::Codec(format!("sandbox {}: generation overflow", sandbox.id))
    })?;
    sandbox.updated_at_ms = at_ms;
    store::update_sandbox(conn, &sandbox)?;
    Ok(sandbox)
}

/// Order of checks: tenant exists, it does not hold every live admin key,
/// it owns no sandbox (unless `force`). Then its sandboxes, keys and the
/// tenant go, in one transaction.
fn remove_tenant(
    conn: &Connection,
    tenant_id: &str,
    force: bool,
) -> Result<Response, RegistryError> {
    require_tenant(conn, tenant_id)?;
    let elsewhere = api_keys::live_admins(conn, Some(tenant_id))?;
    if elsewhere == 0 {
        let own_admin = api_keys::list(conn, Some(tenant_id))?
            .into_iter()
            .find(|k| k.role == Role::Admin);
        if let Some(key) = own_admin {
            return Err(RegistryError::ApiKeyLastAdmin { key_id: key.id });
        }
    }
    let sandboxes = store::sandboxes(conn, Some(tenant_id))?;
    if !sandboxes.is_empty() && !force {
        return Err(RegistryError::TenantHasSandboxes {
            tenant_id: tenant_id.to_owned(),
            count: sandboxes.len() as u64,
        });
    }
    store::delete_tenant_sandboxes(conn, tenant_id)?;
    let keys = api_keys::delete_tenant_keys(conn, tenant_id)?;
    store::delete_tenant(conn, tenant_id)?;
    Ok(Response::TenantRemoved {
        tenant_id: tenant_id.to_owned(),
        sandboxes,
        keys,
    })
}

fn require_tenant(conn: &Connection, tenant_id: &str) -> Result<(), RegistryError> {
    match store::tenant(conn, tenant_id)? {
        Some(_) => Ok(()),
        None => Err(RegistryError::TenantNotFound {
            tenant_id: tenant_id.to_owned(),
        }),
    }
}

fn not_found(sandbox_id: &str) -> RegistryError {
    RegistryError::SandboxNotFound {
        sandbox_id: sandbox_id.to_owned(),
    }
}
