//! A file-backed registry survives being closed and reopened.

use nexus_raft::{Registry, RegistryError, Role, SandboxState};
use tempfile::TempDir;

use super::*;

const TENANTS: &[&str] = &["t1", "t2", "ghost"];
const SANDBOXES: &[&str] = &["sb_1", "sb_2", "sb_3", "nope"];
const NAMES: &[&str] = &["acme", "beta", "nope"];
const KEYS: &[&str] = &["key-1", "key-2", "nope"];

fn snap(reg: &Registry) -> Snapshot {
    snapshot(reg, TENANTS, SANDBOXES, NAMES, KEYS)
}

#[test]
fn state_survives_reopen() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("registry.db");
    let before = {
        let mut reg = Registry::open(&path).unwrap();
        setup_tenant(&mut reg, "t1", "acme");
        setup_tenant(&mut reg, "t2", "beta");
        ok(&mut reg, &create_key("k1", "t1", "key-1", Role::Admin));
        ok(&mut reg, &create_key("k2", "t2", "key-2", Role::Tenant));
        setup_sandbox(&mut reg, "sb_1", "t1", "one");
        setup_sandbox(&mut reg, "sb_2", "t1", "two");
        setup_sandbox(&mut reg, "sb_3", "t2", "three");
        ok(
            &mut reg,
            &transition("sb_1", "t1", SandboxState::Active, 0, 200),
        );
        ok(
            &mut reg,
            &transition("sb_1", "t1", SandboxState::Suspended, 1, 300),
        );
        ok(&mut reg, &remove("sb_2", "t1"));
        assert!(reg.apply(&create_tenant("t3", "acme", 1)).is_err());
        snap(&reg)
    };

    let mut reg = Registry::open(&path).unwrap();
    assert_eq!(snap(&reg), before);
    assert_eq!(
        reg.schema_version().unwrap(),
        nexus_raft::registry::SCHEMA_VERSION
    );
    let s = reg.sandbox("t1", "sb_1").unwrap().unwrap();
    assert_eq!(
        (s.state, s.generation, s.updated_at_ms),
        (SandboxState::Suspended, 2, 300)
    );

    // The reopened registry keeps enforcing its rules and keeps going.
    let err = reg
        .apply(&transition("sb_1", "t1", SandboxState::Frozen, 1, 400))
        .unwrap_err();
    assert!(matches!(
        err,
        RegistryError::StaleGeneration { current: 2, .. }
    ));
    ok(
        &mut reg,
        &transition("sb_1", "t1", SandboxState::Frozen, 2, 400),
    );
    drop(reg);
    let reg = Registry::open(&path).unwrap();
    let s = reg.sandbox("t1", "sb_1").unwrap().unwrap();
    assert_eq!((s.state, s.generation), (SandboxState::Frozen, 3));
}

#[test]
fn opening_creates_a_new_file_and_reopening_an_empty_registry_works() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("fresh.db");
    assert!(!path.exists());
    let reg = Registry::open(&path).unwrap();
    assert!(path.exists());
    assert!(reg.tenants().unwrap().is_empty());
    drop(reg);
    let reg = Registry::open(&path).unwrap();
    assert!(reg.tenants().unwrap().is_empty());
    assert!(reg.all_sandboxes().unwrap().is_empty());
}

#[test]
fn a_garbage_file_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("garbage.db");
    std::fs::write(&path, b"this is not a sqlite database, not even close.....").unwrap();
    let err = Registry::open(&path).unwrap_err();
    assert!(matches!(err, RegistryError::Storage(_)), "{err}");
    assert!(!err.is_refusal());
}
