//! Named keys, revocation (never of the last live admin key), batched
//! last-use reports and tenant removal; and a log entry of an earlier
//! version (no key name) still decodes and names the key after its id.

use nexus_raft::{
    hash_api_key, ApiKey, Command, KeyUse, Registry, RegistryError, Response, Role, SandboxState,
};

use super::*;

fn named_key(key_id: &str, tenant_id: &str, name: &str, secret: &str, role: Role) -> Command {
    Command::CreateApiKey {
        key_id: key_id.into(),
        tenant_id: tenant_id.into(),
        key_hash: hash_api_key(secret),
        role,
        at_ms: 20,
        name: Some(name.into()),
    }
}

fn revoke(key_id: &str, at_ms: u64) -> Command {
    Command::RevokeApiKey {
        key_id: key_id.into(),
        at_ms,
    }
}

fn remove_tenant(tenant_id: &str, force: bool) -> Command {
    Command::RemoveTenant {
        tenant_id: tenant_id.into(),
        force,
    }
}

fn refused(reg: &mut Registry, cmd: &Command) -> RegistryError {
    let err = reg.apply(cmd).expect_err("refused");
    assert!(err.is_refusal(), "{err}");
    err
}

/// An admin tenant `t0` (key `k0`, "admin") and a tenant `t1` (key `k1`, "ci").
fn two_tenants() -> Registry {
    let mut reg = fresh();
    ok(&mut reg, &create_tenant("t0", "default", 1));
    ok(&mut reg, &named_key("k0", "t0", "admin", "s0", Role::Admin));
    ok(&mut reg, &create_tenant("t1", "acme", 2));
    ok(&mut reg, &named_key("k1", "t1", "ci", "s1", Role::Tenant));
    reg
}

#[test]
fn keys_are_named_listed_and_found_by_name() {
    let reg = two_tenants();
    let k1 = ApiKey {
        id: "k1".into(),
        tenant_id: "t1".into(),
        name: "ci".into(),
        role: Role::Tenant,
        created_at_ms: 20,
        last_used_at_ms: None,
        revoked_at_ms: None,
    };
    assert_eq!(reg.api_keys(Some("t1")).unwrap(), vec![k1.clone()]);
    assert_eq!(reg.api_keys(None).unwrap().len(), 2);
    assert_eq!(reg.api_key_by_name("t1", "ci").unwrap(), Some(k1.clone()));
    assert_eq!(reg.api_key_by_name("t0", "ci").unwrap(), None);
    assert_eq!(reg.api_key_by_hash(&hash_api_key("s1")).unwrap(), Some(k1));
}

#[test]
fn names_are_checked_and_unique_among_a_tenants_live_keys() {
    let mut reg = two_tenants();
    let err = refused(&mut reg, &named_key("k2", "t1", "CI", "s2", Role::Tenant));
    assert!(
        matches!(err, RegistryError::ApiKeyNameInvalid { .. }),
        "{err}"
    );
    let err = refused(&mut reg, &named_key("k2", "t1", "ci", "s2", Role::Tenant));
    assert!(
        matches!(err, RegistryError::ApiKeyNameTaken { ref name, .. } if name == "ci"),
        "{err}"
    );
    // Another tenant may use the name; once revoked, the name is free again.
    ok(&mut reg, &named_key("k2", "t0", "ci", "s2", Role::Tenant));
    ok(&mut reg, &revoke("k1", 30));
    ok(&mut reg, &named_key("k3", "t1", "ci", "s3", Role::Tenant));
}

#[test]
fn a_revoked_key_authenticates_no_one_but_is_still_told_apart() {
    let mut reg = two_tenants();
    assert_eq!(
        ok(&mut reg, &revoke("k1", 30)),
        Response::ApiKeyRevoked {
            key_id: "k1".into()
        }
    );
    assert_eq!(
        reg.principal_for_key_hash(&hash_api_key("s1")).unwrap(),
        None
    );
    let stored = reg.api_key_by_hash(&hash_api_key("s1")).unwrap().unwrap();
    assert_eq!(stored.revoked_at_ms, Some(30));
    assert!(
        reg.api_keys(Some("t1")).unwrap().is_empty(),
        "lists live keys only"
    );
    let err = refused(&mut reg, &revoke("k1", 31));
    assert!(matches!(err, RegistryError::ApiKeyNotFound { .. }), "{err}");
    let err = refused(&mut reg, &revoke("nope", 31));
    assert!(matches!(err, RegistryError::ApiKeyNotFound { .. }), "{err}");
}

#[test]
fn the_last_live_admin_key_cannot_be_revoked_but_a_rotated_one_can() {
    let mut reg = two_tenants();
    let err = refused(&mut reg, &revoke("k0", 30));
    assert!(
        matches!(err, RegistryError::ApiKeyLastAdmin { ref key_id } if key_id == "k0"),
        "{err}"
    );
    // Rotation: a second admin key (any tenant), then the old one goes.
    ok(
        &mut reg,
        &named_key("k9", "t0", "admin-2", "s9", Role::Admin),
    );
    ok(&mut reg, &revoke("k0", 31));
    let err = refused(&mut reg, &revoke("k9", 32));
    assert!(
        matches!(err, RegistryError::ApiKeyLastAdmin { .. }),
        "{err}"
    );
}

#[test]
fn touches_move_last_use_forward_only_and_skip_unknown_keys() {
    let mut reg = two_tenants();
    let touch = |uses: &[(&str, u64)]| Command::TouchApiKeys {
        uses: uses
            .iter()
            .map(|(k, at)| KeyUse {
                key_id: (*k).into(),
                at_ms: *at,
            })
            .collect(),
    };
    let last = |reg: &Registry, id: &str| reg.api_key(id).unwrap().unwrap().last_used_at_ms;
    assert_eq!(
        ok(&mut reg, &touch(&[("k0", 50), ("k1", 40), ("ghost", 9)])),
        Response::ApiKeysTouched { updated: 2 }
    );
    assert_eq!(
        ok(&mut reg, &touch(&[("k0", 45), ("k1", 60)])),
        Response::ApiKeysTouched { updated: 1 }
    );
    assert_eq!((last(&reg, "k0"), last(&reg, "k1")), (Some(50), Some(60)));
}

#[test]
fn removing_a_tenant_with_sandboxes_needs_force() {
    let mut reg = two_tenants();
    setup_sandbox(&mut reg, "s1", "t1", "box");
    setup_sandbox(&mut reg, "s2", "t1", "other");
    ok(
        &mut reg,
        &transition("s1", "t1", SandboxState::Active, 0, 101),
    );
    let err = refused(&mut reg, &remove_tenant("t1", false));
    assert!(
        matches!(err, RegistryError::TenantHasSandboxes { count: 2, .. }),
        "{err}"
    );
    assert_eq!(reg.sandboxes("t1").unwrap().len(), 2, "refusal left all");
    let Response::TenantRemoved {
        tenant_id,
        sandboxes,
        keys,
    } = ok(&mut reg, &remove_tenant("t1", true))
    else {
        panic!("unexpected response")
    };
    assert_eq!(tenant_id, "t1");
    assert_eq!(
        sandboxes.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["s1", "s2"]
    );
    assert_eq!(keys, 1);
    assert_eq!(reg.tenant("t1").unwrap(), None);
    assert!(reg.sandboxes("t1").unwrap().is_empty());
    assert_eq!(reg.api_key_by_hash(&hash_api_key("s1")).unwrap(), None);
    // The name is free again.
    ok(&mut reg, &create_tenant("t2", "acme", 3));
    let err = refused(&mut reg, &remove_tenant("t1", true));
    assert!(matches!(err, RegistryError::TenantNotFound { .. }), "{err}");
}

#[test]
fn a_tenant_holding_every_live_admin_key_cannot_be_removed() {
    let mut reg = two_tenants();
    let err = refused(&mut reg, &remove_tenant("t0", true));
    assert!(
        matches!(err, RegistryError::ApiKeyLastAdmin { .. }),
        "{err}"
    );
    ok(&mut reg, &named_key("k5", "t1", "ops", "s5", Role::Admin));
    ok(&mut reg, &remove_tenant("t0", false));
}

#[test]
fn an_earlier_versions_entries_decode_and_name_keys_after_their_ids() {
    let mut reg = fresh();
    let hash = hash_api_key("old");
    let json = format!(
        r#"{{"create_tenant_with_key":{{"tenant_id":"t1","name":"acme","key_id":"key_0a","key_hash":"{hash}","role":"tenant","at_ms":3}}}}"#
    );
    let cmd: Command = serde_json::from_str(&json).unwrap();
    ok(&mut reg, &cmd);
    let json = format!(
        r#"{{"create_api_key":{{"key_id":"key_0b","tenant_id":"t1","key_hash":"{}","role":"admin","at_ms":4}}}}"#,
        hash_api_key("old2")
    );
    let cmd: Command = serde_json::from_str(&json).unwrap();
    ok(&mut reg, &cmd);
    let names: Vec<String> = reg
        .api_keys(Some("t1"))
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["key_0a", "key_0b"]);
}

#[test]
fn a_version_3_registry_names_its_keys_after_their_ids_on_open() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("registry.db");
    {
        let mut reg = Registry::open(&path).unwrap();
        ok(
            &mut reg,
            &create_tenant_with_key("t1", "acme", "key_1", "s1", Role::Admin),
        );
    }
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(API_KEYS_V3).unwrap();
        conn.execute_batch("UPDATE meta SET value = '3' WHERE key = 'schema_version';")
            .unwrap();
    }
    let mut reg = Registry::open(&path).unwrap();
    assert_eq!(
        reg.schema_version().unwrap(),
        nexus_raft::registry::SCHEMA_VERSION
    );
    let key = reg.api_key("key_1").unwrap().unwrap();
    assert_eq!((key.name.as_str(), key.revoked_at_ms), ("key_1", None));
    ok(
        &mut reg,
        &named_key("key_2", "t1", "ops", "s2", Role::Admin),
    );
    ok(&mut reg, &revoke("key_1", 40));
}
