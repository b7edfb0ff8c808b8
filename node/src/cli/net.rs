//! `nexus net status`: the node's WireGuard mesh, like `wg show` (peers,
//! endpoints, last handshake, bytes), each peer named by its node id.

use clap::Subcommand;

use super::output::print_json;
use crate::client::NodeClient;
use crate::mesh::NetStatus;
use nexus_errors::UserError;

/// Mesh commands.
#[derive(Debug, Subcommand)]
pub enum NetCommand {
    /// Show the node's mesh device and its peers, or why it has none.
    Status,
}

/// Runs a mesh command.
pub async fn run(client: &NodeClient, cmd: NetCommand, json: bool) -> Result<i32, UserError> {
    match cmd {
        NetCommand::Status => {
            let status = client.net_status().await?;
            if json {
                print_json(&status);
            } else {
                print!("{}", render(&status));
            }
            Ok(0)
        }
    }
}

/// The human form of a status.
fn render(s: &NetStatus) -> String {
    let or_dash = |v: Option<&str>| v.unwrap_or("-").to_owned();
    let mut out = format!(
        "node {}: interface {} {}\n",
        s.node_id, s.interface, s.state
    );
    if let Some(reason) = &s.reason {
        out.push_str(&format!(
            "  error[{}]: {}\n  hint: {}\n",
            reason.code, reason.message, reason.hint
        ));
        return out;
    }
    out.push_str(&format!(
        "  public key: {}\n  address:    {} (mesh {})\n  endpoint:   {} (listening on UDP {})\n\n",
        or_dash(s.public_key.as_deref()),
        or_dash(s.address.as_deref()),
        s.cidr,
        or_dash(s.endpoint.as_deref()),
        s.listen_port
    ));
    out.push_str(&format!(
        "{:<5} {:<45} {:<22} {:<16} {:>10} {:>12} {:>12}\n",
        "NODE", "PUBLIC KEY", "ENDPOINT", "ALLOWED IPS", "HANDSHAKE", "RX", "TX"
    ));
    for p in &s.peers {
        let handshake = p
            .latest_handshake_secs
            .map_or_else(|| "never".to_owned(), |secs| format!("{secs}s ago"));
        out.push_str(&format!(
            "{:<5} {:<45} {:<22} {:<16} {:>10} {:>12} {:>12}\n",
            p.node_id
                .map_or_else(|| "-".to_owned(), |id| id.to_string()),
            p.public_key,
            or_dash(p.endpoint.as_deref()),
            p.allowed_ips.join(","),
            handshake,
            p.rx_bytes,
            p.tx_bytes
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::{NetPeer, NetReason};

    #[test]
    fn an_unavailable_mesh_says_why_and_what_to_do() {
        let status = NetStatus {
            node_id: 2,
            state: "unavailable".to_owned(),
            reason: Some(NetReason {
                code: "MESH_UNAVAILABLE".to_owned(),
                message: "mesh unavailable: /dev/net/tun does not exist".to_owned(),
                hint: "give the node /dev/net/tun".to_owned(),
            }),
            interface: "nexus0".to_owned(),
            cidr: "10.99.0.0/16".to_owned(),
            public_key: None,
            address: None,
            endpoint: None,
            listen_port: 51820,
            peers: Vec::new(),
        };
        assert_eq!(
            render(&status),
            "node 2: interface nexus0 unavailable\n  error[MESH_UNAVAILABLE]: mesh unavailable: \
             /dev/net/tun does not exist\n  hint: give the node /dev/net/tun\n"
        );
    }

    #[test]
    fn peers_are_listed_with_their_node_handshake_and_bytes() {
        let status = NetStatus {
            node_id: 1,
            state: "up".to_owned(),
            reason: None,
            interface: "nexus0".to_owned(),
            cidr: "10.99.0.0/16".to_owned(),
            public_key: Some("A".repeat(43) + "="),
            address: Some("10.99.0.1".to_owned()),
            endpoint: Some("192.0.2.1:51820".to_owned()),
            listen_port: 51820,
            peers: vec![NetPeer {
                node_id: Some(2),
                public_key: "B".repeat(43) + "=",
                endpoint: Some("192.0.2.2:51820".to_owned()),
                allowed_ips: vec!["10.99.0.2/32".to_owned()],
                latest_handshake_secs: Some(3),
                rx_bytes: 92,
                tx_bytes: 148,
            }],
        };
        let text = render(&status);
        assert!(
            text.contains("address:    10.99.0.1 (mesh 10.99.0.0/16)"),
            "{text}"
        );
        let row = text.lines().last().unwrap();
        assert!(row.starts_with("2     BBBB"), "{row}");
        assert!(row.contains("192.0.2.2:51820"), "{row}");
        assert!(row.contains("3s ago"), "{row}");
        assert!(row.ends_with("92          148"), "{row}");
    }
}
