//! The `net` broker: HTTP requests of guests, made by the host. Every hop
//! (the first request and each redirect, followed by hand) resolves the
//! name once, refuses special addresses ([`guard`]), and connects to the
//! checked address only (no second lookup). Plain `http` only; responses
//! and the whole fetch are capped by [`NetPolicy`].

mod broker;
mod guard;

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use super::abi;
pub use broker::NetBroker;
pub use guard::Refusal;

/// Limits of the broker (`[net]` in `nexus.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetPolicy {
    /// Networks exempt from the SSRF guard. **For tests only** (a local
    /// server on 127.0.0.1); empty by default, and a node should never set it.
    pub allow_cidrs: Vec<IpNet>,
    /// Largest response body, in bytes.
    pub max_response_bytes: usize,
    /// Largest request a guest may send (encoded), in bytes.
    pub max_request_bytes: usize,
    /// Deadline of one fetch, all redirects included, in milliseconds.
    pub timeout_ms: u64,
    /// Redirects followed before giving up.
    pub max_redirects: u32,
}

impl Default for NetPolicy {
    /// No exemptions, 4 MiB responses, 1 MiB requests, 10 s, 5 redirects.
    fn default() -> Self {
        NetPolicy {
            allow_cidrs: Vec::new(),
            max_response_bytes: 4 << 20,
            max_request_bytes: 1 << 20,
            timeout_ms: 10_000,
            max_redirects: 5,
        }
    }
}

impl NetPolicy {
    /// The deadline of one fetch.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// Why a fetch failed. [`NetError::is_denial`] ones are counted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// The request or URL is malformed.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Not an `http://` URL.
    #[error("{0}: only http:// URLs are allowed")]
    Scheme(String),
    /// The host resolves to (or is) a refused address.
    #[error("{url}: {host} is {addr}, a {}", refusal.as_str())]
    Refused {
        /// The URL of the hop.
        url: String,
        /// Its host.
        host: String,
        /// The refused address.
        addr: IpAddr,
        /// Why.
        refusal: Refusal,
    },
    /// The name does not resolve.
    #[error("{0}: name does not resolve")]
    Resolve(String),
    /// Connecting or talking HTTP failed.
    #[error("{0}")]
    Connect(String),
    /// The fetch passed its deadline.
    #[error("{url}: no response within {ms} ms")]
    Timeout {
        /// The URL first asked for.
        url: String,
        /// The deadline.
        ms: u64,
    },
    /// More redirects than allowed.
    #[error("{url}: more than {max} redirects")]
    Redirects {
        /// The URL first asked for.
        url: String,
        /// The allowed number.
        max: u32,
    },
    /// The response body is over the cap.
    #[error("{url}: response body over the {max}-byte cap")]
    TooLarge {
        /// The URL of the hop.
        url: String,
        /// The cap.
        max: usize,
    },
}

impl NetError {
    /// The ABI error code the guest gets.
    pub fn code(&self) -> i32 {
        match self {
            NetError::Invalid(_) => abi::ERR_INVALID,
            NetError::Scheme(_) => abi::ERR_NET_SCHEME,
            NetError::Refused { refusal, .. } => refusal.code(),
            NetError::Resolve(_) => abi::ERR_NET_RESOLVE,
            NetError::Connect(_) => abi::ERR_NET_CONNECT,
            NetError::Timeout { .. } => abi::ERR_NET_TIMEOUT,
            NetError::Redirects { .. } => abi::ERR_NET_REDIRECTS,
            NetError::TooLarge { .. } => abi::ERR_TOO_LARGE,
        }
    }

    /// Whether this is a refusal by policy (logged and counted as a denial)
    /// rather than a failure of the network.
    pub fn is_denial(&self) -> bool {
        !matches!(
            self,
            NetError::Invalid(_) | NetError::Resolve(_) | NetError::Connect(_)
        )
    }
}
