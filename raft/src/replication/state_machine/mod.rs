//! The Raft state machine: the [`Registry`] itself.

mod apply;
mod observer;
mod snapshot;

pub use observer::NodeObserver;
pub use snapshot::SnapshotFile;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine, Snapshot};
use openraft::{Entry, LogId, OptionalSend, SnapshotMeta, StorageError, StoredMembership};

use super::checkpointer::{self, Checkpointer};
use super::error::{OrStorage, StoreError, Subject};
use super::fresh_db;
use super::types::{NodeId, NodeInfo, Outcome, TypeConfig};
use crate::registry::{Readers, Registry};
use snapshot::SnapshotStore;

/// The registry shared between the state machine (writes) and the node
/// (reads). Lock it briefly; apply holds it for one batch.
pub type SharedRegistry = Arc<Mutex<Registry>>;

/// The replicated registry ([`RaftStateMachine`]).
///
/// Each applied batch, `last_applied` and the membership commit in one
/// SQLite transaction, so after a crash the registry and its applied
/// position agree and openraft replays only later entries.
#[derive(Debug, Clone)]
pub struct StateMachine {
    registry: SharedRegistry,
    db_path: PathBuf,
    snapshots: Arc<SnapshotStore>,
    observer: Option<Arc<dyn NodeObserver>>,
    _checkpointer: Arc<Checkpointer>,
}

impl StateMachine {
    /// Opens the registry database at `registry_path` (creating it if new)
    /// and keeps snapshots in `snapshot_dir`.
    pub fn open(registry_path: &Path, snapshot_dir: &Path) -> Result<StateMachine, StoreError> {
        fresh_db::create_if_missing(registry_path, |tx| {
            Registry::create_schema(tx)?;
            apply::init(tx)
        })?;
        let mut registry = Registry::open(registry_path)?;
        let conn = registry.connection_mut();
        // The Raft log is the durable record (synchronous=FULL). The state
        // machine may lose its last commits on power loss: each batch and
        // its `last_applied` commit together, so it rolls back to a
        // consistent point and openraft re-applies the rest from the log.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Bookkeeping tables a registry made by an older version lacks.
        let tx = conn.transaction()?;
        apply::init(&tx)?;
        tx.commit()?;
        // Checkpoints run beside the apply, never inside one.
        checkpointer::hand_over(registry.connection_mut())?;
        let checkpointer = Checkpointer::spawn(registry_path, "registry-checkpoint")?;
        Ok(StateMachine {
            registry: Arc::new(Mutex::new(registry)),
            db_path: registry_path.to_owned(),
            snapshots: Arc::new(SnapshotStore::open(snapshot_dir)?),
            observer: None,
            _checkpointer: Arc::new(checkpointer),
        })
    }

    /// Tells `observer` of every node admission and removal as it is
    /// applied (see [`NodeObserver`]). Set it before handing the state
    /// machine to Raft.
    pub fn observed_by(mut self, observer: Arc<dyn NodeObserver>) -> StateMachine {
        self.observer = Some(observer);
        self
    }

    /// The registry, for reads (`tenant_by_name`, `sandboxes`, ...). Never
    /// write through it: writes go through Raft.
    pub fn registry(&self) -> SharedRegistry {
        Arc::clone(&self.registry)
    }

    /// `count` query-only connections to the registry, for reads that must
    /// not wait while a batch is applied (see [`Readers`]).
    pub fn readers(&self, count: usize) -> Result<Readers, StoreError> {
        Ok(Readers::open(&self.db_path, count)?)
    }

    /// Runs `f` on the registry in a blocking task.
    async fn with_registry<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Registry) -> Result<T, StoreError> + Send + 'static,
    {
        let registry = Arc::clone(&self.registry);
        tokio::task::spawn_blocking(move || {
            let mut registry = registry
                .lock()
                .map_err(|_| StoreError::Task("registry lock poisoned".to_owned()))?;
            f(&mut registry)
        })
        .await?
    }
}

/// Builds snapshots from a point-in-time copy of the registry database.
#[derive(Debug)]
pub struct SnapshotBuilder {
    db_path: PathBuf,
    snapshots: Arc<SnapshotStore>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let db_path = self.db_path.clone();
        let snapshots = Arc::clone(&self.snapshots);
        let (meta, path) = tokio::task::spawn_blocking(move || snapshots.build(&db_path))
            .await
            .map_err(StoreError::from)
            .and_then(|built| built)
            .or_storage(Subject::WriteSnapshot)?;
        let data = SnapshotFile::open(path)
            .await
            .map_err(|e| StoreError::io("open the snapshot just built", e))
            .or_storage(Subject::ReadSnapshot)?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(data),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, NodeInfo>), StorageError<NodeId>>
    {
        self.with_registry(|registry| apply::applied_state(registry.connection_mut()))
            .await
            .or_storage(Subject::ReadStateMachine)
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Outcome>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<_> = entries.into_iter().collect();
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let observer = self.observer.clone();
        self.with_registry(move |registry| {
            let outcomes = apply::apply_batch(registry.connection_mut(), entries)?;
            // Committed, and Raft does not know yet: whoever depends on the
            // membership records (the TLS peer policy) changes first.
            if let Some(observer) = observer {
                observer::tell_applied(observer.as_ref(), &outcomes);
            }
            Ok(outcomes)
        })
        .await
        .or_storage(Subject::WriteStateMachine)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            db_path: self.db_path.clone(),
            snapshots: Arc::clone(&self.snapshots),
        }
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<SnapshotFile>, StorageError<NodeId>> {
        let path = self.snapshots.temp_path("receive");
        let file = SnapshotFile::create(path)
            .await
            .map_err(|e| StoreError::io("create a file for a received snapshot", e))
            .or_storage(Subject::WriteSnapshot)?;
        Ok(Box::new(file))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, NodeInfo>,
        snapshot: Box<SnapshotFile>,
    ) -> Result<(), StorageError<NodeId>> {
        let registry = Arc::clone(&self.registry);
        let snapshots = Arc::clone(&self.snapshots);
        let meta = meta.clone();
        let received = snapshot
            .finish()
            .await
            .map_err(|e| StoreError::io("write out a received snapshot", e))
            .or_storage(Subject::WriteSnapshot)?;
        let observer = self.observer.clone();
        tokio::task::spawn_blocking(move || {
            snapshots.install(&registry, &meta, &received)?;
            if let Some(observer) = observer {
                let registry = registry
                    .lock()
                    .map_err(|_| StoreError::Task("registry lock poisoned".to_owned()))?;
                observer::tell_all(observer.as_ref(), &registry)?;
            }
            Ok::<(), StoreError>(())
        })
        .await
        .map_err(StoreError::from)
        .and_then(|installed| installed)
        .or_storage(Subject::WriteSnapshot)
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let snapshots = Arc::clone(&self.snapshots);
        let current = tokio::task::spawn_blocking(move || snapshots.load())
            .await
            .map_err(StoreError::from)
            .and_then(|loaded| loaded)
            .or_storage(Subject::ReadSnapshot)?;
        let Some((meta, path)) = current else {
            return Ok(None);
        };
        let data = SnapshotFile::open(path)
            .await
            .map_err(|e| StoreError::io("open the current snapshot", e))
            .or_storage(Subject::ReadSnapshot)?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(data),
        }))
    }
}
