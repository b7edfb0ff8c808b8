//! `nexus ca export | import`: put the cluster CA on a second node, so joins
//! survive the loss of the node that ran `nexus init`.
//!
//! `export` reads `{data_dir}/tls/ca/` of a node that holds the CA and writes
//! the certificate and key into one new file (0600, never overwriting).
//! `import` installs that file into a stopped node's data dir — only if it
//! is the CA of that node's own cluster — as `tls/ca/` (0700, files 0600).
//! At its next start the node records itself as a CA holder, and members
//! without the key forward joins to it.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use clap::Subcommand;
use nexus_tls::ca::{CA_CERT_FILE, CA_KEY_FILE};
use nexus_tls::{ClusterCa, NodeIdentity};
use serde::Serialize;

use super::output::print_json;
use crate::cluster::identity::{ca_dir, tls_dir};
use crate::config::{nexus_env, Config};
use nexus_errors::{ErrorCode, UserError};

/// CA commands.
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Write this node's cluster CA certificate and key into one new file
    /// (mode 0600). It holds the CA key: keep it like the key itself.
    Export {
        /// The file to write; an existing file is never overwritten.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Install a CA exported from a node of this node's cluster into this
    /// node's data dir (the node must be stopped); it holds the CA from its
    /// next start on.
    Import {
        /// The file `nexus ca export` wrote.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// What `nexus ca import` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Imported {
    /// The fingerprint of the CA installed.
    pub ca_fingerprint: String,
    /// Where it was installed.
    pub ca_dir: PathBuf,
    /// False when the data dir already held this CA.
    pub changed: bool,
}

/// Runs a CA command against the data dir of the node `config` describes.
pub fn run(command: CaCommand, config: Option<&Path>, json: bool) -> Result<i32, UserError> {
    let config = Config::load(config, nexus_env())?;
    let data_dir = &config.data_dir;
    match command {
        CaCommand::Export { out } => {
            let fingerprint = export(data_dir, &out)?;
            if json {
                print_json(&serde_json::json!({ "ca_fingerprint": fingerprint, "file": out }));
            } else {
                println!(
                    "exported cluster CA {fingerprint} (certificate and key) to {} (0600)",
                    out.display()
                );
                println!(
                    "it holds the CA key: keep it offline and delete copies you no longer need"
                );
            }
        }
        CaCommand::Import { file } => {
            let imported = import(data_dir, &file)?;
            if json {
                print_json(&imported);
            } else if imported.changed {
                println!(
                    "imported cluster CA {} into {}",
                    imported.ca_fingerprint,
                    imported.ca_dir.display()
                );
                println!("start the node: it records itself as a CA holder and admits joins");
            } else {
                println!(
                    "{} already holds cluster CA {}; nothing changed",
                    imported.ca_dir.display(),
                    imported.ca_fingerprint
                );
            }
        }
    }
    Ok(0)
}

/// Writes the CA of `data_dir` into the new file `out` (0600); returns its
/// fingerprint.
pub fn export(data_dir: &Path, out: &Path) -> Result<String, UserError> {
    let dir = ca_dir(data_dir);
    if !dir.join(CA_KEY_FILE).exists() {
        return Err(UserError::new(
            ErrorCode::CaNotHeld,
            format!(
                "data dir {} holds no cluster CA key ({}): this node is not a CA holder",
                data_dir.display(),
                dir.join(CA_KEY_FILE).display()
            ),
        ));
    }
    let ca = ClusterCa::load(&dir)
        .map_err(|e| UserError::new(ErrorCode::ClusterIdentityInvalid, e.to_string()))?;
    write_new(out, ca.export_pem().as_bytes())?;
    Ok(ca.fingerprint())
}

/// Creates `path` with `bytes`, mode 0600; refuses a path that exists (the
/// check and the creation are one step). A failed write leaves no file.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), UserError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => UserError::new(
                ErrorCode::CaExportExists,
                format!("{} exists; an export is never overwritten", path.display()),
            ),
            _ => UserError::new(
                ErrorCode::Internal,
                format!("cannot create {}: {e}", path.display()),
            ),
        })?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(path);
        return Err(UserError::new(
            ErrorCode::Internal,
            format!("cannot write {}: {e}", path.display()),
        ));
    }
    Ok(())
}

/// Installs the CA exported in `file` into the stopped node's `data_dir`.
pub fn import(data_dir: &Path, file: &Path) -> Result<Imported, UserError> {
    let identity = NodeIdentity::load(&tls_dir(data_dir)).map_err(|e| {
        UserError::new(
            ErrorCode::ClusterIdentityMissing,
            format!(
                "data dir {} holds no usable node identity ({e}): init or join the node first",
                data_dir.display()
            ),
        )
    })?;
    // Held until the CA is in place: the node cannot start meanwhile.
    let _lock = crate::daemon::lock_data_dir(data_dir).map_err(|e| {
        if e.is(ErrorCode::DataDirLocked) {
            UserError::new(
                ErrorCode::DataDirLocked,
                format!("{}: stop the node before importing a CA", e.message),
            )
        } else {
            e
        }
    })?;
    let text = std::fs::read_to_string(file).map_err(|e| {
        UserError::new(
            ErrorCode::CaImportInvalid,
            format!("cannot read {}: {e}", file.display()),
        )
    })?;
    let ca = ClusterCa::from_export_pem(&text).map_err(|e| {
        UserError::new(
            ErrorCode::CaImportInvalid,
            format!("{}: {e}", file.display()),
        )
    })?;
    let cluster = identity.ca_fingerprint();
    if ca.fingerprint() != cluster {
        return Err(UserError::new(
            ErrorCode::CaImportForeign,
            format!(
                "{} holds CA {}, but this node's cluster CA is {cluster}",
                file.display(),
                ca.fingerprint()
            ),
        ));
    }
    let dir = ca_dir(data_dir);
    let imported = |changed| Imported {
        ca_fingerprint: cluster.clone(),
        ca_dir: dir.clone(),
        changed,
    };
    if dir.join(CA_KEY_FILE).exists() {
        let held = ClusterCa::load(&dir)
            .map_err(|e| UserError::new(ErrorCode::ClusterIdentityInvalid, e.to_string()))?;
        if held.fingerprint() == cluster {
            return Ok(imported(false));
        }
    }
    let failed = |e: &dyn std::fmt::Display| {
        UserError::new(
            ErrorCode::Internal,
            format!("cannot write {}: {e}", dir.display()),
        )
    };
    ca.save(&dir).map_err(|e| failed(&e))?;
    // The library writes ca.pem 0644; every file of a data dir is private.
    let cert = dir.join(CA_CERT_FILE);
    std::fs::set_permissions(&cert, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| failed(&e))?;
    Ok(imported(true))
}

#[cfg(test)]
mod tests {
    use nexus_tls::ca::CA_VALIDITY;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// A data dir of node `id` with an identity from `ca`, holding the CA
    /// itself when `holder`.
    fn node_dir(root: &Path, ca: &ClusterCa, id: u64, holder: bool) -> PathBuf {
        let data_dir = root.join(format!("node-{id}"));
        ca.issue_local_identity(id, &[], CA_VALIDITY)
            .unwrap()
            .save(&tls_dir(&data_dir))
            .unwrap();
        if holder {
            ca.save(&ca_dir(&data_dir)).unwrap();
        }
        data_dir
    }

    #[test]
    fn an_export_imports_into_a_node_of_the_same_cluster_once() {
        let root = tempfile::tempdir().unwrap();
        let ca = ClusterCa::create("test").unwrap();
        let first = node_dir(root.path(), &ca, 1, true);
        let second = node_dir(root.path(), &ca, 2, false);
        let file = root.path().join("ca-export.pem");

        assert_eq!(export(&first, &file).unwrap(), ca.fingerprint());
        assert_eq!(mode(&file), 0o600);

        let imported = import(&second, &file).unwrap();
        assert_eq!(
            imported,
            Imported {
                ca_fingerprint: ca.fingerprint(),
                ca_dir: ca_dir(&second),
                changed: true,
            }
        );
        let dir = ca_dir(&second);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(CA_KEY_FILE)), 0o600);
        assert_eq!(mode(&dir.join(CA_CERT_FILE)), 0o600);
        assert_eq!(
            ClusterCa::load(&dir).unwrap().fingerprint(),
            ca.fingerprint()
        );

        // Again: nothing to do.
        assert!(!import(&second, &file).unwrap().changed);
    }

    #[test]
    fn an_export_never_overwrites_and_needs_the_ca_key() {
        let root = tempfile::tempdir().unwrap();
        let ca = ClusterCa::create("test").unwrap();
        let holder = node_dir(root.path(), &ca, 1, true);
        let other = node_dir(root.path(), &ca, 2, false);
        let file = root.path().join("taken.pem");
        std::fs::write(&file, "keep me").unwrap();

        let err = export(&holder, &file).unwrap_err();
        assert!(err.is(ErrorCode::CaExportExists), "{err:?}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");

        let fresh = root.path().join("fresh.pem");
        let err = export(&other, &fresh).unwrap_err();
        assert!(err.is(ErrorCode::CaNotHeld), "{err:?}");
        assert!(!fresh.exists());
    }

    #[test]
    fn an_import_refuses_a_foreign_ca_garbage_and_a_running_node() {
        let root = tempfile::tempdir().unwrap();
        let ca = ClusterCa::create("ours").unwrap();
        let stranger = ClusterCa::create("theirs").unwrap();
        let target = node_dir(root.path(), &ca, 2, false);
        let foreign = root.path().join("foreign.pem");
        std::fs::write(&foreign, stranger.export_pem()).unwrap();
        let garbage = root.path().join("garbage.pem");
        std::fs::write(&garbage, ca.ca_pem()).unwrap();

        let err = import(&target, &foreign).unwrap_err();
        assert!(err.is(ErrorCode::CaImportForeign), "{err:?}");
        assert!(
            err.message.contains(&stranger.fingerprint()),
            "{}",
            err.message
        );
        assert!(err.message.contains(&ca.fingerprint()), "{}", err.message);

        let err = import(&target, &garbage).unwrap_err();
        assert!(err.is(ErrorCode::CaImportInvalid), "{err:?}");
        assert!(!ca_dir(&target).exists(), "a refused import wrote");

        let good = root.path().join("good.pem");
        std::fs::write(&good, ca.export_pem()).unwrap();
        let running = crate::daemon::lock_data_dir(&target).unwrap();
        let err = import(&target, &good).unwrap_err();
        assert!(err.is(ErrorCode::DataDirLocked), "{err:?}");
        assert!(!ca_dir(&target).exists());
        drop(running);
        assert!(import(&target, &good).unwrap().changed);

        // A data dir that is no node at all.
        let empty = root.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let err = import(&empty, &good).unwrap_err();
        assert!(err.is(ErrorCode::ClusterIdentityMissing), "{err:?}");
    }
}
