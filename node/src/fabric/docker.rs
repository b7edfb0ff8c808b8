//! The Docker side of the container tier, through the `docker` command:
//! whether a daemon answers, and the worker image — built locally, `FROM
//! scratch`, from this very `nexus` binary and the shared libraries it
//! loads (nothing is pulled). The image is named by the binary's size and
//! modification time, so a rebuilt binary gets a new image.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use tokio::process::Command;
use tokio::sync::Mutex;
use tracing::{info, warn};

use nexus_errors::{ErrorCode, UserError};

/// How long `docker version` and `docker image inspect` may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long building the worker image may take.
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);
/// The image's repository name.
const REPOSITORY: &str = "nexus-fabric-worker";

/// The worker image of this node: checked (or built) once, then reused.
#[derive(Debug, Default)]
pub struct WorkerImage {
    tag: Mutex<Option<String>>,
}

impl WorkerImage {
    /// The image's tag, building it first if the daemon lacks it. Fails
    /// with `FABRIC_TIER_UNAVAILABLE` when Docker cannot be reached or the
    /// image cannot be built.
    pub async fn ensure(&self) -> Result<String, UserError> {
        let mut tag = self.tag.lock().await;
        // The daemon may have gone away since: ask it every time (cheap).
        probe_daemon().await?;
        if let Some(tag) = tag.as_ref() {
            return Ok(tag.clone());
        }
        let binary = std::env::current_exe()
            .map_err(|e| unavailable(format!("the nexus binary cannot be found: {e}")))?;
        let wanted = image_tag(&binary)?;
        // Nodes on one machine share the daemon: one builds, the others
        // wait and find the image.
        let _machine = machine_lock().await;
        if !has_image(&wanted).await? {
            build(&binary, &wanted).await?;
        }
        *tag = Some(wanted.clone());
        Ok(wanted)
    }
}

fn unavailable(message: String) -> UserError {
    UserError::new(
        ErrorCode::FabricTierUnavailable,
        format!("the container tier is unavailable: {message}"),
    )
}

/// An exclusive lock on a file in the temporary directory, held while a
/// node checks for and builds the image (released when dropped). Best
/// effort: without it (another user's lock file), two nodes may both build
/// the same image, which only wastes time.
async fn machine_lock() -> Option<std::fs::File> {
    let path = std::env::temp_dir().join("nexus-fabric-image.lock");
    let locked = tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await;
    match locked {
        Ok(Ok(file)) => Some(file),
        Ok(Err(e)) => {
            warn!(error = %e, "fabric image build lock unavailable; building without it");
            None
        }
        Err(_) => None,
    }
}

/// Runs `docker ARGS` within `timeout`; returns its stdout, or why it failed.
async fn docker(args: &[&str], timeout: Duration) -> Result<String, UserError> {
    let mut command = Command::new("docker");
    command.args(args).stdin(Stdio::null()).kill_on_drop(true);
    let output = tokio::time::timeout(timeout, command.output())
        .await
        .map_err(|_| {
            unavailable(format!(
                "`docker {}` took over {}s",
                args[0],
                timeout.as_secs()
            ))
        })?
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                unavailable("the `docker` command is not installed on this node".into())
            }
            _ => unavailable(format!("`docker` cannot be run: {e}")),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return Err(unavailable(format!(
            "`docker {}` failed: {}",
            args[0],
            reason.trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Fails unless a Docker daemon answers.
async fn probe_daemon() -> Result<(), UserError> {
    docker(
        &["version", "--format", "{{.Server.Version}}"],
        PROBE_TIMEOUT,
    )
    .await
    .map(|_| ())
}

/// Whether the daemon holds image `tag`.
async fn has_image(tag: &str) -> Result<bool, UserError> {
    match docker(
        &["image", "inspect", "--format", "{{.Id}}", tag],
        PROBE_TIMEOUT,
    )
    .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.message.contains("No such image") => Ok(false),
        Err(e) => Err(e),
    }
}

/// `nexus-fabric-worker:HASH`, HASH from the binary's path, size and
/// modification time.
fn image_tag(binary: &Path) -> Result<String, UserError> {
    let meta = std::fs::metadata(binary).map_err(|e| {
        unavailable(format!(
            "the nexus binary {} is unreadable: {e}",
            binary.display()
        ))
    })?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default();
    let mut hash = Sha256::new();
    hash.update(binary.as_os_str().as_encoded_bytes());
    hash.update(meta.len().to_be_bytes());
    hash.update(modified.as_nanos().to_be_bytes());
    Ok(format!(
        "{REPOSITORY}:{}",
        &hex::encode(hash.finalize())[..16]
    ))
}

/// Builds image `tag`: the binary as `/nexus` and every shared library
/// `ldd` lists at its own path, `FROM scratch`, run as nobody.
async fn build(binary: &Path, tag: &str) -> Result<(), UserError> {
    let context = std::env::temp_dir().join(format!("nexus-fabric-image-{}", std::process::id()));
    let result = build_in(&context, binary, tag).await;
    let _ = tokio::fs::remove_dir_all(&context).await;
    result
}

async fn build_in(context: &Path, binary: &Path, tag: &str) -> Result<(), UserError> {
    let io = |what: &str, e: std::io::Error| {
        unavailable(format!("cannot stage the worker image ({what}): {e}"))
    };
    let root = context.join("rootfs");
    tokio::fs::create_dir_all(&root)
        .await
        .map_err(|e| io("context", e))?;
    tokio::fs::copy(binary, root.join("nexus"))
        .await
        .map_err(|e| io("binary", e))?;
    for library in shared_libraries(binary).await? {
        let Ok(relative) = library.strip_prefix("/") else {
            continue;
        };
        let target = root.join(relative);
        if let Some(dir) = target.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| io("library dir", e))?;
        }
        tokio::fs::copy(&library, &target)
            .await
            .map_err(|e| io("library", e))?;
    }
    // The node runs with a private umask; the worker runs as nobody.
    open_up(&root).map_err(|e| io("permissions", e))?;
    let dockerfile = "FROM scratch\nCOPY rootfs/ /\nUSER 65534:65534\nENTRYPOINT [\"/nexus\", \"fabric-worker\"]\n";
    tokio::fs::write(context.join("Dockerfile"), dockerfile)
        .await
        .map_err(|e| io("Dockerfile", e))?;
    info!(tag, "building the fabric worker image");
    let path = context.to_string_lossy().into_owned();
    docker(&["build", "--quiet", "--tag", tag, &path], BUILD_TIMEOUT).await?;
    info!(tag, "fabric worker image built");
    remove_older(tag).await;
    Ok(())
}

/// Removes the worker images of earlier binaries, so rebuilds do not pile
/// up; one a container still uses stays (no force).
async fn remove_older(tag: &str) {
    let format = "{{.Repository}}:{{.Tag}}";
    let Ok(listed) = docker(
        &["image", "ls", REPOSITORY, "--format", format],
        PROBE_TIMEOUT,
    )
    .await
    else {
        return;
    };
    for older in listed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != tag)
    {
        if docker(&["image", "rm", older], PROBE_TIMEOUT).await.is_ok() {
            info!(image = older, "older fabric worker image removed");
        }
    }
}

/// Makes `dir` and everything under it readable and executable by all
/// (the files staged are the binary and its libraries).
fn open_up(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            open_up(&path)?;
        } else {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    Ok(())
}

/// The shared libraries `binary` loads (with the dynamic loader), as `ldd`
/// resolves them; none for a static binary.
async fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, UserError> {
    let output = Command::new("ldd")
        .arg(binary)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| {
            unavailable(format!(
                "`ldd` cannot be run to find the binary's libraries: {e}"
            ))
        })?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(library_path)
        .collect())
}

/// The file of one `ldd` line: `libc.so.6 => /lib/…/libc.so.6 (0x…)` or
/// `/lib64/ld-linux-x86-64.so.2 (0x…)`; `None` for the vDSO.
fn library_path(line: &str) -> Option<PathBuf> {
    let line = line.trim();
    let path = match line.split_once("=>") {
        Some((_, resolved)) => resolved.trim(),
        None => line,
    };
    let path = path.split_whitespace().next()?;
    path.starts_with('/').then(|| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::library_path;
    use std::path::PathBuf;

    #[test]
    fn ldd_lines_name_library_files() {
        let lines = [
            "\tlinux-vdso.so.1 (0x00007ffd)",
            "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)",
            "\t/lib64/ld-linux-x86-64.so.2 (0x00007f)",
            "\tstatically linked",
        ];
        let found: Vec<_> = lines.iter().filter_map(|l| library_path(l)).collect();
        assert_eq!(
            found,
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
    }
}
