//! Nodes that joined with a token, and the revocation list.
//!
//! A redeemed token records the joiner (`nodes`): its id, role and
//! addresses, so whichever node leads can add it to the Raft membership. A
//! removed node's id goes on the revocation list (`revoked_nodes`), which
//! every node's TLS verifier consults: ids are never reused, so the id is
//! the certificate's identity.

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

/// Records a joiner (its id is fresh, so it cannot be taken).
pub(crate) fn insert(conn: &Connection, node: &JoinedNode) -> Result<(), RegistryError> {
    conn.execute(
        "INSERT INTO nodes (id, role, raft_addr, api_addr, joined_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        (
            to_db(node.id),
            node.role.as_str(),
            &node.raft_addr,
            &node.api_addr,
            to_db(node.joined_at_ms),
        ),
    )?;
    Ok(())
}

/// Puts `node_id` on the revocation list; revoking twice keeps the first time.
pub(crate) fn revoke(conn: &Connection, node_id: u64, at_ms: u64) -> Result<(), RegistryError> {
    conn.execute(
        "INSERT INTO revoked_nodes (id, revoked_at_ms) VALUES (?1, ?2) \
         ON CONFLICT (id) DO NOTHING",
        (to_db(node_id), to_db(at_ms)),
    )?;
    Ok(())
}

/// Every joined node, by id.
pub(crate) fn list(conn: &Connection) -> Result<Vec<JoinedNode>, RegistryError> {
    let mut stmt =
        conn.prepare("SELECT id, role, raft_addr, api_addr, joined_at_ms FROM nodes ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        let role: String = r.get(1)?;
        let node = JoinedNode {
            id: from_db(r.get(0)?),
            role: NodeRole::Learner,
            raft_addr: r.get(2)?,
            api_addr: r.get(3)?,
            joined_at_ms: from_db(r.get(4)?),
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
    let mut stmt = conn.prepare("SELECT id, revoked_at_ms FROM revoked_nodes ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(RevokedNode {
            id: from_db(r.get(0)?),
            revoked_at_ms: from_db(r.get(1)?),
        })
    })?;
    rows.map(|r| r.map_err(RegistryError::from)).collect()
}
