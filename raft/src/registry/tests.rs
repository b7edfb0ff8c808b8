//! Tests that need the private connection: pragmas, schema checks, and a raw
//! table dump for determinism (covers columns no public read exposes).

use rusqlite::types::Value;
use tempfile::TempDir;

use super::*;

fn pragma(reg: &Registry, name: &str) -> Value {
    reg.conn
        .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
        .expect("pragma")
}

/// Every row of every table, in primary-key order.
fn dump(reg: &Registry) -> Vec<(String, Vec<Vec<Value>>)> {
    let mut stmt = reg
        .conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .expect("prepare");
    let tables: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    tables
        .into_iter()
        .map(|table| {
            let mut stmt = reg
                .conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
                .expect("prepare");
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows");
            (table, rows)
        })
        .collect()
}

fn commands() -> Vec<Command> {
    vec![
        Command::CreateTenant {
            tenant_id: "t1".into(),
            name: "acme".into(),
            at_ms: 10,
        },
        Command::CreateApiKey {
            key_id: "k1".into(),
            tenant_id: "t1".into(),
            key_hash: hash_api_key("secret"),
            role: Role::Admin,
            at_ms: 11,
            name: None,
        },
        Command::CreateApiKey {
            key_id: "k2".into(),
            tenant_id: "nope".into(),
            key_hash: hash_api_key("other"),
            role: Role::Tenant,
            at_ms: 12,
            name: None,
        },
        Command::DockSandbox {
            sandbox_id: "s1".into(),
            tenant_id: "t1".into(),
            name: "box".into(),
            profile: "compute".into(),
            workbook_sha256: "ab".repeat(32),
            home_node: u64::MAX,
            at_ms: 13,
            replication_factor: None,
            durability: None,
        },
        Command::Transition {
            sandbox_id: "s1".into(),
            tenant_id: "t1".into(),
            to: SandboxState::Active,
            expected_generation: 0,
            at_ms: 14,
        },
        Command::Transition {
            sandbox_id: "s1".into(),
            tenant_id: "t1".into(),
            to: SandboxState::Deleted,
            expected_generation: 1,
            at_ms: 15,
        },
        Command::SetReplicas {
            sandbox_id: "s1".into(),
            tenant_id: "t1".into(),
            expected_generation: 1,
            replicas: vec![Replica {
                node_id: 3,
                version: u64::MAX,
            }],
            at_ms: 16,
        },
    ]
}

#[test]
fn registry_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Registry>();
}

#[test]
fn file_registry_uses_wal_full_sync_and_foreign_keys() {
    let dir = TempDir::new().expect("tempdir");
    let reg = Registry::open(&dir.path().join("registry.db")).expect("open");
    assert_eq!(pragma(&reg, "journal_mode"), Value::Text("wal".into()));
    assert_eq!(pragma(&reg, "synchronous"), Value::Integer(2)); // FULL
    assert_eq!(pragma(&reg, "foreign_keys"), Value::Integer(1));
    assert_eq!(reg.schema_version().expect("version"), SCHEMA_VERSION);
}

#[test]
fn refuses_a_database_that_is_not_a_registry() {
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("workbook.db");
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT, value TEXT);
             INSERT INTO meta VALUES ('format', '1');
             CREATE TABLE files (path TEXT);",
        )
        .expect("ddl");
    }
    let err = Registry::open(&path).expect_err("not a registry");
    assert!(matches!(err, RegistryError::Schema(ref m) if m.contains("not a registry")));
    // And it was left alone.
    let conn = Connection::open(&path).expect("reopen");
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(tables, 2);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(
        mode, "delete",
        "journal mode of a foreign file must not change"
    );
}

#[test]
fn refuses_an_unknown_schema_version() {
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("registry.db");
    let reg = Registry::open(&path).expect("create");
    reg.conn
        .execute(
            "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .expect("bump");
    drop(reg);
    let err = Registry::open(&path).expect_err("future schema");
    assert!(
        matches!(err, RegistryError::Schema(ref m) if m.contains("99")),
        "{err}"
    );
}

#[test]
fn a_corrupt_stored_state_is_a_codec_error_not_a_refusal() {
    let mut reg = Registry::open_in_memory().expect("open");
    for cmd in &commands()[..4] {
        let _ = reg.apply(cmd);
    }
    // Bypass the CHECK constraint the way a damaged file might.
    reg.conn
        .execute_batch(
            "PRAGMA ignore_check_constraints = ON;
             UPDATE sandboxes SET state = 'melted' WHERE id = 's1';",
        )
        .expect("corrupt");
    let err = reg.sandbox("t1", "s1").expect_err("corrupt state");
    assert!(
        matches!(err, RegistryError::Codec(ref m) if m.contains("melted")),
        "{err}"
    );
    assert!(!err.is_refusal());
}

#[test]
fn same_commands_give_byte_identical_tables_and_refusals_leave_no_trace() {
    let mut a = Registry::open_in_memory().expect("open a");
    let mut b = Registry::open_in_memory().expect("open b");
    let mut results = Vec::new();
    for cmd in commands() {
        let before = dump(&a);
        let ra = a.apply(&cmd).map_err(|e| e.to_string());
        let rb = b.apply(&cmd).map_err(|e| e.to_string());
        assert_eq!(ra, rb, "{cmd:?}");
        if ra.is_err() {
            assert_eq!(dump(&a), before, "refused {cmd:?} changed the tables");
        }
        assert_eq!(dump(&a), dump(&b), "after {cmd:?}");
        results.push(ra.is_ok());
    }
    // The sequence exercises both outcomes.
    assert_eq!(results, [true, true, false, true, true, false, true]);
    let stored = a.sandbox("t1", "s1").expect("read").expect("exists");
    assert_eq!(
        stored.home_node,
        u64::MAX,
        "u64 round-trips through i64 storage"
    );
    assert_eq!(
        stored.replicas[0].version,
        u64::MAX,
        "replica versions round-trip too"
    );
}
