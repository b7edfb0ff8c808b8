//! The joiner's side of `nexus join --token-file FILE --peer HOST:PORT`:
//! bind the node's ports, make a key, pin the token's CA before sending
//! anything, send a CSR, and keep what the cluster grants (certificate, CA,
//! node id, first peers) in the data dir. Every failure is an error; a node
//! told to join never runs alone, and a join that fails before the request
//! leaves the token unused.

use std::net::SocketAddr;
use std::path::Path;

use nexus_netctl::MeshKey;
use nexus_tls::fingerprint_of;
use nexus_tls::{bootstrap_client_config, JoinToken, NodeIdentity, NodeKey, ALPN_JOIN};
use nexus_transport::join::{request_join, JoinDialError};
use nexus_transport::messages::{JoinGrant, JoinMsg};

use super::identity::{refuse_existing, tls_dir};
use super::join_record::JoinRecord;
use crate::clock::now_ms;
use crate::config::Config;
use crate::listeners::Listeners;
use nexus_errors::{ErrorCode, UserError};

/// What `nexus join` found or did.
#[derive(Debug)]
pub enum Joined {
    /// The data dir already belongs to the token's cluster (a restart with
    /// the same command line): nothing was sent.
    Already(JoinRecord),
    /// The cluster admitted this node just now; it serves on the sockets
    /// it bound before asking.
    Admitted(JoinRecord, Listeners),
}

/// Joins the cluster of `token` through the node whose Raft address is
/// `peer`, and writes the node's identity and join record into the data
/// dir of `config`. Nothing is written unless the cluster admits the node.
pub async fn join(config: &Config, token: &str, peer: &str) -> Result<Joined, UserError> {
    let token = JoinToken::parse(token)
        .map_err(|e| UserError::new(ErrorCode::JoinTokenMalformed, e.to_string()))?;
    let data_dir = &config.data_dir;
    if let Some(record) = JoinRecord::load(data_dir)? {
        if record.ca_fingerprint == token.ca_fingerprint {
            return Ok(Joined::Already(record));
        }
        return Err(UserError::new(
            ErrorCode::JoinAlreadyMember,
            format!(
                "data dir {} already belongs to node {} of another cluster (CA {})",
                data_dir.display(),
                record.node_id,
                record.ca_fingerprint
            ),
        ));
    }
    refuse_existing(data_dir, ErrorCode::JoinAlreadyMember)?;
    if !config.cluster.peers.is_empty() {
        return Err(UserError::new(
            ErrorCode::ConfigInvalid,
            "a joining node takes its peers from the cluster: remove [cluster] peers",
        ));
    }
    let raft_addr = config.cluster.raft_addr().ok_or_else(|| {
        UserError::new(
            ErrorCode::ConfigInvalid,
            "a joining node must listen for its peers: set [cluster] raft_listen (or NEXUS_RAFT_LISTEN)",
        )
    })?;

    // Everything the node will need to serve is checked before the token
    // is spent: its ports are bound now and kept for serving.
    let listeners = Listeners::bind(config).await.map_err(|e| {
        UserError::new(
            ErrorCode::JoinBindFailed,
            format!("{}; the token was not sent", e.message),
        )
    })?;
    let api_addr = listeners.api_addr(config);
    check_api_address(api_addr)?;

    let key = NodeKey::generate().map_err(internal)?;
    let mesh_key = config.mesh.enabled.then(MeshKey::generate);
    let mesh = mesh_key
        .as_ref()
        .map(|k| config.mesh_proposal(k.public(), api_addr.port()))
        .transpose()?;
    let request = JoinMsg {
        ca_fingerprint: token.ca_fingerprint.clone(),
        token_id: token.id.clone(),
        secret: token.secret.clone(),
        csr_der: key.csr().map_err(internal)?,
        raft_addr,
        api_addr: api_addr.to_string(),
        bulk_addr: config.cluster.bulk_addr().unwrap_or_default(),
        mesh,
    };
    let tls = bootstrap_client_config(&token.ca_fingerprint, ALPN_JOIN).map_err(internal)?;
    let grant = request_join(peer, tls, request)
        .await
        .map_err(dial_error)?
        .map_err(|refusal| UserError::from_wire(&refusal.code, refusal.message, refusal.hint))?;
    let record = keep(data_dir, &token, key, grant)?;
    if let Some(mesh_key) = mesh_key {
        mesh_key.save(data_dir).map_err(|e| e.to_user_error())?;
    }
    Ok(Joined::Admitted(record, listeners))
}

/// Refuses an API address the cluster cannot record or certify: it must be
/// a specific IP (it goes into the node's certificate) with a port.
pub fn check_api_address(addr: SocketAddr) -> Result<(), UserError> {
    if addr.ip().is_unspecified() || addr.port() == 0 {
        return Err(UserError::new(
            ErrorCode::JoinApiAddressInvalid,
            format!(
                "the API address {addr} is not one peers and clients can reach (an unspecified IP or port 0)"
            ),
        ));
    }
    Ok(())
}

/// Checks the grant against the token and the key, then saves the identity
/// and, last, the join record.
fn keep(
    data_dir: &Path,
    token: &JoinToken,
    key: NodeKey,
    grant: JoinGrant,
) -> Result<JoinRecord, UserError> {
    if fingerprint_of(&grant.ca_der) != token.ca_fingerprint {
        return Err(UserError::new(
            ErrorCode::JoinCaMismatch,
            "the cluster answered with a CA other than the token's",
        ));
    }
    let identity = NodeIdentity::new(grant.cert_der, key, grant.ca_der).map_err(|e| {
        UserError::new(
            ErrorCode::ClusterIdentityInvalid,
            format!("the certificate the cluster granted is unusable: {e}"),
        )
    })?;
    if identity.node_id != grant.node_id {
        return Err(UserError::new(
            ErrorCode::ClusterIdentityInvalid,
            format!(
                "the cluster granted node id {} with a certificate for node {}",
                grant.node_id, identity.node_id
            ),
        ));
    }
    identity.save(&tls_dir(data_dir)).map_err(|e| {
        UserError::new(
            ErrorCode::Internal,
            format!("cannot save the node identity: {e}"),
        )
    })?;
    let record = JoinRecord {
        node_id: grant.node_id,
        role: grant.role,
        cluster_name: grant.cluster_name,
        ca_fingerprint: token.ca_fingerprint.clone(),
        members: grant.members,
        joined_at_ms: now_ms(),
        mesh_address: grant.mesh_address,
    };
    record.save(data_dir)?;
    Ok(record)
}

fn dial_error(e: JoinDialError) -> UserError {
    let code = match &e {
        JoinDialError::CaMismatch { .. } => ErrorCode::JoinCaMismatch,
        JoinDialError::Unreachable { .. } => ErrorCode::JoinPeerUnreachable,
        JoinDialError::Handshake { .. } | JoinDialError::Rpc { .. } => ErrorCode::JoinPeerRefused,
    };
    UserError::new(code, e.to_string())
}

fn internal(e: impl std::fmt::Display) -> UserError {
    UserError::new(ErrorCode::Internal, format!("cannot prepare the join: {e}"))
}
