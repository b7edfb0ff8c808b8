//! The data plane between two nodes: two whole nodes in this process — API
//! over HTTPS, Raft over gRPC, the data plane over QUIC, mutual TLS with
//! certificates from a fresh cluster CA — on loopback, as two `nexus serve`
//! processes would run. A sandbox holding `mib` MiB moves back and forth
//! while a client keeps calling it; then calls through its home and through
//! the other node are timed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nexus_tls::ca::CA_VALIDITY;
use nexus_tls::identity::NODE_CA_FILE;
use nexus_tls::ClusterCa;
use nexus_workbook::{Volume, Workbook};
use serde::de::DeserializeOwned;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::cluster::free_ports;
use super::report::{percentile_us, Figure};
use super::scenarios::{figure, median, timed_copy, EMPTY_COMMAND};
use super::{internal, wat_workbook};
use crate::client::NodeClient;
use crate::cluster::identity::tls_dir;
use crate::cluster::PeerConfig;
use crate::config::Config;
use crate::daemon::{Node, ADMIN_KEY_FILE};
use crate::dataplane::migrate::MoveReport;
use nexus_errors::{Coded, UserError};

/// Bytes of one workspace file of the moved workbook.
const FILE_MIB: usize = 32;

/// What the data-plane scenario does.
#[derive(Debug, Clone)]
pub struct DataPlaneRun {
    /// Workbook data moved, in MiB.
    pub mib: usize,
    /// Moves (alternating between the two nodes).
    pub moves: usize,
    /// Calls timed through the home and through the other node, each.
    pub calls: usize,
}

/// Two running nodes and an HTTPS client that trusts their CA.
pub(super) struct Pair {
    apis: [SocketAddr; 2],
    http: reqwest::Client,
    ca_pem: Vec<u8>,
    key: String,
    stops: Vec<oneshot::Sender<()>>,
    served: Vec<JoinHandle<()>>,
    dirs: [PathBuf; 2],
}

/// Runs the scenario; figures beside their targets.
pub async fn data_plane(run: &DataPlaneRun) -> Result<Vec<Figure>, UserError> {
    let dir = tempfile::tempdir().map_err(|e| internal(&format!("temp dir: {e}")))?;
    let pair = Pair::start(dir.path(), run.mib).await?;
    let result = measure(&pair, dir.path(), run).await;
    pair.stop().await;
    result
}

async fn measure(pair: &Pair, dir: &Path, run: &DataPlaneRun) -> Result<Vec<Figure>, UserError> {
    let workbook = big_workbook(&dir.join("moved.workbook"), run.mib)?;
    let size_mib = workbook.len() as f64 / f64::from(1 << 20);
    // Factor 1: every move copies the files and nothing else runs beside
    // it (no replica seed; a move to a replica would copy no file at all).
    let sandbox: nexus_raft::Sandbox = pair
        .send(
            0,
            pair.post(0, "/v1/sandboxes?node=1&factor=1").body(workbook),
        )
        .await?;
    let id = sandbox.id;
    pair.call(0, &id).await?;

    let mut rates = Vec::new();
    let mut pauses = Vec::new();
    let mut held = Vec::new();
    let mut copies = Vec::new();
    let mut home = 0;
    for _ in 0..run.moves {
        let live = pair.dirs[home].join(format!("sandboxes/{id}.workbook"));
        copies.push(timed_copy(&live, &dir.join("copy.workbook"))?);
        let to = 1 - home;
        let (stop, stopped) = watch::channel(false);
        let caller = tokio::spawn(call_until(pair.clone_client(), id.clone(), stopped));
        let moved: MoveReport = pair
            .send(
                0,
                pair.post(0, &format!("/v1/sandboxes/{id}/move"))
                    .json(&serde_json::json!({ "to": to + 1 })),
            )
            .await?;
        let _ = stop.send(true);
        let longest = caller
            .await
            .map_err(|e| internal(&format!("caller: {e}")))??;
        rates.push(moved.bytes_sent as f64 / f64::from(1 << 20) / (moved.elapsed_us as f64 / 1e6));
        pauses.push(Duration::from_micros(moved.pause_us));
        held.push(longest);
        home = to;
    }

    let mut local = Vec::with_capacity(run.calls);
    let mut routed = Vec::with_capacity(run.calls);
    for _ in 0..run.calls {
        local.push(pair.timed_call(home, &id).await?);
        routed.push(pair.timed_call(1 - home, &id).await?);
    }
    let copy_s = median(&mut copies);
    let rate = median_rate(&mut rates);
    let (local_p50, routed_p50) = (
        percentile_us(&mut local, 50.0),
        percentile_us(&mut routed, 50.0),
    );
    let moves = format!(
        "{size_mib:.0} MiB workbook, {} moves between 2 local nodes (QUIC, mTLS)",
        run.moves
    );
    Ok(vec![
        higher(
            "move throughput, median",
            rate,
            "MiB/s",
            Some(400.0),
            &moves,
        ),
        figure(
            "move time / plain copy",
            size_mib / rate / copy_s,
            "×",
            None,
            &format!("plain copy (copy + fsync) median {:.0} ms", copy_s * 1e3),
        ),
        figure(
            "move pause (calls held), p50",
            percentile_us(&mut pauses, 50.0) / 1e3,
            "ms",
            Some(100.0),
            "from the gate closing to it opening on the source",
        ),
        figure(
            "move pause (calls held), max",
            percentile_us(&mut pauses, 100.0) / 1e3,
            "ms",
            Some(100.0),
            "from the gate closing to it opening on the source",
        ),
        figure(
            "longest call during a move, p50",
            percentile_us(&mut held, 50.0) / 1e3,
            "ms",
            Some(100.0),
            "a client calling in a loop through node 1, per move",
        ),
        figure(
            "longest call during a move, max",
            percentile_us(&mut held, 100.0) / 1e3,
            "ms",
            Some(100.0),
            "a client calling in a loop through node 1, per move",
        ),
        figure(
            "routed call, added latency p50",
            routed_p50 - local_p50,
            "µs",
            Some(300.0),
            &format!(
                "{} HTTPS calls each (kept-alive); through the home p50 {local_p50:.0} µs, \
                 through the other node {routed_p50:.0} µs",
                run.calls
            ),
        ),
    ])
}

/// Calls `id` through node 1 until `stopped`; the longest call.
async fn call_until(
    pair: PairClient,
    id: String,
    mut stopped: watch::Receiver<bool>,
) -> Result<Duration, UserError> {
    let mut longest = Duration::ZERO;
    while !*stopped.borrow_and_update() {
        let started = Instant::now();
        pair.call(&id).await?;
        longest = longest.max(started.elapsed());
    }
    Ok(longest)
}

/// What the caller task needs of the pair.
struct PairClient {
    http: reqwest::Client,
    api: SocketAddr,
    key: String,
}

impl PairClient {
    async fn call(&self, id: &str) -> Result<(), UserError> {
        let response = self
            .http
            .post(format!("https://{}/v1/sandboxes/{id}/call", self.api))
            .bearer_auth(&self.key)
            .json(&serde_json::json!({}))
            .send()
            .await
            .map_err(|e| internal(&format!("call: {e}")))?;
        match response.status().as_u16() {
            200 => Ok(()),
            status => Err(internal(&format!(
                "a call during the move failed with {status}: {}",
                response.text().await.unwrap_or_default()
            ))),
        }
    }
}

impl Pair {
    /// Two nodes with data dirs under `dir`, taking uploads of `mib` MiB.
    pub(super) async fn start(dir: &Path, mib: usize) -> Result<Pair, UserError> {
        let ca = ClusterCa::create("bench").map_err(|e| internal(&e.to_string()))?;
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let ports = free_ports(4)?;
        let at = |port: u16| SocketAddr::new(loopback, port);
        let peers: Vec<PeerConfig> = (0..2)
            .map(|i| PeerConfig {
                id: i + 1,
                raft: at(ports[2 + i as usize]).to_string(),
                api: at(ports[i as usize]).to_string(),
                bulk: None,
            })
            .collect();
        let mut configs = Vec::new();
        for i in 0..2usize {
            let mut config = Config {
                listen: at(ports[i]),
                data_dir: dir.join(format!("node-{}", i + 1)),
                node_id: i as u64 + 1,
                ..Config::default()
            };
            config.cluster.raft_listen = Some(at(ports[2 + i]));
            config.cluster.peers = peers.clone();
            config.limits.max_upload_bytes = (mib + 64) << 20;
            ca.issue_local_identity(config.node_id, &[loopback], CA_VALIDITY)
                .and_then(|identity| Ok(identity.save(&tls_dir(&config.data_dir))?))
                .map_err(|e| internal(&format!("identity: {e}")))?;
            configs.push(config);
        }
        let dirs = [configs[0].data_dir.clone(), configs[1].data_dir.clone()];
        // Node 2 first, serving: the founder's first write (the admin key)
        // needs a quorum of two, and so a peer that answers.
        let mut stops = Vec::new();
        let mut served = Vec::new();
        for config in configs.into_iter().rev() {
            let node = Node::start(config).await?;
            let (stop, stopped) = oneshot::channel::<()>();
            stops.push(stop);
            served.push(tokio::spawn(async move {
                let _ = node
                    .serve(async {
                        let _ = stopped.await;
                    })
                    .await;
            }));
        }
        let read = |path: PathBuf| {
            std::fs::read(&path).map_err(|e| internal(&format!("{}: {e}", path.display())))
        };
        let ca_pem = read(tls_dir(&dirs[0]).join(NODE_CA_FILE))?;
        let key = String::from_utf8_lossy(&read(dirs[0].join(ADMIN_KEY_FILE))?)
            .trim()
            .to_owned();
        let cert = reqwest::Certificate::from_pem(&ca_pem).map_err(|e| internal(&e.to_string()))?;
        let http = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(cert)
            .build()
            .map_err(|e| internal(&e.to_string()))?;
        Ok(Pair {
            apis: [at(ports[0]), at(ports[1])],
            http,
            ca_pem,
            key,
            stops,
            served,
            dirs,
        })
    }

    fn post(&self, node: usize, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("https://{}{path}", self.apis[node]))
            .bearer_auth(&self.key)
    }

    /// Sends a request; its JSON answer, or the API error as a bench error.
    async fn send<T: DeserializeOwned>(
        &self,
        node: usize,
        request: reqwest::RequestBuilder,
    ) -> Result<T, UserError> {
        let response = request
            .send()
            .await
            .map_err(|e| internal(&format!("node {}: {e}", node + 1)))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| internal(&e.to_string()))?;
        if !status.is_success() {
            return Err(internal(&format!(
                "node {} answered {status}: {}",
                node + 1,
                String::from_utf8_lossy(&body)
            )));
        }
        serde_json::from_slice(&body).map_err(|e| internal(&e.to_string()))
    }

    fn clone_client(&self) -> PairClient {
        PairClient {
            http: self.http.clone(),
            api: self.apis[0],
            key: self.key.clone(),
        }
    }

    async fn call(&self, node: usize, id: &str) -> Result<(), UserError> {
        PairClient {
            api: self.apis[node],
            ..self.clone_client()
        }
        .call(id)
        .await
    }

    async fn timed_call(&self, node: usize, id: &str) -> Result<Duration, UserError> {
        let started = Instant::now();
        self.call(node, id).await?;
        Ok(started.elapsed())
    }

    /// An API client of node `node` (0 or 1) with the admin key.
    pub(super) fn client(&self, node: usize) -> Result<NodeClient, UserError> {
        let url = format!("https://{}", self.apis[node]);
        NodeClient::with_ca(&url, Some(self.key.clone()), Some(&self.ca_pem))
    }

    /// Stops both nodes.
    pub(super) async fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
        for served in self.served {
            let _ = served.await;
        }
    }
}

/// An empty-command workbook carrying `mib` MiB of workspace files
/// (pseudo-random bytes, 32 MiB a file); its bytes.
fn big_workbook(path: &Path, mib: usize) -> Result<Vec<u8>, UserError> {
    wat_workbook(path, "moved", EMPTY_COMMAND)?;
    let workbook = Workbook::open(path).map_err(|e| e.to_user_error())?;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for index in 0..mib.div_ceil(FILE_MIB) {
        let size = FILE_MIB.min(mib - index * FILE_MIB) << 20;
        let data: Vec<u8> = (0..size / 8)
            .flat_map(|_| {
                // xorshift64: cheap bytes that do not compress.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()
            })
            .collect();
        workbook
            .write_file(
                Volume::Workspace,
                &format!("ballast/{index}.bin"),
                &data,
                0o644,
            )
            .map_err(|e| e.to_user_error())?;
    }
    workbook.close().map_err(|e| e.to_user_error())?;
    std::fs::read(path).map_err(|e| internal(&e.to_string()))
}

fn median_rate(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn higher(name: &str, value: f64, unit: &str, target: Option<f64>, note: &str) -> Figure {
    Figure {
        lower_is_better: false,
        ..figure(name, value, unit, target, note)
    }
}
