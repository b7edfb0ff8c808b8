//! A cluster of real `nexus` processes, each in its own network namespace
//! of an [`Underlay`], with the WireGuard mesh on and every node
//! advertising its mesh address (`[cluster] advertise = "mesh"`). The test
//! reaches each node with the CLI run inside that node's namespace.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::netns::{Underlay, UNDERLAY};

/// The Raft (and QUIC) port of every node.
const RAFT_PORT: u16 = 2027;
/// The API port of every node.
const API_PORT: u16 = 2026;

/// One node of a [`MeshCluster`].
pub struct MeshNode {
    /// Its slot (1-based; the cluster gives it this node id too).
    pub slot: u8,
    /// Its underlay host number (`{UNDERLAY}.{host}`).
    pub host: u8,
    /// Its WireGuard interface name.
    pub interface: String,
    /// Its nexus.toml.
    pub config: PathBuf,
    /// Its data dir.
    pub data_dir: PathBuf,
    /// Its log.
    pub log: PathBuf,
    child: Option<Child>,
}

/// Three (or more) nodes meshed over an underlay of namespaces.
pub struct MeshCluster {
    /// The namespaces (dropped last: it kills what still runs).
    pub underlay: Underlay,
    /// The nodes, slot 1 first.
    pub nodes: Vec<MeshNode>,
    dir: tempfile::TempDir,
}

impl MeshCluster {
    /// `nexus init` and `nexus serve` on slot 1, `nexus join` on the
    /// others, each waited for until its API answers.
    pub fn start(n: u8) -> MeshCluster {
        let mut underlay = Underlay::new(n);
        let dir = tempfile::tempdir().expect("temp dir");
        let nodes = (1..=n)
            .map(|slot| {
                let interface = underlay.wireguard_name(slot);
                let node = MeshNode {
                    slot,
                    host: slot,
                    interface,
                    config: dir.path().join(format!("node-{slot}.toml")),
                    data_dir: dir.path().join(format!("node-{slot}")),
                    log: dir.path().join(format!("node-{slot}.log")),
                    child: None,
                };
                node.write_config();
                node
            })
            .collect();
        let mut cluster = MeshCluster {
            underlay,
            nodes,
            dir,
        };
        let init = cluster.nexus(1, &["init", "--token-uses", &(n - 1).max(1).to_string()]);
        assert!(init.status.success(), "nexus init: {init:?}");
        cluster.spawn(1, &["serve"]);
        cluster.wait_ready(1);
        let token = std::fs::read_to_string(cluster.nodes[0].data_dir.join("tls/join-token"))
            .expect("nexus init wrote tls/join-token");
        let token_file = cluster.dir.path().join("token");
        std::fs::write(&token_file, token.trim()).expect("write the token");
        let peer = format!("{UNDERLAY}.1:{RAFT_PORT}");
        for slot in 2..=n {
            let token_file = token_file.display().to_string();
            cluster.spawn(
                slot,
                &["join", "--token-file", &token_file, "--peer", &peer],
            );
            cluster.wait_ready(slot);
        }
        cluster
    }

    /// Node slot `slot`.
    pub fn node(&self, slot: u8) -> &MeshNode {
        &self.nodes[usize::from(slot) - 1]
    }

    /// The admin key (node 1 made it).
    pub fn admin_key(&self) -> String {
        std::fs::read_to_string(self.nodes[0].data_dir.join("admin.key"))
            .expect("admin key")
            .trim()
            .to_owned()
    }

    /// Runs `nexus ARGS --config <slot's config>` in its namespace.
    pub fn nexus(&self, slot: u8, args: &[&str]) -> std::process::Output {
        let node = self.node(slot);
        let binary = crate::binary::nexus();
        let mut all: Vec<&str> = vec![binary.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        let config = node.config.display().to_string();
        all.extend_from_slice(&["--config", &config]);
        self.underlay.exec(slot, all[0], &all[1..])
    }

    /// `nexus ARGS --json` with the admin key, in slot's namespace, parsed.
    pub fn cli_json(&self, slot: u8, args: &[&str]) -> Result<serde_json::Value, String> {
        let key = self.admin_key();
        let mut all = args.to_vec();
        all.extend_from_slice(&["--json", "--key", &key]);
        let out = self.nexus(slot, &all);
        if !out.status.success() {
            return Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| format!("not JSON: {e}"))
    }

    /// Starts `nexus ARGS --config …` for slot in its namespace, logging
    /// to its log file.
    pub fn spawn(&mut self, slot: u8, args: &[&str]) {
        let ns = self.underlay.ns(slot).to_owned();
        let node = &mut self.nodes[usize::from(slot) - 1];
        assert!(node.child.is_none(), "node {slot} already runs");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .expect("open node log");
        let child = Command::new("ip")
            .args(["netns", "exec", &ns])
            .arg(crate::binary::nexus())
            .args(args)
            .arg("--config")
            .arg(&node.config)
            .env("NEXUS_LOG", "info,openraft=warn")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn nexus");
        node.child = Some(child);
    }

    /// Stops node slot `slot` (SIGTERM, then waits).
    pub fn stop(&mut self, slot: u8) {
        let node = &mut self.nodes[usize::from(slot) - 1];
        if let Some(mut child) = node.child.take() {
            let _ = crate::netns::run("kill", &["-TERM", &child.id().to_string()]);
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Moves slot's underlay address to `{UNDERLAY}.{host}` and restarts
    /// it there (`nexus serve` with the new address in its nexus.toml).
    pub fn readdress_and_restart(&mut self, slot: u8, host: u8) {
        self.stop(slot);
        self.underlay.readdress(slot, host);
        let node = &mut self.nodes[usize::from(slot) - 1];
        node.host = host;
        node.write_config();
        self.spawn(slot, &["serve"]);
    }

    /// Waits (at most 60 s) until slot's API answers `nexus status`.
    pub fn wait_ready(&self, slot: u8) {
        self.wait(slot, "its API to answer", Duration::from_secs(60), || {
            self.cli_json(slot, &["status"]).map(|_| ())
        });
    }

    /// Polls `check` every 200 ms until it passes or `limit` runs out; then
    /// panics with the last failure and slot's log tail.
    pub fn wait(
        &self,
        slot: u8,
        what: &str,
        limit: Duration,
        mut check: impl FnMut() -> Result<(), String>,
    ) {
        let deadline = Instant::now() + limit;
        let mut last = String::new();
        while Instant::now() < deadline {
            match check() {
                Ok(()) => return,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "node {slot}: waited {limit:?} for {what}; last: {last}\n--- log tail ---\n{}",
            self.log_tail(slot)
        );
    }

    /// The last lines of slot's log.
    pub fn log_tail(&self, slot: u8) -> String {
        let text = std::fs::read_to_string(&self.node(slot).log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl MeshNode {
    /// Its mesh address (the registry hands them out in join order).
    pub fn mesh_address(&self) -> String {
        format!("10.99.0.{}", self.slot)
    }

    fn write_config(&self) {
        let ip = format!("{UNDERLAY}.{}", self.host);
        // The API listens on the namespace's loopback: the test's CLI runs
        // in the namespace, and a re-addressed underlay leaves it alone.
        let toml = format!(
            "listen = \"127.0.0.1:{API_PORT}\"\ndata_dir = \"{}\"\n\n\
             [cluster]\nname = \"meshed\"\nraft_listen = \"0.0.0.0:{RAFT_PORT}\"\n\
             advertise_raft = \"{ip}:{RAFT_PORT}\"\nadvertise = \"mesh\"\n\
             heartbeat_ms = 100\nelection_min_ms = 1000\nelection_max_ms = 2000\n\
             write_timeout_ms = 8000\n\n\
             [mesh]\nenabled = true\ninterface = \"{}\"\npersistent_keepalive = 5\n",
            self.data_dir.display(),
            self.interface
        );
        std::fs::write(&self.config, toml).expect("write config");
    }
}

impl Drop for MeshCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
