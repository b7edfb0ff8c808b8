//! A node's own key and certificate. The key is generated on the node and never leaves it: the
//! node sends only a CSR. The node id is read back from the certificate's SAN.

use std::path::Path;

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use nexus_durable::{read_to_string, write_files, FileError, NewFile, PRIVATE_FILE, PUBLIC_FILE};

/// File names inside a node identity directory.
pub const NODE_CERT_FILE: &str = "node.pem";
/// The node's private key (PEM, PKCS#8, mode 0600).
pub const NODE_KEY_FILE: &str = "node.key";
/// The cluster CA certificate as received at join time.
pub const NODE_CA_FILE: &str = "ca.pem";

/// Errors about node keys and identities.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// rcgen failed while doing the named step.
    #[error("node identity: {what}: {source}")]
    Rcgen {
        /// The step that failed.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: rcgen::Error,
    },
    /// A PEM file held no object of the expected kind.
    #[error("node identity: {path} holds no PEM {kind}")]
    BadPem {
        /// The file read.
        path: String,
        /// The PEM object expected.
        kind: &'static str,
    },
    /// The certificate could not be parsed or carries no `n{id}.nexus.internal` SAN.
    #[error("node identity: certificate has no node id SAN (n<id>.nexus.internal)")]
    NoNodeId,
    /// The certificate's public key is not the node key's.
    #[error("node identity: certificate public key does not match the node key")]
    KeyMismatch,
    /// Reading or writing identity files failed.
    #[error("node identity: {0}")]
    File(#[from] FileError),
}

/// A node's private key (ECDSA P-256). Never serialized except to the node's own disk.
pub struct NodeKey {
    key: KeyPair,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeKey([elided])")
    }
}

impl NodeKey {
    /// Generates a fresh key on this node.
    pub fn generate() -> Result<NodeKey, IdentityError> {
        let key = KeyPair::generate().map_err(|source| IdentityError::Rcgen {
            what: "generate node key",
            source,
        })?;
        Ok(NodeKey { key })
    }

    /// A certificate signing request (DER) for this key. It requests nothing: the CA decides
    /// the node id and every extension.
    pub fn csr(&self) -> Result<Vec<u8>, IdentityError> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "nexus node");
        params.distinguished_name = dn;
        let csr = params
            .serialize_request(&self.key)
            .map_err(|source| IdentityError::Rcgen {
                what: "serialize CSR",
                source,
            })?;
        Ok(csr.der().to_vec())
    }

    /// The private key as PKCS#8 DER, for rustls.
    pub fn private_key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }

    /// The raw public key bytes (as in the certificate's SubjectPublicKeyInfo).
    pub fn public_key_raw(&self) -> &[u8] {
        self.key.public_key_raw()
    }

    /// Parses a PEM private key.
    pub fn from_pem(pem: &str) -> Result<NodeKey, IdentityError> {
        let key = KeyPair::from_pem(pem).map_err(|source| IdentityError::Rcgen {
            what: "parse node key PEM",
            source,
        })?;
        Ok(NodeKey { key })
    }

    /// The private key as PEM. Secret: write it only with mode 0600.
    pub fn to_pem(&self) -> String {
        self.key.serialize_pem()
    }
}

/// Everything a node needs for mTLS: its certificate, its key, the cluster CA and its id.
#[derive(Debug)]
pub struct NodeIdentity {
    /// The node certificate, DER, signed by the cluster CA.
    pub cert_der: Vec<u8>,
    /// The node's private key.
    pub key: NodeKey,
    /// The cluster CA certificate, DER, exactly as distributed.
    pub ca_der: Vec<u8>,
    /// The node id carried in the certificate SAN.
    pub node_id: u64,
}

impl NodeIdentity {
    /// Assembles an identity from a certificate received from the CA, checking that the
    /// certificate carries a node id and the key's public key.
    pub fn new(cert_der: Vec<u8>, key: NodeKey, ca_der: Vec<u8>) -> Result<Self, IdentityError> {
        let (_, cert) =
            X509Certificate::from_der(&cert_der).map_err(|_| IdentityError::NoNodeId)?;
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(IdentityError::KeyMismatch);
        }
        let node_id = node_id_from_cert(&cert_der).ok_or(IdentityError::NoNodeId)?;
        Ok(NodeIdentity {
            cert_der,
            key,
            ca_der,
            node_id,
        })
    }

    /// Lowercase hex sha256 of the CA DER this identity trusts.
    pub fn ca_fingerprint(&self) -> String {
        crate::der::fingerprint_of(&self.ca_der)
    }

    /// Writes `node.pem`, `ca.pem` (0644) and `node.key` (0600) into `dir` (made 0700).
    pub fn save(&self, dir: &Path) -> Result<(), IdentityError> {
        nexus_durable::create_private_dir(dir)?;
        let cert_pem = crate::der::pem_encode("CERTIFICATE", &self.cert_der);
        let ca_pem = crate::der::pem_encode("CERTIFICATE", &self.ca_der);
        let key_pem = self.key.to_pem();
        write_files(
            dir,
            &[
                NewFile {
                    name: NODE_CERT_FILE,
                    bytes: cert_pem.as_bytes(),
                    mode: PUBLIC_FILE,
                },
                NewFile {
                    name: NODE_CA_FILE,
                    bytes: ca_pem.as_bytes(),
                    mode: PUBLIC_FILE,
                },
                NewFile {
                    name: NODE_KEY_FILE,
                    bytes: key_pem.as_bytes(),
                    mode: PRIVATE_FILE,
                },
            ],
        )?;
        Ok(())
    }

    /// Loads an identity written by [`NodeIdentity::save`].
    pub fn load(dir: &Path) -> Result<NodeIdentity, IdentityError> {
        let cert_der = read_cert(&dir.join(NODE_CERT_FILE))?;
        let ca_der = read_cert(&dir.join(NODE_CA_FILE))?;
        let key = NodeKey::from_pem(&read_to_string(&dir.join(NODE_KEY_FILE))?)?;
        NodeIdentity::new(cert_der, key, ca_der)
    }
}

fn read_cert(path: &Path) -> Result<Vec<u8>, IdentityError> {
    let pem = read_to_string(path)?;
    let der =
        CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|_| IdentityError::BadPem {
            path: path.display().to_string(),
            kind: "certificate",
        })?;
    Ok(der.to_vec())
}

/// The node id from a certificate's DNS SAN `n{id}.nexus.internal`, or `None` when the
/// certificate does not parse, has no such SAN, or names more than one node.
pub fn node_id_from_cert(cert_der: &[u8]) -> Option<u64> {
    let (_, cert) = X509Certificate::from_der(cert_der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    let mut found = None;
    for name in &san.value.general_names {
        if let GeneralName::DNSName(dns) = name {
            if let Some(id) = parse_node_name(dns) {
                if found.is_some_and(|f| f != id) {
                    return None;
                }
                found = Some(id);
            }
        }
    }
    found
}

/// Parses `n{id}.nexus.internal` (canonical decimal only: no sign, no leading zeros).
fn parse_node_name(name: &str) -> Option<u64> {
    let digits = name
        .strip_suffix(crate::NODE_NAME_SUFFIX)?
        .strip_prefix('n')?;
    let id: u64 = digits.parse().ok()?;
    (id.to_string() == digits).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::parse_node_name;

    #[test]
    fn node_names_parse_only_in_canonical_form() {
        assert_eq!(parse_node_name("n7.nexus.internal"), Some(7));
        assert_eq!(parse_node_name("n0.nexus.internal"), Some(0));
        assert_eq!(parse_node_name("n07.nexus.internal"), None);
        assert_eq!(parse_node_name("n+7.nexus.internal"), None);
        assert_eq!(parse_node_name("x7.nexus.internal"), None);
        assert_eq!(parse_node_name("n7.nexus.internal.evil"), None);
    }
}
