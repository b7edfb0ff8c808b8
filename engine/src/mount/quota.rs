//! The per-volume size quota while a call runs: which open file descriptor
//! belongs to which volume, and how many bytes each volume may still take.
//!
//! A write is refused (`EDQUOT`) when the volume's size plus the bytes
//! written would pass the quota. The running count adds every byte written
//! (an overwrite counts as growth); only when it reaches the quota is the
//! directory measured again, so rewriting a file is not refused while the
//! volume really has room. Growth that bypasses writes (a seek far past the
//! end) is caught when the call's changes are written back.

use std::collections::HashMap;
use std::path::PathBuf;

use nexus_abi::Volume;

/// The file descriptor of the first preopened directory.
const FIRST_PREOPEN: u32 = 3;

/// One volume's directory and its counted size.
struct Tracked {
    volume: Volume,
    root: PathBuf,
    bytes: u64,
}

/// Quota bookkeeping of one call.
pub(crate) struct VolumeQuota {
    volumes: Vec<Tracked>,
    /// Open descriptor → index into `volumes`.
    fds: HashMap<u32, usize>,
    limit: u64,
}

impl VolumeQuota {
    /// `volumes` (volume, host directory, bytes now) preopened in this order
    /// from descriptor 3, each allowed `limit` bytes.
    pub(crate) fn new(volumes: Vec<(Volume, PathBuf, u64)>, limit: u64) -> VolumeQuota {
        let fds = (0..volumes.len())
            .map(|i| (FIRST_PREOPEN + i as u32, i))
            .collect();
        let volumes = volumes
            .into_iter()
            .map(|(volume, root, bytes)| Tracked {
                volume,
                root,
                bytes,
            })
            .collect();
        VolumeQuota {
            volumes,
            fds,
            limit,
        }
    }

    /// The quota of each volume, in bytes.
    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    /// `opened` was opened relative to `dir`: it belongs to `dir`'s volume.
    pub(crate) fn opened(&mut self, dir: u32, opened: u32) {
        match self.fds.get(&dir).copied() {
            Some(volume) => self.fds.insert(opened, volume),
            None => self.fds.remove(&opened),
        };
    }

    /// `from` was renumbered to `to` (closing what `to` was).
    pub(crate) fn renumbered(&mut self, from: u32, to: u32) {
        match self.fds.remove(&from) {
            Some(volume) => self.fds.insert(to, volume),
            None => self.fds.remove(&to),
        };
    }

    /// `fd` was closed.
    pub(crate) fn closed(&mut self, fd: u32) {
        self.fds.remove(&fd);
    }

    /// Takes `bytes` from the room of `fd`'s volume; the volume if it has
    /// not that much room. Descriptors outside the volumes (stdio) always
    /// have room.
    pub(crate) fn reserve(&mut self, fd: u32, bytes: u64) -> Result<(), Volume> {
        let Some(&index) = self.fds.get(&fd) else {
            return Ok(());
        };
        let limit = self.limit;
        let tracked = &mut self.volumes[index];
        if tracked.bytes.saturating_add(bytes) > limit {
            // Measured as the write-back will; a tree it cannot store keeps
            // the running count (the write-back refuses the call anyway).
            if let Ok(now) = super::tree::scan(tracked.volume, &tracked.root) {
                tracked.bytes = now.bytes();
            }
        }
        if tracked.bytes.saturating_add(bytes) > limit {
            return Err(tracked.volume);
        }
        tracked.bytes += bytes;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_count_against_their_volume_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        for volume in ["w", "m"] {
            std::fs::create_dir(root.join(volume)).unwrap();
        }
        let mut quota = VolumeQuota::new(
            vec![
                (Volume::Workspace, root.join("w"), 0),
                (Volume::Memory, root.join("m"), 0),
            ],
            100,
        );
        assert_eq!(quota.reserve(1, 1_000), Ok(()), "stdout is not a volume");
        quota.opened(3, 7);
        assert_eq!(quota.reserve(7, 60), Ok(()));
        // The running count says full; the directory (empty here) is
        // measured again and has room.
        assert_eq!(quota.reserve(7, 60), Ok(()));
        assert_eq!(quota.reserve(7, 101), Err(Volume::Workspace));
        quota.renumbered(7, 9);
        assert_eq!(quota.reserve(7, 101), Ok(()), "7 is no longer a file");
        assert_eq!(quota.reserve(9, 101), Err(Volume::Workspace));
        quota.opened(4, 10);
        assert_eq!(quota.reserve(10, 100), Ok(()));
        quota.closed(10);
        assert_eq!(quota.reserve(10, 1_000), Ok(()));
    }
}
