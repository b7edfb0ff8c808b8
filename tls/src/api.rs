//! TLS for the HTTP API: a server config for browsers, curl and the `nexus`
//! CLI (no client certificate; keys authenticate), and the IP addresses a
//! certificate names, to check that it covers the API's address.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::identity::NodeIdentity;

/// ALPN of the API: HTTP/1.1 only.
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Errors building the API's TLS.
#[derive(Debug, thiserror::Error)]
pub enum ApiTlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the certificate and key (e.g. they do not belong together).
    #[error("the certificate and key cannot be served: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A certificate chain and its private key, ready to serve.
pub struct ApiCert {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl ApiCert {
    /// The node's own certificate from the cluster CA, with the CA after it.
    pub fn from_identity(identity: &NodeIdentity) -> ApiCert {
        ApiCert {
            chain: vec![
                CertificateDer::from(identity.cert_der.clone()),
                CertificateDer::from(identity.ca_der.clone()),
            ],
            key: identity.key.private_key_der(),
        }
    }

    /// An operator's PEM certificate chain (leaf first) and PEM private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<ApiCert, ApiTlsError> {
        let file_error = |path: &Path, reason: String| ApiTlsError::File {
            path: path.display().to_string(),
            reason,
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| file_error(cert, e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| file_error(cert, e.to_string()))?;
        if chain.is_empty() {
            return Err(file_error(cert, "holds no PEM certificate".into()));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, e.to_string()))?;
        Ok(ApiCert { chain, key })
    }

    /// The IP addresses the leaf certificate names (its IP SANs).
    pub fn ip_addresses(&self) -> Vec<IpAddr> {
        self.chain
            .first()
            .map(|leaf| ip_sans(leaf))
            .unwrap_or_default()
    }

    /// A TLS 1.3 server config serving this certificate, HTTP/1.1 over ALPN.
    pub fn server_config(self) -> Result<Arc<ServerConfig>, ApiTlsError> {
        let mut config = ServerConfig::builder_with_provider(crate::provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(self.chain, self.key)?;
        config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
        Ok(Arc::new(config))
    }
}

/// The IP SANs of a certificate (none when it does not parse).
pub fn ip_sans(cert_der: &[u8]) -> Vec<IpAddr> {
    let Ok((_, cert)) = X509Certificate::from_der(cert_der) else {
        return Vec::new();
    };
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::IPAddress(&[a, b, c, d]) => Some(IpAddr::from([a, b, c, d])),
            GeneralName::IPAddress(bytes) => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::CA_VALIDITY;
    use crate::ClusterCa;

    #[test]
    fn node_certificates_name_their_ips_and_serve() {
        let ca = ClusterCa::create("t").unwrap();
        let ips: Vec<IpAddr> = vec!["127.0.1.7".parse().unwrap(), "::1".parse().unwrap()];
        let identity = ca.issue_local_identity(7, &ips, CA_VALIDITY).unwrap();
        let cert = ApiCert::from_identity(&identity);
        assert_eq!(cert.ip_addresses(), ips);
        cert.server_config().unwrap();
    }

    #[test]
    fn unusable_pem_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("api.pem");
        let key = dir.path().join("api.key");
        std::fs::write(&cert, "not pem").unwrap();
        std::fs::write(&key, "not pem").unwrap();
        let Err(err) = ApiCert::from_pem_files(&cert, &key) else {
            panic!("a file without certificates was accepted");
        };
        assert!(
            err.to_string().starts_with(&cert.display().to_string()),
            "{err}"
        );
        let missing = dir.path().join("missing.pem");
        let Err(err) = ApiCert::from_pem_files(&missing, &key) else {
            panic!("a missing file was accepted");
        };
        assert!(err.to_string().contains("missing.pem"), "{err}");
    }
}
