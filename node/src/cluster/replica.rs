//! [`Replica`]: this node's member of the replicated registry — the Raft
//! stores, the Raft instance, its mTLS peer listener and the gateway every
//! registry write and fresh read goes through. A node without peers is a
//! cluster of one on exactly the same path.

use std::collections::BTreeMap;
use std::net::{IpAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use nexus_raft::replication::{raft_config_with, LogStore, NodeInfo, Raft, StateMachine};
use nexus_raft::NodeReport;
use nexus_tls::ca::CA_KEY_FILE;
use nexus_tls::{join_server_config, ClusterCa, StaticPolicy, TlsMaterial, ALPN_GRPC, ALPN_JOIN};
use nexus_transport::bulk::BulkEndpoint;
use nexus_transport::server::{JoinEndpoint, PeerEndpoint};
use nexus_transport::{
    Channels, Gateway, JoinForwarder, LeaderWatch, Liveness, Network, PeerContact, PeerHealth,
    Proposer,
};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::admission::ClusterAdmission;
use super::ca_holding;
use super::identity;
use super::join_record::JoinRecord;
use super::join_turns::JoinTurns;
use super::node_report;
use super::registry::RegistryHandle;
use super::removal::{self, Removal, Trust};
use super::steward::{follow_trust, steward_membership};
use crate::config::ClusterConfig;
use crate::config::Config;
use nexus_errors::{ErrorCode, UserError};

/// Query-only registry connections per node: reads (an API key on every
/// request, a sandbox on every call) never wait for the Raft apply.
const REGISTRY_READERS: usize = 4;

/// The running Raft member of this node.
pub struct Replica {
    node_id: u64,
    cluster_name: String,
    ca_fingerprint: String,
    ca: Option<Arc<ClusterCa>>,
    founder: bool,
    raft: Raft,
    /// Batches this node's registry writes (and those peers forward here).
    proposer: Proposer,
    registry: RegistryHandle,
    tls: Arc<TlsMaterial>,
    policy: Arc<StaticPolicy>,
    trust: Arc<Trust>,
    health: Arc<PeerHealth>,
    listener: Option<TcpListener>,
    static_members: BTreeMap<u64, NodeInfo>,
    contact: PeerContact,
    forwarder: JoinForwarder,
    bulk: Option<Arc<BulkEndpoint>>,
    report: NodeReport,
    watch: Arc<LeaderWatch>,
    /// The leader watch's task, until [`Replica::spawn`] hands it over.
    watching: Option<JoinHandle<()>>,
    liveness: Arc<Liveness>,
}

impl Replica {
    /// Opens the stores under the data dir, loads (or, alone, creates) the
    /// node identity, starts Raft and binds the peer listener if configured.
    ///
    /// A node is in one of three modes: static (`[cluster] peers`), joined
    /// (a join record in the data dir) or alone. Only an alone node founds
    /// a cluster, and only with the CA key beside its certificate: a data
    /// dir holding a certificate but neither CA nor join record is refused,
    /// never run as a cluster of one.
    pub async fn open(config: &Config, api_addr: &str) -> Result<Replica, UserError> {
        let listener = crate::listeners::bind_peer_port(config).await?;
        let bulk = crate::listeners::bind_bulk_port(config, listener.as_ref())?;
        Replica::open_on(config, api_addr, listener, bulk).await
    }

    /// [`Replica::open`] with the peer listener and the data plane's socket
    /// bound already (`None`: this node takes no peer connections).
    pub async fn open_on(
        config: &Config,
        api_addr: &str,
        listener: Option<TcpListener>,
        bulk_socket: Option<UdpSocket>,
    ) -> Result<Replica, UserError> {
        let cluster = &config.cluster;
        cluster.validate(config.node_id)?;
        let data_dir = &config.data_dir;
        let joined = JoinRecord::load(data_dir)?;
        if joined.is_some() && !cluster.peers.is_empty() {
            return Err(UserError::new(
                ErrorCode::ConfigInvalid,
                "this data dir joined its cluster with a token: remove [cluster] peers",
            ));
        }
        let alone = cluster.peers.is_empty() && joined.is_none();
        let ips: Vec<IpAddr> = cluster
            .raft_listen
            .map(|a| a.ip())
            .into_iter()
            .chain([config.listen.ip()])
            .collect();
        // A fresh node's keys and certificates are made while its databases
        // are (both mostly wait on fsyncs); any other start checks the
        // identity before it opens, or makes, a database.
        let load_identity =
            || identity::load_or_create(data_dir, config.node_id, &cluster.name, alone, &ips);
        let (identity, fresh_stores) = if alone && !identity::holds_identity(data_dir) {
            std::thread::scope(|scope| {
                let stores = scope.spawn(|| open_stores(data_dir));
                (load_identity(), Some(join_scoped(stores)))
            })
        } else {
            (load_identity(), None)
        };
        let identity = identity?;
        let ca_dir = identity::ca_dir(data_dir);
        let has_ca = ca_dir.join(CA_KEY_FILE).exists();
        if alone && !has_ca {
            return Err(UserError::new(
                ErrorCode::ClusterJoinIncomplete,
                format!(
                    "{} holds a node certificate but neither the cluster CA nor a join record",
                    identity::tls_dir(data_dir).display()
                ),
            ));
        }
        let ca = if has_ca {
            let loaded = ClusterCa::load(&ca_dir)
                .map_err(|e| UserError::new(ErrorCode::ClusterIdentityInvalid, e.to_string()))?;
            Some(Arc::new(loaded))
        } else {
            None
        };
        let static_members = static_members(cluster, config.node_id, api_addr);
        let founder = match &joined {
            Some(_) => false,
            None => static_members.keys().next() == Some(&config.node_id),
        };
        let first_peers = joined.iter().flat_map(|j| j.members.keys().copied());
        let policy = Arc::new(StaticPolicy::allowing(
            static_members.keys().copied().chain(first_peers),
        ));
        let tls = TlsMaterial::new(&identity, policy.clone()).map_err(tls_error)?;
        let client_tls = tls.client_config(ALPN_GRPC).map_err(tls_error)?;
        // Peer connections leave from the peer interface when one is named.
        let source = cluster
            .raft_listen
            .map(|a| a.ip())
            .filter(|ip| !ip.is_unspecified());
        let channels = Channels::new(config.node_id, source, Arc::new(client_tls));
        let health = Arc::new(PeerHealth::default());
        let trust = Trust::new(config.node_id, policy.clone());

        let (log, sm) = match fresh_stores {
            Some(stores) => stores?,
            None => open_stores(data_dir)?,
        };
        let sm = sm.observed_by(trust.clone());
        let raft_config = raft_config_with(&cluster.name, cluster.timing(), cluster.retention())
            .map_err(|e| UserError::new(ErrorCode::ConfigInvalid, format!("[cluster]: {e}")))?;
        // Campaigns are the leader watch's to start, never openraft's timer.
        let raft_config = openraft::Config {
            enable_elect: false,
            ..raft_config
        };
        let watch = Arc::new(LeaderWatch::new(config.node_id, cluster.watch_timing()));
        // A member silent for as long as a leader may be counts as down.
        let contact = PeerContact::new(Duration::from_millis(cluster.leader_timeout_ms));
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config),
            Network::with_health(channels.clone(), contact.clone(), health.clone()),
            log,
            sm.clone(),
        )
        .await
        .map_err(|e| UserError::new(ErrorCode::Internal, format!("cannot start raft: {e}")))?;
        let deadline = Duration::from_millis(cluster.write_timeout_ms);
        let forwarder = JoinForwarder::new(channels.clone());
        let proposer = Proposer::new(raft.clone());
        let gateway = Gateway::new(proposer.clone(), channels.clone(), deadline);
        let readers = sm.readers(REGISTRY_READERS).map_err(store_error)?;
        let registry = RegistryHandle::new(gateway, sm.registry(), readers);
        // What was applied before this start (allow and revoke only grow,
        // so racing with Raft's first applies is harmless).
        registry.read(|r| trust.seed(r))?;
        let bulk = match bulk_socket {
            Some(socket) => Some(Arc::new(
                BulkEndpoint::new(
                    socket,
                    &tls,
                    policy.clone(),
                    identity.key.private_key_der().secret_der(),
                )
                .map_err(|e| UserError::new(ErrorCode::ClusterIdentityInvalid, e.to_string()))?,
            )),
            None => None,
        };
        // The leader watch is the only thing that starts a campaign; it
        // runs from here on (before the founder's first write) and stops
        // with Raft.
        let watching = tokio::spawn(watch.clone().run(raft.clone(), channels.clone()));
        Ok(Replica {
            report: node_report::from_config(&config.node),
            node_id: config.node_id,
            cluster_name: cluster.name.clone(),
            ca_fingerprint: identity.ca_fingerprint(),
            ca,
            founder,
            registry,
            raft,
            proposer,
            tls: Arc::new(tls),
            policy,
            trust,
            health,
            listener,
            static_members,
            contact,
            forwarder,
            bulk,
            watch,
            watching: Some(watching),
            liveness: Arc::default(),
        })
    }

    /// The registry, read locally and written through Raft.
    pub fn registry(&self) -> RegistryHandle {
        self.registry.clone()
    }

    /// SHA-256 of the cluster CA certificate (what join tokens pin).
    pub fn ca_fingerprint(&self) -> &str {
        &self.ca_fingerprint
    }

    /// The Raft instance (metrics for `nexus status`).
    pub fn raft(&self) -> Raft {
        self.raft.clone()
    }

    /// When each member last renewed its home lease through this node as
    /// leader.
    pub fn liveness(&self) -> Arc<Liveness> {
        self.liveness.clone()
    }

    /// The data plane's QUIC endpoint (`None` without a peer port).
    pub fn bulk(&self) -> Option<Arc<BulkEndpoint>> {
        self.bulk.clone()
    }

    /// When each peer last answered this node's Raft RPCs.
    pub fn contact(&self) -> PeerContact {
        self.contact.clone()
    }

    /// Whether this node founds the cluster: it is alone (with the CA), or
    /// the lowest id of the static members; a joined node never is. The
    /// founder initializes Raft and makes the admin tenant.
    pub fn is_founder(&self) -> bool {
        self.founder
    }

    /// Records in the registry whether this node holds the CA key, when the
    /// record says otherwise (every start does it in the background; `nexus
    /// init` waits for it). Returns whether it wrote.
    pub async fn record_ca_holding(&self) -> Result<bool, UserError> {
        ca_holding::record(&self.registry, self.node_id, self.ca.is_some()).await
    }

    /// Forms the cluster on the founder's first start (initializing every
    /// static member); on any later start, or on another node, does nothing.
    /// The leader watch runs already (from [`Replica::open_on`]): the
    /// founder's first campaign fails while its peers are still starting,
    /// and only the watch starts the next one.
    pub async fn bootstrap(&self) -> Result<(), UserError> {
        let initialized = self
            .raft
            .is_initialized()
            .await
            .map_err(|e| UserError::new(ErrorCode::Internal, format!("raft: {e}")))?;
        if initialized || !self.is_founder() {
            return Ok(());
        }
        info!(members = ?self.static_members.keys(), "initializing the cluster");
        match self.raft.initialize(self.static_members.clone()).await {
            Ok(())
            | Err(openraft::error::RaftError::APIError(
                openraft::error::InitializeError::NotAllowed(_),
            )) => Ok(()),
            Err(e) => Err(UserError::new(
                ErrorCode::Internal,
                format!("cannot initialize the cluster: {e}"),
            )),
        }
    }

    /// Serves the peers and joiners (if this node listens for them) until
    /// `shutdown`, keeps the TLS peer policy in step with the membership and
    /// the revocation list, (while leading) steers the membership, and
    /// records whether this node holds the CA key.
    pub fn spawn(
        &mut self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<Vec<JoinHandle<()>>, UserError> {
        let mut tasks = vec![
            tokio::spawn(follow_trust(
                self.raft.clone(),
                self.registry.clone(),
                self.trust.clone(),
            )),
            tokio::spawn(steward_membership(self.raft.clone(), self.registry.clone())),
            tokio::spawn(ca_holding::keep_recorded(
                self.registry.clone(),
                self.node_id,
                self.ca.is_some(),
            )),
            tokio::spawn(node_report::keep_recorded(
                self.registry.clone(),
                self.node_id,
                self.report.clone(),
            )),
        ];
        tasks.extend(self.watching.take());
        if let Some(listener) = self.listener.take() {
            let admission = ClusterAdmission {
                node_id: self.node_id,
                cluster_name: self.cluster_name.clone(),
                ca_fingerprint: self.ca_fingerprint.clone(),
                ca: self.ca.clone(),
                registry: self.registry.clone(),
                raft: self.raft.clone(),
                turns: JoinTurns::default(),
                forwarder: self.forwarder.clone(),
            };
            let endpoint = PeerEndpoint {
                proposer: self.proposer.clone(),
                watch: self.watch.clone(),
                liveness: self.liveness.clone(),
                tls: Arc::new(self.tls.server_config(ALPN_GRPC).map_err(tls_error)?),
                policy: self.policy.clone(),
                join: Some(JoinEndpoint {
                    tls: Arc::new(join_server_config(&self.tls, ALPN_JOIN).map_err(tls_error)?),
                    admission: Arc::new(admission),
                }),
            };
            tasks.push(tokio::spawn(async move {
                let served = nexus_transport::server::serve(listener, endpoint, shutdown).await;
                if let Err(e) = served {
                    warn!(error = %e, "peer listener stopped");
                }
            }));
        }
        Ok(tasks)
    }

    /// Resolves once this node learns that the cluster removed it (see
    /// [`removal`](super::removal)).
    pub fn removed(&self) -> impl std::future::Future<Output = Removal> + Send + 'static {
        removal::removed(
            self.node_id,
            self.raft.clone(),
            self.trust.clone(),
            self.health.clone(),
        )
    }

    /// Stops Raft (after the API has drained).
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            warn!(error = %e, "raft did not stop cleanly");
        }
    }
}

/// The configured members, or this node alone.
fn static_members(
    cluster: &ClusterConfig,
    node_id: u64,
    api_addr: &str,
) -> BTreeMap<u64, NodeInfo> {
    if cluster.peers.is_empty() {
        let me = NodeInfo {
            raft_addr: cluster.raft_addr().unwrap_or_default(),
            api_addr: api_addr.to_owned(),
            bulk_addr: cluster.bulk_addr().unwrap_or_default(),
            ..NodeInfo::default()
        };
        return BTreeMap::from([(node_id, me)]);
    }
    cluster
        .peers
        .iter()
        .map(|p| {
            let info = NodeInfo {
                raft_addr: p.raft.clone(),
                api_addr: p.api.clone(),
                bulk_addr: p.bulk.clone().unwrap_or_default(),
                ..NodeInfo::default()
            };
            (p.id, info)
        })
        .collect()
}

fn tls_error(e: nexus_tls::ConfigError) -> UserError {
    UserError::new(
        ErrorCode::ClusterIdentityInvalid,
        format!("cannot build the TLS configuration: {e}"),
    )
}

/// Opens the Raft log and the registry under `data_dir`, side by side (on
/// a fresh data dir each is made and fsynced on a thread of its own).
fn open_stores(data_dir: &Path) -> Result<(LogStore, StateMachine), UserError> {
    let raft_dir = data_dir.join("raft");
    std::fs::create_dir_all(&raft_dir).map_err(|e| {
        UserError::new(
            ErrorCode::Internal,
            format!("cannot create {}: {e}", raft_dir.display()),
        )
    })?;
    let (log, sm) = std::thread::scope(|scope| {
        let log = scope.spawn(|| LogStore::open(&raft_dir.join("log.db")));
        let sm = StateMachine::open(&data_dir.join("registry.db"), &raft_dir.join("snapshots"));
        (join_scoped(log), sm)
    });
    Ok((log.map_err(store_error)?, sm.map_err(store_error)?))
}

/// What a scoped thread returned; its panic goes on here.
fn join_scoped<T>(thread: std::thread::ScopedJoinHandle<'_, T>) -> T {
    thread
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn store_error(e: nexus_raft::replication::StoreError) -> UserError {
    UserError::new(
        ErrorCode::Internal,
        format!("cannot open the raft stores: {e}"),
    )
}
