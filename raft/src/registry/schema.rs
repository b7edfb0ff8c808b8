//! The registry's SQLite schema and its version.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::error::RegistryError;

/// Schema version written by this build. Bump it (and add a migration step
/// in `schema::init`) whenever the DDL changes.
pub const SCHEMA_VERSION: u32 = 11;

/// `meta.format` value that marks a database as a Nexus registry.
const FORMAT: &str = "nexus-registry";

const DDL: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE tenants (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    key_hash      TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'tenant')),
    created_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX api_keys_tenant ON api_keys(tenant_id);

CREATE TABLE sandboxes (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    name            TEXT NOT NULL,
    profile         TEXT NOT NULL,
    workbook_sha256 TEXT NOT NULL,
    home_node       INTEGER NOT NULL,
    state           TEXT NOT NULL CHECK (state IN
                        ('created', 'active', 'suspended', 'frozen', 'archived', 'deleted')),
    generation      INTEGER NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
) STRICT;
CREATE INDEX sandboxes_by_tenant ON sandboxes(tenant_id, created_at_ms, id);
CREATE INDEX sandboxes_by_age ON sandboxes(created_at_ms, id);
";

/// Version 2: join tokens.
const DDL_V2: &str = "
CREATE TABLE join_tokens (
    id            TEXT PRIMARY KEY,
    secret_hash   TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('voter', 'learner')),
    expires_at_ms INTEGER NOT NULL,
    uses_left     INTEGER NOT NULL CHECK (uses_left >= 0),
    revoked       INTEGER NOT NULL CHECK (revoked IN (0, 1)),
    created_at_ms INTEGER NOT NULL
) STRICT;
";

/// Version 3: joined nodes and the node revocation list.
const DDL_V3: &str = "
CREATE TABLE nodes (
    id           INTEGER PRIMARY KEY,
    role         TEXT NOT NULL CHECK (role IN ('voter', 'learner')),
    raft_addr    TEXT NOT NULL,
    api_addr     TEXT NOT NULL,
    joined_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE revoked_nodes (
    id            INTEGER PRIMARY KEY,
    revoked_at_ms INTEGER NOT NULL
) STRICT;
";

/// Version 4: API keys get a name (unique among a tenant's live keys;
/// existing keys are named after their id), a last-use time and a
/// revocation time (a revoked key stays, so it can be told apart from an
/// unknown one).
const DDL_V4: &str = "
ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT '';
UPDATE api_keys SET name = id;
ALTER TABLE api_keys ADD COLUMN last_used_at_ms INTEGER;
ALTER TABLE api_keys ADD COLUMN revoked_at_ms INTEGER;
CREATE UNIQUE INDEX api_keys_live_name ON api_keys(tenant_id, name)
    WHERE revoked_at_ms IS NULL;
";

/// Version 5: the nodes that hold the cluster CA key (a joiner sent to a
/// node without it is forwarded to one of them).
const DDL_V5: &str = "
CREATE TABLE ca_holders (
    id       INTEGER PRIMARY KEY,
    since_ms INTEGER NOT NULL
) STRICT;
";

/// Version 6: each joined node's data-plane (QUIC) address; empty for a
/// node that joined before (its peers use its Raft address over UDP).
const DDL_V6: &str = "
ALTER TABLE nodes ADD COLUMN bulk_addr TEXT NOT NULL DEFAULT '';
";

/// Version 7: the drained nodes (they take no new sandboxes).
const DDL_V7: &str = "
CREATE TABLE drained_nodes (
    id       INTEGER PRIMARY KEY,
    since_ms INTEGER NOT NULL
) STRICT;
";

/// Version 8: what each node reports about itself (labels, capacity).
const DDL_V8: &str = "
CREATE TABLE node_reports (
    id             INTEGER PRIMARY KEY,
    labels         TEXT NOT NULL,
    memory_bytes   INTEGER NOT NULL,
    max_sandboxes  INTEGER NOT NULL,
    reported_at_ms INTEGER NOT NULL
) STRICT;
";

/// Version 9: the WireGuard mesh: each node's key, endpoint, mesh address
/// and advertised ports, and the address allocator (one row; its offset
/// only moves forward, so addresses are never reused).
const DDL_V9: &str = "
CREATE TABLE mesh_peers (
    id            INTEGER PRIMARY KEY,
    public_key    TEXT NOT NULL UNIQUE,
    endpoint      TEXT NOT NULL,
    address       TEXT NOT NULL UNIQUE,
    advertise     TEXT,
    updated_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE mesh_ipam (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    cidr        TEXT NOT NULL,
    next_offset INTEGER NOT NULL
) STRICT;
";

/// Version 10: join tokens by expiry (minting a token removes those
/// expired long ago).
const DDL_V10: &str = "
CREATE INDEX join_tokens_by_expiry ON join_tokens (expires_at_ms);
";

/// Version 11: sandbox replicas (the nodes keeping a copy for the home,
/// each with its last confirmed version) and each sandbox's replication
/// policy (`NULL`: the node's configured default).
const DDL_V11: &str = "
CREATE TABLE sandbox_replicas (
    sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
    node_id    INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    since_ms   INTEGER NOT NULL,
    PRIMARY KEY (sandbox_id, node_id)
) STRICT;
CREATE INDEX sandbox_replicas_by_node ON sandbox_replicas(node_id);
ALTER TABLE sandboxes ADD COLUMN replication_factor INTEGER;
ALTER TABLE sandboxes ADD COLUMN durability TEXT CHECK (durability IN ('sync', 'async'));
";

/// The DDL that takes version `v` to `v + 1`.
fn upgrade_from(v: u32) -> Option<&'static str> {
    match v {
        1 => Some(DDL_V2),
        2 => Some(DDL_V3),
        3 => Some(DDL_V4),
        4 => Some(DDL_V5),
        5 => Some(DDL_V6),
        6 => Some(DDL_V7),
        7 => Some(DDL_V8),
        8 => Some(DDL_V9),
        9 => Some(DDL_V10),
        10 => Some(DDL_V11),
        _ => None,
    }
}

/// Creates the schema, at [`SCHEMA_VERSION`], in an empty database through
/// `conn` (the caller's transaction).
///
/// A fresh registry is version 1 upgraded all the way: one path, so a new
/// version cannot be missed by either.
pub(crate) fn create(conn: &Connection) -> Result<(), RegistryError> {
    conn.execute_batch(DDL)?;
    for v in 1..SCHEMA_VERSION {
        conn.execute_batch(upgrade_from(v).ok_or_else(|| unsupported(v))?)?;
    }
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('format', ?1), ('schema_version', ?2)",
        (FORMAT, SCHEMA_VERSION.to_string()),
    )?;
    Ok(())
}

/// Creates the schema in an empty database, or checks an existing one.
///
/// Refuses a database that holds other tables but no registry `meta`
/// (a workbook, say), one whose `meta.format` is not a registry, and one whose
/// version this build does not know.
pub(crate) fn init(conn: &mut Connection) -> Result<(), RegistryError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let tables: i64 = tx.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
        [],
        |r| r.get(0),
    )?;
    if tables == 0 {
        create(&tx)?;
        tx.commit()?;
        return Ok(());
    }
    let format = meta_value(&tx, "format")?;
    if format.as_deref() != Some(FORMAT) {
        return Err(RegistryError::Schema(format!(
            "not a registry database (meta.format is {format:?}, expected {FORMAT:?})"
        )));
    }
    let mut current = version(&tx)?;
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    while current < SCHEMA_VERSION {
        let ddl = upgrade_from(current).ok_or_else(|| unsupported(current))?;
        tx.execute_batch(ddl)?;
        current += 1;
    }
    if current != SCHEMA_VERSION {
        return Err(unsupported(current));
    }
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
        [SCHEMA_VERSION.to_string()],
    )?;
    tx.commit()?;
    Ok(())
}

fn unsupported(version: u32) -> RegistryError {
    RegistryError::Schema(format!(
        "schema version {version} is not supported by this build (supports {SCHEMA_VERSION})"
    ))
}

/// Reads `meta.schema_version`.
pub(crate) fn version(conn: &Connection) -> Result<u32, RegistryError> {
    let raw = meta_value(conn, "schema_version")?
        .ok_or_else(|| RegistryError::Schema("meta.schema_version is missing".to_owned()))?;
    raw.parse()
        .map_err(|_| RegistryError::Codec(format!("meta.schema_version {raw:?} is not a number")))
}

fn meta_value(conn: &Connection, key: &str) -> Result<Option<String>, RegistryError> {
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta')",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    // A foreign `meta` table may not have our columns or types; treat that as
    // "no value" rather than a storage error.
    let value = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
            r.get::<_, rusqlite::types::Value>(0)
        })
        .optional();
    Ok(match value {
        Ok(Some(rusqlite::types::Value::Text(s))) => Some(s),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(conn: &Connection) -> Vec<(String, String, Option<String>)> {
        let mut stmt = conn
            .prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name")
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
        rows.map(Result::unwrap).collect()
    }

    #[test]
    fn a_fresh_registry_has_the_schema_of_one_upgraded_from_version_1() {
        let mut fresh = Connection::open_in_memory().unwrap();
        init(&mut fresh).unwrap();
        let mut old = Connection::open_in_memory().unwrap();
        old.execute_batch(DDL).unwrap();
        old.execute(
            "INSERT INTO meta (key, value) VALUES ('format', ?1), ('schema_version', '1')",
            [FORMAT],
        )
        .unwrap();
        init(&mut old).unwrap();
        assert_eq!(version(&fresh).unwrap(), SCHEMA_VERSION);
        assert_eq!(version(&old).unwrap(), SCHEMA_VERSION);
        let fresh_schema = schema(&fresh);
        assert!(
            fresh_schema
                .iter()
                .any(|(_, name, _)| name == "join_tokens_by_expiry"),
            "{fresh_schema:?}"
        );
        assert_eq!(fresh_schema, schema(&old));
    }
}
