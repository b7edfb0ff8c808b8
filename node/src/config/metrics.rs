//! `[metrics]` in `nexus.toml`: where Prometheus scrapes the node.

use std::net::SocketAddr;

use serde::Deserialize;

/// Where `/metrics` is served besides the API port (where it needs an
/// admin key).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// A plain-HTTP listener serving only `GET /metrics`, without a key
    /// (`listen = "127.0.0.1:9464"`); keep it on loopback or a private
    /// network. `None`: the API port alone serves it.
    pub listen: Option<SocketAddr>,
}
