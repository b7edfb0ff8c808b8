//! The new home's side of a move: take the files into staging, apply the
//! delta, verify the digests and put the files in place.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use nexus_raft::replication::NodeId;
use nexus_transport::bulk::head;
use quinn::{RecvStream, SendStream};
use tracing::{info, warn};

use super::blocks::{self, BlockHashes};
use super::{MoveMsg, MoveReply, MAX_MOVE_FILE_BYTES};
use crate::lifecycle::crashpoint;
use crate::sandbox::{FileKind, SandboxManager, StagedFile};
use nexus_errors::error_chain;

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
    let reply = match take(manager, from, tenant_id, sandbox_id, &mut send, &mut recv).await {
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
        manager.settle_moved_in(tenant_id, sandbox_id).await;
    }
}

/// A file received into staging, with the hash of each block as written.
struct Staged {
    file: StagedFile,
    hashes: BlockHashes,
    len: u64,
}

impl Staged {
    fn path(&self) -> Result<PathBuf, String> {
        Ok(self
            .file
            .path()
            .ok_or("the staged file is gone")?
            .to_path_buf())
    }
}

async fn take(
    manager: &SandboxManager,
    from: NodeId,
    tenant_id: &str,
    sandbox_id: &str,
    send: &mut SendStream,
    recv: &mut RecvStream,
) -> Result<(), String> {
    let sandbox = manager
        .get_fresh(tenant_id, sandbox_id)
        .await
        .map_err(|e| e.message)?;
    if sandbox.home_node != from {
        return Err(format!(
            "node {from} is not the home of sandbox {sandbox_id} (node {} is)",
            sandbox.home_node
        ));
    }
    let mut staged: HashMap<FileKind, Staged> = HashMap::new();
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
            MoveMsg::PreCopied => {
                if let Some(live) = staged.get(&FileKind::Live) {
                    manager
                        .warm_moved_module(live.path()?, &sandbox.profile)
                        .await;
                }
                head::write(send, &MoveReply::Verified)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            MoveMsg::Delta { kind, len, blocks } => {
                let file = staged
                    .get_mut(&kind)
                    .ok_or_else(|| format!("a delta for a {kind:?} file that was never sent"))?;
                apply_delta(file, recv, len, &blocks).await?;
            }
            MoveMsg::Finish { digests } => {
                return place(manager, sandbox_id, staged, digests).await;
            }
        }
    }
}

/// Blocks received ahead of the disk while a file is written.
const WRITE_AHEAD: usize = 4;

/// Streams `len` bytes into a staging file, a blocking task writing each
/// block, reading it back and hashing what is on disk while the next ones
/// arrive; then takes the source's block hashes that follow and checks the
/// copy against them.
async fn receive_file(
    manager: &SandboxManager,
    recv: &mut RecvStream,
    len: u64,
) -> Result<Staged, String> {
    let (out, file) = manager.move_file().map_err(|e| e.message)?;
    let (to_disk, from_stream) = tokio::sync::mpsc::channel(WRITE_AHEAD);
    let writer = tokio::task::spawn_blocking(move || write_back_hashed(out, from_stream));
    let received = async {
        let mut left = len;
        while left > 0 {
            let size = usize::try_from(left.min(blocks::BLOCK as u64)).unwrap_or(blocks::BLOCK);
            let mut block = vec![0u8; size];
            read_exact(recv, &mut block).await?;
            left -= size as u64;
            if to_disk.send(block).await.is_err() {
                break; // The writer failed; its error is the one to report.
            }
        }
        let count =
            usize::try_from(len.div_ceil(blocks::BLOCK as u64)).map_err(|e| e.to_string())?;
        let mut trailer = vec![0u8; count * 32];
        read_exact(recv, &mut trailer).await?;
        Ok::<BlockHashes, String>(
            trailer
                .chunks_exact(32)
                .map(|h| h.try_into().unwrap_or([0; 32]))
                .collect(),
        )
    }
    .await;
    drop(to_disk);
    let on_disk = writer
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot write the staged copy: {e}"))?;
    if on_disk != received? {
        return Err("the pre-copy on disk differs from what the source sent".to_owned());
    }
    Ok(Staged {
        file,
        hashes: on_disk,
        len,
    })
}

/// Appends each block to `out`, reads it back and hashes what is on disk;
/// syncs the file at the end. The hashes, in order.
fn write_back_hashed(
    mut out: std::fs::File,
    mut from_stream: tokio::sync::mpsc::Receiver<Vec<u8>>,
) -> std::io::Result<BlockHashes> {
    let mut hashes = Vec::new();
    let mut index = 0;
    while let Some(block) = from_stream.blocking_recv() {
        blocks::write_block(&mut out, index, &block)?;
        hashes.push(blocks::hash_block(&blocks::read_block(&mut out, index)?));
        index += 1;
    }
    out.sync_all()?;
    Ok(hashes)
}

/// Fills `buf` from the stream; ending early is an error.
async fn read_exact(recv: &mut RecvStream, buf: &mut [u8]) -> Result<(), String> {
    match tokio::time::timeout(READ_TIMEOUT, recv.read_exact(buf)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(error_chain(&e)),
        Err(_) => Err(format!("no data within {} s", READ_TIMEOUT.as_secs())),
    }
}

/// Writes the changed blocks into the staged file, reading each back, and
/// sets its length; the file's block hashes follow.
async fn apply_delta(
    file: &mut Staged,
    recv: &mut RecvStream,
    len: u64,
    indices: &[u64],
) -> Result<(), String> {
    let path = file.path()?;
    let mut out = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let count = usize::try_from(len.div_ceil(blocks::BLOCK as u64)).map_err(|e| e.to_string())?;
    file.hashes.resize(count, [0; 32]);
    for index in indices {
        let start = index.saturating_mul(blocks::BLOCK as u64);
        let size = usize::try_from(len.saturating_sub(start).min(blocks::BLOCK as u64))
            .unwrap_or(blocks::BLOCK);
        let slot = usize::try_from(*index)
            .ok()
            .filter(|i| *i < count)
            .ok_or_else(|| format!("block {index} is past the end of a {len}-byte file"))?;
        let mut block = vec![0u8; size];
        read_exact(recv, &mut block).await?;
        let (index, returned) = (*index, out);
        let (written, returned) = tokio::task::spawn_blocking(move || {
            let mut out = returned;
            blocks::write_block(&mut out, index, &block)?;
            let back = blocks::read_block(&mut out, index)?;
            Ok::<_, std::io::Error>((
                blocks::hash_block(&back[..block.len().min(back.len())]),
                out,
            ))
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        file.hashes[slot] = written;
        out = returned;
    }
    file.len = len;
    tokio::task::spawn_blocking(move || out.set_len(len).and_then(|()| out.sync_all()))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// Checks every staged file against its digest, then puts them in place.
async fn place(
    manager: &SandboxManager,
    sandbox_id: &str,
    mut staged: HashMap<FileKind, Staged>,
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
        let file = staged
            .get(kind)
            .ok_or_else(|| format!("no {kind:?} file was sent"))?;
        let got = blocks::digest(&file.hashes, file.len);
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
                .place_moved(file.file, sandbox_id, kind)
                .map_err(|e| e.message)?;
        }
    }
    Ok(())
}
