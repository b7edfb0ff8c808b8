//! The API's HTTPS: which certificate it serves — the operator's
//! (`[api] cert` / `key`) or the node's own from the cluster CA, which must
//! name the address the API listens on.

use std::sync::Arc;

use nexus_tls::api::ApiCert;
use nexus_tls::NodeIdentity;

use crate::cluster::identity::tls_dir;
use crate::config::{ApiScheme, Config};
use nexus_errors::{ErrorCode, UserError};

/// The TLS config of an API served with `scheme`, or `None` for plain
/// HTTP. Called once the node's identity exists (after the replica opened).
pub fn server_config(
    config: &Config,
    scheme: ApiScheme,
) -> Result<Option<Arc<rustls::ServerConfig>>, UserError> {
    if scheme == ApiScheme::Http {
        return Ok(None);
    }
    let invalid =
        |e: &dyn std::fmt::Display| UserError::new(ErrorCode::ApiCertInvalid, e.to_string());
    let cert = match (&config.api.cert, &config.api.key) {
        (Some(cert), Some(key)) => ApiCert::from_pem_files(cert, key).map_err(|e| invalid(&e))?,
        _ => node_cert(config)?,
    };
    cert.server_config().map(Some).map_err(|e| invalid(&e))
}

/// The node's certificate, if it names the API's IP address.
fn node_cert(config: &Config) -> Result<ApiCert, UserError> {
    let dir = tls_dir(&config.data_dir);
    let identity = NodeIdentity::load(&dir).map_err(|e| {
        UserError::new(
            ErrorCode::ApiCertInvalid,
            format!("cannot load the node certificate in {}: {e}", dir.display()),
        )
    })?;
    let cert = ApiCert::from_identity(&identity);
    let names = cert.ip_addresses();
    let ip = config.listen.ip();
    if ip.is_unspecified() || !names.contains(&ip) {
        let names: Vec<String> = names.iter().map(ToString::to_string).collect();
        return Err(UserError::new(
            ErrorCode::ApiCertMismatch,
            format!(
                "the API listens on {ip}, but this node's certificate ({}) names only {}",
                dir.join(nexus_tls::identity::NODE_CERT_FILE).display(),
                names.join(", ")
            ),
        ));
    }
    Ok(cert)
}
