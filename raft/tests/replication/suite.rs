//! openraft's storage conformance suite against the SQLite stores.

use nexus_raft::replication::{LogStore, StateMachine, TypeConfig};
use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageError;
use tempfile::TempDir;

struct SqliteStoreBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for SqliteStoreBuilder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError<u64>> {
        let dir = TempDir::new().expect("temp dir");
        let (log, sm) = super::open_stores(dir.path());
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_suite_passes() {
    Suite::test_all(SqliteStoreBuilder).expect("openraft storage suite");
}
