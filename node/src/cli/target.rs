//! Where a CLI command sends its requests: the node's URL, the API key and
//! the CA that verifies the node's HTTPS certificate — from the flags, else
//! from the node's `nexus.toml` (`--config`), else from the local dev node
//! (`./.nexus` or `$NEXUS_DATA_DIR`, `http://127.0.0.1:2026`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::client::NodeClient;
use crate::cluster::identity::tls_dir;
use crate::config::{nexus_env, Config, DEFAULT_DATA_DIR, DEFAULT_LISTEN};
use crate::daemon::ADMIN_KEY_FILE;
use nexus_errors::{ErrorCode, UserError};

/// What the global flags say about the node to talk to.
#[derive(Debug, Default)]
pub struct TargetFlags {
    /// `--config`: the node's nexus.toml.
    pub config: Option<PathBuf>,
    /// `--node`: the API's base URL.
    pub node: Option<String>,
    /// `--key`: the API key.
    pub key: Option<String>,
    /// `--ca`: a PEM CA certificate to verify HTTPS with.
    pub ca: Option<PathBuf>,
}

impl TargetFlags {
    /// A client for the node these flags (and the config they name) describe.
    pub fn client(&self) -> Result<NodeClient, UserError> {
        let (data_dir, url) = match &self.config {
            Some(path) => {
                let config = Config::load(Some(path), nexus_env())?;
                let url = format!(
                    "{}://{}",
                    config.api_scheme()?.as_str(),
                    dialable(config.listen)
                );
                (config.data_dir, url)
            }
            None => {
                let dir = std::env::var_os("NEXUS_DATA_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
                (dir, format!("http://{DEFAULT_LISTEN}"))
            }
        };
        let url = self.node.clone().unwrap_or(url);
        let key = self.key.clone().or_else(|| admin_key(&data_dir));
        let ca = match &self.ca {
            Some(path) => Some(read_ca(path)?),
            None => {
                let local = tls_dir(&data_dir).join(nexus_tls::identity::NODE_CA_FILE);
                std::fs::read(local).ok()
            }
        };
        NodeClient::with_ca(&url, key, ca.as_deref())
    }
}

/// The address a client dials for an API listening on `listen` (a wildcard
/// listen is dialed on loopback).
fn dialable(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), listen.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), listen.port())
        }
        _ => listen,
    }
}

/// The admin key a node wrote in its data dir, if this machine has it.
fn admin_key(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(data_dir.join(ADMIN_KEY_FILE))
        .ok()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
}

fn read_ca(path: &Path) -> Result<Vec<u8>, UserError> {
    std::fs::read(path).map_err(|e| {
        UserError::new(
            ErrorCode::ConfigInvalid,
            format!("cannot read the CA certificate {}: {e}", path.display()),
        )
        .with_hint("pass --ca a PEM file: the cluster CA is DATA_DIR/tls/ca.pem on any node")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_gives_the_url_the_key_and_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("tls")).unwrap();
        std::fs::write(data.join(ADMIN_KEY_FILE), "nxk_test\n").unwrap();
        let config = dir.path().join("nexus.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"0.0.0.0:4100\"\ndata_dir = \"{}\"\n[api]\ninsecure_plaintext = true\n",
                data.display()
            ),
        )
        .unwrap();
        let flags = TargetFlags {
            config: Some(config),
            ..TargetFlags::default()
        };
        let client = flags.client().unwrap();
        assert_eq!(client.base(), "http://127.0.0.1:4100");
        assert_eq!(client.key(), Some("nxk_test"));
        let flags = TargetFlags {
            node: Some("https://127.0.0.1:9".into()),
            ca: Some(dir.path().join("missing.pem")),
            ..flags
        };
        let Err(err) = flags.client() else {
            panic!("a missing CA file was accepted");
        };
        assert_eq!(err.code, "CONFIG_INVALID");
        assert!(err.message.contains("missing.pem"), "{}", err.message);
    }
}
