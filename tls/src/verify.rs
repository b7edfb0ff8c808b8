//! Authorization on top of authentication: verifiers that delegate chain validation to webpki
//! (cluster CA as the only root) and then check the peer's node id against a [`PeerPolicy`]
//! on every handshake, so a revocation takes effect on the next connection.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, RwLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError};
use rustls::{Error as TlsError, SignatureScheme};

use crate::identity::node_id_from_cert;

/// Who may talk to this node. Implemented by the registry (membership minus revoked ids);
/// [`StaticPolicy`] is an in-memory version.
pub trait PeerPolicy: Send + Sync {
    /// True when `node_id` is a member and not revoked.
    fn is_allowed(&self, node_id: u64) -> bool;
}

/// An in-memory [`PeerPolicy`]: an allow set and a revoked set (revocation wins).
#[derive(Debug, Default)]
pub struct StaticPolicy {
    allowed: RwLock<HashSet<u64>>,
    revoked: RwLock<HashSet<u64>>,
}

impl StaticPolicy {
    /// A policy allowing exactly `ids`.
    pub fn allowing(ids: impl IntoIterator<Item = u64>) -> Self {
        StaticPolicy {
            allowed: RwLock::new(ids.into_iter().collect()),
            revoked: RwLock::default(),
        }
    }

    /// Adds `node_id` to the members.
    pub fn allow(&self, node_id: u64) {
        self.allowed
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(node_id);
    }

    /// Revokes `node_id` for good; true if it was not revoked before.
    pub fn revoke(&self, node_id: u64) -> bool {
        self.revoked
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(node_id)
    }
}

impl PeerPolicy for StaticPolicy {
    fn is_allowed(&self, node_id: u64) -> bool {
        !self
            .revoked
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&node_id)
            && self
                .allowed
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains(&node_id)
    }
}

/// Why a CA-signed peer certificate was still refused.
#[derive(Debug, thiserror::Error)]
pub enum PeerRejected {
    /// The certificate carries no `n{id}.nexus.internal` SAN.
    #[error("peer certificate carries no node id SAN")]
    NoNodeId,
    /// The policy refused the node (not a member, or revoked).
    #[error("peer node {0} is not a member or is revoked")]
    NotAllowed(u64),
}

impl From<PeerRejected> for TlsError {
    fn from(e: PeerRejected) -> TlsError {
        TlsError::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))))
    }
}

/// Checks the leaf's node id against the policy.
pub(crate) fn check_peer(
    policy: &dyn PeerPolicy,
    leaf: &CertificateDer<'_>,
) -> Result<u64, TlsError> {
    let id = node_id_from_cert(leaf).ok_or(PeerRejected::NoNodeId)?;
    if policy.is_allowed(id) {
        Ok(id)
    } else {
        Err(PeerRejected::NotAllowed(id).into())
    }
}

/// The signature checks a wrapping verifier hands unchanged to `self.inner`
/// (only the certificate checks differ between the wrappers).
macro_rules! delegate_signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, TlsError> {
            self.inner.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, TlsError> {
            self.inner.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.inner.supported_verify_schemes()
        }
    };
}

/// Client-certificate verifier: webpki against the cluster CA, then the peer policy.
pub struct PolicyClientVerifier {
    pub(crate) inner: Arc<dyn ClientCertVerifier>,
    pub(crate) policy: Arc<dyn PeerPolicy>,
}

impl fmt::Debug for PolicyClientVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyClientVerifier")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl ClientCertVerifier for PolicyClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, TlsError> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        check_peer(self.policy.as_ref(), end_entity)?;
        Ok(verified)
    }

    delegate_signature_checks!();
}

/// Server-certificate verifier: webpki against the cluster CA (including the server name
/// `n{id}.nexus.internal`), then the peer policy.
pub struct PolicyServerVerifier {
    pub(crate) inner: Arc<dyn ServerCertVerifier>,
    pub(crate) policy: Arc<dyn PeerPolicy>,
}

impl fmt::Debug for PolicyServerVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyServerVerifier")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl ServerCertVerifier for PolicyServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        check_peer(self.policy.as_ref(), end_entity)?;
        Ok(verified)
    }

    delegate_signature_checks!();

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}
