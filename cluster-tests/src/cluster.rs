//! [`Cluster`]: N `nexus serve` processes forming one static cluster.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nexus_errors::error_chain;
use nexus_tls::ca::CA_VALIDITY;
use nexus_tls::ClusterCa;
use serde_json::{json, Value};

use crate::proxy::{FaultProxy, Partition};

/// Knobs of a test cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Number of nodes (ids 1..=nodes).
    pub nodes: u64,
    /// `[cluster] snapshot_every_logs` of every node.
    pub snapshot_every_logs: u64,
    /// `[cluster] logs_kept_after_snapshot` of every node.
    pub logs_kept_after_snapshot: u64,
    /// More TOML tables for every node's config (e.g. `[limits]`).
    pub extra_config: String,
    /// More TOML for one node's config (e.g. its `[node]` labels), by id.
    pub node_config: BTreeMap<u64, String>,
    /// Environment variables of every node's first start.
    pub env: Vec<(String, String)>,
    /// How long after node 1 (the founder) the other nodes start.
    pub others_start_after: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            nodes: 3,
            snapshot_every_logs: 10_000,
            logs_kept_after_snapshot: 20_000,
            extra_config: String::new(),
            node_config: BTreeMap::new(),
            env: Vec::new(),
            others_start_after: Duration::ZERO,
        }
    }
}

/// One node of the cluster.
pub struct NodeHandle {
    /// Node id.
    pub id: u64,
    /// Its HTTP API.
    pub api: SocketAddr,
    /// Its peer (Raft, mTLS) port, without the proxy.
    pub raft: SocketAddr,
    /// Its data dir.
    pub data_dir: PathBuf,
    pub(crate) config: PathBuf,
    pub(crate) log: PathBuf,
    /// The command line of the next start, if not `serve --config` (a
    /// joiner's first start is `nexus join`).
    pub(crate) first_start: Option<Vec<String>>,
    pub(crate) child: Option<Child>,
    /// Environment variables of the next start only.
    pub(crate) next_env: Vec<(String, String)>,
    pub(crate) _proxy: Option<FaultProxy>,
}

impl NodeHandle {
    /// The API base URL (cluster nodes serve HTTPS).
    pub fn url(&self) -> String {
        format!("https://{}", self.api)
    }

    /// Its nexus.toml.
    pub fn config_path(&self) -> &std::path::Path {
        &self.config
    }

    /// The process id of its running process.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether its process runs.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

/// A running test cluster; dropping it kills every node.
pub struct Cluster {
    pub(crate) nodes: BTreeMap<u64, NodeHandle>,
    pub(crate) partition: Partition,
    pub(crate) http: reqwest::Client,
    pub(crate) admin_key: String,
    /// The cluster CA certificate (PEM) every node's API certificate chains to.
    pub(crate) ca_pem: String,
    pub(crate) dir: tempfile::TempDir,
}

/// The loopback address of node `id` (its API, Raft port and source address).
pub(crate) fn node_ip(id: u64) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 1, id as u8))
}

/// The loopback address of the proxy in front of node `id`.
fn proxy_ip(id: u64) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 2, id as u8))
}

/// A port free on `ip` right now and never handed out before by this
/// process: the kernel may give a just-released port to the next
/// `bind(0)`, and fifty joiners planned at once would then collide.
pub(crate) fn free_port(ip: IpAddr) -> u16 {
    static GIVEN: std::sync::Mutex<Vec<(IpAddr, u16)>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port = std::net::TcpListener::bind((ip, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        if !given.contains(&(ip, port)) {
            given.push((ip, port));
            return port;
        }
    }
}

impl Cluster {
    /// Starts a cluster and waits until every node is ready.
    pub async fn start(options: ClusterOptions) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = ClusterCa::create("test").expect("cluster CA");
        let partition = Partition::default();
        let mut plans = Vec::new();
        for id in 1..=options.nodes {
            let api = SocketAddr::new(node_ip(id), free_port(node_ip(id)));
            let raft = SocketAddr::new(node_ip(id), free_port(node_ip(id)));
            let proxy = FaultProxy::start(
                SocketAddr::new(proxy_ip(id), 0),
                raft,
                id,
                partition.clone(),
            )
            .await;
            plans.push((id, api, raft, proxy));
        }
        let peers: String = plans
            .iter()
            .map(|(id, api, raft, proxy)| {
                // Raft goes through the fault proxy (TCP); the data plane
                // (QUIC, UDP) goes to the node directly.
                format!(
                    "[[cluster.peers]]\nid = {id}\nraft = \"{}\"\napi = \"{api}\"\nbulk = \"{raft}\"\n",
                    proxy.addr()
                )
            })
            .collect();
        let mut nodes = BTreeMap::new();
        for (id, api, raft, proxy) in plans {
            let data_dir = dir.path().join(format!("node-{id}"));
            ca.issue_local_identity(id, &[node_ip(id)], CA_VALIDITY)
                .expect("node identity")
                .save(&data_dir.join("tls"))
                .expect("save identity");
            let config = dir.path().join(format!("node-{id}.toml"));
            let toml = format!(
                "listen = \"{api}\"\ndata_dir = \"{}\"\nnode_id = {id}\n\n[cluster]\n\
                 raft_listen = \"{raft}\"\nadvertise_raft = \"{}\"\nadvertise_bulk = \"{raft}\"\nheartbeat_ms = 100\n\
                 election_min_ms = 1000\nelection_max_ms = 2000\nwrite_timeout_ms = 8000\n\
                 snapshot_every_logs = {}\nlogs_kept_after_snapshot = {}\n\n{peers}\n{}\n{}",
                data_dir.display(),
                proxy.addr(),
                options.snapshot_every_logs,
                options.logs_kept_after_snapshot,
                options.extra_config,
                options.node_config.get(&id).map_or("", String::as_str),
            );
            std::fs::write(&config, toml).expect("write config");
            let mut node = NodeHandle {
                id,
                api,
                raft,
                log: dir.path().join(format!("node-{id}.log")),
                data_dir,
                config,
                first_start: None,
                child: None,
                next_env: options.env.clone(),
                _proxy: Some(proxy),
            };
            if id == 2 {
                tokio::time::sleep(options.others_start_after).await;
            }
            spawn(&mut node);
            nodes.insert(id, node);
        }
        let mut cluster = Cluster::empty(dir, partition, nodes, ca.ca_pem());
        for id in 1..=options.nodes {
            cluster.wait_ready(id).await;
        }
        cluster.read_admin_key(1);
        cluster
    }

    pub(crate) fn empty(
        dir: tempfile::TempDir,
        partition: Partition,
        nodes: BTreeMap<u64, NodeHandle>,
        ca_pem: String,
    ) -> Cluster {
        let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("the CA is PEM");
        Cluster {
            nodes,
            partition,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .tls_built_in_root_certs(false)
                .add_root_certificate(ca)
                .build()
                .expect("http client"),
            admin_key: String::new(),
            ca_pem,
            dir,
        }
    }

    /// An HTTP client that trusts the cluster CA (and nothing else).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The admin key of the founding node.
    pub fn admin_key(&self) -> &str {
        &self.admin_key
    }

    /// The cluster CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Takes the admin key node `id` wrote when it founded the cluster.
    pub(crate) fn read_admin_key(&mut self, id: u64) {
        let key_file = self.nodes[&id].data_dir.join("admin.key");
        self.admin_key = std::fs::read_to_string(key_file)
            .expect("the founding node wrote admin.key")
            .trim()
            .to_owned();
    }

    /// The node `id`.
    pub fn node(&self, id: u64) -> &NodeHandle {
        &self.nodes[&id]
    }

    /// Ids of the nodes whose process runs.
    pub fn running(&self) -> Vec<u64> {
        self.nodes
            .values()
            .filter(|n| n.is_running())
            .map(|n| n.id)
            .collect()
    }

    /// Kills node `id` with SIGKILL.
    pub fn kill(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).expect("known node");
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks node `id` to stop with SIGTERM (a graceful stop; see
    /// [`Cluster::wait_exit`]).
    pub fn terminate(&self, id: u64) {
        let pid = self.nodes[&id].pid().expect("node runs");
        crate::netns::must("kill", &["-TERM", &pid.to_string()]);
    }

    /// Waits, at most `within`, for node `id`'s process to exit on its own;
    /// returns its exit code (`None`: killed by a signal).
    pub async fn wait_exit(&mut self, id: u64, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            let node = self.nodes.get_mut(&id).expect("known node");
            let child = node.child.as_mut().expect("node runs");
            if let Some(status) = child.try_wait().expect("poll node") {
                node.child = None;
                return status.code();
            }
            if Instant::now() >= deadline {
                panic!(
                    "node {id} still runs {within:?} later; log:\n{}",
                    self.log_tail(id)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The size of node `id`'s log file in bytes.
    pub fn log_bytes(&self, id: u64) -> u64 {
        std::fs::metadata(&self.nodes[&id].log).map_or(0, |m| m.len())
    }

    /// Starts node `id` again on its data dir and waits until it is ready.
    pub async fn restart(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).expect("known node");
        spawn(node);
        self.wait_ready(id).await;
    }

    /// Starts node `id` again with `env` set for this start only, and waits
    /// until it is ready (e.g. `NEXUS_FAULT_CRASH_AT`).
    pub async fn restart_with_env(&mut self, id: u64, env: &[(&str, &str)]) {
        let node = self.nodes.get_mut(&id).expect("known node");
        node.next_env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        spawn(node);
        self.wait_ready(id).await;
    }

    /// Starts node `id` again without waiting (for whole-cluster restarts,
    /// where no node is ready before a quorum is back).
    pub fn spawn(&mut self, id: u64) {
        spawn(self.nodes.get_mut(&id).expect("known node"));
    }

    /// Cuts node `id` off from every other node, both ways.
    pub fn isolate(&self, id: u64) {
        self.partition.isolate(id);
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.partition.heal();
    }

    /// Waits until node `id` answers `GET /ready`.
    pub async fn wait_ready(&self, id: u64) {
        let url = format!("{}/ready", self.nodes[&id].url());
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(r) = self.http.get(&url).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let others: String = self
            .nodes
            .keys()
            .filter(|other| **other != id)
            .map(|other| format!("\nnode {other}'s log:\n{}", self.log_tail(*other)))
            .collect();
        panic!(
            "node {id} not ready in 60 s; log:\n{}{others}",
            self.log_tail(id)
        );
    }

    /// Everything node `id` has logged.
    pub fn log(&self, id: u64) -> String {
        std::fs::read_to_string(&self.nodes[&id].log).unwrap_or_default()
    }

    /// The last lines of node `id`'s log (for failure messages).
    pub fn log_tail(&self, id: u64) -> String {
        let text = self.log(id);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// The last lines of every node's log, each under its node's name: for
    /// a failure that may lie on another node than the one asked (a routed
    /// call, a replica).
    pub fn log_tails(&self) -> String {
        self.nodes
            .keys()
            .map(|id| format!("--- node {id} log:\n{}", self.log_tail(*id)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `GET path` on node `id` with the admin key: status code and body.
    pub async fn get(&self, id: u64, path: &str) -> (u16, Value) {
        let request = self.http.get(format!("{}{path}", self.nodes[&id].url()));
        self.send(request).await
    }

    /// `DELETE path` on node `id` with the admin key.
    pub async fn delete(&self, id: u64, path: &str) -> (u16, Value) {
        let request = self.http.delete(format!("{}{path}", self.nodes[&id].url()));
        self.send(request).await
    }

    /// `POST path` with a JSON body on node `id` with the admin key.
    pub async fn post(&self, id: u64, path: &str, body: Value) -> (u16, Value) {
        let request = self
            .http
            .post(format!("{}{path}", self.nodes[&id].url()))
            .json(&body);
        self.send(request).await
    }

    /// Drains node `node` through node `via`: the steps it answered, one
    /// JSON value per line.
    pub async fn drain(&self, via: u64, node: u64) -> Vec<Value> {
        let response = self
            .http
            .post(format!(
                "{}/v1/cluster/nodes/{node}/drain",
                self.nodes[&via].url()
            ))
            .bearer_auth(&self.admin_key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "drain of node {node}");
        json_lines(&response.text().await.unwrap())
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        match request.bearer_auth(&self.admin_key).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.json().await.unwrap_or(Value::Null))
            }
            // The whole chain: reqwest's own message ("error sending
            // request") does not say whether it timed out or was refused.
            Err(e) => (0, json!({ "transport_error": error_chain(&e) })),
        }
    }

    /// The live workbook file of `sandbox` in node `id`'s data dir.
    pub fn live_file(&self, id: u64, sandbox: &str) -> PathBuf {
        self.nodes[&id]
            .data_dir
            .join("sandboxes")
            .join(format!("{sandbox}.workbook"))
    }

    /// `POST /v1/sandboxes/{sandbox}/call` with `body` through node `id`.
    pub async fn call(&self, id: u64, sandbox: &str, body: Value) -> (u16, Value) {
        self.post(id, &format!("/v1/sandboxes/{sandbox}/call"), body)
            .await
    }

    /// Creates tenant `name` through node `id` (a registry write).
    pub async fn create_tenant(&self, id: u64, name: &str) -> (u16, Value) {
        self.post(id, "/v1/tenants", json!({ "name": name })).await
    }

    /// Tenant names as node `id` reads them (a linearizable read).
    pub async fn tenant_names(&self, id: u64) -> Vec<String> {
        let (status, body) = self.get(id, "/v1/tenants").await;
        assert_eq!(status, 200, "tenant list on node {id}: {body}");
        let mut names: Vec<String> = body["tenants"]
            .as_array()
            .expect("tenants array")
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect();
        names.sort();
        names
    }

    /// Docks the repository's `examples/echo-wat` workbook as `name` on
    /// node `id`; returns the sandbox id.
    pub async fn dock_echo(&self, id: u64, name: &str) -> String {
        let (status, body) = self.dock_echo_with(id, name, &[]).await;
        assert_eq!(status, 201, "dock on node {id}: {body}");
        body["id"].as_str().expect("sandbox id").to_owned()
    }

    /// Uploads the `examples/echo-wat` workbook as `name` to node `id`
    /// with `query` added to `?name=`; returns the answer.
    pub async fn dock_echo_with(
        &self,
        id: u64,
        name: &str,
        query: &[(&str, &str)],
    ) -> (u16, Value) {
        self.dock_example_with(id, "echo-wat", name, query).await
    }

    /// Docks the repository's `examples/{example}` workbook as `name` on
    /// node `id` with `query` added to `?name=`; returns the sandbox id.
    pub async fn dock_example(
        &self,
        id: u64,
        example: &str,
        name: &str,
        query: &[(&str, &str)],
    ) -> String {
        let (status, body) = self.dock_example_with(id, example, name, query).await;
        assert_eq!(status, 201, "dock {example} on node {id}: {body}");
        body["id"].as_str().expect("sandbox id").to_owned()
    }

    async fn dock_example_with(
        &self,
        id: u64,
        example: &str,
        name: &str,
        query: &[(&str, &str)],
    ) -> (u16, Value) {
        let example = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../examples")
            .join(example);
        self.dock_dir_with(id, &example, name, query).await
    }

    /// Packs the workbook directory `dir` (a `workbook.toml` and its
    /// modules) and docks it as `name` through node `id` with `query`
    /// added to `?name=`; returns the answer.
    pub async fn dock_dir_with(
        &self,
        id: u64,
        dir: &std::path::Path,
        name: &str,
        query: &[(&str, &str)],
    ) -> (u16, Value) {
        let path = self.dir.path().join(format!("{name}.workbook"));
        let made = Command::new(crate::binary::nexus())
            .args(["workbook", "pack"])
            .arg(dir)
            .arg("-o")
            .arg(&path)
            .output()
            .expect("run nexus workbook pack");
        assert!(made.status.success(), "{made:?}");
        let bytes = std::fs::read(&path).expect("read workbook");
        let request = self
            .http
            .post(format!("{}/v1/sandboxes", self.nodes[&id].url()))
            .query(&[("name", name)])
            .query(query)
            .body(bytes);
        self.send(request).await
    }

    /// Node `id`'s `nexus status`.
    pub async fn status(&self, id: u64) -> Value {
        let (status, body) = self.get(id, "/v1/cluster/status").await;
        assert_eq!(status, 200, "status of node {id}: {body}");
        body
    }

    /// Waits until every running node names the same leader among `among`,
    /// and returns it.
    pub async fn agreed_leader(&self, among: &[u64]) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            seen.clear();
            for id in among {
                let (_, body) = self.get(*id, "/v1/cluster/status").await;
                seen.push(body["leader"].as_u64());
            }
            if let Some(Some(leader)) = seen.first().copied() {
                if seen.iter().all(|l| *l == Some(leader)) && among.contains(&leader) {
                    return leader;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("nodes {among:?} did not agree on a leader in 30 s: {seen:?}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for id in self.running() {
            self.kill(id);
        }
    }
}

/// Starts a node's process (its first start as planned, later ones with
/// `nexus serve`), its output appended to its log.
pub(crate) fn spawn(node: &mut NodeHandle) {
    assert!(node.child.is_none(), "node {} already runs", node.id);
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&node.log)
        .expect("open node log");
    let args = node.first_start.take().unwrap_or_else(|| {
        vec![
            "serve".to_owned(),
            "--config".to_owned(),
            node.config.display().to_string(),
        ]
    });
    let child = Command::new(crate::binary::nexus())
        .args(args)
        .env("NEXUS_LOG", "info,openraft=warn")
        .envs(std::mem::take(&mut node.next_env))
        .stdout(Stdio::from(log.try_clone().expect("clone log")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn nexus");
    node.child = Some(child);
}

/// The JSON values of `text`, one per line (a drain's answer, `--json` output).
pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect()
}
