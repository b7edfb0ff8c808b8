//! Finds the `nexus` binary of this workspace, building it once if needed.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The path of a fresh `nexus` binary (debug profile).
pub fn nexus() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("cluster-tests lives in the workspace")
                .to_path_buf();
            // The very build `cargo test --workspace` makes (a no-op after
            // it): `cargo build -p nexus-node` would resolve the
            // dependencies' features differently and rebuild them all.
            let status = Command::new(env!("CARGO"))
                .args(["test", "-q", "--workspace", "--no-run"])
                .current_dir(&workspace)
                .status()
                .expect("run cargo build");
            assert!(status.success(), "cargo build of the nexus binary failed");
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace.join("target"));
            target.join("debug").join("nexus")
        })
        .clone()
}
