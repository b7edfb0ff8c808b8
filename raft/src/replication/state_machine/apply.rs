//! Applying a batch of log entries to the registry in one transaction, with
//! the Raft bookkeeping (`last_applied`, membership, idempotency keys) kept
//! in the same database so they always match the registry contents.

use openraft::{Entry, EntryPayload, LogId, StoredMembership};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::registry::Registry;
use crate::replication::error::StoreError;
use crate::replication::refusal::Refusal;
use crate::replication::types::{NodeId, NodeInfo, Outcome, Request, TypeConfig};

const LAST_APPLIED: &str = "last_applied";
const MEMBERSHIP: &str = "membership";

/// Tables the state machine adds to the registry database.
const DDL: &str = "
CREATE TABLE IF NOT EXISTS raft_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS raft_idempotency (
    key       TEXT PRIMARY KEY,
    outcome   TEXT NOT NULL,
    log_index INTEGER NOT NULL
) STRICT;
";

/// The last applied log id and membership recorded in the database.
pub(crate) type AppliedState = (Option<LogId<NodeId>>, StoredMembership<NodeId, NodeInfo>);

/// Creates the bookkeeping tables if missing.
pub(crate) fn init(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(DDL)?;
    Ok(())
}

/// Reads `last_applied` and the membership.
pub(crate) fn applied_state(conn: &Connection) -> Result<AppliedState, StoreError> {
    let last_applied = get_state(conn, LAST_APPLIED)?;
    let membership = get_state(conn, MEMBERSHIP)?.unwrap_or_default();
    Ok((last_applied, membership))
}

/// Applies `entries` in one transaction and returns one outcome per entry.
///
/// A refused command rolls back only its own savepoint; a local failure
/// (storage, codec) aborts the whole batch and is returned.
pub(crate) fn apply_batch(
    conn: &mut Connection,
    entries: Vec<Entry<TypeConfig>>,
) -> Result<Vec<Outcome>, StoreError> {
    let mut tx = conn.transaction()?;
    let mut outcomes = Vec::with_capacity(entries.len());
    let mut last_applied = None;
    let mut membership = None;
    for entry in entries {
        let outcome = match entry.payload {
            EntryPayload::Blank => Outcome::Empty,
            EntryPayload::Membership(m) => {
                membership = Some(StoredMembership::new(Some(entry.log_id), m));
                Outcome::Empty
            }
            EntryPayload::Normal(request) => apply_request(&mut tx, &request, entry.log_id.index)?,
        };
        last_applied = Some(entry.log_id);
        outcomes.push(outcome);
    }
    if let Some(log_id) = last_applied {
        put_state(&tx, LAST_APPLIED, &log_id)?;
    }
    if let Some(membership) = membership {
        put_state(&tx, MEMBERSHIP, &membership)?;
    }
    tx.commit()?;
    Ok(outcomes)
}

fn apply_request(
    tx: &mut Transaction<'_>,
    request: &Request,
    log_index: u64,
) -> Result<Outcome, StoreError> {
    if let Some(key) = &request.idempotency_key {
        if let Some(recorded) = recorded_outcome(tx, key)? {
            return Ok(recorded);
        }
    }
    let outcome = {
        let savepoint = tx.savepoint()?;
        match Registry::apply_in(&savepoint, &request.command) {
            Ok(response) => {
                savepoint.commit()?;
                Outcome::Applied(response)
            }
            // Dropping the savepoint rolls the refused command back.
            Err(err) => Outcome::Refused(Refusal::try_from(err)?),
        }
    };
    if let Some(key) = &request.idempotency_key {
        let index = i64::try_from(log_index)
            .map_err(|_| StoreError::Corrupt(format!("log index {log_index} too large")))?;
        tx.execute(
            "INSERT INTO raft_idempotency (key, outcome, log_index) VALUES (?1, ?2, ?3)",
            params![key, encode(&outcome)?, index],
        )?;
    }
    Ok(outcome)
}

fn recorded_outcome(conn: &Connection, key: &str) -> Result<Option<Outcome>, StoreError> {
    let raw: Option<String> = conn
        .query_row(
            "SELECT outcome FROM raft_idempotency WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .optional()?;
    raw.map(|raw| serde_json::from_str(&raw).map_err(|e| StoreError::codec("outcome", e)))
        .transpose()
}

fn get_state<T: DeserializeOwned>(
    conn: &Connection,
    key: &'static str,
) -> Result<Option<T>, StoreError> {
    let raw: Option<String> = conn
        .query_row("SELECT value FROM raft_state WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?;
    raw.map(|raw| serde_json::from_str(&raw).map_err(|e| StoreError::codec(key, e)))
        .transpose()
}

fn put_state<T: Serialize>(
    conn: &Connection,
    key: &'static str,
    value: &T,
) -> Result<(), StoreError> {
    let value = serde_json::to_string(value).map_err(|e| StoreError::codec(key, e))?;
    conn.execute(
        "INSERT OR REPLACE INTO raft_state (key, value) VALUES (?1, ?2)",
        params![key, value],
    )?;
    Ok(())
}

fn encode(outcome: &Outcome) -> Result<String, StoreError> {
    serde_json::to_string(outcome).map_err(|e| StoreError::codec("outcome", e))
}
