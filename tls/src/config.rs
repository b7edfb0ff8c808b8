//! rustls configs for node-to-node traffic (tonic over TCP, quinn for bulk data). One
//! [`TlsMaterial`] holds the shared pieces — provider, cert resolver, verifiers — and each
//! transport takes a config with its own ALPN. Resolvers and verifiers are shared `Arc`s, so a
//! certificate rotation or a policy change affects every transport at once. TLS 1.3 only.

use std::fmt;
use std::sync::{Arc, RwLock};

use rustls::client::danger::ServerCertVerifier;
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SignatureScheme};

use crate::identity::{node_id_from_cert, NodeIdentity};
pub use crate::verify::{PeerPolicy, PeerRejected, StaticPolicy};
use crate::verify::{PolicyClientVerifier, PolicyServerVerifier};

/// ALPN for tonic gRPC over TCP (raft and node-to-node RPCs).
pub const ALPN_GRPC: &[u8] = b"h2";
/// ALPN of the join endpoint: a joiner without a certificate yet, on the
/// peer port (the one connection kind served without client authentication,
/// and only the join RPC).
pub const ALPN_JOIN: &[u8] = b"nexus-join/1";
/// ALPN for quinn bulk streams (sandbox files, module blobs, fan-out payloads).
pub const ALPN_BULK: &[u8] = b"nexus-bulk/1";

/// Errors building TLS configs.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// rustls refused the named step.
    #[error("tls config: {what}: {source}")]
    Rustls {
        /// The step that failed.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: rustls::Error,
    },
    /// A webpki verifier could not be built.
    #[error("tls config: build {which} verifier: {source}")]
    Verifier {
        /// Which verifier (client or server).
        which: &'static str,
        /// The underlying error.
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
    /// A certificate rotation tried to switch to another CA.
    #[error("tls config: new identity is for another cluster CA")]
    CaChanged,
}

/// The server name to dial node `node_id` with: `n{id}.nexus.internal`.
#[allow(clippy::expect_used)] // `n{digits}.nexus.internal` is a valid DNS name for every u64
pub fn server_name_for(node_id: u64) -> ServerName<'static> {
    ServerName::try_from(crate::node_dns_name(node_id)).expect("node names are valid DNS names")
}

/// The node id of a connected peer, from its leaf certificate (rustls `peer_certificates()`).
pub fn peer_node_id(peer_certificates: Option<&[CertificateDer<'_>]>) -> Option<u64> {
    node_id_from_cert(peer_certificates?.first()?)
}

/// The node's current certificate chain `[leaf, ca]` and key; serves both as server and as
/// client certificate. [`TlsMaterial::rotate`] swaps it atomically.
pub(crate) struct CertResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CertResolver")
    }
}

impl CertResolver {
    fn get(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

impl ResolvesClientCert for CertResolver {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

fn certified_key(
    identity: &NodeIdentity,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, ConfigError> {
    let chain = vec![
        CertificateDer::from(identity.cert_der.clone()),
        CertificateDer::from(identity.ca_der.clone()),
    ];
    CertifiedKey::from_der(chain, identity.key.private_key_der(), provider).map_err(|source| {
        ConfigError::Rustls {
            what: "load node certificate and key",
            source,
        }
    })
}

/// The TLS pieces of one node, shared by every transport.
pub struct TlsMaterial {
    pub(crate) provider: Arc<CryptoProvider>,
    pub(crate) resolver: Arc<CertResolver>,
    pub(crate) roots: Arc<RootCertStore>,
    pub(crate) policy: Arc<dyn PeerPolicy>,
    ca_der: Vec<u8>,
    node_id: u64,
    client_verifier: Arc<dyn ClientCertVerifier>,
    server_verifier: Arc<dyn ServerCertVerifier>,
}

impl fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

impl TlsMaterial {
    /// Builds the material from this node's identity; peers are authorized by `policy`.
    pub fn new(identity: &NodeIdentity, policy: Arc<dyn PeerPolicy>) -> Result<Self, ConfigError> {
        let provider = crate::provider();
        let key = certified_key(identity, &provider)?;
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(identity.ca_der.clone()))
            .map_err(|source| ConfigError::Rustls {
                what: "add cluster CA to the root store",
                source,
            })?;
        let roots = Arc::new(roots);
        let webpki_client =
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                .build()
                .map_err(|source| ConfigError::Verifier {
                    which: "client",
                    source,
                })?;
        let webpki_server =
            WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
                .build()
                .map_err(|source| ConfigError::Verifier {
                    which: "server",
                    source,
                })?;
        Ok(TlsMaterial {
            client_verifier: Arc::new(PolicyClientVerifier {
                inner: webpki_client,
                policy: policy.clone(),
            }),
            server_verifier: Arc::new(PolicyServerVerifier {
                inner: webpki_server,
                policy: policy.clone(),
            }),
            resolver: Arc::new(CertResolver {
                current: RwLock::new(Arc::new(key)),
            }),
            provider,
            roots,
            policy,
            ca_der: identity.ca_der.clone(),
            node_id: identity.node_id,
        })
    }

    /// This node's id.
    pub fn node_id(&self) -> u64 {
        self.node_id
    }

    /// The cluster CA DER this material trusts.
    pub fn ca_der(&self) -> &[u8] {
        &self.ca_der
    }

    /// Swaps in a renewed certificate (same CA); live configs use it from the next handshake.
    pub fn rotate(&self, identity: &NodeIdentity) -> Result<(), ConfigError> {
        if identity.ca_der != self.ca_der {
            return Err(ConfigError::CaChanged);
        }
        let key = certified_key(identity, &self.provider)?;
        *self
            .resolver
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(key);
        Ok(())
    }

    /// A server config requiring a CA-signed client certificate whose node id the policy allows.
    pub fn server_config(&self, alpn: &[u8]) -> Result<ServerConfig, ConfigError> {
        self.server_config_with(self.client_verifier.clone(), alpn)
    }

    pub(crate) fn server_config_with(
        &self,
        verifier: Arc<dyn ClientCertVerifier>,
        alpn: &[u8],
    ) -> Result<ServerConfig, ConfigError> {
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|source| ConfigError::Rustls {
                what: "select TLS 1.3",
                source,
            })?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(self.resolver.clone());
        config.alpn_protocols = vec![alpn.to_vec()];
        // A resumed session skips certificate verification, and with it the policy check:
        // no tickets, no session cache, so every connection is a full handshake.
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        Ok(config)
    }

    /// A client config presenting this node's certificate and accepting only servers whose
    /// certificate chains to the cluster CA, matches the dialed [`server_name_for`] and whose
    /// node id the policy allows.
    pub fn client_config(&self, alpn: &[u8]) -> Result<ClientConfig, ConfigError> {
        let mut config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|source| ConfigError::Rustls {
                what: "select TLS 1.3",
                source,
            })?
            .dangerous()
            .with_custom_certificate_verifier(self.server_verifier.clone())
            .with_client_cert_resolver(self.resolver.clone());
        config.alpn_protocols = vec![alpn.to_vec()];
        // Resumption would skip the server verifier (and the policy check); see server_config.
        config.resumption = rustls::client::Resumption::disabled();
        Ok(config)
    }
}
