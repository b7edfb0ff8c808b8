//! The repository's `docker-compose.yml` cluster, driven through the
//! `docker-compose` and `docker` commands: bring it up and down, and break
//! its containers one way or another (kill, pause, cut from the network).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The compose network the containers share (`networks.nexus.name`).
pub const NETWORK: &str = "nexus-compose";

/// One node's container.
#[derive(Debug, Clone)]
pub struct Container {
    /// Its name (`nexus1`).
    pub name: String,
    /// Its address on [`NETWORK`].
    pub ip: String,
}

impl Container {
    /// Its API base URL.
    pub fn url(&self) -> String {
        format!("https://{}:2026", self.ip)
    }
}

/// The cluster of a compose file.
pub struct Compose {
    files: Vec<PathBuf>,
    /// The node containers, `nexus1` (the founder) first.
    pub containers: Vec<Container>,
}

/// Runs `program args`; its stdout, or why it failed.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// `docker ARGS`.
fn docker(args: &[&str]) -> Result<String, String> {
    run("docker", args)
}

impl Compose {
    /// The cluster `files` describe, with `nodes` nodes named `nexus1`…
    /// at `172.30.26.11`….
    pub fn new(files: Vec<PathBuf>, nodes: usize) -> Compose {
        let containers = (1..=nodes)
            .map(|n| Container {
                name: format!("nexus{n}"),
                ip: format!("172.30.26.{}", 10 + n),
            })
            .collect();
        Compose { files, containers }
    }

    fn compose(&self, args: &[&str]) -> Result<String, String> {
        let mut all: Vec<String> = Vec::new();
        for file in &self.files {
            all.push("-f".to_owned());
            all.push(file.display().to_string());
        }
        all.extend(args.iter().map(|a| (*a).to_owned()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        run("docker-compose", &all)
    }

    /// `docker-compose up -d`.
    pub fn up(&self) -> Result<(), String> {
        self.compose(&["up", "-d"]).map(|_| ())
    }

    /// `docker-compose down -v`: containers, network and volumes.
    pub fn down(&self) -> Result<(), String> {
        self.compose(&["down", "-v", "--timeout", "5"]).map(|_| ())
    }

    /// Copies `path` out of container `name` into `dir`; returns the copy.
    pub fn copy_out(&self, name: &str, path: &str, dir: &Path) -> Result<PathBuf, String> {
        let file = Path::new(path)
            .file_name()
            .ok_or_else(|| format!("{path} names no file"))?;
        let to = dir.join(file);
        docker(&["cp", &format!("{name}:{path}"), &to.display().to_string()])?;
        Ok(to)
    }

    /// SIGKILL.
    pub fn kill(&self, name: &str) -> Result<(), String> {
        docker(&["kill", name]).map(|_| ())
    }

    /// Starts a stopped container (nothing if it runs).
    pub fn start(&self, name: &str) -> Result<(), String> {
        docker(&["start", name]).map(|_| ())
    }

    /// Freezes every process of the container (`docker pause`).
    pub fn pause(&self, name: &str) -> Result<(), String> {
        docker(&["pause", name]).map(|_| ())
    }

    /// Thaws a paused container.
    pub fn unpause(&self, name: &str) -> Result<(), String> {
        docker(&["unpause", name]).map(|_| ())
    }

    /// Cuts the container off the network (every peer and client).
    pub fn disconnect(&self, name: &str) -> Result<(), String> {
        docker(&["network", "disconnect", "--force", NETWORK, name]).map(|_| ())
    }

    /// Puts the container back on the network at its own address.
    pub fn reconnect(&self, container: &Container) -> Result<(), String> {
        docker(&[
            "network",
            "connect",
            "--ip",
            &container.ip,
            NETWORK,
            &container.name,
        ])
        .map(|_| ())
    }

    /// Stops every container (SIGTERM, then SIGKILL after 2 s) and starts
    /// them again.
    pub fn restart_all(&self) -> Result<(), String> {
        let mut args = vec!["restart", "--time", "2"];
        args.extend(self.containers.iter().map(|c| c.name.as_str()));
        docker(&args).map(|_| ())
    }
}

/// Waits, at most `within`, until `check` holds; how long it took.
pub async fn wait_for<F, Fut>(within: Duration, mut check: F) -> Result<Duration, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let start = Instant::now();
    loop {
        match check().await {
            Ok(()) => return Ok(start.elapsed()),
            Err(e) if start.elapsed() > within => {
                return Err(format!("not within {within:?}: {e}"))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
