//! `[mesh]` in `nexus.toml`: whether this node joins the WireGuard mesh,
//! and how its device is set up.

use ipnet::Ipv4Net;
use serde::Deserialize;

/// The mesh settings of one node.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MeshConfig {
    /// Join the mesh (default false: no device, no key).
    pub enabled: bool,
    /// The interface name (15 bytes at most; unique per machine, since the
    /// UAPI socket path is not per network namespace).
    pub interface: String,
    /// The mesh prefix; the registry hands out its addresses. Every node of
    /// a cluster must use the same one.
    pub cidr: Ipv4Net,
    /// The device's UDP port (open it between machines).
    pub listen_port: u16,
    /// Where peers reach this node's device (`host:port` on the underlay);
    /// unset: the host of `[cluster] advertise_raft` (or `raft_listen`)
    /// with `listen_port`.
    pub endpoint: Option<String>,
    /// Seconds between keepalives to each peer; 0 sends none. Set it (25)
    /// when this node is behind NAT.
    pub persistent_keepalive: u16,
    /// Interface MTU (1420 suits an IPv4 or IPv6 underlay of MTU 1500).
    pub mtu: u32,
    /// Threads of the device's event loop; 1 is fastest on small machines.
    pub threads: usize,
}

impl Default for MeshConfig {
    fn default() -> Self {
        MeshConfig {
            enabled: false,
            interface: "nexus0".to_owned(),
            cidr: Ipv4Net::new(std::net::Ipv4Addr::new(10, 99, 0, 0), 16).unwrap_or_default(),
            listen_port: 51820,
            endpoint: None,
            persistent_keepalive: 0,
            mtu: 1420,
            threads: 1,
        }
    }
}
