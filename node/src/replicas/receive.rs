//! The replica's end of a replica stream: checks that the sender is the
//! sandbox's home, takes a seed or a change into [`Copies`], answers once.

use nexus_errors::{ErrorCode, UserError};
use nexus_raft::replication::NodeId;
use nexus_transport::bulk::head;
use nexus_workbook::pages::PageChange;
use quinn::{RecvStream, SendStream};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{debug, info};

use super::copies::CopyError;
use super::Replicas;
use crate::dataplane::replica_wire::{
    body_deadline, ReplicaOpen, ReplicaReply, Target, MAX_CHANGE_BYTES, MAX_SEED_BYTES,
};
use crate::sandbox::blocking;

impl Replicas {
    /// Serves one replica stream `peer` opened with `open`.
    pub async fn receive(
        &self,
        peer: NodeId,
        open: ReplicaOpen,
        mut send: SendStream,
        mut recv: RecvStream,
    ) {
        let reply = match open {
            ReplicaOpen::Version { sandbox_id } => match self.copies.version(&sandbox_id) {
                Some(version) => ReplicaReply::Holds { version },
                None => ReplicaReply::Missing,
            },
            ReplicaOpen::Seed {
                target,
                version,
                len,
                sha256,
            } => match self.check_sender(peer, &target).await {
                Ok(()) => self
                    .take_seed(peer, &target, (version, len, &sha256), &mut recv)
                    .await
                    .unwrap_or_else(refused),
                Err(e) => refused(e),
            },
            ReplicaOpen::Change {
                target,
                base,
                version,
                len,
            } => match self.check_sender(peer, &target).await {
                Ok(()) => {
                    let change = (base, version, len);
                    self.take_change(&target, change, &mut recv)
                        .await
                        .unwrap_or_else(refused)
                }
                Err(e) => refused(e),
            },
        };
        if let Err(e) = head::write(&mut send, &reply).await {
            debug!(node = peer, error = %e, "cannot answer a replica stream");
        }
        let _ = send.finish();
    }

    /// A replica takes writes for a sandbox only from its home, as this
    /// node's registry says once it has applied what the home had.
    async fn check_sender(&self, peer: NodeId, target: &Target) -> Result<(), UserError> {
        self.catch_up(target.applied).await;
        let sandbox = self
            .registry
            .read(|r| r.sandbox(&target.tenant_id, &target.sandbox_id))?
            .ok_or_else(|| {
                UserError::new(
                    ErrorCode::SandboxNotFound,
                    format!(
                        "sandbox {} is not in this node's registry",
                        target.sandbox_id
                    ),
                )
            })?;
        if sandbox.home_node != peer || sandbox.home_node == self.node_id {
            return Err(UserError::new(
                ErrorCode::SandboxOnOtherNode,
                format!(
                    "node {peer} is not the home of sandbox {} (its home is node {})",
                    sandbox.id, sandbox.home_node
                ),
            ));
        }
        Ok(())
    }

    async fn take_seed(
        &self,
        from: NodeId,
        target: &Target,
        (version, len, sha256): (u64, u64, &str),
        recv: &mut RecvStream,
    ) -> Result<ReplicaReply, UserError> {
        if len > MAX_SEED_BYTES {
            return Err(too_large("seed", len, MAX_SEED_BYTES));
        }
        let path = self.copies.seed_path(&target.sandbox_id);
        let received = tokio::time::timeout(body_deadline(len), async {
            let mut file = tokio::fs::File::create(&path).await?;
            let mut hasher = Sha256::new();
            let mut left = len;
            let mut buf = vec![0; 1 << 20];
            while left > 0 {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = AsyncReadExt::read(recv, &mut buf[..want]).await?;
                if n == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("the seed ended {left} bytes early"),
                    ));
                }
                hasher.update(&buf[..n]);
                file.write_all(&buf[..n]).await?;
                left -= n as u64;
            }
            file.sync_all().await?;
            Ok(hex::encode(hasher.finalize()))
        })
        .await;
        let checked = match received {
            Ok(Ok(got)) if got == sha256 => Ok(()),
            Ok(Ok(got)) => Err(internal(format!(
                "the seed of {} arrived with SHA-256 {got}, its home sent {sha256}",
                target.sandbox_id
            ))),
            Ok(Err(e)) => Err(internal(format!(
                "cannot receive the seed of {}: {e}",
                target.sandbox_id
            ))),
            Err(_) => Err(internal(format!(
                "the seed of {} did not arrive in time",
                target.sandbox_id
            ))),
        };
        // A move may have made this node the home while the seed travelled:
        // the moved file is the sandbox's state then, not this copy.
        let checked = match checked {
            Ok(()) => self.check_sender(from, target).await,
            failed => failed,
        };
        if let Err(e) = checked {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        let (copies, id) = (self.copies.clone(), target.sandbox_id.clone());
        blocking(move || copies.adopt_seed(&id, version).map_err(copy_error)).await?;
        info!(sandbox = %target.sandbox_id, from, version, bytes = len, "replica seeded");
        Ok(ReplicaReply::Holds { version })
    }

    async fn take_change(
        &self,
        target: &Target,
        (base, version, len): (u64, u64, u64),
        recv: &mut RecvStream,
    ) -> Result<ReplicaReply, UserError> {
        if len > MAX_CHANGE_BYTES {
            return Err(too_large("change", len, MAX_CHANGE_BYTES));
        }
        let mut bytes = vec![0; usize::try_from(len).unwrap_or(usize::MAX)];
        tokio::time::timeout(body_deadline(len), recv.read_exact(&mut bytes))
            .await
            .map_err(|_| {
                internal(format!(
                    "the change of {} did not arrive in time",
                    target.sandbox_id
                ))
            })?
            .map_err(|e| {
                internal(format!(
                    "cannot receive the change of {}: {e}",
                    target.sandbox_id
                ))
            })?;
        let (change, tag) = PageChange::decode(&bytes).map_err(|e| {
            internal(format!(
                "the change of {} is refused: {e}",
                target.sandbox_id
            ))
        })?;
        if tag != version {
            return Err(internal(format!(
                "the change of {} is tagged version {tag}, its head says {version}",
                target.sandbox_id
            )));
        }
        let (copies, id) = (self.copies.clone(), target.sandbox_id.clone());
        let applied = blocking(move || Ok(copies.apply(&id, base, version, &change))).await?;
        match applied {
            Ok(()) => Ok(ReplicaReply::Holds { version }),
            Err(CopyError::Behind { have, .. }) => Ok(ReplicaReply::NeedSeed { have }),
            Err(e) => Err(copy_error(e)),
        }
    }
}

fn refused(e: UserError) -> ReplicaReply {
    ReplicaReply::Refused {
        code: e.code.as_str().to_owned(),
        message: e.message,
    }
}

fn too_large(what: &str, len: u64, max: u64) -> UserError {
    internal(format!(
        "a replica {what} of {len} bytes is over the {max}-byte limit"
    ))
}

fn copy_error(e: CopyError) -> UserError {
    internal(e.to_string())
}

fn internal(message: String) -> UserError {
    UserError::new(ErrorCode::Internal, message)
}
