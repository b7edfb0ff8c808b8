//! Clusters grown the way an operator grows one: `nexus init` on the first
//! node, `nexus join --token-file FILE --peer` on the others. No test CA and no static
//! peer list: every certificate comes from the cluster's own CA over the
//! join RPC.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::{free_port, node_ip, spawn, Cluster, NodeHandle};
use crate::proxy::Partition;

/// The outcome of a `nexus join` that was expected to fail.
#[derive(Debug)]
pub struct JoinAttempt {
    /// Whether the process exited successfully.
    pub success: bool,
    /// Its stdout and stderr.
    pub output: String,
    /// The data dir it was given.
    pub data_dir: PathBuf,
}

impl JoinAttempt {
    /// Asserts the documented refusal: the join failed with `error[code]`
    /// and the joiner kept no certificate, key or join record.
    pub fn assert_refused(&self, code: &str) {
        assert!(!self.success, "the join was not refused: {}", self.output);
        assert!(
            self.output.contains(&format!("error[{code}]")),
            "expected {code}: {}",
            self.output
        );
        for kept in ["tls/node.pem", "tls/node.key", "cluster/joined.json"] {
            assert!(
                !self.data_dir.join(kept).exists(),
                "a refused joiner kept {kept}"
            );
        }
    }
}

/// How a test hands `nexus join` its token.
#[derive(Debug, Clone, Copy)]
pub enum TokenVia<'a> {
    /// `--token-file PATH`.
    File(&'a str),
    /// `--token-file -`, the token on stdin.
    Stdin(&'a str),
    /// `NEXUS_JOIN_TOKEN`.
    Env(&'a str),
    /// A positional argument (refused).
    Argument(&'a str),
}

/// A `nexus join` process started by [`Cluster::spawn_joiner`].
pub struct Joiner {
    /// The process.
    pub process: std::process::Child,
    /// The data dir it was given.
    pub data_dir: PathBuf,
}

impl Joiner {
    /// Whether the cluster admitted it (its join record exists).
    pub fn admitted(&self) -> bool {
        self.data_dir.join("cluster").join("joined.json").exists()
    }

    /// Kills it if it still runs and collects what it printed.
    pub fn finish(mut self) -> JoinAttempt {
        let _ = self.process.kill();
        let out = self.process.wait_with_output().expect("nexus join output");
        JoinAttempt {
            success: out.status.success(),
            output: crate::knock::combined(&out),
            data_dir: self.data_dir,
        }
    }
}

/// Writes the nexus.toml of node slot `slot` (no node id, no peers) and
/// returns its handle.
fn plan(dir: &Path, slot: u64) -> NodeHandle {
    let ip = node_ip(slot);
    let api = SocketAddr::new(ip, free_port(ip));
    let raft = SocketAddr::new(ip, free_port(ip));
    let data_dir = dir.join(format!("node-{slot}"));
    let config = dir.join(format!("node-{slot}.toml"));
    let toml = format!(
        "listen = \"{api}\"\ndata_dir = \"{}\"\n\n[cluster]\nname = \"grown\"\n\
         raft_listen = \"{raft}\"\nheartbeat_ms = 100\nelection_min_ms = 1000\n\
         election_max_ms = 2000\nwrite_timeout_ms = 8000\n",
        data_dir.display()
    );
    std::fs::write(&config, toml).expect("write config");
    NodeHandle {
        id: slot,
        api,
        raft,
        log: dir.join(format!("node-{slot}.log")),
        data_dir,
        config,
        first_start: None,
        child: None,
        next_env: Vec::new(),
        _proxy: None,
    }
}

impl Cluster {
    /// `nexus init --token-uses {nodes - 1}` and `nexus serve` on node 1,
    /// then `nexus join` with the token from `tls/join-token` on nodes
    /// 2..=nodes, each waited for until ready.
    pub async fn init_and_join(nodes: u64) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = plan(dir.path(), 1);
        let init = Command::new(crate::binary::nexus())
            .args(["init", "--config"])
            .arg(&first.config)
            .args(["--token-uses", &nodes.saturating_sub(1).max(1).to_string()])
            .output()
            .expect("run nexus init");
        assert!(init.status.success(), "nexus init: {init:?}");
        let ca_pem = std::fs::read_to_string(first.data_dir.join("tls").join("ca.pem"))
            .expect("nexus init wrote tls/ca.pem");
        let mut cluster = Cluster::empty(dir, Partition::default(), BTreeMap::new(), ca_pem);
        cluster.nodes.insert(1, first);
        spawn(cluster.nodes.get_mut(&1).expect("node 1"));
        cluster.wait_ready(1).await;
        cluster.read_admin_key(1);
        let token = cluster.init_token();
        for slot in 2..=nodes {
            cluster.join(slot, &token, 1).await;
        }
        cluster
    }

    /// The token `nexus init` left in node 1's data dir.
    pub fn init_token(&self) -> String {
        let file = self.nodes[&1].data_dir.join("tls").join("join-token");
        std::fs::read_to_string(file)
            .expect("nexus init wrote tls/join-token")
            .trim()
            .to_owned()
    }

    /// Starts node slot `slot` with `nexus join --token-file FILE --peer` (node
    /// `peer`'s Raft address) and waits until it is ready. Later restarts
    /// use `nexus serve`, without the token.
    pub async fn join(&mut self, slot: u64, token: &str, peer: u64) {
        let mut node = plan(self.dir.path(), slot);
        let token_file = self.dir.path().join(format!("node-{slot}.token"));
        std::fs::write(&token_file, token).expect("write the token file");
        node.first_start = Some(vec![
            "join".to_owned(),
            "--token-file".to_owned(),
            token_file.display().to_string(),
            "--peer".to_owned(),
            self.nodes[&peer].raft.to_string(),
            "--config".to_owned(),
            node.config.display().to_string(),
        ]);
        spawn(&mut node);
        self.nodes.insert(slot, node);
        self.wait_ready(slot).await;
    }

    /// Runs `nexus join --token-file FILE --peer PEER` for a fresh node
    /// named `name`, expecting it to fail (a join that succeeds would keep
    /// running: it is killed and reported as a success).
    pub fn join_attempt(&self, name: &str, token: &str, peer: SocketAddr) -> JoinAttempt {
        self.join_attempt_via(name, TokenVia::File(token), peer)
    }

    /// Like [`Cluster::join_attempt`], handing the token over `via`.
    pub fn join_attempt_via(&self, name: &str, via: TokenVia<'_>, peer: SocketAddr) -> JoinAttempt {
        wait_for_exit(self.spawn_joiner(name, via, peer))
    }

    /// Like [`Cluster::join_attempt`] while another socket holds the
    /// joiner's API port.
    pub fn join_attempt_port_taken(
        &self,
        name: &str,
        token: &str,
        peer: SocketAddr,
    ) -> JoinAttempt {
        let node = self.plan_joiner(name);
        let _taken = std::net::TcpListener::bind(node.api).expect("take the API port");
        wait_for_exit(spawn_planned(&node, TokenVia::File(token), peer))
    }

    /// Starts `nexus join` for a fresh node named `name` (its own dir,
    /// config and free ports on 127.0.1.9) without waiting for it.
    pub fn spawn_joiner(&self, name: &str, via: TokenVia<'_>, peer: SocketAddr) -> Joiner {
        spawn_planned(&self.plan_joiner(name), via, peer)
    }

    fn plan_joiner(&self, name: &str) -> NodeHandle {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).expect("attempt dir");
        plan(&dir, 9)
    }

    /// Waits until node `id` sees exactly `voters` as voters (and, with
    /// `learners`, those as learners).
    pub async fn wait_members(&self, id: u64, voters: &[u64], learners: &[u64]) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = (Vec::new(), Vec::new());
        while Instant::now() < deadline {
            let (status, body) = self.get(id, "/v1/cluster/status").await;
            if status == 200 {
                let of_kind = |kind: &str| -> Vec<u64> {
                    body["members"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|m| m["kind"] == kind)
                        .filter_map(|m| m["id"].as_u64())
                        .collect()
                };
                seen = (of_kind("voter"), of_kind("learner"));
                if seen.0 == voters && seen.1 == learners {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "node {id} never saw voters {voters:?} and learners {learners:?}; last seen {seen:?}\n{}",
            self.log_tail(id)
        );
    }

    /// Runs `nexus ARGS --config <node id's nexus.toml>` to completion.
    pub fn run(&self, id: u64, args: &[&str]) -> std::process::Output {
        Command::new(crate::binary::nexus())
            .args(args)
            .arg("--config")
            .arg(&self.nodes[&id].config)
            .output()
            .expect("run nexus")
    }

    /// Kills node slot `slot` and deletes its data dir.
    pub fn wipe(&mut self, slot: u64) {
        self.kill(slot);
        let node = self.nodes.remove(&slot).expect("known node");
        std::fs::remove_dir_all(&node.data_dir).expect("remove data dir");
    }
}

/// Waits (at most 30 s) for a joiner expected to fail, then collects it.
fn wait_for_exit(mut child: Joiner) -> JoinAttempt {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if child.process.try_wait().expect("poll nexus join").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.finish()
}

/// Starts `nexus join` for the planned `node`, handing it the token `via`.
fn spawn_planned(node: &NodeHandle, via: TokenVia<'_>, peer: SocketAddr) -> Joiner {
    let dir = node.config.parent().expect("config dir");
    let mut command = Command::new(crate::binary::nexus());
    command.arg("join");
    match via {
        TokenVia::File(token) | TokenVia::Stdin(token) => {
            let file = dir.join("token");
            std::fs::write(&file, token).expect("write the token file");
            if matches!(via, TokenVia::File(_)) {
                command.arg("--token-file").arg(&file);
            } else {
                command.args(["--token-file", "-"]);
                command.stdin(std::fs::File::open(&file).expect("token file"));
            }
        }
        TokenVia::Env(token) => {
            command.env("NEXUS_JOIN_TOKEN", token);
        }
        TokenVia::Argument(token) => {
            command.arg(token);
        }
    }
    let process = command
        .args(["--peer", &peer.to_string(), "--config"])
        .arg(&node.config)
        .env("NEXUS_LOG", "info,openraft=warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nexus join");
    Joiner {
        process,
        data_dir: node.data_dir.clone(),
    }
}
