//! Request and response bodies of the HTTP API, shared by the server and the
//! CLI's client so the two cannot drift apart.

use crate::clock::rfc3339;
use crate::lifecycle::journal::LogEntry;
use nexus_raft::{ApiKey, Role, Sandbox, Tenant};
use serde::{Deserialize, Serialize};

use nexus_errors::UserError;

pub use crate::encoding::{decode_bytes, encode_bytes, Encoding};

/// `GET /ready`: the node takes calls.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Readiness {
    /// Always `ready`.
    pub status: String,
    /// The answering node's id.
    pub node_id: u64,
}

/// `POST /v1/sandboxes/{id}/call`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallRequest {
    /// Arguments after the program name.
    #[serde(default)]
    pub args: Vec<String>,
    /// Standard input.
    #[serde(default)]
    pub stdin: String,
    /// How `stdin` is encoded.
    #[serde(default)]
    pub stdin_encoding: Encoding,
    /// Environment variables, over the workbook's `[env]` defaults.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    #[schema(schema_with = env_schema)]
    pub env: std::collections::BTreeMap<String, String>,
}

/// The schema of a call's `env`: names and values within the env bounds.
fn env_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
    let value = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(nexus_workbook::MAX_ENV_VALUE_BYTES))
        .pattern(Some("^[^\\u0000]*$"));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[A-Za-z_][A-Za-z0-9_]{0,127}$")),
        ))
        .additional_properties(Some(AdditionalProperties::from(value)))
        .max_properties(Some(nexus_workbook::MAX_ENV_VARS))
        .description(Some(
            "Environment variables over the workbook's defaults (at most 64, 32 KiB in all)",
        ))
        .build()
}

/// The outcome of a call that ran to completion (any exit code).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CallResponse {
    /// The guest's exit code.
    pub exit_code: i32,
    /// Standard output.
    pub stdout: String,
    /// How `stdout` is encoded.
    pub stdout_encoding: Encoding,
    /// Standard error.
    pub stderr: String,
    /// How `stderr` is encoded.
    pub stderr_encoding: Encoding,
    /// Time spent in the guest, microseconds.
    pub elapsed_us: u64,
}

/// `GET /v1/sandboxes`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SandboxList {
    /// The caller's sandboxes.
    pub sandboxes: Vec<Sandbox>,
}

/// Body of the lifecycle verbs (`POST /v1/sandboxes/{id}/suspend`...); may be empty.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// Refuse (409 SANDBOX_STALE_GENERATION) unless the sandbox still has this generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_generation: Option<u64>,
}

/// `POST /v1/cluster/nodes/{id}/undrain`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodeUndrained {
    /// The node, which takes new sandboxes again.
    pub id: u64,
}

/// `POST /v1/sandboxes/{id}/move`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// The id of the node to move the sandbox to.
    pub to: u64,
}

/// Query of `GET /v1/sandboxes/{id}/logs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    /// Only entries with a larger `seq` (default 0: from the oldest kept).
    #[serde(default)]
    #[param(maximum = 9_007_199_254_740_991_u64)]
    pub after: u64,
    /// Most entries in the answer (default and maximum 256).
    #[serde(default)]
    #[param(minimum = 1, maximum = 256)]
    pub limit: Option<usize>,
}

/// `GET /v1/sandboxes/{id}/logs`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SandboxLogs {
    /// The sandbox.
    pub sandbox_id: String,
    /// The node whose log this is (the sandbox's home).
    pub node_id: u64,
    /// Entries after `after`, oldest first.
    pub entries: Vec<LogEntry>,
    /// Ask with `after` set to this for what comes next.
    pub last_seq: u64,
    /// Entries after `after` that the log no longer holds (it keeps 256).
    pub missed: u64,
}

/// `POST /v1/sandboxes/{id}/clone`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloneRequest {
    /// Name of the new sandbox (default: `<source name>-clone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tenant (by name) that gets the clone; another tenant needs the admin key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// `DELETE /v1/sandboxes/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Removed {
    /// The removed sandbox.
    pub id: String,
}

/// `POST /v1/tenants`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// The new tenant's name.
    #[schema(pattern = "^[a-z0-9_-]{1,63}$")]
    pub name: String,
}

/// A new tenant and its API key (shown once).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TenantCreated {
    /// The tenant.
    pub tenant: Tenant,
    /// Its first API key.
    pub api_key: String,
}

/// `GET /v1/tenants`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TenantList {
    /// Every tenant.
    pub tenants: Vec<Tenant>,
}

/// `DELETE /v1/tenants/{id}` answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TenantRemoved {
    /// The removed tenant's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The ids of the sandboxes removed with it (`force` only).
    pub sandboxes: Vec<String>,
    /// How many API keys were removed with it.
    pub keys: u64,
}

/// `POST /v1/keys`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Name, unique among the tenant's live keys: 1-63 of `[a-z0-9_-]`.
    #[schema(pattern = "^[a-z0-9_-]{1,63}$")]
    pub name: String,
    /// What the key may do (default `tenant`; `admin` needs an admin key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The tenant (name or id) that gets the key (default: the caller's;
    /// another tenant needs an admin key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// An API key as listed: never the key, never its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyEntry {
    /// Key id.
    pub id: String,
    /// Key name, unique among its tenant's live keys.
    pub name: String,
    /// `admin` or `tenant`.
    pub role: Role,
    /// The owning tenant's id.
    pub tenant_id: String,
    /// The owning tenant's name.
    pub tenant: String,
    /// Creation time, ms since the Unix epoch.
    pub created_at_ms: u64,
    /// Creation time, RFC 3339 (UTC).
    pub created_at: String,
    /// Latest use reported by any node (reports are batched: up to a
    /// minute behind), if any.
    pub last_used_at_ms: Option<u64>,
    /// Latest use, RFC 3339 (UTC), if any.
    pub last_used_at: Option<String>,
}

impl KeyEntry {
    /// The listing of `key`, whose tenant is named `tenant`.
    pub fn new(key: ApiKey, tenant: String) -> KeyEntry {
        KeyEntry {
            id: key.id,
            name: key.name,
            role: key.role,
            tenant_id: key.tenant_id,
            tenant,
            created_at_ms: key.created_at_ms,
            created_at: rfc3339(key.created_at_ms),
            last_used_at_ms: key.last_used_at_ms,
            last_used_at: key.last_used_at_ms.map(rfc3339),
        }
    }
}

/// `POST /v1/keys` answer: the key in clear, shown only this once.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyCreated {
    /// The stored record.
    pub key: KeyEntry,
    /// The key itself (`nxk_…`).
    pub api_key: String,
}

/// `GET /v1/keys` answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyList {
    /// Live keys the caller may see, oldest first.
    pub keys: Vec<KeyEntry>,
}

/// `DELETE /v1/keys/{id}` answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyRevoked {
    /// The revoked key's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its tenant's id.
    pub tenant_id: String,
}

/// Every error body: `{"error": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: UserError,
}

/// `POST /v1/cluster/tokens` body; every field is optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJoinToken {
    /// Lifetime in seconds (default one hour, at most a year).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 31_536_000)]
    pub ttl_secs: Option<u64>,
    /// Joins it allows (default 1).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10_000)]
    pub uses: Option<u32>,
    /// What a joiner becomes (default voter).
    #[serde(default)]
    pub role: Option<nexus_raft::NodeRole>,
}

/// `POST /v1/cluster/tokens` answer: the token string, shown only once.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JoinTokenCreated {
    /// `NXJ1.<ca sha256>.<id>.<secret>`: what `nexus join` takes.
    pub token: String,
    /// The stored record (no secret).
    pub info: JoinTokenView,
}

/// A join token's record (no secret) with its expiry in RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JoinTokenView {
    /// The record.
    #[serde(flatten)]
    pub info: nexus_raft::JoinTokenInfo,
    /// `expires_at_ms` as RFC 3339 (UTC).
    pub expires_at: String,
}

impl std::ops::Deref for JoinTokenView {
    type Target = nexus_raft::JoinTokenInfo;

    fn deref(&self) -> &Self::Target {
        &self.info
    }
}

impl From<nexus_raft::JoinTokenInfo> for JoinTokenView {
    fn from(info: nexus_raft::JoinTokenInfo) -> Self {
        let expires_at = rfc3339(info.expires_at_ms);
        JoinTokenView { info, expires_at }
    }
}

/// `GET /v1/cluster/tokens` answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JoinTokenList {
    /// Every token, oldest first.
    pub tokens: Vec<JoinTokenView>,
}

/// One node as `GET /v1/cluster/nodes` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodeEntry {
    /// Node id.
    pub id: u64,
    /// `leader`, `voter`, `learner`, `joining` (admitted, not yet in the
    /// membership) or `removed` (on the revocation list).
    pub status: String,
    /// Raft address, if known.
    pub raft_addr: String,
    /// HTTP API address, if known.
    pub api_addr: String,
    /// The role its join token granted (nodes that joined with a token).
    pub token_role: Option<nexus_raft::NodeRole>,
    /// When it joined, ms since the Unix epoch (nodes that joined with a token).
    pub joined_at_ms: Option<u64>,
    /// When it was removed, ms since the Unix epoch.
    pub removed_at_ms: Option<u64>,
    /// Entries it is behind the leader (when the answering node leads).
    pub lag: Option<u64>,
    /// Members: `up`, `down`, or `unknown` when the answering node does not
    /// lead (only the leader hears from every member).
    #[serde(default)]
    pub health: Option<String>,
    /// Members: milliseconds since it last answered the leader.
    #[serde(default)]
    pub last_heard_ms: Option<u64>,
    /// Whether it holds the cluster CA key (so it can admit joiners; a
    /// member without it forwards joins to one that has it).
    #[serde(default)]
    pub holds_ca: bool,
    /// Whether it is drained (takes no new sandboxes).
    #[serde(default)]
    pub drained: bool,
    /// How many sandboxes it homes.
    #[serde(default)]
    pub sandboxes: u64,
    /// How many of those are live (created or active): what placement
    /// weighs against `max_sandboxes`.
    #[serde(default)]
    pub live_sandboxes: u64,
    /// Its labels (`[node] labels`), as it reported them.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// The live sandboxes it means to home at most, as it reported.
    #[serde(default)]
    pub max_sandboxes: Option<u64>,
    /// The guest memory it offers, as it reported.
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

impl NodeEntry {
    /// A node with its status and addresses, nothing else known yet.
    pub fn known(id: u64, status: String, raft_addr: &str, api_addr: &str) -> NodeEntry {
        NodeEntry {
            id,
            status,
            raft_addr: raft_addr.to_owned(),
            api_addr: api_addr.to_owned(),
            token_role: None,
            joined_at_ms: None,
            removed_at_ms: None,
            lag: None,
            health: None,
            last_heard_ms: None,
            holds_ca: false,
            drained: false,
            sandboxes: 0,
            live_sandboxes: 0,
            labels: std::collections::BTreeMap::new(),
            max_sandboxes: None,
            memory_bytes: None,
        }
    }
}

/// `GET /v1/cluster/nodes` answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodeList {
    /// Every node the cluster knows, by id.
    pub nodes: Vec<NodeEntry>,
}

/// `DELETE /v1/cluster/nodes/{id}` answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodeRemoved {
    /// The removed node.
    pub id: u64,
    /// Whether it has left the Raft membership by the time of the answer
    /// (its certificate is refused either way).
    pub left_membership: bool,
    /// With `force`: its sandboxes moved to other members first.
    #[serde(default)]
    pub moved: Vec<String>,
    /// With `force`: its sandboxes lost with it (no other copy existed);
    /// their records are gone.
    #[serde(default)]
    pub lost: Vec<LostSandbox>,
}

/// A sandbox lost with a node removed by force.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LostSandbox {
    /// Its id.
    pub id: String,
    /// Its tenant.
    pub tenant_id: String,
    /// Its name.
    pub name: String,
    /// The state it was in.
    pub state: String,
}

/// Query of `DELETE /v1/cluster/nodes/{id}`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RemoveNodeParams {
    /// Remove a node that still homes sandboxes: drain it first if it
    /// answers, otherwise lose them.
    #[serde(default)]
    pub force: bool,
}
