//! The cluster certificate authority: made once at `nexus init`, it signs node CSRs under its
//! own policy. Its identity for pinning is [`ClusterCa::fingerprint`]: sha256 of the CA DER as
//! read from disk (never a re-serialized copy, whose bytes would differ).

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use crate::der::{fingerprint_of, pem_encode};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateSigningRequestDer};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::identity::{NodeIdentity, NodeKey};
use nexus_durable::{read_to_string, write_files, FileError, NewFile, PRIVATE_FILE, PUBLIC_FILE};

/// File name of the CA certificate (PEM) inside a CA directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the CA private key (PEM, mode 0600) inside a CA directory.
pub const CA_KEY_FILE: &str = "ca.key";
/// How long a cluster CA is valid.
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// Default lifetime of a node certificate.
pub const NODE_CERT_VALIDITY: Duration = Duration::from_secs(90 * 24 * 3600);
/// Node certificates start this long in the past, to tolerate clock skew between nodes.
const BACKDATE: Duration = Duration::from_secs(5 * 60);

/// Errors of the cluster CA.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// rcgen failed while doing the named step.
    #[error("cluster CA: {what}: {source}")]
    Rcgen {
        /// The step that failed.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: rcgen::Error,
    },
    /// The CSR could not be parsed or its signature does not verify.
    #[error("cluster CA: invalid CSR for node {node_id}: {source}")]
    BadCsr {
        /// The node the CSR was for.
        node_id: u64,
        /// The underlying error.
        #[source]
        source: rcgen::Error,
    },
    /// A joiner's CSR could not be parsed or its signature does not verify.
    #[error("cluster CA: the CSR is not a valid signed certificate request: {source}")]
    CsrInvalid {
        /// The underlying error.
        #[source]
        source: rcgen::Error,
    },
    /// `ca.pem` holds no certificate.
    #[error("cluster CA: {path} holds no PEM certificate")]
    BadCaPem {
        /// The file read.
        path: String,
    },
    /// Making or assembling the node identity failed.
    #[error("cluster CA: {0}")]
    Identity(#[from] crate::identity::IdentityError),
    /// Reading or writing the CA files failed.
    #[error("cluster CA: {0}")]
    File(#[from] FileError),
    /// An export ([`ClusterCa::export_pem`]) could not be read back.
    #[error("cluster CA export: {0}")]
    BadExport(String),
}

fn rc(what: &'static str) -> impl FnOnce(rcgen::Error) -> CaError {
    move |source| CaError::Rcgen { what, source }
}

/// The cluster CA: its certificate (exact DER bytes) and its signing key.
pub struct ClusterCa {
    issuer: Issuer<'static, KeyPair>,
    ca_der: CertificateDer<'static>,
}

impl std::fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCa")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl ClusterCa {
    /// Creates a new self-signed CA (ECDSA P-256) for `cluster_name`: CA with path length 0
    /// (no intermediates), key usages KeyCertSign|CrlSign|DigitalSignature, valid 10 years.
    pub fn create(cluster_name: &str) -> Result<ClusterCa, CaError> {
        let key = KeyPair::generate().map_err(rc("generate CA key"))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "nexus");
        dn.push(
            DnType::CommonName,
            format!("nexus cluster {cluster_name} CA"),
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - BACKDATE;
        params.not_after = now + CA_VALIDITY;
        params.serial_number = Some(random_serial());
        let cert = params.self_signed(&key).map_err(rc("self-sign CA"))?;
        Ok(ClusterCa {
            ca_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Writes `ca.pem` (0644) and `ca.key` (0600) into `dir`, made mode 0700.
    pub fn save(&self, dir: &Path) -> Result<(), CaError> {
        nexus_durable::create_private_dir(dir)?;
        let key_pem = self.issuer.key().serialize_pem();
        write_files(
            dir,
            &[
                NewFile {
                    name: CA_CERT_FILE,
                    bytes: self.ca_pem().as_bytes(),
                    mode: PUBLIC_FILE,
                },
                NewFile {
                    name: CA_KEY_FILE,
                    bytes: key_pem.as_bytes(),
                    mode: PRIVATE_FILE,
                },
            ],
        )?;
        Ok(())
    }

    /// Loads a CA saved by [`ClusterCa::save`], keeping the CA DER exactly as stored.
    pub fn load(dir: &Path) -> Result<ClusterCa, CaError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let cert_pem = read_to_string(&cert_path)?;
        let key_pem = read_to_string(&dir.join(CA_KEY_FILE))?;
        let ca_der =
            CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|_| CaError::BadCaPem {
                path: cert_path.display().to_string(),
            })?;
        let key = KeyPair::from_pem(&key_pem).map_err(rc("parse ca.key"))?;
        let issuer = Issuer::from_ca_cert_der(&ca_der, key).map_err(rc("parse ca.pem"))?;
        Ok(ClusterCa { issuer, ca_der })
    }

    /// The CA certificate and its private key as one PEM text (certificate
    /// first): what `nexus ca export` writes. It holds the CA key: whoever
    /// reads it can sign node certificates for the cluster.
    pub fn export_pem(&self) -> String {
        format!("{}{}", self.ca_pem(), self.issuer.key().serialize_pem())
    }

    /// Reads an [`ClusterCa::export_pem`] text back: exactly one certificate
    /// that is a CA and exactly one private key, which must be the
    /// certificate's.
    pub fn from_export_pem(text: &str) -> Result<ClusterCa, CaError> {
        let bad = |what: String| CaError::BadExport(what);
        let blocks = pem::parse_many(text).map_err(|e| bad(format!("not PEM: {e}")))?;
        let of_tag =
            |tag: &str| -> Vec<&pem::Pem> { blocks.iter().filter(|b| b.tag() == tag).collect() };
        let (certs, keys) = (of_tag("CERTIFICATE"), of_tag("PRIVATE KEY"));
        let ([cert], [key]) = (certs.as_slice(), keys.as_slice()) else {
            return Err(bad(format!(
                "expected one CERTIFICATE and one PRIVATE KEY block, found {} and {} (of {} blocks)",
                certs.len(),
                keys.len(),
                blocks.len()
            )));
        };
        let ca_der = CertificateDer::from(cert.contents().to_vec());
        let (_, parsed) = X509Certificate::from_der(&ca_der)
            .map_err(|e| bad(format!("the certificate cannot be parsed: {e}")))?;
        if !parsed.is_ca() {
            return Err(bad("the certificate is not a CA certificate".to_owned()));
        }
        let key = KeyPair::from_pem(&pem::encode(key))
            .map_err(|e| bad(format!("the private key cannot be read: {e}")))?;
        if parsed.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(bad(
                "the private key does not belong to the certificate".to_owned()
            ));
        }
        let issuer = Issuer::from_ca_cert_der(&ca_der, key).map_err(rc("parse the CA"))?;
        Ok(ClusterCa { issuer, ca_der })
    }

    /// The CA certificate, DER, exactly as created or loaded.
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// The CA certificate as PEM (an encoding of [`ClusterCa::ca_der`]).
    pub fn ca_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.ca_der)
    }

    /// Lowercase hex sha256 of the CA DER: the value pinned by join tokens.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(&self.ca_der)
    }

    /// Signs a node CSR (DER) under the CA's policy and returns the node certificate DER.
    ///
    /// The CSR's signature is verified, then everything it asked for is discarded: the
    /// certificate gets SAN `n{node_id}.nexus.internal` plus `ip_sans`, no CA rights,
    /// EKU ServerAuth+ClientAuth, KeyUsage DigitalSignature, a random serial, an authority key
    /// identifier and a lifetime of `validity` (backdated 5 minutes for clock skew).
    pub fn sign_node_csr(
        &self,
        csr_der: &[u8],
        node_id: u64,
        ip_sans: &[IpAddr],
        validity: Duration,
    ) -> Result<Vec<u8>, CaError> {
        let mut csr =
            CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(csr_der))
                .map_err(|source| CaError::BadCsr { node_id, source })?;
        csr.params = node_cert_params(node_id, ip_sans, validity)?;
        let cert = csr.signed_by(&self.issuer).map_err(rc("sign node CSR"))?;
        Ok(cert.der().to_vec())
    }

    /// Checks that `csr_der` is a CSR whose signature verifies (done before
    /// a join spends its token, so a broken request costs nothing).
    pub fn verify_csr(csr_der: &[u8]) -> Result<(), CaError> {
        CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(csr_der))
            .map(|_| ())
            .map_err(|source| CaError::CsrInvalid { source })
    }

    /// Issues an identity for a node on this machine (the `nexus init` node): the key is made
    /// here, a CSR is built and signed like any other.
    pub fn issue_local_identity(
        &self,
        node_id: u64,
        ip_sans: &[IpAddr],
        validity: Duration,
    ) -> Result<NodeIdentity, CaError> {
        let key = NodeKey::generate()?;
        let csr = key.csr()?;
        let cert_der = self.sign_node_csr(&csr, node_id, ip_sans, validity)?;
        Ok(NodeIdentity::new(cert_der, key, self.ca_der.to_vec())?)
    }
}

/// The policy parameters of every node certificate.
fn node_cert_params(
    node_id: u64,
    ip_sans: &[IpAddr],
    validity: Duration,
) -> Result<CertificateParams, CaError> {
    let name = crate::node_dns_name(node_id);
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "nexus");
    dn.push(DnType::CommonName, name.clone());
    params.distinguished_name = dn;
    let dns = name
        .try_into()
        .map_err(rc("node DNS name is not a valid IA5 string"))?;
    params.subject_alt_names = std::iter::once(SanType::DnsName(dns))
        .chain(ip_sans.iter().map(|ip| SanType::IpAddress(*ip)))
        .collect();
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + validity;
    params.serial_number = Some(random_serial());
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// A random positive 128-bit serial number.
fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}
