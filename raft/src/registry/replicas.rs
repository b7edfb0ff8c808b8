//! Sandbox replicas: the nodes that keep a copy of a sandbox's workbook
//! for its home (table `sandbox_replicas`, schema 11), each with the last
//! version its home saw it confirm, and each sandbox's replication policy.
//!
//! A replica never serves calls; it is what a failover or a move promotes.
//! The set is written by [`Command::SetReplicas`](super::Command::SetReplicas),
//! fenced by the sandbox's generation (a home that lost the sandbox cannot
//! change it) without advancing it (a new replica does not disturb calls).

use std::fmt;
use std::str::FromStr;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::error::{ParseEnumError, RegistryError};
use super::store::{from_db, to_db};

/// The most replicas one sandbox can have (its factor is at most this + 1).
pub const MAX_REPLICAS: usize = 7;

/// One replica of a sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Replica {
    /// The node holding the copy.
    pub node_id: u64,
    /// The last version of the workbook its home saw it confirm.
    pub version: u64,
}

/// When a call's response is released relative to its change reaching a
/// replica (serialized lowercase).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// After at least one replica acknowledged the change (the output gate).
    Sync,
    /// At once; the change is shipped afterwards.
    Async,
}

impl Durability {
    /// The lowercase name, as serialized and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Durability::Sync => "sync",
            Durability::Async => "async",
        }
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Durability {
    type Err = ParseEnumError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sync" => Ok(Durability::Sync),
            "async" => Ok(Durability::Async),
            _ => Err(ParseEnumError::new("durability", s, &["sync", "async"])),
        }
    }
}

/// Checks a proposed replica set for a sandbox homed on `home`: distinct
/// nodes, not the home, none removed, at most [`MAX_REPLICAS`].
pub(crate) fn check(
    conn: &Connection,
    sandbox_id: &str,
    home: u64,
    replicas: &[Replica],
) -> Result<(), RegistryError> {
    let invalid = |reason: String| RegistryError::ReplicaSetInvalid {
        sandbox_id: sandbox_id.to_owned(),
        reason,
    };
    if replicas.len() > MAX_REPLICAS {
        return Err(invalid(format!(
            "{} replicas named, at most {MAX_REPLICAS} allowed",
            replicas.len()
        )));
    }
    for (i, replica) in replicas.iter().enumerate() {
        if replica.node_id == home {
            return Err(invalid(format!(
                "node {home} is the sandbox's home, not a replica"
            )));
        }
        if replicas[..i].iter().any(|r| r.node_id == replica.node_id) {
            return Err(invalid(format!("node {} is named twice", replica.node_id)));
        }
        let revoked: bool = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM revoked_nodes WHERE id = ?1)")?
            .query_row([to_db(replica.node_id)], |r| r.get(0))?;
        if revoked {
            return Err(invalid(format!(
                "node {} was removed from the cluster",
                replica.node_id
            )));
        }
    }
    Ok(())
}

/// Replaces `sandbox_id`'s replica set.
pub(crate) fn replace(
    conn: &Connection,
    sandbox_id: &str,
    replicas: &[Replica],
    at_ms: u64,
) -> Result<(), RegistryError> {
    conn.prepare_cached("DELETE FROM sandbox_replicas WHERE sandbox_id = ?1")?
        .execute([sandbox_id])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO sandbox_replicas (sandbox_id, node_id, version, since_ms) \
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    for replica in replicas {
        insert.execute((
            sandbox_id,
            to_db(replica.node_id),
            to_db(replica.version),
            to_db(at_ms),
        ))?;
    }
    Ok(())
}

/// Takes `node_id` out of `sandbox_id`'s replica set (it became the home).
pub(crate) fn drop_one(
    conn: &Connection,
    sandbox_id: &str,
    node_id: u64,
) -> Result<(), RegistryError> {
    conn.prepare_cached("DELETE FROM sandbox_replicas WHERE sandbox_id = ?1 AND node_id = ?2")?
        .execute((sandbox_id, to_db(node_id)))?;
    Ok(())
}

/// Takes a removed node out of every replica set.
pub(crate) fn forget_node(conn: &Connection, node_id: u64) -> Result<(), RegistryError> {
    conn.prepare_cached("DELETE FROM sandbox_replicas WHERE node_id = ?1")?
        .execute([to_db(node_id)])?;
    Ok(())
}

/// The SQL expression (over a `sandboxes` row) that lists its replicas as
/// `node:version` pairs joined by commas, read back by [`parse`].
pub(crate) const COLUMN: &str = "(SELECT group_concat(node_id || ':' || version, ',') \
     FROM sandbox_replicas WHERE sandbox_replicas.sandbox_id = sandboxes.id)";

/// The replicas in a [`COLUMN`] value, by node id.
pub(crate) fn parse(sandbox_id: &str, text: Option<String>) -> Result<Vec<Replica>, RegistryError> {
    let mut out = Vec::new();
    for pair in text.iter().flat_map(|t| t.split(',')) {
        let parsed = pair.split_once(':').and_then(|(node, version)| {
            Some(Replica {
                node_id: from_db(node.parse().ok()?),
                version: from_db(version.parse().ok()?),
            })
        });
        out.push(parsed.ok_or_else(|| {
            RegistryError::Codec(format!("sandbox {sandbox_id}: stored replica {pair:?}"))
        })?);
    }
    out.sort_by_key(|r| r.node_id);
    Ok(out)
}
