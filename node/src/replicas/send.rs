//! The home's end of one replica stream: one change, one whole copy, a
//! version question, sent to one replica, one answer back.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use nexus_raft::replication::NodeId;
use nexus_transport::bulk::head;

use super::{Replicas, SHIP_TIMEOUT};
use crate::dataplane::replica_wire::{ReplicaOpen, ReplicaReply};
use crate::dataplane::StreamHead;

/// What follows a stream's head.
#[derive(Clone)]
pub(super) enum Body {
    /// Nothing.
    Empty,
    /// These bytes (shared by the streams to every replica).
    Bytes(Arc<Vec<u8>>),
    /// The file at this path.
    File(Arc<Path>),
}

impl Body {
    /// Deletes the staged file a `File` body sends (once every stream is done).
    pub(super) fn discard(&self) {
        if let Body::File(path) = self {
            let _ = std::fs::remove_file(&**path);
        }
    }

    pub(super) fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::File(path) => std::fs::metadata(path).map_or(0, |m| m.len()),
        }
    }
}

impl Replicas {
    /// Opens a replica stream to `node`, sends `open` and `body`, and
    /// waits for the replica's answer (at most [`SHIP_TIMEOUT`] beyond the
    /// time the body may take).
    pub(super) async fn send(
        &self,
        node: NodeId,
        open: ReplicaOpen,
        body: Body,
    ) -> Result<ReplicaReply, String> {
        // One second per MiB on top: a small change to a dead node fails in
        // SHIP_TIMEOUT, a large copy to a live one has time to arrive.
        let deadline = SHIP_TIMEOUT + Duration::from_secs(body.len() >> 20);
        tokio::time::timeout(deadline, self.exchange(node, open, body))
            .await
            .map_err(|_| format!("node {node} did not answer within {deadline:?}"))?
    }

    async fn exchange(
        &self,
        node: NodeId,
        open: ReplicaOpen,
        body: Body,
    ) -> Result<ReplicaReply, String> {
        let (mut send, mut recv) = self
            .dataplane
            .open_stream(node, &StreamHead::Replica(open))
            .await?;
        match body {
            Body::Empty => {}
            Body::Bytes(bytes) => send
                .write_all(&bytes)
                .await
                .map_err(|e| format!("cannot send to node {node}: {e}"))?,
            Body::File(path) => {
                let mut file = tokio::fs::File::open(&*path)
                    .await
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                tokio::io::copy(&mut file, &mut send)
                    .await
                    .map_err(|e| format!("cannot send {} to node {node}: {e}", path.display()))?;
            }
        }
        let _ = send.finish();
        head::read(&mut recv)
            .await
            .map_err(|e| format!("no answer from node {node}: {e}"))
    }
}
