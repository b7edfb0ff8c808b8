//! Integration tests of the registry's public API.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod commands;
mod determinism;
mod isolation;
mod keys;
mod mesh;
mod persistence;
mod properties;
mod replicas;
mod reports;
mod tenant_with_key;
mod tokens;
mod transitions;

use nexus_raft::{
    hash_api_key, Command, Principal, Registry, Response, Role, Sandbox, SandboxState, Tenant,
};

/// Turns the `api_keys` table back into its version-3 shape (no name,
/// last use or revocation) and drops what versions 5 to 11 added
/// (`ca_holders`, `nodes.bulk_addr`, `drained_nodes`, `node_reports`, the
/// mesh tables, the token expiry index, the sandbox replicas and
/// replication policy), to test upgrades from earlier versions.
pub const API_KEYS_V3: &str = "DROP INDEX api_keys_live_name; \
    DROP INDEX join_tokens_by_expiry; \
    ALTER TABLE api_keys DROP COLUMN name; \
    ALTER TABLE api_keys DROP COLUMN last_used_at_ms; \
    ALTER TABLE api_keys DROP COLUMN revoked_at_ms; \
    DROP TABLE ca_holders; \
    ALTER TABLE nodes DROP COLUMN bulk_addr; \
    DROP TABLE drained_nodes; \
    DROP TABLE node_reports; \
    DROP TABLE mesh_peers; \
    DROP TABLE mesh_ipam; \
    DROP TABLE sandbox_replicas; \
    ALTER TABLE sandboxes DROP COLUMN replication_factor; \
    ALTER TABLE sandboxes DROP COLUMN durability;";

/// A fresh in-memory registry.
pub fn fresh() -> Registry {
    Registry::open_in_memory().expect("open in memory")
}

/// `CreateTenant` command.
pub fn create_tenant(tenant_id: &str, name: &str, at_ms: u64) -> Command {
    Command::CreateTenant {
        tenant_id: tenant_id.into(),
        name: name.into(),
        at_ms,
    }
}

/// `CreateTenantWithKey` command for the plaintext `key`.
pub fn create_tenant_with_key(
    tenant_id: &str,
    name: &str,
    key_id: &str,
    key: &str,
    role: Role,
) -> Command {
    Command::CreateTenantWithKey {
        tenant_id: tenant_id.into(),
        name: name.into(),
        key_id: key_id.into(),
        key_hash: hash_api_key(key),
        role,
        at_ms: 9,
        key_name: None,
    }
}

/// `CreateApiKey` command for the plaintext `key`.
pub fn create_key(key_id: &str, tenant_id: &str, key: &str, role: Role) -> Command {
    Command::CreateApiKey {
        key_id: key_id.into(),
        tenant_id: tenant_id.into(),
        key_hash: hash_api_key(key),
        role,
        at_ms: 5,
        name: None,
    }
}

/// `DockSandbox` command.
pub fn dock(sandbox_id: &str, tenant_id: &str, name: &str, at_ms: u64) -> Command {
    Command::DockSandbox {
        sandbox_id: sandbox_id.into(),
        tenant_id: tenant_id.into(),
        name: name.into(),
        profile: "compute".into(),
        workbook_sha256: "0f".repeat(32),
        home_node: 7,
        at_ms,
        replication_factor: None,
        durability: None,
    }
}

/// `Transition` command.
pub fn transition(
    sandbox_id: &str,
    tenant_id: &str,
    to: SandboxState,
    expected_generation: u64,
    at_ms: u64,
) -> Command {
    Command::Transition {
        sandbox_id: sandbox_id.into(),
        tenant_id: tenant_id.into(),
        to,
        expected_generation,
        at_ms,
    }
}

/// `RemoveSandbox` command.
pub fn remove(sandbox_id: &str, tenant_id: &str) -> Command {
    Command::RemoveSandbox {
        sandbox_id: sandbox_id.into(),
        tenant_id: tenant_id.into(),
    }
}

/// Applies a command that must succeed.
pub fn ok(reg: &mut Registry, cmd: &Command) -> Response {
    reg.apply(cmd)
        .unwrap_or_else(|e| panic!("{cmd:?} refused: {e}"))
}

/// Creates tenant `tenant_id` named `name` and returns it.
pub fn setup_tenant(reg: &mut Registry, tenant_id: &str, name: &str) -> Tenant {
    match ok(reg, &create_tenant(tenant_id, name, 1)) {
        Response::TenantCreated(t) => t,
        other => panic!("unexpected {other:?}"),
    }
}

/// Docks a sandbox and returns it.
pub fn setup_sandbox(reg: &mut Registry, sandbox_id: &str, tenant_id: &str, name: &str) -> Sandbox {
    match ok(reg, &dock(sandbox_id, tenant_id, name, 100)) {
        Response::SandboxDocked(s) => s,
        other => panic!("unexpected {other:?}"),
    }
}

/// Everything the public reads can see, for whole-state comparisons.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    tenants: Vec<Tenant>,
    by_name: Vec<Option<Tenant>>,
    sandboxes_per_tenant: Vec<Vec<Sandbox>>,
    single_sandboxes: Vec<Option<Sandbox>>,
    all_sandboxes: Vec<Sandbox>,
    principals: Vec<Option<Principal>>,
}

/// Reads everything, probing the given tenant ids, sandbox ids, tenant names
/// and plaintext keys (known or not) so absences are compared too.
pub fn snapshot(
    reg: &Registry,
    tenant_ids: &[&str],
    sandbox_ids: &[&str],
    names: &[&str],
    keys: &[&str],
) -> Snapshot {
    let tenants = reg.tenants().expect("tenants");
    for t in &tenants {
        assert_eq!(reg.tenant(&t.id).expect("tenant").as_ref(), Some(t));
    }
    Snapshot {
        by_name: names
            .iter()
            .map(|n| reg.tenant_by_name(n).expect("by name"))
            .collect(),
        sandboxes_per_tenant: tenant_ids
            .iter()
            .map(|t| reg.sandboxes(t).expect("sandboxes"))
            .collect(),
        single_sandboxes: tenant_ids
            .iter()
            .flat_map(|t| sandbox_ids.iter().map(move |s| (*t, *s)))
            .map(|(t, s)| reg.sandbox(t, s).expect("sandbox"))
            .collect(),
        all_sandboxes: reg.all_sandboxes().expect("all"),
        principals: keys
            .iter()
            .map(|k| {
                reg.principal_for_key_hash(&hash_api_key(k))
                    .expect("principal")
            })
            .collect(),
        tenants,
    }
}
