//! Drained nodes: a node an operator is emptying takes no new sandboxes
//! (placement passes it over, moves to it are refused) until it is
//! undrained.

use rusqlite::Connection;

use super::error::RegistryError;
use super::store::{from_db, to_db};

/// Marks `node_id` drained (keeping the first time) or not.
pub(crate) fn set(
    conn: &Connection,
    node_id: u64,
    drained: bool,
    at_ms: u64,
) -> Result<(), RegistryError> {
    if drained {
        conn.prepare_cached(
            "INSERT INTO drained_nodes (id, since_ms) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
        )?
        .execute((to_db(node_id), to_db(at_ms)))?;
    } else {
        conn.prepare_cached("DELETE FROM drained_nodes WHERE id = ?1")?
            .execute([to_db(node_id)])?;
    }
    Ok(())
}

/// The drained nodes' ids, ascending.
pub(crate) fn list(conn: &Connection) -> Result<Vec<u64>, RegistryError> {
    let mut stmt = conn.prepare_cached("SELECT id FROM drained_nodes ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok(from_db(r.get(0)?)))?;
    rows.map(|r| r.map_err(RegistryError::from)).collect()
}
