//! A `command` call's volumes as WASI preopened directories: `/workspace`,
//! `/memory` and `/tmp`, so programs written against `std::fs` or libc's
//! `fopen` run unmodified.
//!
//! The workbook stays the only copy that counts. Before the guest starts,
//! each volume is written out to a fresh directory of the call
//! ([`Mounts::materialise`]); when it finishes with an exit code, what it
//! created, changed or removed there goes back into the volume in one
//! transaction ([`Mounts::sync_back`]), and the directory is removed. A
//! call's changes therefore land all together or not at all: a call that
//! traps, times out or breaks a limit leaves the volumes as they were, and
//! concurrent calls each see the volumes as they were when they started
//! (the last to finish wins a file both changed).

mod guard;
mod quota;
mod tree;

use std::path::{Path, PathBuf};

use nexus_abi::Volume;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::data::{DataError, SandboxData};
use super::profile::Profile;

pub(crate) use guard::add_to_linker;
pub(crate) use quota::VolumeQuota;
use tree::Snapshot;

/// Most files one volume may hold after a call.
pub const MAX_VOLUME_FILES: usize = 100_000;

/// Why a call's directories could not be set up or written back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MountError {
    /// The host directory could not be made, read or removed.
    #[error("volume directory {path}: {source}")]
    Io {
        /// The host path.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The sandbox's data failed.
    #[error("{0}")]
    Data(#[from] DataError),
    /// A volume ended the call over its quota.
    #[error("/{volume} holds {bytes} bytes after the call, over its {limit}-byte quota")]
    OverQuota {
        /// The volume.
        volume: Volume,
        /// Its size after the call.
        bytes: u64,
        /// The profile's quota.
        limit: u64,
    },
    /// The guest left something a volume cannot store.
    #[error("/{volume}/{path}: {reason}")]
    Unstorable {
        /// The volume.
        volume: Volume,
        /// The path in it, as far as it is readable.
        path: String,
        /// Why it cannot be stored.
        reason: String,
    },
}

impl MountError {
    fn io(path: &Path, source: std::io::Error) -> MountError {
        MountError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// One volume of a call, on the host.
pub(crate) struct Mounted {
    volume: Volume,
    root: PathBuf,
    writable: bool,
    /// The files as written out, to tell what the call changed.
    before: Snapshot,
}

impl Mounted {
    /// The guest's path of this volume (`/workspace`...).
    fn guest_path(&self) -> String {
        format!("/{}", self.volume.as_str())
    }
}

/// The host directories of one call, removed when dropped.
pub(crate) struct Mounts {
    /// Holds the directory; dropping it removes everything under it.
    _dir: tempfile::TempDir,
    volumes: Vec<Mounted>,
    quota: u64,
}

impl Mounts {
    /// Writes every volume of `data` into a new directory under `root`,
    /// `/workspace` read-only if `profile` says so. Blocking: run it off the
    /// async threads.
    pub(crate) fn materialise(
        data: &dyn SandboxData,
        root: &Path,
        profile: &Profile,
    ) -> Result<Mounts, MountError> {
        std::fs::create_dir_all(root).map_err(|e| MountError::io(root, e))?;
        let dir = tempfile::Builder::new()
            .prefix("call-")
            .tempdir_in(root)
            .map_err(|e| MountError::io(root, e))?;
        let mut volumes = Vec::with_capacity(Volume::ALL.len());
        for volume in Volume::ALL {
            let path = dir.path().join(volume.as_str());
            let before = tree::write_out(data, volume, &path)?;
            volumes.push(Mounted {
                volume,
                root: path,
                writable: !(volume == Volume::Workspace && profile.workspace_read_only),
                before,
            });
        }
        Ok(Mounts {
            _dir: dir,
            volumes,
            quota: profile.volume_bytes,
        })
    }

    /// Adds the volumes to `wasi` as preopened directories, in
    /// [`Volume::ALL`] order (file descriptors 3, 4 and 5).
    pub(crate) fn preopen(&self, wasi: &mut WasiCtxBuilder) -> Result<(), MountError> {
        // File operations run on the calling thread, not through tokio's
        // blocking pool: they touch only this call's own local directory,
        // and the thread hop per operation made reading 1,000 small files
        // 6× slower (docs/benchmarks.md, run J).
        wasi.allow_blocking_current_thread(true);
        for mounted in &self.volumes {
            let perms = if mounted.writable {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            };
            wasi.preopened_dir(&mounted.root, mounted.guest_path(), perms)
                .map_err(|e| MountError::io(&mounted.root, std::io::Error::other(e.to_string())))?;
        }
        Ok(())
    }

    /// The quota tracker of the call's writes, the preopens starting at
    /// file descriptor 3.
    pub(crate) fn quota(&self) -> VolumeQuota {
        VolumeQuota::new(
            self.volumes
                .iter()
                .map(|m| (m.volume, m.root.clone(), m.before.bytes()))
                .collect(),
            self.quota,
        )
    }

    /// Writes what the call changed in its writable volumes back into
    /// `data`, in one [`SandboxData::apply`]; the counts of files written and
    /// removed. Blocking: run it off the async threads.
    pub(crate) fn sync_back(&self, data: &dyn SandboxData) -> Result<(usize, usize), MountError> {
        let mut writes = Vec::new();
        let mut deletes = Vec::new();
        for mounted in self.volumes.iter().filter(|m| m.writable) {
            let after = tree::scan(mounted.volume, &mounted.root)?;
            // A call may not grow a volume past its quota (one already over
            // it, after the quota was lowered, may still shrink).
            if after.bytes() > self.quota && after.bytes() > mounted.before.bytes() {
                return Err(MountError::OverQuota {
                    volume: mounted.volume,
                    bytes: after.bytes(),
                    limit: self.quota,
                });
            }
            let (changed, removed) = mounted.before.diff(&after);
            writes.extend(changed.into_iter().map(|p| (mounted, p)));
            deletes.extend(removed.into_iter().map(|p| (mounted.volume, p)));
        }
        if writes.is_empty() && deletes.is_empty() {
            return Ok((0, 0));
        }
        let counts = (writes.len(), deletes.len());
        let mut changes = tree::changes(writes, deletes);
        data.apply(&mut changes)?;
        Ok(counts)
    }
}
