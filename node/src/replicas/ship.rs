//! The home's end: after a call that changed a sandbox's workbook, ship
//! the change to each replica (the committed WAL frames since the last
//! shipment, see [`nexus_workbook::pages`]), or a whole copy to a replica
//! that is behind or new, and say when the response may go.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use nexus_raft::replication::NodeId;
use nexus_workbook::pages::{self, PageChange, WalCursor, WalRead};
use nexus_workbook::WalAfter;

/// Where the home's next shipment starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Base {
    /// Every frame up to this cursor is on the replicas that acknowledged
    /// the current version.
    Wal(WalCursor),
    /// The main file as it was (length, modification time) when its WAL
    /// was empty or `spent` (a WAL cycle whose every frame a checkpoint put
    /// in the main file): the next WAL's frames follow it, if the file is
    /// unchanged.
    Rest {
        len: u64,
        modified: SystemTime,
        spent: Option<(u32, u32)>,
    },
    /// Not known (first shipment since start, or the WAL was checkpointed
    /// behind the shipper's back): the next shipment is a whole copy.
    Unknown,
}

/// What one replica has, as the home saw it.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// The last version it acknowledged.
    pub acked: Option<u64>,
    /// Bytes shipped to it since this node started.
    pub bytes: u64,
    /// Why its last shipment failed, if it did.
    pub error: Option<String>,
}

/// A sandbox's shipping state on its home (behind one async lock, so
/// shipments of one sandbox go in order).
#[derive(Debug)]
pub(super) struct Shipment {
    /// The version of the workbook as last shipped.
    pub(super) version: u64,
    pub(super) base: Base,
    pub(super) progress: BTreeMap<NodeId, Progress>,
}

impl Shipment {
    /// A shipment that starts after the highest version any replica
    /// confirmed.
    pub(super) fn new(confirmed: u64) -> Shipment {
        Shipment {
            version: confirmed,
            base: Base::Unknown,
            progress: BTreeMap::new(),
        }
    }
}

/// What has to go to the replicas after a call.
pub(super) enum Pending {
    /// Nothing changed.
    Nothing,
    /// These pages, from the current version to the next.
    Change(PageChange, WalCursor),
    /// A whole copy (the base is unknown).
    Copy,
}

/// Reads what changed in the live workbook at `live` since `base`.
pub(super) fn pending(live: &Path, base: &Base) -> std::io::Result<Pending> {
    let read = match base {
        Base::Wal(cursor) => pages::read_wal(live, Some(cursor))?,
        Base::Rest { len, modified, .. } if mark(live)? == (*len, *modified) => {
            if wal_spent(live, base)? {
                WalRead::Unchanged
            } else {
                pages::read_wal(live, None)?
            }
        }
        _ => WalRead::Restarted,
    };
    Ok(match read {
        WalRead::Unchanged => Pending::Nothing,
        WalRead::Changed { change, cursor } => Pending::Change(change, cursor),
        WalRead::Restarted => Pending::Copy,
    })
}

/// Checkpoints the live workbook at `live` if its WAL holds what was
/// shipped up to `base` and nothing more (a `RESTART` checkpoint, which
/// says how many frames it took); the base shipping goes on from: the main
/// file at rest when it took exactly the shipped frames, not known when a
/// write slipped in first (the next shipment is a whole copy), `base`
/// itself when nothing was checkpointed or the checkpoint could not
/// complete (the WAL goes on).
pub(super) fn checkpoint_shipped(live: &Path, base: &Base) -> std::io::Result<Base> {
    let Base::Wal(cursor) = base else {
        return Ok(base.clone());
    };
    if !matches!(pages::read_wal(live, Some(cursor))?, WalRead::Unchanged) {
        return Ok(base.clone());
    }
    let done = crate::sandbox::wal::checkpoint(live, WalAfter::Restarted)
        .map_err(std::io::Error::other)?;
    Ok(if !done.complete {
        base.clone()
    } else if done.frames == cursor.frames() {
        let (len, modified) = mark(live)?;
        Base::Rest {
            len,
            modified,
            spent: Some(cursor.salts()),
        }
    } else {
        Base::Unknown
    })
}

/// The WAL bytes past the last checkpoint that `base` accounts for as
/// shipped.
pub(super) fn shipped_wal_bytes(base: &Base) -> u64 {
    match base {
        Base::Wal(cursor) => cursor.wal_bytes(),
        Base::Rest { .. } | Base::Unknown => 0,
    }
}

/// Whether the WAL beside `live` is the spent one `base` remembers (every
/// frame of it already in the main file).
pub(super) fn wal_spent(live: &Path, base: &Base) -> std::io::Result<bool> {
    Ok(match base {
        Base::Rest {
            spent: Some(salts), ..
        } => pages::wal_salts(live)? == Some(*salts),
        _ => false,
    })
}

/// The main file's length and modification time.
fn mark(path: &Path) -> std::io::Result<(u64, SystemTime)> {
    let meta = std::fs::metadata(path)?;
    Ok((meta.len(), meta.modified()?))
}

/// A copy of the live workbook at `live` written to `to`, byte for byte
/// what a checkpoint of it would leave, and the base the next shipment
/// continues from: the main file is copied and the WAL's committed frames
/// are applied to the copy. The main file changes only when a checkpoint
/// writes it, so the copy is consistent if its length and modification
/// time did not move meanwhile; otherwise it is taken again (at most
/// `attempts` times).
pub(super) fn snapshot(live: &Path, to: &Path, attempts: u32) -> std::io::Result<Base> {
    for _ in 0..attempts {
        let before = mark(live)?;
        std::fs::copy(live, to)?;
        let read = pages::read_wal(live, None)?;
        if mark(live)? != before {
            continue;
        }
        return Ok(match read {
            WalRead::Changed { change, cursor } => {
                pages::apply_change(to, &change)?;
                Base::Wal(cursor)
            }
            WalRead::Unchanged | WalRead::Restarted => {
                std::fs::File::open(to)?.sync_all()?;
                Base::Rest {
                    len: before.0,
                    modified: before.1,
                    spent: None,
                }
            }
        });
    }
    Err(std::io::Error::other(format!(
        "{} kept changing while it was copied ({attempts} attempts)",
        live.display()
    )))
}

/// The lowercase hex SHA-256 and length of the file at `path`.
pub(super) fn file_sha256(path: &Path) -> std::io::Result<(String, u64)> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let len = std::io::copy(&mut file, &mut hasher)?;
    Ok((hex::encode(hasher.finalize()), len))
}
