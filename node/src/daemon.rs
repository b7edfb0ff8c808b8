//! The node daemon: opens the data dir, starts the engine and serves the API
//! until SIGINT/SIGTERM, letting in-flight calls finish.

use std::fs::File;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nexus_raft::Role;
use std::time::Duration;
use tokio::net::TcpListener;

use tracing::{error, info, warn};

use crate::api::conn::FrontDoor;
use crate::api::{self, AppState, AuthLimiter, UploadSlots};
use crate::cluster::join_record::JoinRecord;
use crate::cluster::removal::{Removal, REMOVED_EXIT_CODE};
use crate::cluster::{RegistryHandle, Replica};
use crate::config::{ApiScheme, Config};
use crate::dataplane::{self, DataPlane};
use crate::example;
use crate::fabric::{Fabric, GuestFabric};
use crate::key_usage::{self, KeyUsage};
use crate::lifecycle::ladder::LifecycleConfig;
use crate::listeners::Listeners;
use crate::mesh::{self, MeshNode};
use crate::replicas::{Copies, HomeLease, Hooks, Replicas, ReplicasParts};
use crate::sandbox::SandboxManager;
use crate::tenant_keys::TenantKeys;
use crate::tenants::{create_tenant, DEFAULT_TENANT};
use nexus_engine::{Engine, EngineConfig, HostConfig};
use nexus_errors::{ErrorCode, UserError};

/// File in the data dir holding the admin key (mode 0600).
pub const ADMIN_KEY_FILE: &str = "admin.key";

/// The name of the admin key made on a node's first start.
pub const ADMIN_KEY_NAME: &str = "admin";

/// A node that is bound and ready to serve.
pub struct Node {
    config: Config,
    state: Arc<AppState>,
    listener: TcpListener,
    /// `[metrics] listen`, when set.
    metrics_listener: Option<TcpListener>,
    /// The API's TLS, `None` when it serves plain HTTP.
    api_tls: Option<Arc<rustls::ServerConfig>>,
    replica: Replica,
    /// The admin key made at this start (founding node, first start only).
    admin_key: Option<String>,
    _lock: File,
}

impl Node {
    /// Opens the data dir, the registry and the engine, and binds the API
    /// (and the peer port). On a fresh data dir this makes the default
    /// tenant and the admin key.
    pub async fn start(config: Config) -> Result<Node, UserError> {
        Node::start_on(config, None).await
    }

    /// [`Node::start`] on sockets bound already (a joiner binds them before
    /// it redeems its token), or binding them itself when `None`.
    pub async fn start_on(
        mut config: Config,
        listeners: Option<Listeners>,
    ) -> Result<Node, UserError> {
        JoinRecord::adopt(&mut config)?;
        let scheme = config.api_scheme()?;
        if scheme == ApiScheme::Http && !config.listen.ip().is_loopback() {
            warn!(
                listen = %config.listen,
                "[api] insecure_plaintext: the API serves plain HTTP to the network; \
                 API keys cross it in clear"
            );
        }
        let data_dir = &config.data_dir;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(|e| {
                UserError::new(
                    ErrorCode::Internal,
                    format!("cannot create data dir {}: {e}", data_dir.display()),
                )
            })?;
        crate::file_modes::tighten_fresh_data_dir(data_dir);
        crate::file_modes::warn_if_loosened(data_dir);
        let lock = lock_data_dir(data_dir)?;
        let mount_dir = crate::mounts::root(&config, data_dir);
        crate::mounts::clear(&mount_dir);
        // Bound to the fabric once it exists (it needs the manager, which
        // needs the engine).
        let guest_fabric = Arc::new(GuestFabric::new());
        let engine = start_engine(engine_config(&config, mount_dir, guest_fabric.clone()));
        let listeners = match listeners {
            Some(bound) => bound,
            None => Listeners::bind(&config).await?,
        };
        let api_socket = listeners.api_addr(&config);
        let api_addr = api_socket.to_string();
        let mesh = Arc::new(MeshNode::start(&config, api_socket.port()).await?);
        let listener = listeners.api;
        let metrics_listener = listeners.metrics;
        let replica = Replica::open_on(&config, &api_addr, listeners.raft, listeners.bulk).await?;
        let api_tls = api::https::server_config(&config, scheme)?;
        let registry = replica.registry();
        replica.bootstrap().await?;
        let admin_key = if replica.is_founder() && !registry_has_admin(&registry)? {
            bootstrap_admin(&registry, data_dir).await?
        } else {
            None
        };
        let engine = engine.await.map_err(|e| {
            UserError::new(
                ErrorCode::Internal,
                format!("cannot start the wasm engine: {e}"),
            )
        })?;
        let profiles = config.profile_table()?;
        let ceiling = engine.config().pool_max_memory_bytes;
        for profile in profiles.iter().filter(|p| p.memory_bytes > ceiling) {
            warn!(
                profile = %profile.name,
                memory_bytes = profile.memory_bytes,
                pool_max_memory_bytes = ceiling,
                "profile memory is above the engine's instance pool ceiling; clamped to it"
            );
        }
        let dataplane = replica
            .bulk()
            .map(|bulk| Arc::new(DataPlane::new(config.node_id, bulk, replica.raft())));
        let lease = Arc::new(HomeLease::new(config.replication.home_lease()));
        let mut manager = SandboxManager::new(
            data_dir.clone(),
            config.node_id,
            registry.clone(),
            engine,
            profiles,
            config.limits.max_open_workbooks,
        )?
        .with_dock_policy(config.dock.clone());
        let replicas = match &dataplane {
            Some(plane) => {
                let copies = Arc::new(Copies::open(data_dir).map_err(|e| {
                    UserError::new(
                        ErrorCode::Internal,
                        format!(
                            "cannot open the replica copies in {}: {e}",
                            data_dir.display()
                        ),
                    )
                })?);
                let replicas = Arc::new(Replicas::new(ReplicasParts {
                    node_id: config.node_id,
                    config: config.replication.clone(),
                    copies: copies.clone(),
                    registry: registry.clone(),
                    raft: replica.raft(),
                    dataplane: plane.clone(),
                    lease: lease.clone(),
                    data_dir: data_dir.clone(),
                }));
                manager = manager.with_replication(Arc::new(Hooks::new(replicas.clone(), copies)));
                Some(replicas)
            }
            None => None,
        };
        let report = manager.recover()?;
        if !report.repaired.is_empty() || !report.lost.is_empty() {
            warn!(
                repaired = report.repaired.len(),
                lost = report.lost.len(),
                orphans = report.removed_orphans.len(),
                "recovery pass reconciled sandbox files"
            );
        }
        let manager = Arc::new(manager);
        let fabric = Arc::new(Fabric::new(
            config.node_id,
            manager.clone(),
            dataplane.clone(),
        ));
        guest_fabric.bind(&fabric);
        let state = Arc::new(AppState {
            node_id: config.node_id,
            raft: replica.raft(),
            contact: replica.contact(),
            ca_fingerprint: replica.ca_fingerprint().to_owned(),
            registry,
            fabric,
            manager,
            shutting_down: Arc::new(AtomicBool::new(false)),
            limits: config.limits.clone(),
            labels: config.node.labels.clone(),
            uploads: Arc::new(UploadSlots::new(
                config.limits.max_concurrent_uploads,
                config.limits.max_concurrent_uploads_per_tenant,
            )),
            auth_failures: AuthLimiter::new(config.limits.max_auth_failures),
            key_usage: Arc::new(KeyUsage::default()),
            dataplane,
            replicas,
            lease,
            mesh,
        });
        Ok(Node {
            config,
            state,
            listener,
            metrics_listener,
            api_tls,
            replica,
            admin_key,
            _lock: lock,
        })
    }

    /// Mints a join token pinned to this node's cluster CA; returns the
    /// token string and the CA fingerprint.
    pub async fn mint_join_token(
        &self,
        terms: crate::cluster::tokens::TokenTerms,
    ) -> Result<(String, String), UserError> {
        let fingerprint = self.state.ca_fingerprint.clone();
        let (token, _) =
            crate::cluster::tokens::mint(&self.state.registry, &fingerprint, terms).await?;
        Ok((token, fingerprint))
    }

    /// Records in the registry whether this node holds the cluster CA key
    /// (`nexus init` waits for it, so the first joins can be forwarded to
    /// the founder from any node).
    pub async fn record_ca_holding(&self) -> Result<bool, UserError> {
        self.replica.record_ca_holding().await
    }

    /// Prints where the node listens, its data dir and admin key, and what
    /// to try first.
    pub fn announce(&self) {
        let config = &self.config;
        let addr = self.local_addr().unwrap_or(config.listen);
        let key_file = config.data_dir.join(ADMIN_KEY_FILE);
        let scheme = match self.api_tls {
            Some(_) => ApiScheme::Https,
            None => ApiScheme::Http,
        };
        println!(
            "nexus node {} listening on {}://{addr}",
            config.node_id,
            scheme.as_str()
        );
        println!("  data dir:  {}", config.data_dir.display());
        if scheme == ApiScheme::Https && config.api.cert.is_none() {
            println!(
                "  CA:        {} (the CLI trusts it with --config; curl with --cacert)",
                crate::cluster::identity::tls_dir(&config.data_dir)
                    .join(nexus_tls::identity::NODE_CA_FILE)
                    .display()
            );
        }
        match &self.admin_key {
            Some(key) => println!(
                "  admin key: {key}\n             (saved to {}, mode 0600; shown only this once)",
                key_file.display()
            ),
            None if key_file.exists() => println!("  admin key: in {}", key_file.display()),
            None => println!(
                "  admin key: held by the node that founded the cluster (pass --key or NEXUS_API_KEY)"
            ),
        }
        println!("  try:       nexus workbook pack examples/hello -o hello.workbook");
        println!("             nexus dock hello.workbook");
        println!("             nexus call <sandbox-id> -- world");
    }

    /// The address the API is bound to.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Docks the example workbook in `dir` and calls it once.
    pub async fn run_example(&self, dir: &Path) -> Result<(), UserError> {
        example::dock_and_call(&self.state, &self.config.data_dir, dir).await
    }

    /// Serves until `shutdown` resolves or the node learns that the cluster
    /// removed it, then waits for in-flight requests and stops the
    /// sandboxes' schedules and Raft. Says which of the two stopped it.
    pub async fn serve(
        mut self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<Stopped, UserError> {
        let (stop_peers, peers_stopped) = tokio::sync::oneshot::channel::<()>();
        let peer_tasks = self.replica.spawn(async {
            let _ = peers_stopped.await;
        })?;
        let router = api::router(self.state.clone());
        let flag = self.state.shutting_down.clone();
        let ladder = tokio::spawn(run_ladder(
            self.state.manager.clone(),
            self.config.lifecycle.clone(),
        ));
        let scheduler = tokio::spawn(run_schedules(
            self.state.manager.clone(),
            self.config.lifecycle.schedule_tick_ms,
        ));
        let key_flusher = tokio::spawn(key_usage::run_flusher(
            self.state.key_usage.clone(),
            self.state.registry.clone(),
        ));
        let mesh_record = tokio::spawn(mesh::keep_recorded(
            self.state.registry.clone(),
            self.state.mesh.clone(),
        ));
        let mesh_reconcile = tokio::spawn(mesh::reconcile(
            self.state.registry.clone(),
            self.state.mesh.clone(),
        ));
        let (stop_dataplane, dataplane_stopped) = tokio::sync::oneshot::channel::<()>();
        let dataplane = self.state.dataplane.as_ref().map(|plane| {
            let limits = &self.config.limits;
            let manager = self.state.manager.clone();
            let handlers = dataplane::Handlers {
                router: router.clone(),
                raft: self.state.raft.clone(),
                manager: manager.clone(),
                replicas: self.state.replicas.clone().map(|replicas| {
                    let handler: dataplane::ReplicaHandler =
                        Arc::new(move |peer, open, send, recv| {
                            let replicas = replicas.clone();
                            Box::pin(async move { replicas.receive(peer, open, send, recv).await })
                        });
                    handler
                }),
                fabric: Arc::new(move |peer, open, send, recv| {
                    Box::pin(crate::fabric::worker::serve(
                        manager.clone(),
                        peer,
                        open,
                        send,
                        recv,
                    ))
                }),
            };
            tokio::spawn(dataplane::serve(
                plane.endpoint(),
                handlers,
                limits.max_header_bytes,
                Duration::from_millis(limits.header_read_timeout_ms.max(1)),
                async {
                    let _ = dataplane_stopped.await;
                },
            ))
        });
        if let Some(plane) = self.state.dataplane.clone() {
            tokio::spawn(async move { plane.warm_up().await });
        }
        let replication = self.state.replicas.clone().map(|replicas| {
            let home_timeout = self.config.replication.home_timeout();
            [
                tokio::spawn(self.state.lease.clone().keep(self.state.registry.clone())),
                tokio::spawn(replicas.clone().keep_factors()),
                tokio::spawn(replicas.fail_over_gone_homes(self.replica.liveness(), home_timeout)),
            ]
        });
        let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
        let metrics_port = self.metrics_listener.take().map(|listener| {
            tokio::spawn(api::conn::serve(
                listener,
                api::metrics::router(self.state.clone()),
                FrontDoor::new(&self.config.limits),
                async {
                    let _ = metrics_stopped.await;
                },
            ))
        });
        let door = FrontDoor::new(&self.config.limits).with_tls(self.api_tls.clone());
        let removed = self.replica.removed();
        let node_id = self.config.node_id;
        let (why, stopped_by) = tokio::sync::oneshot::channel();
        api::conn::serve(self.listener, router, door, async move {
            let stopped = tokio::select! {
                () = shutdown => Stopped::Asked,
                removal = removed => Stopped::Removed(removal),
            };
            flag.store(true, Ordering::SeqCst);
            match stopped {
                Stopped::Asked => info!("shutting down: finishing in-flight calls"),
                Stopped::Removed(removal) => error!(
                    node_id,
                    reason = removal.reason(),
                    exit_code = REMOVED_EXIT_CODE,
                    "this node was removed from the cluster: stopping its API and sandboxes; \
                     wipe its data dir and join again with a new token to bring the machine back"
                ),
            }
            let _ = why.send(stopped);
        })
        .await;
        let stopped = stopped_by.await.unwrap_or(Stopped::Asked);
        let replication = replication.into_iter().flatten();
        for task in [ladder, scheduler, key_flusher, mesh_record, mesh_reconcile]
            .into_iter()
            .chain(replication)
        {
            task.abort();
            let _ = task.await;
        }
        // A removed node can no longer write to the registry.
        if matches!(stopped, Stopped::Asked) {
            if let Err(e) =
                key_usage::flush_on_exit(&self.state.key_usage, &self.state.registry).await
            {
                warn!(error = %e, "could not report the last API key uses");
            }
        }
        let _ = stop_metrics.send(());
        if let Some(task) = metrics_port {
            let _ = task.await;
        }
        let _ = stop_dataplane.send(());
        if let Some(task) = dataplane {
            let _ = task.await;
        }
        let _ = stop_peers.send(());
        self.replica.shutdown().await;
        for task in peer_tasks {
            task.abort();
            let _ = task.await;
        }
        self.state.registry.checkpoint()?;
        info!("stopped");
        Ok(stopped)
    }
}

/// Why [`Node::serve`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Its shutdown future resolved (a signal).
    Asked,
    /// The cluster removed this node.
    Removed(Removal),
}

impl Stopped {
    /// The process exit code: 0, or [`REMOVED_EXIT_CODE`] for a removed node.
    pub fn exit_code(self) -> i32 {
        match self {
            Stopped::Asked => 0,
            Stopped::Removed(_) => REMOVED_EXIT_CODE,
        }
    }
}

/// Applies the idle ladder every tick until aborted.
async fn run_ladder(manager: Arc<SandboxManager>, config: LifecycleConfig) {
    let mut tick = tokio::time::interval(Duration::from_millis(config.tick_ms.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = manager.ladder_tick(&config).await {
            warn!(error = %e, "idle ladder tick failed");
        }
    }
}

/// Fires due schedules every tick until aborted.
async fn run_schedules(manager: Arc<SandboxManager>, tick_ms: u64) {
    let mut tick = tokio::time::interval(Duration::from_millis(tick_ms.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = manager.schedule_tick() {
            warn!(error = %e, "schedule tick failed");
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Makes the wasm engine on a blocking thread while the node opens its
/// stores and joins Raft: the engine's instance pool maps and guards a stack
/// per slot (thousands of `mprotect`s, CPU time), while the rest of a start
/// mostly waits on fsyncs.
fn start_engine(config: EngineConfig) -> impl std::future::Future<Output = Result<Engine, String>> {
    let made = tokio::task::spawn_blocking(move || Engine::with_config(config));
    async move {
        match made.await {
            Ok(engine) => engine.map_err(|e| e.to_string()),
            Err(e) => Err(format!("the thread making it failed: {e}")),
        }
    }
}

/// The engine's configuration from the node's.
fn engine_config(config: &Config, mount_dir: PathBuf, fabric: Arc<GuestFabric>) -> EngineConfig {
    let data_dir = &config.data_dir;
    EngineConfig {
        cache_dir: Some(data_dir.join("modcache")),
        mount_dir: Some(mount_dir),
        host: HostConfig {
            queue: config.queue.clone(),
            net: config.net.clone(),
            signer: Some(Arc::new(TenantKeys::new(data_dir))),
            fabric: Some(fabric),
        },
        compile: config.limits.compile_config(),
        pool_instances: config.limits.instances(),
        instance_wait: config.limits.instance_wait(),
        ..EngineConfig::default()
    }
}

/// Holds an exclusive lock on `{data_dir}/node.lock` for the node's life.
pub(crate) fn lock_data_dir(data_dir: &Path) -> Result<File, UserError> {
    let path = data_dir.join("node.lock");
    let file = File::create(&path).map_err(|e| {
        UserError::new(
            ErrorCode::Internal,
            format!("cannot create {}: {e}", path.display()),
        )
    })?;
    file.try_lock().map_err(|_| {
        UserError::new(
            ErrorCode::DataDirLocked,
            format!(
                "data dir {} is in use by another nexus node",
                data_dir.display()
            ),
        )
    })?;
    Ok(file)
}

/// Whether this node's registry has the default (admin) tenant or any
/// live admin key (the default tenant may have been removed once another
/// tenant held an admin key: no new admin key is minted then).
fn registry_has_admin(registry: &RegistryHandle) -> Result<bool, UserError> {
    registry.read(|r| {
        Ok(r.tenant_by_name(DEFAULT_TENANT)?.is_some()
            || r.api_keys(None)?.iter().any(|k| k.role == Role::Admin))
    })
}

/// Makes the default tenant and its admin key (on the founding node, when
/// its registry has none). Returns the key, which is shown only this once;
/// `None` if the tenant turned out to exist already.
///
/// The founder of a static cluster cannot commit until a majority of the
/// members is up, and the other members may start much later: it waits for
/// them however long that takes, saying so once per write deadline.
async fn bootstrap_admin(
    registry: &RegistryHandle,
    data_dir: &Path,
) -> Result<Option<String>, UserError> {
    let key = loop {
        match create_tenant(registry, DEFAULT_TENANT, Role::Admin, ADMIN_KEY_NAME).await {
            Ok((_, key)) => break key,
            Err(e) if e.is(ErrorCode::TenantExists) => return Ok(None),
            Err(e) if e.is(ErrorCode::ClusterNoLeader) => warn!(
                error = %e.message,
                "waiting for a majority of the cluster's members to start before making the admin key"
            ),
            Err(e) => return Err(e),
        }
    };
    write_secret(&data_dir.join(ADMIN_KEY_FILE), &key)?;
    Ok(Some(key))
}

/// Writes a secret and a newline, readable only by its owner (mode 0600),
/// atomically: a crash leaves the old file or the whole new one.
pub(crate) fn write_secret(path: &Path, secret: &str) -> Result<(), UserError> {
    nexus_durable::write_file(
        path,
        format!("{secret}\n").as_bytes(),
        nexus_durable::PRIVATE_FILE,
    )
    .map_err(|e| UserError::new(ErrorCode::Internal, format!("cannot {e}")))
}
