//! This node's TLS identity: `{data_dir}/tls/{node.pem,node.key,ca.pem}`.
//!
//! A node with no static peers and no identity yet becomes the first node of
//! its own cluster: it creates the cluster CA (`{data_dir}/tls/ca/`, key
//! mode 0600) and issues itself a certificate. A node told to join peers
//! never invents a CA — it refuses to start without its identity.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use nexus_tls::ca::CA_VALIDITY;
use nexus_tls::identity::NODE_CERT_FILE;
use nexus_tls::{ClusterCa, NodeIdentity};

use nexus_errors::{ErrorCode, UserError};

/// Directory of the node identity within the data dir.
pub fn tls_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tls")
}

/// Directory of the cluster CA, on the node that created it.
pub fn ca_dir(data_dir: &Path) -> PathBuf {
    tls_dir(data_dir).join("ca")
}

/// Refuses, with `code`, a data dir that already holds a node certificate
/// (founding or joining would overwrite another node's identity).
pub fn refuse_existing(data_dir: &Path, code: ErrorCode) -> Result<(), UserError> {
    let cert = tls_dir(data_dir).join(NODE_CERT_FILE);
    if holds_identity(data_dir) {
        return Err(UserError::new(
            code,
            format!(
                "data dir {} already holds a node identity ({})",
                data_dir.display(),
                cert.display()
            ),
        ));
    }
    Ok(())
}

/// Whether `data_dir` holds a node identity (its certificate).
pub fn holds_identity(data_dir: &Path) -> bool {
    tls_dir(data_dir).join(NODE_CERT_FILE).exists()
}

/// Loads the identity of node `node_id`, creating a new cluster around it
/// when `may_create` and there is none yet.
pub fn load_or_create(
    data_dir: &Path,
    node_id: u64,
    cluster_name: &str,
    may_create: bool,
    ip_sans: &[IpAddr],
) -> Result<NodeIdentity, UserError> {
    let dir = tls_dir(data_dir);
    let identity = if holds_identity(data_dir) {
        NodeIdentity::load(&dir).map_err(|e| {
            UserError::new(
                ErrorCode::ClusterIdentityInvalid,
                format!("cannot load the node identity in {}: {e}", dir.display()),
            )
        })?
    } else if may_create {
        create_cluster(data_dir, node_id, cluster_name, ip_sans)?
    } else {
        return Err(UserError::new(
            ErrorCode::ClusterIdentityMissing,
            format!(
                "node {node_id} has peers but no certificate in {}",
                dir.display()
            ),
        ));
    };
    if identity.node_id != node_id {
        return Err(UserError::new(
            ErrorCode::ClusterIdentityInvalid,
            format!(
                "the certificate in {} is for node {}, but this node is configured as node {node_id}",
                dir.display(),
                identity.node_id
            ),
        ));
    }
    Ok(identity)
}

/// Creates the cluster CA and this node's identity, and saves both.
fn create_cluster(
    data_dir: &Path,
    node_id: u64,
    cluster_name: &str,
    ip_sans: &[IpAddr],
) -> Result<NodeIdentity, UserError> {
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        UserError::new(
            ErrorCode::ClusterIdentityInvalid,
            format!("cannot {what}: {e}"),
        )
    };
    let ca = ClusterCa::create(cluster_name).map_err(|e| failed("create the cluster CA", &e))?;
    ca.save(&ca_dir(data_dir))
        .map_err(|e| failed("save the cluster CA", &e))?;
    let identity = ca
        .issue_local_identity(node_id, ip_sans, CA_VALIDITY)
        .map_err(|e| failed("issue this node's certificate", &e))?;
    identity
        .save(&tls_dir(data_dir))
        .map_err(|e| failed("save this node's identity", &e))?;
    Ok(identity)
}
