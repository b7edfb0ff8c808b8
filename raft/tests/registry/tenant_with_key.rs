//! `CreateTenantWithKey`: the tenant and its first key are written together
//! or not at all; and the commands it replaces still decode and apply, as a
//! log written by an earlier version holds them.

use nexus_raft::{hash_api_key, Command, Principal, Registry, RegistryError, Response, Role};

use super::*;

fn principal(reg: &Registry, key: &str) -> Option<Principal> {
    reg.principal_for_key_hash(&hash_api_key(key)).unwrap()
}

#[test]
fn creates_the_tenant_and_its_key_together() {
    let mut reg = fresh();
    let resp = ok(
        &mut reg,
        &create_tenant_with_key("t1", "acme", "k1", "secret", Role::Admin),
    );
    let tenant = Tenant {
        id: "t1".into(),
        name: "acme".into(),
        created_at_ms: 9,
    };
    assert_eq!(resp, Response::TenantCreated(tenant.clone()));
    assert_eq!(reg.tenants().unwrap(), vec![tenant]);
    assert_eq!(
        principal(&reg, "secret"),
        Some(Principal {
            key_id: "k1".into(),
            tenant_id: "t1".into(),
            role: Role::Admin,
        })
    );
}

/// Applies a command that must be refused, and checks that it wrote neither
/// a tenant nor a key: the registry's tenants and the probed keys are as before.
fn refused_leaves_nothing(reg: &mut Registry, cmd: &Command, probe_key: &str) -> RegistryError {
    let tenants = reg.tenants().unwrap();
    let key = principal(reg, probe_key);
    let err = reg.apply(cmd).unwrap_err();
    assert!(err.is_refusal(), "{err}");
    assert_eq!(reg.tenants().unwrap(), tenants, "{cmd:?} wrote a tenant");
    assert_eq!(principal(reg, probe_key), key, "{cmd:?} wrote a key");
    err
}

#[test]
fn a_refused_tenant_leaves_no_key() {
    let mut reg = fresh();
    ok(
        &mut reg,
        &create_tenant_with_key("t1", "acme", "k1", "s1", Role::Tenant),
    );
    // Invalid name, taken name, taken id: the tenant is refused, so no key.
    let cmd = create_tenant_with_key("t2", "Bad Name", "k2", "s2", Role::Tenant);
    let err = refused_leaves_nothing(&mut reg, &cmd, "s2");
    assert!(
        matches!(err, RegistryError::TenantNameInvalid { .. }),
        "{err}"
    );
    let cmd = create_tenant_with_key("t2", "acme", "k2", "s2", Role::Tenant);
    let err = refused_leaves_nothing(&mut reg, &cmd, "s2");
    assert!(matches!(err, RegistryError::TenantExists { ref name } if name == "acme"));
    let cmd = create_tenant_with_key("t1", "beta", "k2", "s2", Role::Tenant);
    let err = refused_leaves_nothing(&mut reg, &cmd, "s2");
    assert!(matches!(err, RegistryError::TenantIdExists { ref tenant_id } if tenant_id == "t1"));
}

#[test]
fn a_refused_key_leaves_no_tenant() {
    let mut reg = fresh();
    ok(
        &mut reg,
        &create_tenant_with_key("t1", "acme", "k1", "s1", Role::Tenant),
    );
    // The key's id or its hash is taken: the tenant is not created either.
    let cmd = create_tenant_with_key("t2", "beta", "k1", "s2", Role::Tenant);
    let err = refused_leaves_nothing(&mut reg, &cmd, "s2");
    assert!(matches!(err, RegistryError::ApiKeyExists { ref key_id } if key_id == "k1"));
    let cmd = create_tenant_with_key("t2", "beta", "k2", "s1", Role::Admin);
    let err = refused_leaves_nothing(&mut reg, &cmd, "s1");
    assert!(matches!(err, RegistryError::ApiKeyExists { ref key_id } if key_id == "k2"));
    // A hash that is not a sha256 digest (a plaintext key, say).
    let cmd = Command::CreateTenantWithKey {
        tenant_id: "t2".into(),
        name: "beta".into(),
        key_id: "k2".into(),
        key_hash: "nxk_plaintext".into(),
        role: Role::Tenant,
        at_ms: 1,
        key_name: None,
    };
    let err = refused_leaves_nothing(&mut reg, &cmd, "s2");
    assert!(matches!(err, RegistryError::ApiKeyHashInvalid { ref key_id } if key_id == "k2"));
    assert_eq!(reg.tenant_by_name("beta").unwrap(), None);
    assert_eq!(reg.principal_for_key_hash("nxk_plaintext").unwrap(), None);

    // The same command with a fresh key goes through.
    ok(
        &mut reg,
        &create_tenant_with_key("t2", "beta", "k2", "s2", Role::Tenant),
    );
    assert_eq!(
        principal(&reg, "s2").map(|p| p.tenant_id),
        Some("t2".into())
    );
}

#[test]
fn commands_of_an_earlier_log_still_decode_and_apply() {
    // Exactly as the previous version wrote them into the Raft log.
    let old = [
        r#"{"create_tenant":{"tenant_id":"t1","name":"acme","at_ms":1}}"#.to_owned(),
        format!(
            r#"{{"create_api_key":{{"key_id":"k1","tenant_id":"t1","key_hash":"{}","role":"admin","at_ms":2}}}}"#,
            hash_api_key("secret")
        ),
    ];
    let mut reg = fresh();
    for json in &old {
        let cmd: Command = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        ok(&mut reg, &cmd);
    }
    assert_eq!(
        reg.tenant("t1").unwrap().map(|t| t.name),
        Some("acme".into())
    );
    assert_eq!(principal(&reg, "secret").map(|p| p.role), Some(Role::Admin));

    // The new command's wire form, which later versions must keep reading.
    let json = serde_json::to_value(create_tenant_with_key(
        "t2",
        "beta",
        "k2",
        "s",
        Role::Tenant,
    ))
    .unwrap();
    assert_eq!(
        json,
        serde_json::json!({"create_tenant_with_key": {
            "tenant_id": "t2", "name": "beta", "key_id": "k2",
            "key_hash": hash_api_key("s"), "role": "tenant", "at_ms": 9,
        }})
    );
}
