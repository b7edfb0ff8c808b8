//! The cluster's side of `nexus join`: check the token, sign the joiner's
//! CSR under the CA's policy with a node id that was never used, and hand
//! back the certificate and the members.
//!
//! Any member takes a join. One that holds the CA key admits it here; one
//! that does not checks what it can and forwards it to a CA holder
//! ([`join_forward`](super::join_forward)), which admits it as if the joiner
//! had dialed it. A forwarded join is never forwarded again.
//!
//! Everything that can be checked without the registry's say is checked
//! first, and the token is checked against a fresh read before its
//! redemption is proposed: a refused join writes nothing. The check and the
//! redemption run under one lock ([`JoinTurns`]), so concurrent joins with
//! one token add no log entries beyond the winner's.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use nexus_raft::replication::{NodeId, NodeInfo, Raft};
use nexus_tls::ca::CA_VALIDITY;
use nexus_tls::{hash_secret, ClusterCa};
use nexus_transport::messages::{JoinGrant, JoinMsg, JoinRefusal, JoinReply};
use nexus_transport::server::{async_trait, Admission};
use nexus_transport::JoinForwarder;
use tracing::{info, warn};

use super::join_turns::JoinTurns;
use super::registry::{Redemption, RegistryHandle};
use crate::clock::now_ms;
use nexus_errors::{ErrorCode, UserError};

/// Admits joiners on behalf of this node's cluster.
pub struct ClusterAdmission {
    /// This node's id (named in refusals).
    pub node_id: NodeId,
    /// The cluster's name, handed to joiners.
    pub cluster_name: String,
    /// SHA-256 of the cluster CA certificate.
    pub ca_fingerprint: String,
    /// The CA with its key, on the node that holds it.
    pub ca: Option<Arc<ClusterCa>>,
    /// The registry the token is redeemed in.
    pub registry: RegistryHandle,
    /// The local Raft member (membership for ids and the members list).
    pub raft: Raft,
    /// One join at a time checks and redeems its token on this node.
    pub turns: JoinTurns,
    /// Hands joins to a CA holder when this node holds no CA key.
    pub forwarder: JoinForwarder,
}

#[async_trait]
impl Admission for ClusterAdmission {
    async fn admit(&self, request: JoinMsg) -> JoinReply {
        let Some(ca) = &self.ca else {
            return self.forward(request).await;
        };
        let token_id = request.token_id.clone();
        self.try_admit(ca, request)
            .await
            .map_err(|e| refusal(&token_id, e))
    }

    async fn admit_forwarded(&self, request: JoinMsg, via: NodeId) -> Option<JoinReply> {
        let Some(ca) = &self.ca else {
            warn!(
                via,
                "a join was forwarded here, but this node holds no CA key"
            );
            return None;
        };
        let token_id = request.token_id.clone();
        Some(
            self.try_admit(ca, request)
                .await
                .map_err(|e| refusal(&token_id, e)),
        )
    }
}

/// A refusal as the joiner receives it, logged here.
pub(super) fn refusal(token_id: &str, e: UserError) -> JoinRefusal {
    warn!(token_id, code = %e.code, message = %e.message, "join refused");
    JoinRefusal {
        code: e.code.as_str().to_owned(),
        message: e.message,
        hint: e.hint,
    }
}

/// What a join's addresses resolve to once checked.
pub(super) struct CheckedAddresses {
    raft: Option<SocketAddr>,
    api: SocketAddr,
}

impl ClusterAdmission {
    /// Everything a join can be refused for without the CA key or the
    /// registry: the CA pin, the CSR and the addresses. Checked by a
    /// forwarding node too, so a broken request costs the holder nothing.
    pub(super) fn precheck(&self, request: &JoinMsg) -> Result<CheckedAddresses, UserError> {
        if request.ca_fingerprint != self.ca_fingerprint {
            return Err(UserError::new(
                ErrorCode::JoinCaMismatch,
                format!(
                    "the join pins CA {} but this cluster's CA is {}",
                    request.ca_fingerprint, self.ca_fingerprint
                ),
            ));
        }
        ClusterCa::verify_csr(&request.csr_der)
            .map_err(|e| UserError::new(ErrorCode::JoinCsrInvalid, e.to_string()))?;
        Ok(CheckedAddresses {
            raft: reachable_address(&request.raft_addr)?,
            api: api_address(&request.api_addr)?,
        })
    }

    /// Admits the joiner with this node's CA key.
    async fn try_admit(&self, ca: &ClusterCa, request: JoinMsg) -> Result<JoinGrant, UserError> {
        let CheckedAddresses {
            raft: raft_addr,
            api: api_addr,
        } = self.precheck(&request)?;

        let secret_hash = hash_secret(&request.secret);
        // From the check to the committed redemption, no other join runs
        // here: a loser of a race sees the winner's redemption in its check
        // and is refused without proposing.
        let _turn = self.turns.take().await?;
        let at_ms = now_ms();
        self.registry.linearize().await?;
        self.registry
            .read(|r| r.check_join_token(&request.token_id, &secret_hash, at_ms))?;

        let min_node_id = self.highest_known_id()? + 1;
        let (node_id, role) = self
            .registry
            .redeem_join_token(Redemption {
                token_id: request.token_id.clone(),
                secret_hash,
                min_node_id,
                at_ms,
                raft_addr: request.raft_addr.clone(),
                api_addr: request.api_addr.clone(),
                bulk_addr: request.bulk_addr.clone(),
            })
            .await?;
        // The certificate names every address the node is recorded at: its
        // API address is always an IP, so it is always among the SANs.
        let mut ip_sans: Vec<_> = raft_addr.map(|a| a.ip()).into_iter().collect();
        if !ip_sans.contains(&api_addr.ip()) {
            ip_sans.push(api_addr.ip());
        }
        let cert_der = ca
            .sign_node_csr(&request.csr_der, node_id, &ip_sans, CA_VALIDITY)
            .map_err(|e| {
                UserError::new(
                    ErrorCode::Internal,
                    format!(
                        "node {node_id} was admitted but its certificate could not be signed: {e}"
                    ),
                )
            })?;
        let members = self.members();
        info!(node_id, role = role.as_str(), raft_addr = %request.raft_addr, "admitted a node");
        let mesh_address = match request.mesh {
            Some(proposal) => self.record_mesh(node_id, proposal, at_ms).await,
            None => None,
        };
        Ok(JoinGrant {
            mesh_address,
            node_id,
            role,
            cluster_name: self.cluster_name.clone(),
            cert_der,
            ca_der: ca.ca_der().to_vec(),
            members,
        })
    }

    /// Records an admitted joiner's place in the mesh; its address, or
    /// `None` when the record was refused (the joiner then records itself
    /// once it runs, and its log says why that fails).
    async fn record_mesh(
        &self,
        node_id: NodeId,
        proposal: nexus_transport::messages::MeshProposal,
        at_ms: u64,
    ) -> Option<String> {
        match self.registry.set_mesh_peer(node_id, proposal, at_ms).await {
            Ok(peer) => peer.map(|p| p.address.to_string()),
            Err(e) => {
                warn!(node_id, code = %e.code, message = %e.message, "joiner's mesh record refused");
                None
            }
        }
    }

    /// The current members and their addresses.
    pub(super) fn members(&self) -> BTreeMap<NodeId, NodeInfo> {
        self.raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .nodes()
            .map(|(id, info)| (*id, info.clone()))
            .collect()
    }

    /// The highest node id in the membership or the registry's records, so
    /// a joiner's id is above every id ever used (static ids included).
    fn highest_known_id(&self) -> Result<NodeId, UserError> {
        let members = self.members().into_keys().max().unwrap_or(0);
        let recorded = self.registry.read(|r| {
            let joined = r.joined_nodes()?.into_iter().map(|n| n.id);
            let revoked = r.revoked_nodes()?.into_iter().map(|n| n.id);
            Ok(joined.chain(revoked).max().unwrap_or(0))
        })?;
        Ok(members.max(recorded))
    }
}

/// Checks that `addr` is a `host:port` the cluster can dial; returns it as
/// a socket address when it is an IP (for the certificate's IP SAN).
fn reachable_address(addr: &str) -> Result<Option<SocketAddr>, UserError> {
    let invalid = || {
        UserError::new(
            ErrorCode::JoinRequestInvalid,
            format!("the joiner's Raft address {addr:?} is not a reachable host:port"),
        )
    };
    let (host, port) = addr.rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    if host.is_empty() || port == 0 {
        return Err(invalid());
    }
    match addr.parse::<SocketAddr>() {
        Ok(socket) if socket.ip().is_unspecified() => Err(invalid()),
        Ok(socket) => Ok(Some(socket)),
        Err(_) => Ok(None),
    }
}

/// Checks that the joiner's API address is an IP and port the cluster can
/// record and put in the node's certificate.
fn api_address(addr: &str) -> Result<SocketAddr, UserError> {
    let socket: SocketAddr = addr.parse().map_err(|_| {
        UserError::new(
            ErrorCode::JoinApiAddressInvalid,
            format!("the joiner's API address {addr:?} is not an IP address and port"),
        )
    })?;
    super::join::check_api_address(socket)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_specific_api_ips_are_accepted() {
        assert!(api_address("10.0.0.2:2026").is_ok());
        for bad in [
            "node-2.example:2026",
            "0.0.0.0:2026",
            "10.0.0.2:0",
            "",
            "[::]:1",
        ] {
            let err = api_address(bad).unwrap_err();
            assert!(err.is(ErrorCode::JoinApiAddressInvalid), "{bad}: {err:?}");
        }
    }

    #[test]
    fn only_dialable_raft_addresses_are_accepted() {
        assert!(reachable_address("10.0.0.2:2027").unwrap().is_some());
        assert!(reachable_address("node-2.example:2027").unwrap().is_none());
        for bad in [
            "",
            "10.0.0.2",
            "0.0.0.0:2027",
            "10.0.0.2:0",
            ":2027",
            "h:port",
        ] {
            let err = reachable_address(bad).unwrap_err();
            assert!(err.is(ErrorCode::JoinRequestInvalid), "{bad}: {err:?}");
        }
    }
}
