//! Tenant scoping: another tenant's sandbox is indistinguishable from none.

use nexus_raft::{RegistryError, SandboxState};

use super::*;

fn two_tenants() -> Registry {
    let mut reg = fresh();
    setup_tenant(&mut reg, "t1", "acme");
    setup_tenant(&mut reg, "t2", "beta");
    setup_sandbox(&mut reg, "sb_a", "t1", "box");
    setup_sandbox(&mut reg, "sb_b", "t2", "box");
    reg
}

#[test]
fn reads_are_tenant_scoped() {
    let reg = two_tenants();
    assert_eq!(reg.sandbox("t1", "sb_a").unwrap().unwrap().tenant_id, "t1");
    assert_eq!(reg.sandbox("t2", "sb_a").unwrap(), None);
    assert_eq!(reg.sandbox("t1", "sb_b").unwrap(), None);
    assert_eq!(reg.sandbox("ghost", "sb_a").unwrap(), None);
    let ids = |t: &str| -> Vec<String> {
        reg.sandboxes(t)
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect()
    };
    assert_eq!(ids("t1"), ["sb_a"]);
    assert_eq!(ids("t2"), ["sb_b"]);
    assert_eq!(reg.all_sandboxes().unwrap().len(), 2);
}

#[test]
fn foreign_transition_is_not_found_and_changes_nothing() {
    let mut reg = two_tenants();
    let before = reg.sandbox("t1", "sb_a").unwrap();
    let foreign = reg.apply(&transition("sb_a", "t2", SandboxState::Active, 0, 1));
    let missing = reg.apply(&transition("sb_zz", "t2", SandboxState::Active, 0, 1));
    // Identical answers: existence is never revealed.
    assert_eq!(
        foreign.map_err(|e| e.to_string().replace("sb_a", "ID")),
        missing.map_err(|e| e.to_string().replace("sb_zz", "ID"))
    );
    assert_eq!(reg.sandbox("t1", "sb_a").unwrap(), before);
}

#[test]
fn foreign_remove_is_not_found_and_changes_nothing() {
    let mut reg = two_tenants();
    let err = reg.apply(&remove("sb_a", "t2")).unwrap_err();
    assert!(
        matches!(err, RegistryError::SandboxNotFound { ref sandbox_id } if sandbox_id == "sb_a")
    );
    assert!(reg.sandbox("t1", "sb_a").unwrap().is_some());
    assert_eq!(reg.all_sandboxes().unwrap().len(), 2);
    // The owner can remove it.
    ok(&mut reg, &remove("sb_a", "t1"));
    assert_eq!(reg.all_sandboxes().unwrap().len(), 1);
}

#[test]
fn keys_resolve_to_their_own_tenant() {
    let mut reg = two_tenants();
    ok(
        &mut reg,
        &create_key("k1", "t1", "key-one", nexus_raft::Role::Tenant),
    );
    ok(
        &mut reg,
        &create_key("k2", "t2", "key-two", nexus_raft::Role::Tenant),
    );
    let tenant_of = |k: &str| {
        reg.principal_for_key_hash(&nexus_raft::hash_api_key(k))
            .unwrap()
            .map(|p| p.tenant_id)
    };
    assert_eq!(tenant_of("key-one").as_deref(), Some("t1"));
    assert_eq!(tenant_of("key-two").as_deref(), Some("t2"));
}
