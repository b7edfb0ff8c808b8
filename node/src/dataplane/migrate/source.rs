//! The current home's side of a move (steps in the module docs).

use std::path::Path;
use std::time::{Duration, Instant};

use nexus_raft::replication::NodeId;
use nexus_raft::Sandbox;
use nexus_transport::bulk::head;
use quinn::{RecvStream, SendStream};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::blocks::{self, BlockHashes};
use super::delta::{Changes, Sent};
use super::{MoveMsg, MoveReply};
use crate::clock::now_ms;
use crate::cluster::RegistryHandle;
use crate::config::Labels;
use crate::dataplane::{DataPlane, StreamHead};
use crate::lifecycle::crashpoint;
use crate::metrics::outcome_of;
use crate::sandbox::{FileKind, SandboxManager};
use nexus_errors::{error_chain, ErrorCode, UserError};

/// How long the target may take to verify and place the files.
const PLACE_TIMEOUT: Duration = Duration::from_secs(120);

/// What a finished move did.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MoveReport {
    /// The sandbox at its new home.
    pub sandbox: Sandbox,
    /// The node it left.
    pub from_node: NodeId,
    /// Bytes sent: the pre-copy and the delta.
    pub bytes_sent: u64,
    /// Bytes re-sent in the pause.
    pub delta_bytes: u64,
    /// How long new calls were held, in microseconds.
    pub pause_us: u64,
    /// How long the whole move took, in microseconds.
    pub elapsed_us: u64,
}

/// Moves sandbox `sandbox_id` of `tenant_id`, homed on this node, to node
/// `to` (see the module docs). On failure the sandbox stays here, serving,
/// and the error names the step that failed.
pub async fn move_sandbox(
    plane: &DataPlane,
    manager: &SandboxManager,
    registry: &RegistryHandle,
    tenant_id: &str,
    sandbox_id: &str,
    to: NodeId,
) -> Result<MoveReport, UserError> {
    let started = Instant::now();
    let moved = move_from_here(plane, manager, registry, tenant_id, sandbox_id, to, started).await;
    let outcome = match &moved {
        Ok(_) => "moved".to_owned(),
        Err(e) => outcome_of(e.code),
    };
    manager.metrics().migration(&outcome, started.elapsed());
    moved
}

async fn move_from_here(
    plane: &DataPlane,
    manager: &SandboxManager,
    registry: &RegistryHandle,
    tenant_id: &str,
    sandbox_id: &str,
    to: NodeId,
    started: Instant,
) -> Result<MoveReport, UserError> {
    let sandbox = manager.hosted(tenant_id, sandbox_id)?;
    if to == plane.node_id {
        return Err(UserError::new(
            ErrorCode::SandboxMoveInvalid,
            format!("sandbox {sandbox_id} already lives on node {to}"),
        ));
    }
    if !plane.is_member(to) {
        return Err(UserError::new(
            ErrorCode::NodeNotFound,
            format!(
                "cannot move sandbox {sandbox_id} to node {to}: it is not a member of the cluster"
            ),
        ));
    }
    plane.check_placeable(registry, to, &Labels::new())?;
    // Stops a replica seed of the sandbox in flight (see `MovesUnderway`).
    let _underway = plane.moves().begin(sandbox_id, to)?;
    let failed = |step: &str, reason: String| {
        UserError::new(
            ErrorCode::SandboxMoveFailed,
            format!(
                "moving sandbox {sandbox_id} from node {} to node {to} failed at {step}: {reason}; \
                 it stays on node {} with its data",
                plane.node_id, plane.node_id
            ),
        )
    };
    let routed = plane
        .route_to(to)
        .await
        .map_err(|f| failed("connect", f.reason))?;
    let (mut send, mut recv) = routed.into_streams();
    let stream_head = StreamHead::Move {
        sandbox_id: sandbox_id.to_owned(),
        tenant_id: tenant_id.to_owned(),
        applied: plane.applied(),
    };
    head::write(&mut send, &stream_head)
        .await
        .map_err(|e| failed("connect", e.to_string()))?;

    crashpoint("move:source:pre-copy");
    let mut bytes_sent = 0;
    let mut sent = Vec::new();
    for (kind, path) in manager.files_of(sandbox_id) {
        let (quiet_since, wal_generation) = Sent::before_pre_copy(&path);
        let (hashes, len) = send_file(&mut send, kind, &path)
            .await
            .map_err(|e| failed("pre-copy", e))?;
        bytes_sent += len;
        sent.push(Sent {
            kind,
            path,
            hashes,
            len,
            quiet_since,
            wal_generation,
        });
    }
    head::write(&mut send, &MoveMsg::PreCopied)
        .await
        .map_err(|e| failed("pre-copy", e.to_string()))?;
    expect_reply(&mut recv, MoveReply::Verified)
        .await
        .map_err(|e| failed("pre-copy", e))?;
    crashpoint("move:source:pause");

    // The pause: from here until the gate opens, calls are held.
    let gate = plane.gates().close(sandbox_id).await;
    let paused = Instant::now();
    let sandbox = manager.hosted(tenant_id, sandbox_id).unwrap_or(sandbox);
    let held = manager.hold_for_move(&sandbox).await;
    let files = sent.clone();
    let judged = tokio::task::spawn_blocking(move || {
        files
            .into_iter()
            .map(|file| (file.changes(), file))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| failed("delta", e.to_string()))?;
    manager.rest_for_move(sandbox_id).await?;
    let mut delta_bytes = 0;
    let mut digests = Vec::new();
    for (changes, file) in judged {
        let kind = file.kind;
        let (digest, bytes) = send_delta(&mut send, file, changes)
            .await
            .map_err(|e| failed("delta", e))?;
        delta_bytes += bytes;
        digests.push((kind, digest));
    }
    crashpoint("move:source:delta");
    head::write(&mut send, &MoveMsg::Finish { digests })
        .await
        .map_err(|e| failed("delta", e.to_string()))?;
    expect_reply(&mut recv, MoveReply::Placed)
        .await
        .map_err(|e| failed("verify", e))?;
    crashpoint("move:source:commit");
    let moved = match registry.move_sandbox(&sandbox, to, now_ms()).await {
        Ok(moved) => moved,
        Err(e) => {
            // The write may have committed before it failed here.
            registry.linearize().await.ok();
            match manager.get(tenant_id, sandbox_id) {
                Ok(now) if now.home_node == to => now,
                _ => return Err(failed("commit", e.message)),
            }
        }
    };
    crashpoint("move:source:release");
    // Held requests re-read the home when the gate opens: this node's
    // registry must show the new one first.
    if let Err(e) = registry.linearize().await {
        warn!(sandbox = sandbox_id, error = %e, "cannot confirm the move locally yet");
    }
    drop(held);
    let pause = paused.elapsed();
    drop(gate);
    // Held requests now go to the new home; the local copy can go.
    manager.forget_moved(sandbox_id);
    let report = MoveReport {
        sandbox: moved,
        from_node: plane.node_id,
        bytes_sent: bytes_sent + delta_bytes,
        delta_bytes,
        pause_us: micros(pause),
        elapsed_us: micros(started.elapsed()),
    };
    info!(
        sandbox = sandbox_id,
        to,
        bytes = report.bytes_sent,
        delta = delta_bytes,
        pause_us = report.pause_us,
        "moved"
    );
    Ok(report)
}

/// Waits for the target's answer and checks it is `want` (a refusal's
/// message, or what came instead, is the error).
async fn expect_reply(recv: &mut RecvStream, want: MoveReply) -> Result<(), String> {
    match head::read_within(recv, PLACE_TIMEOUT).await {
        Ok(MoveReply::Refused { message }) => Err(message),
        Ok(got) if std::mem::discriminant(&got) == std::mem::discriminant(&want) => Ok(()),
        Ok(other) => Err(format!("unexpected answer {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Blocks read and hashed ahead of the network while a file is sent.
const READ_AHEAD: usize = 4;

/// A block read ahead, with its hash.
type ReadBlock = Result<(Vec<u8>, [u8; 32]), String>;

/// Streams the whole file at `path`, then its block hashes (32 bytes
/// each); returns them and its length. A blocking task reads and hashes
/// up to [`READ_AHEAD`] blocks ahead of the stream.
async fn send_file(
    send: &mut SendStream,
    kind: FileKind,
    path: &Path,
) -> Result<(BlockHashes, u64), String> {
    let file = open(path)?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    head::write(send, &MoveMsg::File { kind, len })
        .await
        .map_err(|e| e.to_string())?;
    let (ahead, mut blocks_read) = tokio::sync::mpsc::channel(READ_AHEAD);
    let shown = path.display().to_string();
    let reader = tokio::task::spawn_blocking(move || read_ahead(file, len, &shown, &ahead));
    let mut hashes = Vec::new();
    while let Some(read) = blocks_read.recv().await {
        let (block, hash) = read?;
        send.write_all(&block).await.map_err(|e| error_chain(&e))?;
        hashes.push(hash);
    }
    reader.await.map_err(|e| e.to_string())?;
    send.write_all(hashes.as_flattened())
        .await
        .map_err(|e| error_chain(&e))?;
    Ok((hashes, len))
}

/// Reads exactly `len` bytes of `file` (it may grow meanwhile; shrinking
/// is an error) as hashed blocks into `ahead`, until the receiver is gone.
fn read_ahead(
    mut file: std::fs::File,
    len: u64,
    shown: &str,
    ahead: &tokio::sync::mpsc::Sender<ReadBlock>,
) {
    let mut left = len;
    let mut index = 0;
    while left > 0 {
        let read = blocks::read_block(&mut file, index)
            .map_err(|e| format!("cannot read {shown}: {e}"))
            .and_then(|mut block| {
                block.truncate(usize::try_from(left).unwrap_or(usize::MAX));
                if block.is_empty() {
                    return Err(format!("{shown} shrank while it was sent"));
                }
                let hash = blocks::hash_block(&block);
                Ok((block, hash))
            });
        let taken = read.as_ref().map_or(0, |(block, _)| block.len() as u64);
        let failed = read.is_err();
        if ahead.blocking_send(read).is_err() || failed {
            return;
        }
        left -= taken;
        index += 1;
    }
}

/// Sends the blocks of a paused file that may differ from its pre-copy
/// (see [`Changes`]); returns the file's digest and the bytes re-sent.
async fn send_delta(
    send: &mut SendStream,
    file: Sent,
    changes: Changes,
) -> Result<(String, u64), String> {
    let path = file.path.clone();
    let kind = file.kind;
    let settled = tokio::task::spawn_blocking(move || file.settle(changes))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    head::write(
        send,
        &MoveMsg::Delta {
            kind,
            len: settled.len,
            blocks: settled.blocks.clone(),
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut reader = open(&path)?;
    let mut bytes = 0;
    for index in settled.blocks {
        let (block, returned) = read_off_workers(reader, index).await?;
        reader = returned;
        send.write_all(&block).await.map_err(|e| error_chain(&e))?;
        bytes += block.len() as u64;
    }
    Ok((blocks::digest(&settled.hashes, settled.len), bytes))
}

fn open(path: &Path) -> Result<std::fs::File, String> {
    std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))
}

/// Reads block `index` off the async workers, handing the file back.
async fn read_off_workers(
    mut file: std::fs::File,
    index: u64,
) -> Result<(Vec<u8>, std::fs::File), String> {
    tokio::task::spawn_blocking(move || {
        let block = blocks::read_block(&mut file, index).map_err(|e| e.to_string())?;
        Ok((block, file))
    })
    .await
    .map_err(|e| e.to_string())?
}
