//! Nodes that joined with a token, the revocation list, and the nodes that
//! hold the cluster CA key.
//!
//! A redeemed token records the joiner (`nodes`): its id, role and
//! addresses, so whichever node leads can add it to the Raft membership. A
//! removed node's id goes on the revocation list (`revoked_nodes`), which
//! every node's TLS verifier consults: ids are never reused, so the id is
//! the certificate's identity. A node that holds the CA key says so
//! (`ca_holders`), so a node without it knows where to forward a join; a
//! removed node is no longer a holder.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::error::RegistryError;
use super::store::{from_db, to_db};
use super::tokens::NodeRole;

/// A node admitted by a join token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinedNode {
    /// Its node id (never reused).
    pub id: u64,
    /// What its token let it become.
    pub role: NodeRole,
    /// Where its peers reach its Raft endpoint.
    pub raft_addr: String,
    /// Its HTTP API address.
    pub api_addr: String,
    /// Where its data plane (QUIC, UDP) answers; empty: its Raft address.
    #[serde(default)]
    pub bulk_addr: String,
    /// When it joined, ms since the Unix epoch.
    pub joined_at_ms: u64,
}

/// A revoked node id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedNode {
    /// The node id.
    pub id: u64,
    /// When it was removed, ms since the Unix epoch.
    pub revoked_at_ms: u64,
}

/// A node that holds the cluster CA key (and so can sign joiners'
/// certificates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaHolder {
    /// The node id.
    pub id: u64,
    /// Since when it is recorded as a holder, ms since the Unix epoch.
    pub since_ms: u64,
}

/// Records a joiner (its id is fresh, so it cannot be taken).
pub(crate) fn insert(conn: &Connection, node: &JoinedNode) -> Result<(), RegistryError> {
    conn.prepare_cached(
        "INSERT INTO nodes (id, role, raft_addr, api_addr, joined_at_ms, bulk_addr) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute((
        to_db(node.id),
        node.role.as_str(),
        &node.raft_addr,
        &node.api_addr,
        to_db(node.joined_at_ms),
        &node.bulk_addr,
    ))?;
    Ok(())
}

/// Puts `node_id` on the revocation list (revoking twice keeps the first
/// time) and takes it off the CA holders.
pub(crate) fn revoke(conn: &Connection, node_id: u64, at_ms: u64) -> Result<(), RegistryError> {
    conn.prepare_cached(
        "INSERT INTO revoked_nodes (id, revoked_at_ms) VALUES (?1, ?2) \
         ON CONFLICT (id) DO NOTHING",
    )?
    .execute((to_db(node_id), to_db(at_ms)))?;
    conn.prepare_cached("DELETE FROM ca_holders WHERE id = ?1")?
        .execute([to_db(node_id)])?;
    Ok(())
}

/// Records whether `node_id` holds the CA key; returns what is recorded
/// afterwards. Recording a holder twice keeps the first time; a revoked
/// node is never recorded.
pub(crate) fn set_ca_holder(
    conn: &Connection,
    node_id: u64,
    holds: bool,
    at_ms: u64,
) -> Result<bool, RegistryError> {
    if !holds {
        conn.prepare_cached("DELETE FROM ca_holders WHERE id = ?1")?
            .execute([to_db(node_id)])?;
        return Ok(false);
    }
    let revoked: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM revoked_nodes WHERE id = ?1)")?
        .query_row([to_db(node_id)], |r| r.get(0))?;
    if revoked {
        return Ok(false);
    }
    conn.prepare_cached(
        "INSERT INTO ca_holders (id, since_ms) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
    )?
    .execute((to_db(node_id), to_db(at_ms)))?;
    Ok(true)
}

/// The nodes recorded as holding the CA key, by id.
pub(crate) fn ca_holders(conn: &Connection) -> Result<Vec<CaHolder>, RegistryError> {
    let mut stmt = conn.prepare_cached("SELECT id, since_ms FROM ca_holders ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(CaHolder {
            id: from_db(r.get(0)?),
            since_ms: from_db(r.get(1)?),
        })
    })?;
    rows.map(|r| r.map_err(RegistryError::from)).collect()
}

/// Every joined node, by id.
pub(crate) fn list(conn: &Connection) -> Result<Vec<JoinedNode>, RegistryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, role, raft_addr, api_addr, joined_at_ms, bulk_addr FROM nodes ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        let role: String = r.get(1)?;
        let node = JoinedNode {
            id: from_db(r.get(0)?),
            role: NodeRole::Learner,
            raft_addr: r.get(2)?,
            api_addr: r.get(3)?,
            joined_at_ms: from_db(r.get(4)?),
            bulk_addr: r.get(5)?,
        };
        Ok((node, role))
    })?;
    rows.map(|r| {
        let (node, role) = r?;
        let role = NodeRole::parse(&role)
            .ok_or_else(|| RegistryError::Codec(format!("unknown node role {role:?}")))?;
        Ok(JoinedNode { role, ..node })
    })
    .collect()
}

/// The revocation list, by id.
pub(crate) fn revoked(conn: &Connection) -> Result<Vec<RevokedNode>, RegistryError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, revoked_at_ms FROM revoked_nodes ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(RevokedNode {
            id: from_db(r.get(0)?),
            revoked_at_ms: from_db(r.get(1)?),
        })
    })?;
    rows.map(|r| r.map_err(RegistryError::from)).collect()
}
