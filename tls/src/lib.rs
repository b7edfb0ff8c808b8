//! Nexus cluster trust: the cluster CA, node keys and certificates, rustls configs with
//! membership-aware verifiers, join tokens and ed25519 `did:key` identities.
//!
//! Crypto provider: **ring**, everywhere. Every rustls object built here uses the one shared
//! [`provider()`]; call [`install_crypto_provider()`] at process start so that libraries using
//! the process default (tonic internals, quinn defaults) agree with it.
//!
//! Peer identity is the node id carried in the certificate's DNS SAN `n{id}.nexus.internal`
//! (see [`node_dns_name`] and [`identity::node_id_from_cert`]).
//!
//! ## Layout
//!
//! | module | what it holds |
//! |---|---|
//! | `ca` | The cluster certificate authority: made once at `nexus init`, it signs node CSRs under its own policy. |
//! | `config` | rustls configs for node-to-node traffic (tonic over TCP, quinn for bulk data). |
//! | `der` | Certificate bytes in their two forms: the sha256 fingerprint of a DER certificate, and DER wrapped as PEM. |
//! | `didkey` | Ed25519 signing identities and their `did:key` names (`did:key:z6Mk…`: multibase base58btc of the multicodec `ed25519-pub` prefix 0xed 0x01 followed by the 32-byte public key). |
//! | `identity` | A node's own key and certificate. |
//! | `pinning` | Bootstrap trust for a joiner that knows only the CA fingerprint from its join token. |
//! | `token` | Join tokens (k3s-style). |
//! | `verify` | Authorization on top of authentication: verifiers that delegate chain validation to webpki (cluster CA as the only root) and then check the peer's node id against a `PeerPolicy` on every handshake, so a revocation takes effect on the next connection. |
//!
//! Key and certificate files are written through `nexus-durable`: replaced atomically, keys 0600
//! from their first byte, certificates 0644, their directories 0700.

#![deny(missing_docs)]

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;

pub mod api;
pub mod ca;
pub mod config;
mod der;
pub mod didkey;
pub mod identity;
pub mod pinning;
pub mod token;
pub mod verify;

pub use ca::{CaError, ClusterCa};
pub use config::{
    peer_node_id, server_name_for, ConfigError, PeerPolicy, StaticPolicy, TlsMaterial, ALPN_BULK,
    ALPN_GRPC, ALPN_JOIN,
};
pub use der::fingerprint_of;
pub use didkey::{DidError, DidKey, SigningIdentity};
pub use identity::{node_id_from_cert, IdentityError, NodeIdentity, NodeKey};
pub use nexus_durable::FileError;
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
