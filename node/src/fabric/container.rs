//! The container tier: each worker runs in a throwaway Docker container
//! (`docker run --rm -i`, no network, a read-only root, no capabilities,
//! memory, CPU and process ceilings) from the locally built worker image
//! ([`WorkerImage`]). The container runs `nexus fabric-worker`, which
//! speaks the node tier's messages over its stdin and stdout: the node
//! ships the module, then feeds inputs ([`Feed`]). A container that fails
//! puts its in-flight inputs back for the others; when every container has
//! failed, the job fails with the last reason.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::task::JoinSet;
use tracing::{info, warn};

use super::feed::Feed;
use super::job::JobState;
use super::local::Local;
use super::wire::{self, ContainerOpen, WORKER_IDLE};
use super::worker;
use crate::sandbox::KernelSource;
use nexus_engine::{Engine, EngineConfig, Profile, ProfileModuleLimits};
use nexus_errors::{Coded, ErrorCode, UserError};

pub use super::docker::WorkerImage;

/// The most containers one job starts.
pub const MAX_CONTAINERS: usize = 16;
/// Memory a container gets beyond the profile's guest memory (the
/// runtime and compiled code).
const RUNTIME_MEMORY: u64 = 512 << 20;
/// Processes (threads) a container may have.
const PIDS_LIMIT: &str = "64";
/// How much of a container's stderr is kept for the failure message.
const STDERR_KEPT: usize = 2048;
/// How long a container may take to exit once its inputs are done.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the job's inputs in up to `width` containers of `image` (at most
/// [`MAX_CONTAINERS`], the width split between them).
pub async fn run(local: Local, image: String, width: usize) {
    let containers = width.min(local.job.total()).clamp(1, MAX_CONTAINERS);
    let slots = (width / containers).max(1);
    let mut tasks = JoinSet::new();
    for n in 0..containers {
        tasks.spawn(container(local.clone(), image.clone(), n, slots));
    }
    let mut last_failure = None;
    while let Some(joined) = tasks.join_next().await {
        if let Ok(Err(reason)) = joined {
            last_failure = Some(reason);
        }
    }
    if let Some(reason) = last_failure {
        local.job.finish(
            JobState::Failed,
            Some(format!("every container worker failed; the last: {reason}")),
        );
    }
}

/// Runs container `n` until the queue is drained; on failure puts its
/// in-flight inputs back and returns why.
async fn container(local: Local, image: String, n: usize, slots: usize) -> Result<(), String> {
    let name = format!("nexus-{}-{n}", local.job.id());
    let profile = local.source.profile();
    let memory = (profile.memory_bytes + RUNTIME_MEMORY).to_string();
    let mut child = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--interactive",
            "--network",
            "none",
            "--read-only",
        ])
        .args(["--cap-drop", "ALL", "--security-opt", "no-new-privileges"])
        .args(["--memory", &memory, "--memory-swap", &memory, "--cpus", "1"])
        .args(["--pids-limit", PIDS_LIMIT, "--name", &name, &image])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("`docker run` cannot start: {e}"))?;
    let stderr = tokio::spawn(keep_start(child.stderr.take()));
    let mut in_flight = BTreeSet::new();
    let driven = match (child.stdin.take(), child.stdout.take()) {
        (Some(mut stdin), Some(mut stdout)) => {
            let feed = Feed {
                local: &local,
                node: local.node,
                slots,
                count_here: true,
            };
            let open = open_message(local.source.as_ref(), slots);
            match wire::send(&mut stdin, &open, &[]).await {
                Ok(()) => feed.drive(&mut stdin, &mut stdout, &mut in_flight).await,
                Err(e) => Err(format!("container did not take the job: {e}")),
            }
            // Dropping stdin here tells the worker no more inputs come.
        }
        _ => Err("`docker run` gave no stdin or stdout".into()),
    };
    let exited = finish(&mut child, &name, driven.is_ok()).await;
    let driven = driven.and(exited);
    if let Err(reason) = &driven {
        let said = stderr.await.unwrap_or_default();
        let reason = match said.trim() {
            "" => reason.clone(),
            said => format!("{reason} (docker said: {said})"),
        };
        warn!(job = local.job.id(), container = name, %reason, put_back = in_flight.len(), "fabric container failed; its inputs run elsewhere");
        local.queue.put_back(in_flight);
        return Err(reason);
    }
    info!(
        job = local.job.id(),
        container = name,
        "fabric container done"
    );
    Ok(())
}

/// What container worker's first message says of `source`.
fn open_message(source: &KernelSource, slots: usize) -> ContainerOpen {
    let profile = source.profile();
    ContainerOpen {
        sha256: source.sha256().to_owned(),
        slots: u32::try_from(slots).unwrap_or(u32::MAX),
        profile: profile.name.clone(),
        memory_bytes: profile.memory_bytes,
        cpu_time_ms: u64::try_from(profile.cpu_time.as_millis()).unwrap_or(u64::MAX),
        wall_time_ms: u64::try_from(profile.wall_time.as_millis()).unwrap_or(u64::MAX),
        output_bytes: profile.output_bytes as u64,
        capabilities: profile.capabilities,
    }
}

/// Waits for the container to exit (it does once its stdin closes); a
/// container that does not, or that was abandoned (`clean` false), is
/// removed by force.
async fn finish(child: &mut Child, name: &str, clean: bool) -> Result<(), String> {
    if clean {
        match tokio::time::timeout(EXIT_TIMEOUT, child.wait()).await {
            Ok(Ok(status)) if status.success() => return Ok(()),
            Ok(Ok(status)) => return Err(format!("the container exited with {status}")),
            _ => {}
        }
    }
    let _ = child.kill().await;
    let _ = Command::new("docker")
        .args(["rm", "--force", name])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    if clean {
        Err(format!(
            "the container did not exit within {}s",
            EXIT_TIMEOUT.as_secs()
        ))
    } else {
        Ok(())
    }
}

/// The first [`STDERR_KEPT`] bytes of `stream` (the rest is read and
/// dropped, so the container never blocks on a full pipe).
async fn keep_start(stream: Option<impl AsyncRead + Unpin>) -> String {
    let Some(mut stream) = stream else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut buffer = [0; 4096];
    while let Ok(n) = stream.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        let room = STDERR_KEPT.saturating_sub(kept.len());
        kept.extend_from_slice(&buffer[..n.min(room)]);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// `nexus fabric-worker`: the process inside a container. Reads the job's
/// [`ContainerOpen`] and the module from stdin, then serves inputs until
/// stdin closes.
pub async fn worker_main() -> Result<(), UserError> {
    let (mut stdin, mut stdout) = (tokio::io::stdin(), tokio::io::stdout());
    let open: ContainerOpen = wire::receive(&mut stdin, WORKER_IDLE).await.map_err(|e| {
        UserError::new(
            ErrorCode::RequestInvalid,
            format!("fabric worker: no job on stdin: {e}"),
        )
    })?;
    let wasm = worker::receive_module(&mut stdout, &mut stdin).await?;
    let source = match detached_source(&open, wasm).await {
        Ok(source) => source,
        Err(error) => return worker::refuse(error, &mut stdout).await,
    };
    worker::serve_inputs(source, &open.sha256, open.slots, stdout, stdin, |_| {}).await
}

/// The kernel of `open` on an engine of its own, sized for its slots.
async fn detached_source(open: &ContainerOpen, wasm: Vec<u8>) -> Result<KernelSource, UserError> {
    let profile = Profile {
        name: open.profile.clone(),
        memory_bytes: open.memory_bytes,
        cpu_time: Duration::from_millis(open.cpu_time_ms),
        wall_time: Duration::from_millis(open.wall_time_ms),
        output_bytes: usize::try_from(open.output_bytes).unwrap_or(usize::MAX),
        max_concurrent: open.slots.max(1),
        capabilities: open.capabilities,
        module_limits: ProfileModuleLimits::default(),
        volume_bytes: 0,
        workspace_read_only: true,
    };
    let engine = Engine::with_config(EngineConfig {
        pool_instances: open.slots.saturating_add(1),
        pool_max_memory_bytes: open.memory_bytes,
        ..EngineConfig::default()
    })
    .map_err(|e| e.to_user_error())?;
    KernelSource::detached(engine, profile, wasm).await
}
