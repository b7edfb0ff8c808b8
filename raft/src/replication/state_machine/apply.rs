//! Applying a batch of log entries to the registry in one transaction, with
//! the Raft bookkeeping (`last_applied`, membership, idempotency keys) kept
//! in the same database so they always match the registry contents.

use openraft::{Entry, EntryPayload, LogId, StoredMembership};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::registry::Registry;
use crate::replication::error::StoreError;
use crate::replication::refusal::Refusal;
use crate::replication::types::{NodeId, NodeInfo, Outcome, Proposal, Request, TypeConfig};

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
CREATE INDEX IF NOT EXISTS raft_idempotency_by_index ON raft_idempotency (log_index);
";

/// How long idempotency records are kept. A record goes once it is both
/// `entries` log entries behind the newest applied and `ms` older than the
/// newest request's proposal time. A write is retried only within its
/// deadline (`[cluster] write_timeout_ms`, seconds), so its duplicates land
/// within seconds of the first; ten minutes also absorb clock skew between
/// the proposing nodes. The table then holds at most the records of the
/// last `entries` entries or the last `ms`, whichever is more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retention {
    pub(crate) entries: u64,
    pub(crate) ms: u64,
}

/// The retention every node applies (it is part of the replicated state:
/// all replicas must prune alike).
pub(crate) const RETENTION: Retention = Retention {
    entries: 10_000,
    ms: 10 * 60 * 1000,
};

/// Idempotency records are pruned when an applied batch crosses a multiple
/// of this many log entries.
const PRUNE_EVERY: u64 = 64;

/// The last applied log id and membership recorded in the database.
pub(crate) type AppliedState = (Option<LogId<NodeId>>, StoredMembership<NodeId, NodeInfo>);

/// Creates the bookkeeping tables if missing.
pub(crate) fn init(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(DDL)?;
    let aged: bool = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('raft_idempotency') WHERE name = 'proposed_at_ms'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if !aged {
        // Records from before proposals carried a time age as if proposed at 0.
        conn.execute_batch(
            "ALTER TABLE raft_idempotency ADD COLUMN proposed_at_ms INTEGER NOT NULL DEFAULT 0",
        )?;
    }
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS raft_idempotency_by_time ON raft_idempotency (proposed_at_ms)",
    )?;
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
    apply_batch_keeping(conn, entries, RETENTION)
}

/// [`apply_batch`] with idempotency records kept as `retention` says.
pub(crate) fn apply_batch_keeping(
    conn: &mut Connection,
    entries: Vec<Entry<TypeConfig>>,
    retention: Retention,
) -> Result<Vec<Outcome>, StoreError> {
    // IMMEDIATE: the write lock is taken (waiting out a checkpoint that
    // holds it) before the first read. A deferred transaction that had
    // read would get SQLITE_BUSY at once on its first write instead, and a
    // failed apply stops Raft.
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(entries.len());
    let mut last_applied = None;
    let mut membership = None;
    let mut newest_proposal = None;
    let first_index = entries.first().map(|e| e.log_id.index);
    for entry in entries {
        let outcome = match entry.payload {
            EntryPayload::Blank => Outcome::Empty,
            EntryPayload::Membership(m) => {
                membership = Some(StoredMembership::new(Some(entry.log_id), m));
                Outcome::Empty
            }
            EntryPayload::Normal(proposal) => {
                for request in proposal.requests() {
                    if request.idempotency_key.is_some() {
                        newest_proposal = newest_proposal.max(Some(request.proposed_at_ms));
                    }
                }
                match &proposal {
                    Proposal::One(request) => apply_request(&mut tx, request, entry.log_id.index)?,
                    Proposal::Batch { batch } => Outcome::Batch(
                        batch
                            .iter()
                            .map(|request| apply_request(&mut tx, request, entry.log_id.index))
                            .collect::<Result<_, _>>()?,
                    ),
                }
            }
        };
        last_applied = Some(entry.log_id);
        outcomes.push(outcome);
    }
    if let (Some(first), Some(log_id), Some(newest)) = (first_index, last_applied, newest_proposal)
    {
        // Once every PRUNE_EVERY entries: a pass visits the records older
        // than the time bound, which at a low write rate include up to
        // `retention.entries` records it must keep.
        if first == 0 || (first - 1) / PRUNE_EVERY != log_id.index / PRUNE_EVERY {
            prune(&tx, log_id.index, newest, retention)?;
        }
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
        tx.prepare_cached(
            "INSERT INTO raft_idempotency (key, outcome, log_index, proposed_at_ms) \
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            key,
            encode(&outcome)?,
            index,
            sql_int(request.proposed_at_ms)
        ])?;
    }
    Ok(outcome)
}

/// Drops the idempotency records that are both `retention.entries` behind
/// `last_index` and `retention.ms` older than `newest_ms` (the newest
/// proposal time in the batch). Only log data decides: every replica
/// prunes the same records at the same entry.
fn prune(
    conn: &Connection,
    last_index: u64,
    newest_ms: u64,
    retention: Retention,
) -> Result<(), StoreError> {
    let (Some(index), Some(ms)) = (
        last_index.checked_sub(retention.entries),
        newest_ms.checked_sub(retention.ms),
    ) else {
        return Ok(());
    };
    // By time: the records old enough are the ones to delete, save those
    // still within the last `entries` (the log-index index would visit
    // every record of the last ten minutes on each pass).
    conn.execute(
        "DELETE FROM raft_idempotency INDEXED BY raft_idempotency_by_time \
         WHERE proposed_at_ms < ?2 AND log_index < ?1",
        params![sql_int(index), sql_int(ms)],
    )?;
    Ok(())
}

/// `value` as SQLite's signed integer (saturating: no index or time is near it).
fn sql_int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn recorded_outcome(conn: &Connection, key: &str) -> Result<Option<Outcome>, StoreError> {
    let raw: Option<String> = conn
        .prepare_cached("SELECT outcome FROM raft_idempotency WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
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
    conn.prepare_cached("INSERT OR REPLACE INTO raft_state (key, value) VALUES (?1, ?2)")?
        .execute(params![key, value])?;
    Ok(())
}

fn encode(outcome: &Outcome) -> Result<String, StoreError> {
    serde_json::to_string(outcome).map_err(|e| StoreError::codec("outcome", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Command, SandboxState};
    use openraft::testing::log_id;

    /// An idempotent write proposed at `at_ms` (refused: no such sandbox;
    /// its outcome is recorded all the same).
    fn write(index: u64, key: &str, at_ms: u64) -> Entry<TypeConfig> {
        let mut request = Request::idempotent(
            key,
            Command::Transition {
                sandbox_id: "sb_none".into(),
                tenant_id: "t".into(),
                to: SandboxState::Active,
                expected_generation: 1,
                at_ms,
            },
        );
        request.proposed_at_ms = at_ms;
        Entry {
            log_id: log_id(1, 1, index),
            payload: EntryPayload::Normal(request.into()),
        }
    }

    fn fresh() -> Registry {
        let mut registry = Registry::open_in_memory().unwrap();
        init(registry.connection_mut()).unwrap();
        registry
    }

    #[test]
    fn a_batch_waits_for_a_write_lock_held_elsewhere_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.db");
        let mut registry = Registry::open(&path).unwrap();
        init(registry.connection_mut()).unwrap();
        // What the checkpointer's RESTART does: hold the write lock a while.
        let holder = Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (held, release) = std::sync::mpsc::channel::<()>();
        let releaser = std::thread::spawn(move || {
            // Let go once the batch below is (very likely) waiting; either
            // order ends in an applied batch.
            let _ = release.recv_timeout(std::time::Duration::from_millis(300));
            holder.execute_batch("COMMIT").unwrap();
        });
        let outcomes = apply_batch(registry.connection_mut(), vec![write(1, "k1", 10)]);
        drop(held);
        releaser.join().unwrap();
        // A deferred transaction reads first and then gets SQLITE_BUSY at
        // once on its first write: the error that stopped Raft.
        assert_eq!(outcomes.unwrap().len(), 1);
        assert!(recorded_outcome(registry.connection_mut(), "k1")
            .unwrap()
            .is_some());
    }

    const SMALL: Retention = Retention {
        entries: 100,
        ms: 1_000,
    };

    #[test]
    fn records_go_once_old_by_both_index_and_age_and_the_table_stays_bounded() {
        let mut registry = fresh();
        // 5,000 writes, 10 ms apart, in batches of 50.
        for batch in 0..100u64 {
            let entries = (0..50)
                .map(|i| {
                    let n = batch * 50 + i + 1;
                    write(n, &format!("k{n}"), n * 10)
                })
                .collect();
            apply_batch_keeping(registry.connection_mut(), entries, SMALL).unwrap();
            // At most the last 1 s (100 writes) or 100 entries, plus a
            // batch, plus the entries between two pruning passes.
            assert!(registry.idempotency_records().unwrap() <= 150 + PRUNE_EVERY);
        }
        // A duplicate within the window gets the recorded outcome, one past
        // it is applied again (and recorded again).
        let conn = registry.connection_mut();
        assert!(recorded_outcome(conn, "k4990").unwrap().is_some());
        assert!(recorded_outcome(conn, "k100").unwrap().is_none());
    }

    #[test]
    fn a_record_young_by_age_stays_however_far_behind_its_index_is() {
        let mut registry = fresh();
        // A node whose clock runs an hour ahead proposed this one.
        apply_batch_keeping(
            registry.connection_mut(),
            vec![write(1, "ahead", 3_600_000)],
            SMALL,
        )
        .unwrap();
        for n in 2..=400 {
            apply_batch_keeping(
                registry.connection_mut(),
                vec![write(n, &format!("k{n}"), n * 10)],
                SMALL,
            )
            .unwrap();
        }
        assert!(recorded_outcome(registry.connection_mut(), "ahead")
            .unwrap()
            .is_some());
        // And one old by age but recent by index stays too.
        let mut registry = fresh();
        apply_batch_keeping(registry.connection_mut(), vec![write(1, "old", 0)], SMALL).unwrap();
        apply_batch_keeping(
            registry.connection_mut(),
            vec![write(50, "late", 60_000)],
            SMALL,
        )
        .unwrap();
        assert!(recorded_outcome(registry.connection_mut(), "old")
            .unwrap()
            .is_some());
    }

    #[test]
    fn a_table_from_before_proposal_times_gains_the_column() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE raft_idempotency (key TEXT PRIMARY KEY, outcome TEXT NOT NULL, \
             log_index INTEGER NOT NULL) STRICT;
             INSERT INTO raft_idempotency VALUES ('old', '\"empty\"', 1);",
        )
        .unwrap();
        init(&conn).unwrap();
        init(&conn).unwrap();
        let at: i64 = conn
            .query_row(
                "SELECT proposed_at_ms FROM raft_idempotency WHERE key = 'old'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(at, 0);
    }
}
