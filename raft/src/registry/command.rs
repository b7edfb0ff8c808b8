//! Commands (the future Raft log entries) and their responses.
//!
//! Both enums are externally tagged with snake_case variant names, which works
//! with self-describing formats (JSON: `{"create_tenant": {...}}`) and with
//! compact binary ones alike.

use serde::{Deserialize, Serialize};

use super::mesh::{MeshPeer, MeshPorts};
use super::model::{KeyUse, Role, Sandbox, Tenant};
use super::replicas::{Durability, Replica};
use super::reports::NodeReport;
use super::state::SandboxState;
use super::tokens::{JoinTokenInfo, NodeRole};

/// A write to the registry. Every id and timestamp is chosen by the proposer,
/// so applying a command is a pure function of (command, state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Create a tenant with a unique id and name, and no key.
    ///
    /// Nodes propose [`Command::CreateTenantWithKey`]; this stays because
    /// logs and snapshots written by earlier versions hold it.
    CreateTenant {
        /// New tenant id.
        tenant_id: String,
        /// Unique name, 1–63 chars of `[a-z0-9_-]`.
        name: String,
        /// Creation time, ms since the Unix epoch.
        at_ms: u64,
    },
    /// Create a tenant and its first API key (by hash only) in one step:
    /// both records are written or, when either is refused, neither.
    CreateTenantWithKey {
        /// New tenant id.
        tenant_id: String,
        /// Unique name, 1–63 chars of `[a-z0-9_-]`.
        name: String,
        /// The first key's id.
        key_id: String,
        /// [`hash_api_key`](super::hash_api_key) of the key; never the key.
        key_hash: String,
        /// What the key may do.
        role: Role,
        /// Creation time of both, ms since the Unix epoch.
        at_ms: u64,
        /// The first key's name (absent in logs of earlier versions: the
        /// key is then named after its id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_name: Option<String>,
    },
    /// Register an API key (by hash only) for an existing tenant.
    CreateApiKey {
        /// New key id.
        key_id: String,
        /// Owning tenant; must exist.
        tenant_id: String,
        /// [`hash_api_key`](super::hash_api_key) of the key; never the key.
        key_hash: String,
        /// What the key may do.
        role: Role,
        /// Creation time, ms since the Unix epoch.
        at_ms: u64,
        /// Name, unique among the tenant's live keys (absent in logs of
        /// earlier versions: the key is then named after its id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Revoke a live API key: from the moment a node applies this, the key
    /// authenticates nothing there. Refused for the last live admin key.
    RevokeApiKey {
        /// The key.
        key_id: String,
        /// Revocation time, ms since the Unix epoch.
        at_ms: u64,
    },
    /// Record the latest use of some keys (a node's batched report; never
    /// one write per request). Keeps the later of the stored and reported
    /// times; unknown keys are skipped.
    TouchApiKeys {
        /// At most one entry per key.
        uses: Vec<KeyUse>,
    },
    /// Remove a tenant and all its API keys. Refused while it owns
    /// sandboxes unless `force`, which removes their records too (each
    /// home node then deletes the files). Refused when it holds every live
    /// admin key.
    RemoveTenant {
        /// The tenant.
        tenant_id: String,
        /// Remove its sandboxes with it.
        force: bool,
    },
    /// Dock a workbook as a new sandbox in state `created`, generation 0.
    DockSandbox {
        /// New sandbox id, unique across the registry.
        sandbox_id: String,
        /// Owning tenant; must exist.
        tenant_id: String,
        /// Name, 1–63 chars of `[A-Za-z0-9._-]`, unique within the tenant.
        name: String,
        /// Profile name.
        profile: String,
        /// Hex sha256 of the workbook file.
        workbook_sha256: String,
        /// Raft node id of the hosting node.
        home_node: u64,
        /// Dock time, ms since the Unix epoch.
        at_ms: u64,
        /// The replication factor asked for (absent: the node's default,
        /// and in logs of earlier versions).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replication_factor: Option<u32>,
        /// The durability mode asked for (absent: the default).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        durability: Option<Durability>,
    },
    /// Remove a sandbox record (any state); its name becomes free again.
    RemoveSandbox {
        /// The sandbox.
        sandbox_id: String,
        /// Its tenant; another tenant's sandbox is "not found".
        tenant_id: String,
    },
    /// Move a sandbox along its lifecycle, fenced by its generation.
    Transition {
        /// The sandbox.
        sandbox_id: String,
        /// Its tenant; another tenant's sandbox is "not found".
        tenant_id: String,
        /// Target state.
        to: SandboxState,
        /// Must equal the stored generation.
        expected_generation: u64,
        /// Transition time, ms since the Unix epoch.
        at_ms: u64,
    },
    /// Replace a sandbox's replica set (its home proposes it once a new
    /// replica holds a verified copy, or to drop one that stopped
    /// answering). Fenced by the generation, which it does not advance.
    SetReplicas {
        /// The sandbox.
        sandbox_id: String,
        /// Its tenant; another tenant's sandbox is "not found".
        tenant_id: String,
        /// Must equal the stored generation.
        expected_generation: u64,
        /// The whole new set.
        replicas: Vec<Replica>,
        /// When, ms since the Unix epoch.
        at_ms: u64,
    },
    /// Give a sandbox a new home node (a migration's commit, or a failover
    /// to one of its replicas), fenced by its generation: the old home can
    /// no longer answer for it. The new home leaves the replica set.
    MoveSandbox {
        /// The sandbox.
        sandbox_id: String,
        /// Its tenant; another tenant's sandbox is "not found".
        tenant_id: String,
        /// The new home.
        to_node: u64,
        /// Must equal the stored generation (the one the move paused at).
        expected_generation: u64,
        /// Commit time, ms since the Unix epoch.
        at_ms: u64,
    },
    /// A join-token write.
    JoinToken(TokenCommand),
    /// Put a node on the revocation list: its certificate is refused by
    /// every node from then on, and the leader takes it out of the
    /// membership. Removing a node twice is not an error.
    RemoveNode {
        /// The node.
        node_id: u64,
        /// Removal time, ms since the Unix epoch.
        at_ms: u64,
    },
    /// Record whether a node holds the cluster CA key (a node proposes it
    /// for itself when what it holds differs from the record). A removed
    /// node is never recorded.
    SetCaHolder {
        /// The node.
        node_id: u64,
        /// Whether it holds the key.
        holds: bool,
        /// When it said so, ms since the Unix epoch.
        at_ms: u64,
    },
    /// Mark a node drained (it takes no new sandboxes) or undrained.
    SetNodeDrained {
        /// The node.
        node_id: u64,
        /// Drained or not.
        drained: bool,
        /// When, ms since the Unix epoch.
        at_ms: u64,
    },
    /// Record a node's labels and capacity (a node proposes it for itself
    /// when its record differs). A removed node's report is dropped.
    ReportNode {
        /// The node.
        node_id: u64,
        /// What it reports.
        report: NodeReport,
        /// When, ms since the Unix epoch.
        at_ms: u64,
    },
    /// Record a node's place in the WireGuard mesh (a node proposes it for
    /// itself at start and when its record differs): its public key and
    /// underlay endpoint; its first record gets the next mesh address. A
    /// removed node's record is dropped.
    SetMeshPeer {
        /// The node.
        node_id: u64,
        /// Its WireGuard public key (base64).
        public_key: String,
        /// Where its device listens on the underlay (`host:port`).
        endpoint: String,
        /// The mesh prefix it was configured with (the first record fixes
        /// the cluster's).
        cidr: String,
        /// The ports it serves on its mesh address, when it advertises it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        advertise: Option<MeshPorts>,
        /// When, ms since the Unix epoch.
        at_ms: u64,
    },
}

/// The join-token writes (see [`super::tokens`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenCommand {
    /// Store a new token (its secret only as a SHA-256 hash).
    Create {
        /// New token id.
        token_id: String,
        /// Lowercase hex SHA-256 of the secret.
        secret_hash: String,
        /// What a joiner becomes.
        role: NodeRole,
        /// Expiry, ms since the Unix epoch.
        expires_at_ms: u64,
        /// Joins it allows.
        uses: u32,
        /// Creation time, ms since the Unix epoch.
        at_ms: u64,
    },
    /// Revoke a token: it can no longer be redeemed.
    Revoke {
        /// The token.
        token_id: String,
    },
    /// Spend one use and allocate the joiner's node id.
    Redeem {
        /// The token.
        token_id: String,
        /// SHA-256 of the secret the joiner presented.
        secret_hash: String,
        /// The smallest id to hand out (the proposer passes one above every
        /// current member, so static ids are never reused).
        min_node_id: u64,
        /// Redemption time (checked against the expiry), ms since the epoch.
        at_ms: u64,
        /// The joiner's Raft address (recorded with its node id).
        #[serde(default)]
        raft_addr: String,
        /// The joiner's HTTP API address.
        #[serde(default)]
        api_addr: String,
        /// The joiner's data-plane (QUIC) address; empty: its Raft address.
        #[serde(default)]
        bulk_addr: String,
    },
}

/// The result of a successfully applied [`Command`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// From [`Command::CreateTenant`] and [`Command::CreateTenantWithKey`].
    TenantCreated(Tenant),
    /// From [`Command::CreateApiKey`].
    ApiKeyCreated {
        /// The new key's id.
        key_id: String,
    },
    /// From [`Command::RevokeApiKey`].
    ApiKeyRevoked {
        /// The revoked key's id.
        key_id: String,
    },
    /// From [`Command::TouchApiKeys`].
    ApiKeysTouched {
        /// How many keys' last-use time moved forward.
        updated: u64,
    },
    /// From [`Command::RemoveTenant`].
    TenantRemoved {
        /// The removed tenant.
        tenant_id: String,
        /// The sandbox records removed with it (their home nodes delete
        /// the files).
        sandboxes: Vec<Sandbox>,
        /// How many API keys (live or revoked) were removed with it.
        keys: u64,
    },
    /// From [`Command::DockSandbox`]: the new sandbox.
    SandboxDocked(Sandbox),
    /// From [`Command::RemoveSandbox`].
    SandboxRemoved {
        /// The removed sandbox's id.
        sandbox_id: String,
    },
    /// From [`Command::Transition`]: the sandbox after the hop.
    Transitioned(Sandbox),
    /// From [`Command::SetReplicas`]: the sandbox with its new replica set.
    ReplicasSet(Sandbox),
    /// From [`Command::MoveSandbox`]: the sandbox at its new home.
    SandboxMoved(Sandbox),
    /// From [`TokenCommand::Create`].
    JoinTokenCreated(JoinTokenInfo),
    /// From [`TokenCommand::Revoke`].
    JoinTokenRevoked {
        /// The revoked token.
        token_id: String,
    },
    /// From [`TokenCommand::Redeem`]: the joiner's node id and role.
    JoinTokenRedeemed {
        /// The id allocated to the joining node.
        node_id: u64,
        /// What it may become.
        role: NodeRole,
    },
    /// From [`Command::RemoveNode`].
    NodeRemoved {
        /// The revoked node.
        node_id: u64,
    },
    /// From [`Command::SetNodeDrained`].
    NodeDrainedSet {
        /// The node.
        node_id: u64,
        /// Whether it is drained now.
        drained: bool,
    },
    /// From [`Command::ReportNode`].
    NodeReported {
        /// The node.
        node_id: u64,
        /// Whether the report was stored (not for a removed node).
        stored: bool,
    },
    /// From [`Command::SetMeshPeer`]: the node's record (`None` for a
    /// removed node).
    MeshPeerSet(Option<MeshPeer>),
    /// From [`Command::SetCaHolder`].
    CaHolderSet {
        /// The node.
        node_id: u64,
        /// Whether it is recorded as a holder now.
        holds: bool,
    },
}
