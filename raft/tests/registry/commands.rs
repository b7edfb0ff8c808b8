//! Happy paths and refusals of each command.

use nexus_raft::{
    hash_api_key, Command, Principal, RegistryError, Response, Role, Sandbox, SandboxState, Tenant,
};

use super::*;

#[test]
fn create_tenant_happy_path() {
    let mut reg = fresh();
    let resp = ok(&mut reg, &create_tenant("t_1", "acme", 42));
    let expected = Tenant {
        id: "t_1".into(),
        name: "acme".into(),
        created_at_ms: 42,
    };
    assert_eq!(resp, Response::TenantCreated(expected.clone()));
    assert_eq!(reg.tenant("t_1").unwrap(), Some(expected.clone()));
    assert_eq!(reg.tenant_by_name("acme").unwrap(), Some(expected.clone()));
    assert_eq!(reg.tenants().unwrap(), vec![expected]);
    assert_eq!(reg.tenant("t_2").unwrap(), None);
    assert_eq!(reg.tenant_by_name("ACME").unwrap(), None);
}

#[test]
fn tenants_are_listed_by_creation_time_then_id() {
    let mut reg = fresh();
    ok(&mut reg, &create_tenant("t_b", "b", 20));
    ok(&mut reg, &create_tenant("t_c", "c", 10));
    ok(&mut reg, &create_tenant("t_a", "a", 20));
    let ids: Vec<String> = reg.tenants().unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(ids, ["t_c", "t_a", "t_b"]);
}

#[test]
fn duplicate_tenant_name_and_id_are_refused() {
    let mut reg = fresh();
    setup_tenant(&mut reg, "t1", "acme");
    let err = reg.apply(&create_tenant("t2", "acme", 2)).unwrap_err();
    assert!(matches!(err, RegistryError::TenantExists { ref name } if name == "acme"));
    assert_eq!(err.to_string(), "tenant acme already exists");
    let err = reg.apply(&create_tenant("t1", "other", 2)).unwrap_err();
    assert!(matches!(err, RegistryError::TenantIdExists { ref tenant_id } if tenant_id == "t1"));
    assert_eq!(reg.tenants().unwrap().len(), 1);
    assert_eq!(reg.tenant_by_name("other").unwrap(), None);
}

#[test]
fn tenant_name_validation_in_apply() {
    let mut reg = fresh();
    let max = "a".repeat(63);
    for good in ["a", "0", "a-b_c", max.as_str()] {
        ok(&mut reg, &create_tenant(&format!("id-{good}"), good, 1));
    }
    for bad in ["", "Acme", "a.b", "a b", "ä", &"a".repeat(64)] {
        let err = reg.apply(&create_tenant("x", bad, 1)).unwrap_err();
        assert!(
            matches!(err, RegistryError::TenantNameInvalid { ref name, .. } if name == bad),
            "{bad:?}: {err}"
        );
    }
    assert_eq!(reg.tenants().unwrap().len(), 4);
    assert_eq!(reg.tenant("x").unwrap(), None);
}

#[test]
fn create_api_key_and_look_it_up_by_hash() {
    let mut reg = fresh();
    setup_tenant(&mut reg, "t1", "acme");
    let resp = ok(
        &mut reg,
        &create_key("k1", "t1", "nxk_secret", Role::Tenant),
    );
    assert_eq!(
        resp,
        Response::ApiKeyCreated {
            key_id: "k1".into()
        }
    );
    ok(&mut reg, &create_key("k2", "t1", "nxk_admin", Role::Admin));

    let found = reg
        .principal_for_key_hash(&hash_api_key("nxk_secret"))
        .unwrap();
    assert_eq!(
        found,
        Some(Principal {
            key_id: "k1".into(),
            tenant_id: "t1".into(),
            role: Role::Tenant,
        })
    );
    let admin = reg
        .principal_for_key_hash(&hash_api_key("nxk_admin"))
        .unwrap();
    assert_eq!(admin.map(|p| p.role), Some(Role::Admin));
    // Unknown key, and the plaintext key itself, find nothing.
    assert_eq!(
        reg.principal_for_key_hash(&hash_api_key("nope")).unwrap(),
        None
    );
    assert_eq!(reg.principal_for_key_hash("nxk_secret").unwrap(), None);
}

#[test]
fn api_key_refusals() {
    let mut reg = fresh();
    setup_tenant(&mut reg, "t1", "acme");
    let err = reg
        .apply(&create_key("k1", "ghost", "s", Role::Tenant))
        .unwrap_err();
    assert!(matches!(err, RegistryError::TenantNotFound { ref tenant_id } if tenant_id == "ghost"));

    ok(&mut reg, &create_key("k1", "t1", "s1", Role::Tenant));
    // Same id, different key.
    let err = reg
        .apply(&create_key("k1", "t1", "s2", Role::Tenant))
        .unwrap_err();
    assert!(matches!(err, RegistryError::ApiKeyExists { ref key_id } if key_id == "k1"));
    // Different id, same key.
    let err = reg
        .apply(&create_key("k2", "t1", "s1", Role::Admin))
        .unwrap_err();
    assert!(matches!(err, RegistryError::ApiKeyExists { ref key_id } if key_id == "k2"));
    assert_eq!(
        reg.principal_for_key_hash(&hash_api_key("s2")).unwrap(),
        None
    );
    let p = reg
        .principal_for_key_hash(&hash_api_key("s1"))
        .unwrap()
        .unwrap();
    assert_eq!((p.key_id.as_str(), p.role), ("k1", Role::Tenant));

    // A plaintext key (or any non-sha256 string) is never stored.
    let plaintext = Command::CreateApiKey {
        key_id: "k3".into(),
        tenant_id: "t1".into(),
        key_hash: "nxk_plaintext".into(),
        role: Role::Tenant,
        at_ms: 1,
        name: None,
    };
    let err = reg.apply(&plaintext).unwrap_err();
    assert!(matches!(err, RegistryError::ApiKeyHashInvalid { ref key_id } if key_id == "k3"));
    assert_eq!(reg.principal_for_key_hash("nxk_plaintext").unwrap(), None);
}

#[test]
fn dock_sandbox_happy_path() {
    let mut reg = fresh();
    setup_tenant(&mut reg, "t1", "acme");
    let resp = ok(&mut reg, &dock("sb_1", "t1", "My.Box-1", 100));
    let expected = Sandbox {
        id: "sb_1".into(),
        tenant_id: "t1".into(),
        name: "My.Box-1".into(),
        profile: "compute".into(),
        workbook_sha256: "0f".repeat(32),
        home_node: 7,
        state: SandboxState::Created,
        generation: 0,
        created_at_ms: 100,
        updated_at_ms: 100,
        replicas: Vec::new(),
        replication_factor: None,
        durability: None,
    };
    assert_eq!(resp, Response::SandboxDocked(expected.clone()));
    assert_eq!(reg.sandbox("t1", "sb_1").unwrap(), Some(expected.clone()));
    assert_eq!(reg.sandboxes("t1").unwrap(), vec![expected.clone()]);
    assert_eq!(reg.all_sandboxes().unwrap(), vec![expected]);
}

#[test]
fn dock_refusals() {
    let mut reg = fresh();
    let err = reg.apply(&dock("sb_1", "ghost", "box", 1)).unwrap_err();
    assert!(matches!(err, RegistryError::TenantNotFound { .. }));
    setup_tenant(&mut reg, "t1", "acme");
    setup_tenant(&mut reg, "t2", "beta");
    setup_sandbox(&mut reg, "sb_1", "t1", "box");

    let err = reg.apply(&dock("sb_2", "t1", "box", 2)).unwrap_err();
    assert!(matches!(err, RegistryError::SandboxNameTaken { ref name } if name == "box"));
    assert_eq!(err.to_string(), "sandbox name box is already taken");
    let err = reg.apply(&dock("sb_1", "t1", "other", 2)).unwrap_err();
    assert!(matches!(err, RegistryError::SandboxExists { ref sandbox_id } if sandbox_id == "sb_1"));
    let err = reg.apply(&dock("sb_1", "t2", "box", 2)).unwrap_err();
    assert!(matches!(err, RegistryError::SandboxExists { .. }));
    assert_eq!(reg.all_sandboxes().unwrap().len(), 1);

    // The same name under another tenant is fine; names are case-sensitive.
    setup_sandbox(&mut reg, "sb_2", "t2", "box");
    setup_sandbox(&mut reg, "sb_3", "t1", "Box");
    assert_eq!(reg.all_sandboxes().unwrap().len(), 3);
}

#[test]
fn sandbox_name_validation_in_apply() {
    let mut reg = fresh();
    setup_tenant(&mut reg, "t1", "acme");
    let max = "Z".repeat(63);
    for (i, good) in ["a", "A.b_c-9", "...", ".x", max.as_str()]
        .iter()
        .enumerate()
    {
        setup_sandbox(&mut reg, &format!("sb_{i}"), "t1", good);
    }
    for bad in ["", ".", "..", "a b", "a/b", "ü", &"Z".repeat(64)] {
        let err = reg.apply(&dock("sb_bad", "t1", bad, 1)).unwrap_err();
        assert!(
            matches!(err, RegistryError::SandboxNameInvalid { ref name, .. } if name == bad),
            "{bad:?}: {err}"
        );
    }
    assert_eq!(reg.sandboxes("t1").unwrap().len(), 5);
    assert_eq!(reg.sandbox("t1", "sb_bad").unwrap(), None);
}

#[test]
fn sandboxes_are_listed_by_creation_time_then_id() {
    let mut reg = fresh();
    setup_tenant(&mut reg, "t1", "acme");
    setup_tenant(&mut reg, "t2", "beta");
    ok(&mut reg, &dock("sb_c", "t1", "c", 30));
    ok(&mut reg, &dock("sb_b", "t1", "b", 10));
    ok(&mut reg, &dock("sb_a", "t1", "a", 30));
    ok(&mut reg, &dock("sb_x", "t2", "x", 20));
    let ids = |v: Vec<Sandbox>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(reg.sandboxes("t1").unwrap()), ["sb_b", "sb_a", "sb_c"]);
    assert_eq!(ids(reg.sandboxes("t2").unwrap()), ["sb_x"]);
    assert_eq!(
        ids(reg.all_sandboxes().unwrap()),
        ["sb_b", "sb_x", "sb_a", "sb_c"]
    );
    assert!(reg.sandboxes("ghost").unwrap().is_empty());
}

#[test]
fn remove_sandbox_happy_path_frees_the_name() {
    let mut reg = fresh();
    setup_tenant(&mut reg, "t1", "acme");
    setup_sandbox(&mut reg, "sb_1", "t1", "box");
    setup_sandbox(&mut reg, "sb_2", "t1", "keep");
    let resp = ok(&mut reg, &remove("sb_1", "t1"));
    assert_eq!(
        resp,
        Response::SandboxRemoved {
            sandbox_id: "sb_1".into()
        }
    );
    assert_eq!(reg.sandbox("t1", "sb_1").unwrap(), None);
    assert_eq!(reg.sandboxes("t1").unwrap().len(), 1);
    let err = reg.apply(&remove("sb_1", "t1")).unwrap_err();
    assert!(
        matches!(err, RegistryError::SandboxNotFound { ref sandbox_id } if sandbox_id == "sb_1")
    );
    // Name (and even the id) can be reused after removal.
    setup_sandbox(&mut reg, "sb_1", "t1", "box");
}

#[test]
fn transition_happy_path_bumps_generation_and_time() {
    let mut reg = fresh();
    setup_tenant(&mut reg, "t1", "acme");
    let docked = setup_sandbox(&mut reg, "sb_1", "t1", "box");
    let resp = ok(
        &mut reg,
        &transition("sb_1", "t1", SandboxState::Active, 0, 500),
    );
    let expected = Sandbox {
        state: SandboxState::Active,
        generation: 1,
        updated_at_ms: 500,
        ..docked.clone()
    };
    assert_eq!(resp, Response::Transitioned(expected.clone()));
    assert_eq!(reg.sandbox("t1", "sb_1").unwrap(), Some(expected));
    let resp = ok(
        &mut reg,
        &transition("sb_1", "t1", SandboxState::Suspended, 1, 600),
    );
    let Response::Transitioned(s) = resp else {
        panic!("unexpected {resp:?}");
    };
    assert_eq!(
        (s.state, s.generation, s.updated_at_ms),
        (SandboxState::Suspended, 2, 600)
    );
    assert_eq!(s.created_at_ms, docked.created_at_ms);
}

#[test]
fn commands_and_responses_round_trip_through_json() {
    let cmds = vec![
        create_tenant("t1", "acme", 1),
        create_key("k1", "t1", "s", Role::Admin),
        dock("sb_1", "t1", "box", u64::MAX),
        remove("sb_1", "t1"),
        transition("sb_1", "t1", SandboxState::Frozen, 3, 4),
    ];
    for cmd in &cmds {
        let json = serde_json::to_string(cmd).unwrap();
        assert_eq!(&serde_json::from_str::<Command>(&json).unwrap(), cmd);
    }
    let json = serde_json::to_value(&cmds[1]).unwrap();
    assert_eq!(json["create_api_key"]["role"], "admin");
    let json = serde_json::to_value(&cmds[4]).unwrap();
    assert_eq!(json["transition"]["to"], "frozen");

    let applied = [
        create_tenant("t1", "acme", 1),
        create_key("k1", "t1", "s", Role::Admin),
        dock("sb_1", "t1", "box", 2),
        transition("sb_1", "t1", SandboxState::Active, 0, 3),
        remove("sb_1", "t1"),
    ];
    let mut reg = fresh();
    for cmd in &applied {
        let resp = ok(&mut reg, cmd);
        let json = serde_json::to_string(&resp).unwrap();
        assert_eq!(serde_json::from_str::<Response>(&json).unwrap(), resp);
    }
}
