//! The new home's side of a move: take the files into staging, apply the
//! delta, verify the digests and put the files in place.

use std::collections::HashMap;
use std::time::Duration;

use nexus_raft::replication::NodeId;
use nexus_transport::bulk::head;
use quinn::{RecvStream, SendStream};
use tracing::{info, warn};

use super::blocks;
use super::{MoveMsg, MoveReply, MAX_MOVE_FILE_BYTES};
use crate::lifecycle::crashpoint;
use crate::sandbox::{FileKind, SandboxManager, StagedFile};

/// How long the source may pause between two messages (its pause waits for
/// calls in flight, which may run up to a profile's wall-clock deadline).
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a target waits for the source to commit after placing the
/// files, before it checks whether it became the home.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one read of file bytes may wait.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves a move of sandbox `sandbox_id` of `tenant_id` pushed by node
/// `from`: refused unless the registry says `from` is its home.
pub(crate) async fn receive(
    manager: &SandboxManager,
    from: NodeId,
    tenant_id: &str,
    sandbox_id: &str,
    mut send: SendStream,
    mut recv: RecvStream,
) {
    let reply = match take(manager, from, tenant_id, sandbox_id, &mut recv).await {
        Ok(()) => {
            info!(
                sandbox = sandbox_id,
                from, "moved in: files verified and placed"
            );
            MoveReply::Placed
        }
        Err(message) => {
            warn!(sandbox = sandbox_id, from, %message, "move refused");
            MoveReply::Refused { message }
        }
    };
    crashpoint("move:target:reply");
    let placed = matches!(reply, MoveReply::Placed);
    if head::write(&mut send, &reply).await.is_ok() {
        let _ = send.finish();
    }
    if placed {
        // The source commits, then ends the stream (or dies trying).
        let _ = tokio::time::timeout(SETTLE_TIMEOUT, recv.read_to_end(0)).await;
        manager.settle_moved_in(sandbox_id).await;
    }
}

async fn take(
    manager: &SandboxManager,
    from: NodeId,
    tenant_id: &str,
    sandbox_id: &str,
    recv: &mut RecvStream,
) -> Result<(), String> {
    let sandbox = manager.get(tenant_id, sandbox_id).map_err(|e| e.message)?;
    if sandbox.home_node != from {
        return Err(format!(
            "node {from} is not the home of sandbox {sandbox_id} (node {} is)",
            sandbox.home_node
        ));
    }
    let mut staged: HashMap<FileKind, StagedFile> = HashMap::new();
    loop {
        let msg: MoveMsg = head::read_within(recv, MESSAGE_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        match msg {
            MoveMsg::File { kind, len } => {
                if len > MAX_MOVE_FILE_BYTES {
                    return Err(format!(
                        "a {len}-byte file is over the {MAX_MOVE_FILE_BYTES}-byte limit"
                    ));
                }
                let file = receive_file(manager, recv, len).await?;
                staged.insert(kind, file);
                crashpoint("move:target:pre-copy");
            }
            MoveMsg::Delta { kind, len, blocks } => {
                let file = staged
                    .get(&kind)
                    .ok_or_else(|| format!("a delta for a {kind:?} file that was never sent"))?;
                apply_delta(file, recv, len, &blocks).await?;
            }
            MoveMsg::Finish { digests } => {
                return place(manager, sandbox_id, staged, digests).await;
            }
        }
    }
}

/// Streams `len` bytes into a staging file.
async fn receive_file(
    manager: &SandboxManager,
    recv: &mut RecvStream,
    len: u64,
) -> Result<StagedFile, String> {
    let mut writer = manager.upload_writer().await.map_err(|e| e.message)?;
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left.min(blocks::BLOCK as u64)).unwrap_or(blocks::BLOCK);
        let chunk = read_chunk(recv, want).await?;
        writer.write(&chunk).await.map_err(|e| e.message)?;
        left -= chunk.len() as u64;
    }
    writer.finish().await.map_err(|e| e.message)
}

/// Reads at most `max` bytes; the stream ending early is an error.
async fn read_chunk(recv: &mut RecvStream, max: usize) -> Result<bytes::Bytes, String> {
    match tokio::time::timeout(READ_TIMEOUT, recv.read_chunk(max, true)).await {
        Ok(Ok(Some(chunk))) => Ok(chunk.bytes),
        Ok(Ok(None)) => Err("the source ended the stream early".to_owned()),
        Ok(Err(e)) => Err(head::chain(&e)),
        Err(_) => Err(format!("no data within {} s", READ_TIMEOUT.as_secs())),
    }
}

/// Writes the changed blocks into the staged file and sets its length.
async fn apply_delta(
    file: &StagedFile,
    recv: &mut RecvStream,
    len: u64,
    indices: &[u64],
) -> Result<(), String> {
    let path = file.path().ok_or("the staged file is gone")?.to_path_buf();
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    for index in indices {
        let start = index.saturating_mul(blocks::BLOCK as u64);
        let size = len.saturating_sub(start).min(blocks::BLOCK as u64);
        let mut block = Vec::with_capacity(blocks::BLOCK);
        while (block.len() as u64) < size {
            let want = usize::try_from(size).unwrap_or(blocks::BLOCK) - block.len();
            block.extend_from_slice(&read_chunk(recv, want).await?);
        }
        let (index, returned) = (*index, out);
        out = tokio::task::spawn_blocking(move || {
            let mut out = returned;
            blocks::write_block(&mut out, index, &block).map(|()| out)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    tokio::task::spawn_blocking(move || out.set_len(len).and_then(|()| out.sync_all()))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// Checks every staged file against its digest, then puts them in place.
async fn place(
    manager: &SandboxManager,
    sandbox_id: &str,
    mut staged: HashMap<FileKind, StagedFile>,
    digests: Vec<(FileKind, String)>,
) -> Result<(), String> {
    if digests.len() != staged.len() {
        return Err(format!(
            "{} files were sent but {} digests",
            staged.len(),
            digests.len()
        ));
    }
    for (kind, want) in &digests {
        let path = staged
            .get(kind)
            .and_then(StagedFile::path)
            .ok_or_else(|| format!("no {kind:?} file was sent"))?
            .to_path_buf();
        let (hashes, len) = tokio::task::spawn_blocking(move || blocks::hash_file(&path))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let got = blocks::digest(&hashes, len);
        if &got != want {
            return Err(format!(
                "the {kind:?} file's digest is {got}, the source's is {want}"
            ));
        }
    }
    crashpoint("move:target:place");
    for (kind, _) in digests {
        if let Some(file) = staged.remove(&kind) {
            manager
                .place_moved(file, sandbox_id, kind)
                .map_err(|e| e.message)?;
        }
    }
    Ok(())
}
