//! Bootstrap trust for a joiner that knows only the CA fingerprint from its join token.
//!
//! The join server presents the chain `[leaf, ca]`. The joiner's [`PinnedCaVerifier`] takes the
//! last certificate as the claimed CA, compares sha256 of its DER with the pinned fingerprint in
//! constant time, and then validates the leaf against that single root with webpki. Only after
//! this handshake succeeds does the joiner send its token secret.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error as TlsError, OtherError,
    RootCertStore, ServerConfig, SignatureScheme,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{server_name_for, ConfigError, TlsMaterial};
use crate::identity::node_id_from_cert;
use crate::verify::PolicyClientVerifier;

/// Errors of the bootstrap (pinned) TLS path.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// The pinned fingerprint is not 64 hex characters.
    #[error("pinned CA fingerprint must be 64 hex characters (sha256), got {len} characters")]
    BadFingerprint {
        /// The length given.
        len: usize,
    },
    /// The server sent no CA certificate after its leaf.
    #[error("join server sent no CA certificate after its leaf")]
    NoCaInChain,
    /// The server's CA does not hash to the pinned fingerprint.
    #[error("join server's CA does not match the pinned fingerprint")]
    FingerprintMismatch,
    /// The server's leaf carries no node id.
    #[error("join server certificate carries no node id SAN")]
    NoNodeId,
    /// rustls refused the named step.
    #[error("bootstrap tls config: {what}: {source}")]
    Rustls {
        /// The step that failed.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: TlsError,
    },
}

impl From<PinError> for TlsError {
    fn from(e: PinError) -> TlsError {
        TlsError::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))))
    }
}

/// Server verifier pinned to a CA fingerprint (see the module docs). Any node certificate
/// issued by the pinned CA is accepted, whatever server name was dialed: the joiner does not
/// know the node id of the node it dials.
pub struct PinnedCaVerifier {
    fingerprint: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for PinnedCaVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedCaVerifier")
            .field("fingerprint", &hex::encode(self.fingerprint))
            .finish()
    }
}

impl PinnedCaVerifier {
    /// A verifier pinned to `fingerprint` (lowercase or uppercase hex sha256 of the CA DER).
    pub fn new(fingerprint: &str) -> Result<Self, PinError> {
        let bad = || PinError::BadFingerprint {
            len: fingerprint.len(),
        };
        let bytes = hex::decode(fingerprint).map_err(|_| bad())?;
        let fingerprint: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
        Ok(PinnedCaVerifier {
            fingerprint,
            provider: crate::provider(),
        })
    }
}

impl ServerCertVerifier for PinnedCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let (ca, rest) = intermediates.split_last().ok_or(PinError::NoCaInChain)?;
        let digest = Sha256::digest(ca.as_ref());
        if !bool::from(digest.as_slice().ct_eq(&self.fingerprint)) {
            return Err(PinError::FingerprintMismatch.into());
        }
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| TlsError::General(format!("build pinned verifier: {e}")))?;
        let node_id = node_id_from_cert(end_entity).ok_or(PinError::NoNodeId)?;
        webpki.verify_server_cert(
            end_entity,
            rest,
            &server_name_for(node_id),
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Client config for a joiner: TLS 1.3, no client certificate, server pinned by CA fingerprint.
/// Dial with any server name (e.g. [`server_name_for`]`(0)`); it is not checked.
pub fn bootstrap_client_config(
    pinned_fingerprint: &str,
    alpn: &[u8],
) -> Result<ClientConfig, PinError> {
    let verifier = PinnedCaVerifier::new(pinned_fingerprint)?;
    let mut config = ClientConfig::builder_with_provider(verifier.provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|source| PinError::Rustls {
            what: "select TLS 1.3",
            source,
        })?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    config.resumption = rustls::client::Resumption::disabled();
    Ok(config)
}

/// Server config for the join endpoint: sends `[leaf, ca]`, accepts clients without a
/// certificate (joiners), and applies the full CA + policy check to clients that present one.
/// Handlers must treat a cert-less connection as unauthenticated (join RPC only).
pub fn join_server_config(
    material: &TlsMaterial,
    alpn: &[u8],
) -> Result<ServerConfig, ConfigError> {
    let webpki = WebPkiClientVerifier::builder_with_provider(
        material.roots.clone(),
        material.provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .map_err(|source| ConfigError::Verifier {
        which: "join client",
        source,
    })?;
    let verifier = Arc::new(PolicyClientVerifier {
        inner: webpki,
        policy: material.policy.clone(),
    });
    material.server_config_with(verifier, alpn)
}
