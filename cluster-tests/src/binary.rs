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
            // dependencies' features differently and rebuild them all. The
            // variables cargo sets for this test are dropped: build scripts
            // watch some (ring: CARGO_MANIFEST_DIR), and a changed value
            // rebuilds them and everything above them.
            let mut cargo = Command::new(env!("CARGO"));
            for (name, _) in std::env::vars_os() {
                let name = name.to_string_lossy();
                if is_set_by_cargo_for_a_test(&name) {
                    cargo.env_remove(name.as_ref());
                }
            }
            let status = cargo
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

/// Whether `name` is one of the variables cargo sets for the crate a test
/// belongs to (not one the user set for the whole build).
fn is_set_by_cargo_for_a_test(name: &str) -> bool {
    name == "CARGO"
        || name == "CARGO_PRIMARY_PACKAGE"
        || name == "CARGO_TARGET_TMPDIR"
        || [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}
