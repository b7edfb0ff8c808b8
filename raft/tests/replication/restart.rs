//! What the stores keep across a restart (reopen of the same files):
//! log state incl. `last_purged`, vote, committed, applied state and the
//! current snapshot; and a snapshot installed on a fresh node.

use nexus_raft::replication::{Outcome, Request, TypeConfig};
use nexus_raft::{Command, Response};
use openraft::storage::{
    RaftLogReader, RaftLogStorage, RaftLogStorageExt, RaftSnapshotBuilder, RaftStateMachine,
};
use openraft::testing::log_id;
use openraft::{Entry, EntryPayload, Membership, Vote};
use tempfile::TempDir;

fn blank(term: u64, index: u64) -> Entry<TypeConfig> {
    Entry {
        log_id: log_id(term, 7, index),
        payload: EntryPayload::Blank,
    }
}

fn write(term: u64, index: u64, name: &str) -> Entry<TypeConfig> {
    Entry {
        log_id: log_id(term, 7, index),
        payload: EntryPayload::Normal(
            Request::idempotent(
                format!("k-{name}"),
                Command::CreateTenant {
                    tenant_id: format!("t_{name}"),
                    name: name.to_owned(),
                    at_ms: index,
                },
            )
            .into(),
        ),
    }
}

#[tokio::test]
async fn log_state_vote_and_last_purged_survive_restart() {
    let dir = TempDir::new().unwrap();
    {
        let (mut log, _sm) = super::open_stores(dir.path());
        log.blocking_append((1..=10).map(|i| blank(2, i)))
            .await
            .unwrap();
        log.purge(log_id(2, 7, 4)).await.unwrap();
        // The committed id is written with the next write (here the vote).
        log.save_committed(Some(log_id(2, 7, 9))).await.unwrap();
        log.save_vote(&Vote::new_committed(2, 7)).await.unwrap();
    }
    let (mut log, _sm) = super::open_stores(dir.path());
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(2, 7, 4)));
    assert_eq!(state.last_log_id, Some(log_id(2, 7, 10)));
    assert_eq!(
        log.read_vote().await.unwrap(),
        Some(Vote::new_committed(2, 7))
    );
    assert_eq!(log.read_committed().await.unwrap(), Some(log_id(2, 7, 9)));
    let entries = log.try_get_log_entries(..).await.unwrap();
    assert_eq!(entries.first().map(|e| e.log_id), Some(log_id(2, 7, 5)));
    assert_eq!(entries.len(), 6);

    // Purging everything: the last log id falls back to last_purged, also
    // after another restart (the "LogIndex(0)" pitfall).
    log.purge(log_id(2, 7, 10)).await.unwrap();
    drop(log);
    let (mut log, _sm) = super::open_stores(dir.path());
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(2, 7, 10)));
    assert_eq!(state.last_log_id, Some(log_id(2, 7, 10)));
}

#[tokio::test]
async fn applied_state_and_snapshot_survive_restart_and_install_elsewhere() {
    let dir = TempDir::new().unwrap();
    let members = Membership::new(vec![[1, 2].into()], None);
    let membership_entry = Entry {
        log_id: log_id(1, 7, 1),
        payload: EntryPayload::Membership(members.clone()),
    };
    let built = {
        let (_log, mut sm) = super::open_stores(dir.path());
        let outcomes = sm
            .apply([membership_entry, write(1, 2, "acme"), write(1, 3, "acme")])
            .await
            .unwrap();
        assert_eq!(outcomes[0], Outcome::Empty);
        assert!(matches!(
            outcomes[1],
            Outcome::Applied(Response::TenantCreated(_))
        ));
        // Same idempotency key: the recorded outcome, not a second apply.
        assert_eq!(outcomes[2], outcomes[1]);
        let mut builder = sm.get_snapshot_builder().await;
        builder.build_snapshot().await.unwrap()
    };
    assert_eq!(built.meta.last_log_id, Some(log_id(1, 7, 3)));

    let (_log, mut sm) = super::open_stores(dir.path());
    let (applied, membership) = sm.applied_state().await.unwrap();
    assert_eq!(applied, Some(log_id(1, 7, 3)));
    assert_eq!(membership.membership(), &members);
    let current = sm.get_current_snapshot().await.unwrap().expect("snapshot");
    assert_eq!(current.meta, built.meta);

    // A fresh node installs it and holds the same registry and position.
    let other = TempDir::new().unwrap();
    let (_log2, mut fresh) = super::open_stores(other.path());
    fresh
        .apply([write(1, 1, "stale")]) // replaced by the snapshot
        .await
        .unwrap();
    fresh
        .install_snapshot(&current.meta, current.snapshot)
        .await
        .unwrap();
    assert_eq!(
        fresh.applied_state().await.unwrap(),
        sm.applied_state().await.unwrap()
    );
    {
        let registry = fresh.registry();
        let registry = registry.lock().unwrap();
        assert!(registry.tenant_by_name("acme").unwrap().is_some());
        assert!(registry.tenant_by_name("stale").unwrap().is_none());
    }
    // Installing it elsewhere left the source's snapshot in place.
    let again = sm.get_current_snapshot().await.unwrap().expect("snapshot");
    assert_eq!(again.meta, built.meta);
    assert!(again.snapshot.path().is_file());
}
