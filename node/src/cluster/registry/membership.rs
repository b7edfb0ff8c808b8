//! Membership writes: join tokens (create, revoke, redeem), node removal
//! and which nodes hold the CA key.

use nexus_raft::{Command, JoinTokenInfo, NodeReport, NodeRole, Response, TokenCommand};

use super::{unexpected, RegistryHandle};
use nexus_errors::UserError;

/// A join token to record; its secret only as a SHA-256 hash.
#[derive(Debug, Clone)]
pub struct NewJoinToken {
    /// New token id.
    pub id: String,
    /// Lowercase hex SHA-256 of the secret.
    pub secret_hash: String,
    /// What a joiner becomes.
    pub role: NodeRole,
    /// Joins it allows.
    pub uses: u32,
    /// Creation time, ms since the Unix epoch.
    pub at_ms: u64,
    /// Expiry, ms since the Unix epoch.
    pub expires_at_ms: u64,
}

/// A joiner redeeming a token.
#[derive(Debug, Clone)]
pub struct Redemption {
    /// The token.
    pub token_id: String,
    /// SHA-256 of the secret the joiner presented.
    pub secret_hash: String,
    /// The smallest node id to hand out.
    pub min_node_id: u64,
    /// Redemption time, ms since the Unix epoch.
    pub at_ms: u64,
    /// The joiner's Raft address.
    pub raft_addr: String,
    /// The joiner's HTTP API address.
    pub api_addr: String,
    /// The joiner's data-plane (QUIC) address.
    pub bulk_addr: String,
}

impl RegistryHandle {
    /// Records a new join token; returns it as listed.
    pub async fn create_join_token(&self, token: NewJoinToken) -> Result<JoinTokenInfo, UserError> {
        let cmd = Command::JoinToken(TokenCommand::Create {
            token_id: token.id,
            secret_hash: token.secret_hash,
            role: token.role,
            expires_at_ms: token.expires_at_ms,
            uses: token.uses,
            at_ms: token.at_ms,
        });
        match self.write(cmd).await? {
            Response::JoinTokenCreated(info) => Ok(info),
            other => Err(unexpected("JoinToken::Create", &other)),
        }
    }

    /// Revokes a join token: it can no longer be redeemed.
    pub async fn revoke_join_token(&self, token_id: &str) -> Result<(), UserError> {
        let cmd = Command::JoinToken(TokenCommand::Revoke {
            token_id: token_id.to_owned(),
        });
        match self.write(cmd).await? {
            Response::JoinTokenRevoked { .. } => Ok(()),
            other => Err(unexpected("JoinToken::Revoke", &other)),
        }
    }

    /// Spends one use of a token and allocates the joiner's node id;
    /// returns that id and the role the token grants.
    pub async fn redeem_join_token(
        &self,
        redemption: Redemption,
    ) -> Result<(u64, NodeRole), UserError> {
        let cmd = Command::JoinToken(TokenCommand::Redeem {
            token_id: redemption.token_id,
            secret_hash: redemption.secret_hash,
            min_node_id: redemption.min_node_id,
            at_ms: redemption.at_ms,
            raft_addr: redemption.raft_addr,
            api_addr: redemption.api_addr,
            bulk_addr: redemption.bulk_addr,
        });
        match self.write(cmd).await? {
            Response::JoinTokenRedeemed { node_id, role } => Ok((node_id, role)),
            other => Err(unexpected("JoinToken::Redeem", &other)),
        }
    }

    /// Puts a node on the revocation list (removing it twice is not an
    /// error); the membership steward then takes it out of the cluster.
    pub async fn remove_node(&self, node_id: u64, at_ms: u64) -> Result<(), UserError> {
        match self.write(Command::RemoveNode { node_id, at_ms }).await? {
            Response::NodeRemoved { .. } => Ok(()),
            other => Err(unexpected("RemoveNode", &other)),
        }
    }

    /// Marks `node_id` drained (no new sandboxes) or undrained.
    pub async fn set_node_drained(
        &self,
        node_id: u64,
        drained: bool,
        at_ms: u64,
    ) -> Result<(), UserError> {
        let cmd = Command::SetNodeDrained {
            node_id,
            drained,
            at_ms,
        };
        match self.write(cmd).await? {
            Response::NodeDrainedSet { .. } => Ok(()),
            other => Err(unexpected("SetNodeDrained", &other)),
        }
    }

    /// Records `node_id`'s labels and capacity (dropped for a removed node).
    pub async fn report_node(
        &self,
        node_id: u64,
        report: NodeReport,
        at_ms: u64,
    ) -> Result<(), UserError> {
        let cmd = Command::ReportNode {
            node_id,
            report,
            at_ms,
        };
        match self.write(cmd).await? {
            Response::NodeReported { .. } => Ok(()),
            other => Err(unexpected("ReportNode", &other)),
        }
    }

    /// Records `node_id`'s place in the mesh (key, endpoint, advertised
    /// ports); returns its record, `None` for a removed node.
    pub async fn set_mesh_peer(
        &self,
        node_id: u64,
        proposal: nexus_transport::messages::MeshProposal,
        at_ms: u64,
    ) -> Result<Option<nexus_raft::MeshPeer>, UserError> {
        let cmd = Command::SetMeshPeer {
            node_id,
            public_key: proposal.public_key,
            endpoint: proposal.endpoint,
            cidr: proposal.cidr,
            advertise: proposal.advertise,
            at_ms,
        };
        match self.write(cmd).await? {
            Response::MeshPeerSet(peer) => Ok(peer),
            other => Err(unexpected("SetMeshPeer", &other)),
        }
    }

    /// Records whether `node_id` holds the cluster CA key; returns what is
    /// recorded afterwards (a removed node is never a holder).
    pub async fn set_ca_holder(
        &self,
        node_id: u64,
        holds: bool,
        at_ms: u64,
    ) -> Result<bool, UserError> {
        let cmd = Command::SetCaHolder {
            node_id,
            holds,
            at_ms,
        };
        match self.write(cmd).await? {
            Response::CaHolderSet { holds, .. } => Ok(holds),
            other => Err(unexpected("SetCaHolder", &other)),
        }
    }
}
