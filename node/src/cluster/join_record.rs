//! `{data_dir}/cluster/joined.json`: what a node that joined with a token
//! remembers, so it restarts as the same member without the token and never
//! founds a cluster of its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nexus_raft::replication::{NodeId, NodeInfo};
use nexus_raft::NodeRole;
use serde::{Deserialize, Serialize};

use crate::config::{Config, DEFAULT_NODE_ID};
use nexus_errors::{ErrorCode, UserError};

/// The record of a completed join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRecord {
    /// The node id the cluster assigned.
    pub node_id: NodeId,
    /// What the token let the node become.
    pub role: NodeRole,
    /// The cluster's name.
    pub cluster_name: String,
    /// SHA-256 of the cluster CA (the token's pin).
    pub ca_fingerprint: String,
    /// The members when the node joined (its first peers).
    pub members: BTreeMap<NodeId, NodeInfo>,
    /// When it joined, ms since the Unix epoch.
    pub joined_at_ms: u64,
    /// The mesh address the cluster granted at join, if it runs the mesh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh_address: Option<String>,
}

/// Where the record lives.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("cluster").join("joined.json")
}

impl JoinRecord {
    /// The record in `data_dir`, if this node joined a cluster.
    pub fn load(data_dir: &Path) -> Result<Option<JoinRecord>, UserError> {
        let file = path(data_dir);
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(invalid(&file, &e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| invalid(&file, &e))
    }

    /// Gives `config` the node id its data dir joined as. A node id set in
    /// the configuration must agree (the default id counts as unset).
    pub fn adopt(config: &mut Config) -> Result<Option<JoinRecord>, UserError> {
        let Some(record) = JoinRecord::load(&config.data_dir)? else {
            return Ok(None);
        };
        if config.node_id != record.node_id && config.node_id != DEFAULT_NODE_ID {
            return Err(UserError::new(
                ErrorCode::ConfigInvalid,
                format!(
                    "node_id is {} but data dir {} joined its cluster as node {}: remove node_id",
                    config.node_id,
                    config.data_dir.display(),
                    record.node_id
                ),
            ));
        }
        config.node_id = record.node_id;
        Ok(Some(record))
    }

    /// Writes the record atomically (temp file, fsync, rename, dir fsync).
    pub fn save(&self, data_dir: &Path) -> Result<(), UserError> {
        let file = path(data_dir);
        let dir = file.parent().unwrap_or(data_dir);
        let failed = |e: &dyn std::fmt::Display| {
            UserError::new(
                ErrorCode::Internal,
                format!("cannot write {}: {e}", file.display()),
            )
        };
        std::fs::create_dir_all(dir).map_err(|e| failed(&e))?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| failed(&e))?;
        nexus_durable::write_file(&file, &json, nexus_durable::PUBLIC_FILE)
            .map_err(|e| UserError::new(ErrorCode::Internal, format!("cannot {e}")))
    }
}

fn invalid(file: &Path, e: &dyn std::fmt::Display) -> UserError {
    UserError::new(
        ErrorCode::ClusterIdentityInvalid,
        format!("cannot read the join record {}: {e}", file.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(JoinRecord::load(dir.path()).unwrap(), None);
        let record = JoinRecord {
            node_id: 4,
            role: NodeRole::Voter,
            cluster_name: "prod".into(),
            ca_fingerprint: "ab".repeat(32),
            members: BTreeMap::from([(
                1,
                NodeInfo {
                    raft_addr: "10.0.0.1:2027".into(),
                    ..NodeInfo::default()
                },
            )]),
            joined_at_ms: 5,
            mesh_address: None,
        };
        record.save(dir.path()).unwrap();
        assert_eq!(JoinRecord::load(dir.path()).unwrap(), Some(record));

        std::fs::write(path(dir.path()), "{").unwrap();
        let err = JoinRecord::load(dir.path()).unwrap_err();
        assert!(err.is(ErrorCode::ClusterIdentityInvalid), "{err:?}");
    }
}
