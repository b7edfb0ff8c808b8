//! Nexus cluster trust: the cluster CA, node keys and certificates, rustls configs with
//! membership-aware verifiers, join tokens and ed25519 `did:key` identities.
//!
//! Crypto provider: **ring**, everywhere. Every rustls object built here uses the one shared
//! [`provider()`]; call [`install_crypto_provider()`] at process start so that libraries using
//! the process default (tonic internals, quinn defaults) agree with it.
//!
//! Peer identity is the node id carried in the certificate's DNS SAN `n{id}.nexus.internal`
//! (see [`node_dns_name`] and [`identity::node_id_from_cert`]).

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;

pub mod ca;
pub mod config;
pub mod didkey;
mod fsutil;
pub mod identity;
pub mod pinning;
pub mod token;
pub mod verify;

pub use ca::{CaError, ClusterCa};
pub use config::{
    peer_node_id, server_name_for, ConfigError, PeerPolicy, StaticPolicy, TlsMaterial, ALPN_BULK,
    ALPN_GRPC, ALPN_JOIN,
};
pub use didkey::{DidError, DidKey, SigningIdentity};
pub use fsutil::FileError;
pub use identity::{node_id_from_cert, IdentityError, NodeIdentity, NodeKey};
pub use pinning::{bootstrap_client_config, join_server_config, PinError, PinnedCaVerifier};
pub use token::{hash_secret, verify_secret, JoinToken, TokenError, TokenRecordSeed};
pub use verify::PeerRejected;

/// DNS suffix of node names: a node's certificate carries the SAN `n{id}` + this suffix.
pub const NODE_NAME_SUFFIX: &str = ".nexus.internal";

/// The certificate DNS name of a node: `n{node_id}.nexus.internal`.
pub fn node_dns_name(node_id: u64) -> String {
    format!("n{node_id}{NODE_NAME_SUFFIX}")
}

/// The one crypto provider (ring) shared by every rustls config built by this crate.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// Installs ring as the process-wide rustls provider. Idempotent: calling it again, or after
/// another provider was installed, is not an error (the first installed provider stays).
pub fn install_crypto_provider() {
    let _ = CryptoProvider::install_default((*provider()).clone());
}

#[cfg(test)]
mod tests {
    #[test]
    fn install_crypto_provider_is_idempotent_and_shared() {
        super::install_crypto_provider();
        super::install_crypto_provider();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
        assert!(std::sync::Arc::ptr_eq(
            &super::provider(),
            &super::provider()
        ));
        assert_eq!(super::node_dns_name(7), "n7.nexus.internal");
    }
}
