//! What each node says about itself: its labels (placement's `--where`
//! matches them) and its capacity (the live sandboxes and the sandbox memory
//! it offers). A node reports once per start, when its record differs; the
//! load against that capacity is read from the sandbox records, so it is
//! never stale.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::error::RegistryError;
use super::store::{from_db, to_db};

/// A node's labels and capacity, as it reported them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReport {
    /// `[node] labels` of its `nexus.toml`.
    pub labels: BTreeMap<String, String>,
    /// Bytes of guest memory it offers to the sandboxes it homes.
    pub memory_bytes: u64,
    /// Most live (created or active) sandboxes it means to home.
    pub max_sandboxes: u64,
}

/// The live (created or active) sandboxes a node homes: how many, and the
/// profiles they use (profile name → count).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeLoad {
    /// Live sandboxes.
    pub sandboxes: u64,
    /// Live sandboxes per profile name.
    pub profiles: BTreeMap<String, u64>,
}

/// Stores `report` as `node_id`'s (replacing an earlier one). A removed
/// node's report is not stored.
pub(crate) fn store(
    conn: &Connection,
    node_id: u64,
    report: &NodeReport,
    at_ms: u64,
) -> Result<bool, RegistryError> {
    let removed: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM revoked_nodes WHERE id = ?1)")?
        .query_row([to_db(node_id)], |r| r.get(0))?;
    if removed {
        return Ok(false);
    }
    let labels = serde_json::to_string(&report.labels)
        .map_err(|e| RegistryError::Codec(format!("node labels: {e}")))?;
    conn.prepare_cached(
        "INSERT INTO node_reports (id, labels, memory_bytes, max_sandboxes, reported_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (id) DO UPDATE SET labels = ?2, memory_bytes = ?3, max_sandboxes = ?4, \
         reported_at_ms = ?5",
    )?
    .execute((
        to_db(node_id),
        labels,
        to_db(report.memory_bytes),
        to_db(report.max_sandboxes),
        to_db(at_ms),
    ))?;
    Ok(true)
}

/// Forgets a removed node's report.
pub(crate) fn forget(conn: &Connection, node_id: u64) -> Result<(), RegistryError> {
    conn.prepare_cached("DELETE FROM node_reports WHERE id = ?1")?
        .execute([to_db(node_id)])?;
    Ok(())
}

/// One node's report, if it made one.
pub(crate) fn get(conn: &Connection, node_id: u64) -> Result<Option<NodeReport>, RegistryError> {
    conn.prepare_cached(
        "SELECT labels, memory_bytes, max_sandboxes FROM node_reports WHERE id = ?1",
    )?
    .query_row([to_db(node_id)], |r| {
        Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
    })
    .optional()?
    .map(decode)
    .transpose()
}

/// Every node's report, by node id.
pub(crate) fn all(conn: &Connection) -> Result<BTreeMap<u64, NodeReport>, RegistryError> {
    let mut stmt = conn
        .prepare("SELECT id, labels, memory_bytes, max_sandboxes FROM node_reports ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            from_db(r.get(0)?),
            (r.get::<_, String>(1)?, r.get(2)?, r.get(3)?),
        ))
    })?;
    let mut reports = BTreeMap::new();
    for row in rows {
        let (id, raw) = row?;
        reports.insert(id, decode(raw)?);
    }
    Ok(reports)
}

/// Every home's live sandboxes, by node id (one grouped query, not a scan
/// of the records in Rust).
pub(crate) fn loads(conn: &Connection) -> Result<BTreeMap<u64, NodeLoad>, RegistryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT home_node, profile, count(*) FROM sandboxes \
         WHERE state IN ('created', 'active') GROUP BY home_node, profile",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            from_db(r.get(0)?),
            r.get::<_, String>(1)?,
            from_db(r.get(2)?),
        ))
    })?;
    let mut loads: BTreeMap<u64, NodeLoad> = BTreeMap::new();
    for row in rows {
        let (home, profile, count) = row?;
        let load = loads.entry(home).or_default();
        load.sandboxes += count;
        load.profiles.insert(profile, count);
    }
    Ok(loads)
}

/// How many sandboxes `home` homes in each lifecycle state (by state
/// name; states without any are absent), in one grouped query.
pub(crate) fn state_counts(
    conn: &Connection,
    home: u64,
) -> Result<BTreeMap<String, u64>, RegistryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT state, count(*) FROM sandboxes WHERE home_node = ?1 GROUP BY state",
    )?;
    let rows = stmt.query_map([to_db(home)], |r| {
        Ok((r.get::<_, String>(0)?, from_db(r.get(1)?)))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn decode((labels, memory, max): (String, i64, i64)) -> Result<NodeReport, RegistryError> {
    Ok(NodeReport {
        labels: serde_json::from_str(&labels)
            .map_err(|e| RegistryError::Codec(format!("stored node labels: {e}")))?,
        memory_bytes: from_db(memory),
        max_sandboxes: from_db(max),
    })
}
