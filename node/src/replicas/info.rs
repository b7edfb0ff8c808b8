//! What `nexus sandbox info` shows of a sandbox's replication, as its home
//! sees it: the factor it keeps, the durability mode, and each replica's
//! acknowledged version with its lag in versions and bytes.

use nexus_raft::Sandbox;

use super::ship::{wal_spent, Base};
use super::Replicas;
use crate::sandbox::wal::wal_bytes;
use crate::sandbox::{ReplicaInfo, ReplicationInfo};

impl Replicas {
    /// `sandbox`'s replication as this node (its home) sees it, given a
    /// cluster of `members` nodes.
    pub async fn info(&self, sandbox: &Sandbox, members: usize) -> ReplicationInfo {
        let factor = self.factor_of(sandbox, members) as u32;
        let durability = self.durability_of(sandbox);
        let shipment = self
            .shipments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&sandbox.id)
            .cloned();
        let file = self.file_of(sandbox);
        let file_len = file
            .as_ref()
            .and_then(|f| std::fs::metadata(f).ok())
            .map_or(0, |m| m.len());
        let Some(shipment) = shipment else {
            let replicas = sandbox
                .replicas
                .iter()
                .map(|r| ReplicaInfo {
                    node_id: r.node_id,
                    version: r.version,
                    lag_versions: 0,
                    lag_bytes: 0,
                    shipped_bytes: 0,
                    error: None,
                })
                .collect();
            return ReplicationInfo {
                factor,
                durability,
                version: None,
                replicas,
            };
        };
        let state = shipment.lock().await;
        let unshipped = match (&state.base, &file) {
            (Base::Wal(cursor), Some(file)) => wal_bytes(file).saturating_sub(cursor.wal_bytes()),
            (Base::Rest { .. }, Some(file)) if wal_spent(file, &state.base).unwrap_or(false) => 0,
            (Base::Rest { .. }, Some(file)) => wal_bytes(file),
            _ => file_len,
        };
        let replicas = sandbox
            .replicas
            .iter()
            .map(|r| {
                let progress = state.progress.get(&r.node_id).cloned().unwrap_or_default();
                let version = progress.acked.unwrap_or(r.version);
                let current = progress.acked == Some(state.version);
                ReplicaInfo {
                    node_id: r.node_id,
                    version,
                    lag_versions: state.version.saturating_sub(version),
                    lag_bytes: if current { unshipped } else { file_len },
                    shipped_bytes: progress.bytes,
                    error: progress.error,
                }
            })
            .collect();
        ReplicationInfo {
            factor,
            durability,
            version: Some(state.version),
            replicas,
        }
    }
}
