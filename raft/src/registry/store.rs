//! SQL access: row mapping and the queries shared by `apply` and the reads.
//!
//! `u64` values (timestamps, generations, node ids) are stored in SQLite's
//! signed 64-bit integers by reinterpreting the bits, which round-trips every
//! value exactly; only ordering of values above `i64::MAX` (not reachable by
//! millisecond timestamps) differs from numeric order.

use rusqlite::{Connection, OptionalExtension, Row};

use super::error::RegistryError;
use super::model::{Sandbox, Tenant};
use super::replicas;
use super::state::SandboxState;

/// `u64` → stored `i64` (bit-for-bit).
pub(crate) fn to_db(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}

/// Stored `i64` → `u64` (bit-for-bit).
pub(crate) fn from_db(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

const TENANT_COLS: &str = "id, name, created_at_ms";
const SANDBOX_COLS: &str = "id, tenant_id, name, profile, workbook_sha256, home_node, state, \
                            generation, created_at_ms, updated_at_ms, replication_factor, durability";

/// [`SANDBOX_COLS`] and the sandbox's replicas ([`replicas::COLUMN`]).
fn select_sandbox() -> String {
    format!("SELECT {SANDBOX_COLS}, {} FROM sandboxes", replicas::COLUMN)
}

fn tenant_row(r: &Row<'_>) -> rusqlite::Result<Tenant> {
    Ok(Tenant {
        id: r.get(0)?,
        name: r.get(1)?,
        created_at_ms: from_db(r.get(2)?),
    })
}

/// A sandbox row with its state, durability and replicas still as text,
/// decoded by [`SandboxRow::decode`].
struct SandboxRow {
    sandbox: Sandbox,
    state: String,
    durability: Option<String>,
    replicas: Option<String>,
}

impl SandboxRow {
    fn read(r: &Row<'_>) -> rusqlite::Result<SandboxRow> {
        Ok(SandboxRow {
            sandbox: Sandbox {
                id: r.get(0)?,
                tenant_id: r.get(1)?,
                name: r.get(2)?,
                profile: r.get(3)?,
                workbook_sha256: r.get(4)?,
                home_node: from_db(r.get(5)?),
                state: SandboxState::Created,
                generation: from_db(r.get(7)?),
                created_at_ms: from_db(r.get(8)?),
                updated_at_ms: from_db(r.get(9)?),
                replicas: Vec::new(),
                replication_factor: r.get(10)?,
                durability: None,
            },
            state: r.get(6)?,
            durability: r.get(11)?,
            replicas: r.get(12)?,
        })
    }

    fn decode(self) -> Result<Sandbox, RegistryError> {
        let state = self.state.parse().map_err(|e| {
            RegistryError::Codec(format!("sandbox {}: stored state: {e}", self.sandbox.id))
        })?;
        let durability = self
            .durability
            .map(|d| d.parse())
            .transpose()
            .map_err(|e| {
                RegistryError::Codec(format!(
                    "sandbox {}: stored durability: {e}",
                    self.sandbox.id
                ))
            })?;
        let replicas = replicas::parse(&self.sandbox.id, self.replicas)?;
        Ok(Sandbox {
            state,
            durability,
            replicas,
            ..self.sandbox
        })
    }
}

/// One tenant by id.
pub(crate) fn tenant(conn: &Connection, tenant_id: &str) -> Result<Option<Tenant>, RegistryError> {
    let sql = format!("SELECT {TENANT_COLS} FROM tenants WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([tenant_id], tenant_row)
        .optional()?)
}

/// One tenant by name.
pub(crate) fn tenant_by_name(
    conn: &Connection,
    name: &str,
) -> Result<Option<Tenant>, RegistryError> {
    let sql = format!("SELECT {TENANT_COLS} FROM tenants WHERE name = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([name], tenant_row)
        .optional()?)
}

/// All tenants, by creation time then id.
pub(crate) fn tenants(conn: &Connection) -> Result<Vec<Tenant>, RegistryError> {
    let sql = format!("SELECT {TENANT_COLS} FROM tenants ORDER BY created_at_ms, id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], tenant_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Inserts a tenant (callers check uniqueness first).
pub(crate) fn insert_tenant(conn: &Connection, t: &Tenant) -> Result<(), RegistryError> {
    conn.prepare_cached("INSERT INTO tenants (id, name, created_at_ms) VALUES (?1, ?2, ?3)")?
        .execute((&t.id, &t.name, to_db(t.created_at_ms)))?;
    Ok(())
}

/// One sandbox by id, regardless of tenant (for uniqueness checks only).
pub(crate) fn sandbox_id_exists(
    conn: &Connection,
    sandbox_id: &str,
) -> Result<bool, RegistryError> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM sandboxes WHERE id = ?1)")?
        .query_row([sandbox_id], |r| r.get(0))?)
}

/// Whether the tenant has a sandbox with this name.
pub(crate) fn sandbox_name_taken(
    conn: &Connection,
    tenant_id: &str,
    name: &str,
) -> Result<bool, RegistryError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM sandboxes WHERE tenant_id = ?1 AND name = ?2)",
        )?
        .query_row([tenant_id, name], |r| r.get(0))?)
}

/// One sandbox of one tenant.
pub(crate) fn sandbox(
    conn: &Connection,
    tenant_id: &str,
    sandbox_id: &str,
) -> Result<Option<Sandbox>, RegistryError> {
    let sql = format!("{} WHERE id = ?1 AND tenant_id = ?2", select_sandbox());
    conn.prepare_cached(&sql)?
        .query_row([sandbox_id, tenant_id], SandboxRow::read)
        .optional()?
        .map(SandboxRow::decode)
        .transpose()
}

/// Sandboxes of one tenant, or of all tenants, by creation time then id.
pub(crate) fn sandboxes(
    conn: &Connection,
    tenant_id: Option<&str>,
) -> Result<Vec<Sandbox>, RegistryError> {
    let filter = if tenant_id.is_some() {
        "WHERE tenant_id = ?1"
    } else {
        ""
    };
    let sql = format!("{} {filter} ORDER BY created_at_ms, id", select_sandbox());
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = match tenant_id {
        Some(t) => stmt.query_map([t], SandboxRow::read)?,
        None => stmt.query_map([], SandboxRow::read)?,
    };
    let mut out = Vec::new();
    for row in rows {
        out.push(row?.decode()?);
    }
    Ok(out)
}

/// Inserts a sandbox (callers check the tenant and uniqueness first).
pub(crate) fn insert_sandbox(conn: &Connection, s: &Sandbox) -> Result<(), RegistryError> {
    let sql = format!(
        "INSERT INTO sandboxes ({SANDBOX_COLS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    );
    conn.prepare_cached(&sql)?.execute(rusqlite::params![
        s.id,
        s.tenant_id,
        s.name,
        s.profile,
        s.workbook_sha256,
        to_db(s.home_node),
        s.state.as_str(),
        to_db(s.generation),
        to_db(s.created_at_ms),
        to_db(s.updated_at_ms),
        s.replication_factor,
        s.durability.map(|d| d.as_str()),
    ])?;
    Ok(())
}

/// Writes what a fenced write may change: a sandbox's state, home node,
/// generation and update time.
pub(crate) fn update_sandbox(conn: &Connection, s: &Sandbox) -> Result<(), RegistryError> {
    conn.prepare_cached(
        "UPDATE sandboxes SET state = ?1, home_node = ?2, generation = ?3, updated_at_ms = ?4 \
         WHERE id = ?5 AND tenant_id = ?6",
    )?
    .execute((
        s.state.as_str(),
        to_db(s.home_node),
        to_db(s.generation),
        to_db(s.updated_at_ms),
        &s.id,
        &s.tenant_id,
    ))?;
    Ok(())
}

/// Deletes one sandbox of one tenant; returns whether a row went.
pub(crate) fn delete_sandbox(
    conn: &Connection,
    tenant_id: &str,
    sandbox_id: &str,
) -> Result<bool, RegistryError> {
    let n = conn
        .prepare_cached("DELETE FROM sandboxes WHERE id = ?1 AND tenant_id = ?2")?
        .execute([sandbox_id, tenant_id])?;
    Ok(n > 0)
}

/// Deletes a tenant row (callers delete its keys and sandboxes first).
pub(crate) fn delete_tenant(conn: &Connection, tenant_id: &str) -> Result<(), RegistryError> {
    conn.prepare_cached("DELETE FROM tenants WHERE id = ?1")?
        .execute([tenant_id])?;
    Ok(())
}

/// Deletes every sandbox of a tenant.
pub(crate) fn delete_tenant_sandboxes(
    conn: &Connection,
    tenant_id: &str,
) -> Result<(), RegistryError> {
    conn.prepare_cached("DELETE FROM sandboxes WHERE tenant_id = ?1")?
        .execute([tenant_id])?;
    Ok(())
}
