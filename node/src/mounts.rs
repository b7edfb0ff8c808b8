//! Where this node's running commands get their volumes as directories:
//! `mounts/` in the data dir, or a directory of its own under `mount_dir`
//! (several nodes may share one tmpfs).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tracing::warn;

use crate::config::Config;

/// The directory the engine puts `call-*` directories in.
pub fn root(config: &Config, data_dir: &Path) -> PathBuf {
    match &config.mount_dir {
        None => data_dir.join("mounts"),
        Some(shared) => {
            // Named after the data dir: stable across restarts, apart
            // from other nodes using the same mount_dir.
            let identity = data_dir
                .canonicalize()
                .unwrap_or_else(|_| data_dir.to_path_buf());
            let digest = Sha256::digest(identity.as_os_str().as_encoded_bytes());
            shared.join(format!("nexus-{}", &hex::encode(digest)[..12]))
        }
    }
}

/// Removes the `call-*` directories a crash left under `root`: the
/// workbooks hold what counts, so they are only deleted.
pub fn clear(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with("call-") {
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                warn!(path = %entry.path().display(), error = %e, "cannot clear an old call directory");
            }
        }
    }
}
