//! `[api]` in `nexus.toml`: whether the HTTP API speaks HTTPS, and with
//! which certificate.
//!
//! The rule: a node serves HTTPS unless it is a loopback-only node outside a
//! cluster (`nexus up`), or the configuration asks for plain HTTP. Plain
//! HTTP on an address other machines can reach needs
//! `insecure_plaintext = true` (`API_PLAINTEXT_REFUSED` otherwise).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use nexus_errors::{ErrorCode, UserError};

/// How the API is served.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// `true`: HTTPS; `false`: plain HTTP; unset: HTTPS except on a
    /// loopback-only node outside a cluster.
    pub tls: Option<bool>,
    /// PEM certificate chain to serve instead of the node's certificate
    /// from the cluster CA (needs `key`).
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`.
    pub key: Option<PathBuf>,
    /// Allows plain HTTP on a non-loopback address (and asks for it when
    /// `tls` is unset).
    pub insecure_plaintext: bool,
}

/// The scheme the API is served with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiScheme {
    /// Plain HTTP.
    Http,
    /// HTTPS.
    Https,
}

impl ApiScheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiScheme::Http => "http",
            ApiScheme::Https => "https",
        }
    }
}

impl ApiConfig {
    /// The scheme of an API listening on `listen`; `in_cluster` is whether
    /// the node has a peer port. Plain HTTP on a non-loopback address
    /// without `insecure_plaintext` is `API_PLAINTEXT_REFUSED`.
    pub fn scheme(&self, listen: SocketAddr, in_cluster: bool) -> Result<ApiScheme, UserError> {
        if self.cert.is_some() != self.key.is_some() {
            return Err(UserError::new(
                ErrorCode::ConfigInvalid,
                "[api] cert and key go together: set both or neither",
            ));
        }
        let loopback = listen.ip().is_loopback();
        let plaintext = match self.tls {
            Some(tls) => !tls,
            None => self.insecure_plaintext || (loopback && !in_cluster && self.cert.is_none()),
        };
        if !plaintext {
            return Ok(ApiScheme::Https);
        }
        if self.cert.is_some() {
            return Err(UserError::new(
                ErrorCode::ConfigInvalid,
                "[api] cert and key are set but the API is plain HTTP: remove them or `tls = false`",
            ));
        }
        if !loopback && !self.insecure_plaintext {
            return Err(UserError::new(
                ErrorCode::ApiPlaintextRefused,
                format!(
                    "the API would serve plain HTTP on {listen}, which other machines can reach: \
                     API keys would cross the network in clear"
                ),
            ));
        }
        Ok(ApiScheme::Http)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn loopback_dev_nodes_are_plain_and_cluster_nodes_are_https() {
        let api = ApiConfig::default();
        assert_eq!(
            api.scheme(addr("127.0.0.1:2026"), false).unwrap(),
            ApiScheme::Http
        );
        assert_eq!(
            api.scheme(addr("127.0.0.1:2026"), true).unwrap(),
            ApiScheme::Https
        );
        assert_eq!(
            api.scheme(addr("10.0.0.2:2026"), false).unwrap(),
            ApiScheme::Https
        );
    }

    #[test]
    fn plaintext_off_loopback_needs_the_insecure_flag() {
        let mut api = ApiConfig {
            tls: Some(false),
            ..ApiConfig::default()
        };
        let err = api.scheme(addr("10.0.0.2:2026"), true).unwrap_err();
        assert_eq!(err.code, "API_PLAINTEXT_REFUSED");
        assert!(err.message.contains("10.0.0.2:2026"), "{}", err.message);
        assert_eq!(
            api.scheme(addr("127.0.0.1:2026"), true).unwrap(),
            ApiScheme::Http
        );
        api.insecure_plaintext = true;
        assert_eq!(
            api.scheme(addr("10.0.0.2:2026"), true).unwrap(),
            ApiScheme::Http
        );
        api.tls = None;
        assert_eq!(
            api.scheme(addr("0.0.0.0:2026"), true).unwrap(),
            ApiScheme::Http
        );
    }

    #[test]
    fn cert_and_key_go_together_and_mean_https() {
        let half = ApiConfig {
            cert: Some("api.pem".into()),
            ..ApiConfig::default()
        };
        let err = half.scheme(addr("127.0.0.1:1"), false).unwrap_err();
        assert_eq!(err.code, "CONFIG_INVALID");
        let both = ApiConfig {
            key: Some("api.key".into()),
            ..half
        };
        assert_eq!(
            both.scheme(addr("127.0.0.1:1"), false).unwrap(),
            ApiScheme::Https
        );
    }
}
