//! The registry: a deterministic state machine over SQLite.
//!
//! [`Registry::apply`] takes a [`Command`] and returns a [`Response`] or a
//! refusal ([`RegistryError::is_refusal`]). It never reads clocks, randomness
//! or the environment, and each command is one SQLite transaction, so a
//! refused command leaves no trace and replicas applying the same log agree.

mod api_keys;
mod apply;
mod command;
mod drains;
mod error;
mod mesh;
mod model;
mod names;
mod nodes;
mod readers;
mod replicas;
mod reports;
mod schema;
mod state;
mod store;
mod tokens;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::Connection;

pub use api_keys::hash_api_key;
pub use command::{Command, Response, TokenCommand};
pub use error::{ParseEnumError, RegistryError};
pub use mesh::{MeshPeer, MeshPorts, MeshRefusal};
pub use model::{ApiKey, KeyUse, Principal, Role, Sandbox, Tenant};
pub use names::{validate_key_name, validate_sandbox_name, validate_tenant_name, MAX_NAME_LEN};
pub use nodes::{CaHolder, JoinedNode, RevokedNode};
pub use readers::Readers;
pub use replicas::{Durability, Replica, MAX_REPLICAS};
pub use reports::{NodeLoad, NodeReport};
pub use schema::SCHEMA_VERSION;
pub use state::SandboxState;
pub use tokens::{JoinTokenInfo, NodeRole, TokenRefusal, TOKENS_KEPT_AFTER_EXPIRY_MS};

/// Prepared statements kept per connection: room for every statement the
/// registry runs (each goes through `prepare_cached`, about 60 of them), so
/// a rare one never evicts a hot one.
const STATEMENT_CACHE: usize = 128;
/// The registry state machine, backed by one SQLite connection.
///
/// `Send` but not `Sync`: share it behind a mutex (or own it in one task).
#[derive(Debug)]
pub struct Registry {
    conn: Connection,
}

impl Registry {
    /// Opens (creating if new) a file-backed registry: WAL journal,
    /// `synchronous=FULL`, foreign keys on. Refuses a database that is not a
    /// registry or has an unknown schema version.
    pub fn open(path: &Path) -> Result<Registry, RegistryError> {
        Registry::init(Connection::open(path)?)
    }

    /// Opens a fresh, private in-memory registry (tests, tools).
    pub fn open_in_memory() -> Result<Registry, RegistryError> {
        Registry::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Registry, RegistryError> {
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // The write path (apply, idempotency, auth) prepares its statements
        // through the cache; SQLite's parser showed in the profile.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        schema::init(&mut conn)?;
        // Only once the file is known to be a registry (journal_mode persists
        // in the file). It returns a row; in-memory databases report "memory".
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
        Ok(Registry { conn })
    }

    /// Creates the registry's schema in an empty database through `conn`
    /// (the caller's transaction; the Raft state machine makes a new
    /// registry file whole this way before opening it).
    pub(crate) fn create_schema(conn: &Connection) -> Result<(), RegistryError> {
        schema::create(conn)
    }

    /// The schema version stored in the database.
    pub fn schema_version(&self) -> Result<u32, RegistryError> {
        schema::version(&self.conn)
    }

    /// Copies every WAL frame into the database file and truncates the WAL,
    /// so the single file holds the whole registry (done at shutdown).
    pub fn checkpoint(&self) -> Result<(), RegistryError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Applies one command as one transaction: on success it is committed and
    /// its response returned; on error nothing changes.
    ///
    /// Deterministic: the outcome depends only on `cmd` and the current state.
    pub fn apply(&mut self, cmd: &Command) -> Result<Response, RegistryError> {
        let tx = self.conn.transaction()?;
        let response = apply::apply(&tx, cmd)?; // dropping `tx` rolls back
        tx.commit()?;
        Ok(response)
    }

    /// Applies one command through `conn` — an open transaction or savepoint
    /// owned by the caller, which decides whether to commit. Used by the Raft
    /// state machine to apply a batch of log entries in one transaction.
    pub(crate) fn apply_in(conn: &Connection, cmd: &Command) -> Result<Response, RegistryError> {
        apply::apply(conn, cmd)
    }

    /// The underlying connection (crate-internal: the Raft state machine
    /// keeps its bookkeeping tables in the same database).
    pub(crate) fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Idempotency records the replicated state machine keeps (bounded by
    /// its retention; 0 before it made its table).
    pub fn idempotency_records(&self) -> Result<u64, RegistryError> {
        let table_exists: bool = self.conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'raft_idempotency'",
            [],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?;
        if !table_exists {
            return Ok(0);
        }
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM raft_idempotency", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The tenant with this id.
    pub fn tenant(&self, tenant_id: &str) -> Result<Option<Tenant>, RegistryError> {
        store::tenant(&self.conn, tenant_id)
    }

    /// The tenant with this name.
    pub fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>, RegistryError> {
        store::tenant_by_name(&self.conn, name)
    }

    /// All tenants, ordered by creation time then id.
    pub fn tenants(&self) -> Result<Vec<Tenant>, RegistryError> {
        store::tenants(&self.conn)
    }

    /// Who the live API key with this hash ([`hash_api_key`]) authenticates
    /// as; a revoked key authenticates as no one.
    pub fn principal_for_key_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<Principal>, RegistryError> {
        api_keys::principal_for_hash(&self.conn, key_hash)
    }

    /// The API key with this hash, live or revoked (to tell a revoked key
    /// from an unknown one).
    pub fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>, RegistryError> {
        api_keys::by_hash(&self.conn, key_hash)
    }

    /// The API key with this id, live or revoked.
    pub fn api_key(&self, key_id: &str) -> Result<Option<ApiKey>, RegistryError> {
        api_keys::by_id(&self.conn, key_id)
    }

    /// The tenant's live API key with this name.
    pub fn api_key_by_name(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> Result<Option<ApiKey>, RegistryError> {
        api_keys::by_name(&self.conn, tenant_id, name)
    }

    /// The live API keys of one tenant (or of all when `None`), by creation
    /// time then id.
    pub fn api_keys(&self, tenant_id: Option<&str>) -> Result<Vec<ApiKey>, RegistryError> {
        api_keys::list(&self.conn, tenant_id)
    }

    /// One sandbox of one tenant; another tenant's sandbox is `None`.
    pub fn sandbox(
        &self,
        tenant_id: &str,
        sandbox_id: &str,
    ) -> Result<Option<Sandbox>, RegistryError> {
        store::sandbox(&self.conn, tenant_id, sandbox_id)
    }

    /// A tenant's sandboxes, ordered by creation time then id.
    pub fn sandboxes(&self, tenant_id: &str) -> Result<Vec<Sandbox>, RegistryError> {
        store::sandboxes(&self.conn, Some(tenant_id))
    }

    /// Every join token, oldest first (no secrets: they are only hashed).
    pub fn join_tokens(&self) -> Result<Vec<JoinTokenInfo>, RegistryError> {
        tokens::list(&self.conn)
    }

    /// Checks that a join token with this secret hash could be redeemed at
    /// `at_ms` (the same checks as redeeming, without spending a use): lets
    /// a join be refused before anything is proposed.
    pub fn check_join_token(
        &self,
        token_id: &str,
        secret_hash: &str,
        at_ms: u64,
    ) -> Result<NodeRole, RegistryError> {
        tokens::check(&self.conn, token_id, secret_hash, at_ms).map(|t| t.role)
    }

    /// Every node that joined with a token, by id.
    pub fn joined_nodes(&self) -> Result<Vec<JoinedNode>, RegistryError> {
        nodes::list(&self.conn)
    }

    /// The revocation list: removed node ids, by id.
    pub fn revoked_nodes(&self) -> Result<Vec<RevokedNode>, RegistryError> {
        nodes::revoked(&self.conn)
    }

    /// The nodes recorded as holding the cluster CA key, by id.
    pub fn ca_holders(&self) -> Result<Vec<CaHolder>, RegistryError> {
        nodes::ca_holders(&self.conn)
    }

    /// The drained nodes' ids, ascending.
    pub fn drained_nodes(&self) -> Result<Vec<u64>, RegistryError> {
        drains::list(&self.conn)
    }

    /// Every node's place in the mesh, by node id.
    pub fn mesh_peers(&self) -> Result<Vec<MeshPeer>, RegistryError> {
        mesh::list(&self.conn)
    }

    /// One node's place in the mesh, if it recorded one.
    pub fn mesh_peer(&self, node_id: u64) -> Result<Option<MeshPeer>, RegistryError> {
        mesh::get(&self.conn, node_id)
    }

    /// The cluster's mesh prefix, once a node recorded itself.
    pub fn mesh_cidr(&self) -> Result<Option<String>, RegistryError> {
        mesh::cidr(&self.conn)
    }

    /// Every node's report (labels, capacity), by node id.
    pub fn node_reports(&self) -> Result<BTreeMap<u64, NodeReport>, RegistryError> {
        reports::all(&self.conn)
    }

    /// One node's report, if it made one.
    pub fn node_report(&self, node_id: u64) -> Result<Option<NodeReport>, RegistryError> {
        reports::get(&self.conn, node_id)
    }

    /// The live (created or active) sandboxes each node homes, by node id.
    pub fn node_loads(&self) -> Result<BTreeMap<u64, NodeLoad>, RegistryError> {
        reports::loads(&self.conn)
    }

    /// How many sandboxes node `home` homes in each state, by state name.
    pub fn state_counts(&self, home: u64) -> Result<BTreeMap<String, u64>, RegistryError> {
        reports::state_counts(&self.conn, home)
    }

    /// Every sandbox of every tenant, ordered by creation time then id (for a
    /// node's start-up recovery; not tenant-scoped).
    pub fn all_sandboxes(&self) -> Result<Vec<Sandbox>, RegistryError> {
        store::sandboxes(&self.conn, None)
    }
}
