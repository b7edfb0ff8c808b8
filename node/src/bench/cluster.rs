//! Registry writes on a three-node cluster: three [`Replica`]s in this
//! process, on loopback, talking gRPC over mTLS exactly as separate nodes do
//! (each with its own SQLite log and registry, fsync on every commit).

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use nexus_raft::replication::Timing;
use nexus_raft::Role;
use nexus_tls::ca::CA_VALIDITY;
use nexus_tls::ClusterCa;
use tokio::sync::oneshot;

use super::internal;
use super::report::{percentile_us, Figure};
use crate::cluster::{PeerConfig, RegistryHandle, Replica};
use crate::config::Config;
use crate::tenants;
use nexus_errors::{ErrorCode, UserError};
use tokio::task::JoinHandle;

const NODES: u64 = 3;
const CLIENTS: usize = 64;

/// One in-process node: its replica, the switch that stops its server and
/// its configuration (to start it again on the same data dir).
struct BenchNode {
    replica: Replica,
    stop: Option<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
    config: Config,
}

impl BenchNode {
    /// Opens the replica on `config` and serves its peers.
    async fn start(config: Config) -> Result<BenchNode, UserError> {
        let mut replica = Replica::open(&config, "").await?;
        let (stop, stopped) = oneshot::channel::<()>();
        let tasks = replica.spawn(async {
            let _ = stopped.await;
        })?;
        Ok(BenchNode {
            replica,
            stop: Some(stop),
            tasks,
            config,
        })
    }

    /// Stops its server and Raft, as a crash looks to the peers: the port
    /// refuses connections from then on. Returns its configuration.
    async fn stop(mut self) -> Config {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.replica.shutdown().await;
        for task in self.tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
        self.config
    }

    /// Starts a stopped node again on its data dir (retrying while its
    /// ports are still being released).
    async fn restart(config: Config) -> Result<BenchNode, UserError> {
        let mut tries = 0;
        loop {
            match BenchNode::start(config.clone()).await {
                Err(e) if e.is(ErrorCode::NodeBindFailed) && tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => return other,
            }
        }
    }
}

/// Runs the cluster scenarios: `writes` writes with one client, the same
/// with [`CLIENTS`] clients (counting the elections it caused), then
/// `kills` times the leader is stopped, the next write through a survivor
/// timed and the stopped node started again.
pub async fn registry_writes(writes: usize, kills: usize) -> Result<Vec<Figure>, UserError> {
    let dir = tempfile::tempdir().map_err(|e| internal(&format!("temp dir: {e}")))?;
    let mut nodes = start_cluster(&dir.path().join("daemon"), Timing::daemon()).await?;
    let leader = leader_of(&nodes[0].replica).await?;
    let handles: Vec<RegistryHandle> = nodes.iter().map(|n| n.replica.registry()).collect();
    let registry = |id: u64| handles[(id - 1) as usize].clone();

    let mut figures = Vec::new();
    let (rate, mut one) = timed_writes(&registry(leader), "one", 1, writes).await?;
    figures.push(latency(
        "registry write, 1 client, p50",
        &mut one,
        50.0,
        Some(2.0),
    ));
    figures.push(latency(
        "registry write, 1 client, p99",
        &mut one,
        99.0,
        None,
    ));
    figures.push(throughput("registry writes/s, 1 client", rate, None));
    let follower = (1..=NODES).find(|id| *id != leader).unwrap_or(leader);
    let (_, mut forwarded) = timed_writes(&registry(follower), "fwd", 1, writes / 4).await?;
    figures.push(latency(
        "registry write via a follower, p50",
        &mut forwarded,
        50.0,
        None,
    ));
    let mut quiet = quiet_writes(&registry(leader), (writes / 100).clamp(3, 20)).await?;
    let mut after_quiet = latency(
        "registry write after 300 ms of quiet, p50",
        &mut quiet,
        50.0,
        None,
    );
    after_quiet.note = format!(
        "{} writes, each after {} ms without one (lifecycle calls and token mints \
         mostly come alone); 3 nodes",
        quiet.len(),
        QUIET.as_millis()
    );
    figures.push(after_quiet);
    let term_before = term(&nodes);
    let (rate, mut many) = timed_writes(&registry(leader), "many", CLIENTS, writes * 4).await?;
    let elections = term(&nodes).saturating_sub(term_before);
    figures.push(throughput(
        "registry writes/s, 64 clients",
        rate,
        Some(20_000.0),
    ));
    figures.push(latency(
        "registry write, 64 clients, p50",
        &mut many,
        50.0,
        None,
    ));
    figures.push(latency(
        "registry write, 64 clients, p99",
        &mut many,
        99.0,
        None,
    ));
    figures.push(Figure {
        name: "elections during the 64-client writes".into(),
        value: elections as f64,
        unit: "terms".into(),
        target: Some(0.0),
        lower_is_better: true,
        note: format!("{} writes, default timing", many.len()),
    });

    let mut losses = Vec::with_capacity(kills);
    for round in 0..kills {
        losses.push(leader_loss(&mut nodes, round).await?);
    }
    for node in nodes {
        node.stop().await;
    }
    let note = format!(
        "{kills} leaders stopped; heartbeat 100 ms, election 200–300 ms, leader timeout 1 s"
    );
    let mut failover = |name: &str, p: f64| Figure {
        name: name.into(),
        value: percentile_us(&mut losses, p) / 1e3,
        unit: "ms".into(),
        target: Some(1000.0),
        lower_is_better: true,
        note: note.clone(),
    };
    figures.push(failover("leader loss → next committed write, p50", 50.0));
    figures.push(failover("leader loss → next committed write, max", 100.0));
    Ok(figures)
}

/// The highest term any running node has seen.
fn term(nodes: &[BenchNode]) -> u64 {
    nodes
        .iter()
        .map(|n| n.replica.raft().metrics().borrow().current_term)
        .max()
        .unwrap_or(0)
}

/// Stops the leader's server and Raft, then times the next write committed
/// through a survivor (its gateway retries until a new leader commits it),
/// and starts the stopped node again, waiting until it has caught up.
async fn leader_loss(nodes: &mut Vec<BenchNode>, round: usize) -> Result<Duration, UserError> {
    let leader = leader_of(&nodes[0].replica).await?;
    let survivor = (1..=NODES).find(|id| *id != leader).unwrap_or(leader);
    let registry = nodes[(survivor - 1) as usize].replica.registry();
    create_tenant(&registry, &format!("before-loss-{round}")).await?;
    let lost = nodes.remove((leader - 1) as usize);
    let started = Instant::now();
    let config = lost.stop().await;
    create_tenant(&registry, &format!("after-loss-{round}")).await?;
    let elapsed = started.elapsed();
    let written = registry_applied(&nodes[0]);
    let restarted = BenchNode::restart(config).await?;
    restarted
        .replica
        .raft()
        .wait(Some(Duration::from_secs(30)))
        .metrics(
            |m| m.current_leader.is_some() && m.last_applied >= written,
            "the restarted node catches up",
        )
        .await
        .map_err(|e| internal(&format!("restarted node: {e}")))?;
    nodes.insert((leader - 1) as usize, restarted);
    Ok(elapsed)
}

/// The last log id a node has applied.
fn registry_applied(node: &BenchNode) -> Option<openraft::LogId<u64>> {
    node.replica.raft().metrics().borrow().last_applied
}

/// Starts three replicas with certificates from a fresh cluster CA.
async fn start_cluster(dir: &std::path::Path, timing: Timing) -> Result<Vec<BenchNode>, UserError> {
    let ca = ClusterCa::create("bench").map_err(|e| internal(&e.to_string()))?;
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let ports = free_ports(NODES as usize)?;
    let peers: Vec<PeerConfig> = (1..=NODES)
        .zip(&ports)
        .map(|(id, port)| PeerConfig {
            id,
            raft: format!("127.0.0.1:{port}"),
            api: String::new(),
            bulk: None,
        })
        .collect();
    let mut nodes = Vec::new();
    for (id, port) in (1..=NODES).zip(&ports) {
        let mut config = Config {
            data_dir: dir.join(format!("node-{id}")),
            node_id: id,
            ..Config::default()
        };
        config.cluster.raft_listen = Some(std::net::SocketAddr::new(loopback, *port));
        config.cluster.peers = peers.clone();
        config.cluster.heartbeat_ms = millis(timing.heartbeat);
        config.cluster.election_min_ms = millis(timing.election_min);
        config.cluster.election_max_ms = millis(timing.election_max);
        ca.issue_local_identity(id, &[loopback], CA_VALIDITY)
            .and_then(|identity| Ok(identity.save(&config.data_dir.join("tls"))?))
            .map_err(|e| internal(&format!("identity: {e}")))?;
        nodes.push(BenchNode::start(config).await?);
    }
    for node in &nodes {
        node.replica.bootstrap().await?;
    }
    Ok(nodes)
}

/// `count` loopback port numbers free a moment ago for both TCP and UDP
/// (a node binds its Raft port over TCP and its QUIC endpoint over UDP).
pub(super) fn free_ports(count: usize) -> Result<Vec<u16>, UserError> {
    let fail = |e: std::io::Error| internal(&format!("free port: {e}"));
    // All probes stay bound until every port is picked, so none repeats; a
    // TCP port whose UDP twin another process holds is passed over.
    let mut probes = Vec::with_capacity(count);
    for _ in 0..count * 64 {
        if probes.len() == count {
            break;
        }
        let tcp = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(fail)?;
        let port = tcp.local_addr().map_err(fail)?.port();
        if let Ok(udp) = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, port)) {
            probes.push((tcp, udp, port));
        }
    }
    if probes.len() < count {
        return Err(internal(&format!(
            "free port: found {} of {count} ports free for both TCP and UDP",
            probes.len()
        )));
    }
    Ok(probes.iter().map(|(_, _, port)| *port).collect())
}

/// Waits for a leader and returns its id.
async fn leader_of(replica: &Replica) -> Result<u64, UserError> {
    let metrics = replica
        .raft()
        .wait(Some(Duration::from_secs(30)))
        .metrics(|m| m.current_leader.is_some(), "a leader is elected")
        .await
        .map_err(|e| internal(&format!("no leader: {e}")))?;
    metrics.current_leader.ok_or_else(|| internal("no leader"))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One registry write: a tenant with its key, as `POST /v1/tenants` makes it.
async fn create_tenant(registry: &RegistryHandle, name: &str) -> Result<(), UserError> {
    tenants::create_tenant(registry, name, Role::Tenant, tenants::FIRST_KEY_NAME).await?;
    Ok(())
}

/// `total` writes spread over `clients` concurrent writers: the rate and
/// every write's latency.
async fn timed_writes(
    registry: &RegistryHandle,
    label: &str,
    clients: usize,
    total: usize,
) -> Result<(f64, Vec<Duration>), UserError> {
    let per_client = total.div_ceil(clients);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let registry = registry.clone();
        let label = label.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let name = format!("{label}-{client}-{i}");
                let began = Instant::now();
                create_tenant(&registry, &name).await?;
                samples.push(began.elapsed());
            }
            Ok::<_, UserError>(samples)
        }));
    }
    let mut samples = Vec::new();
    for task in tasks {
        let done = task
            .await
            .map_err(|e| internal(&format!("writer failed: {e}")))?;
        samples.extend(done?);
    }
    let rate = samples.len() as f64 / started.elapsed().as_secs_f64();
    Ok((rate, samples))
}

/// Quiet before each of [`quiet_writes`]' writes: longer than the
/// checkpointers' interval, so each write finds its WAL copied.
const QUIET: Duration = Duration::from_millis(300);

/// `count` writes, one at a time, each after [`QUIET`]: their latencies.
async fn quiet_writes(registry: &RegistryHandle, count: usize) -> Result<Vec<Duration>, UserError> {
    let mut samples = Vec::with_capacity(count);
    for i in 0..count {
        tokio::time::sleep(QUIET).await;
        let began = Instant::now();
        create_tenant(registry, &format!("quiet-{i}")).await?;
        samples.push(began.elapsed());
    }
    Ok(samples)
}

fn latency(name: &str, samples: &mut [Duration], p: f64, target_ms: Option<f64>) -> Figure {
    Figure {
        name: name.into(),
        value: percentile_us(samples, p) / 1e3,
        unit: "ms".into(),
        target: target_ms,
        lower_is_better: true,
        note: format!("{} writes, 3 nodes, gRPC + mTLS on loopback", samples.len()),
    }
}

fn throughput(name: &str, rate: f64, target: Option<f64>) -> Figure {
    Figure {
        name: name.into(),
        value: rate,
        unit: "/s".into(),
        target,
        lower_is_better: false,
        note: "each write: leader log fsync, quorum append, registry commit".into(),
    }
}
