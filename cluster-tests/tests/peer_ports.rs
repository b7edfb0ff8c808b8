//! Every peer port speaks only mutual TLS with the cluster's certificates:
//! a real TLS client (`openssl s_client`) is refused without a certificate
//! and with one from another CA, and let in with a member's.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};

use nexus_cluster_tests::{Cluster, ClusterOptions};
use nexus_tls::ca::CA_VALIDITY;
use nexus_tls::ClusterCa;

/// What `openssl s_client` made of a handshake with `port`, presenting the
/// certificate and key in `identity` (a `tls/` dir) if given.
struct Knock {
    success: bool,
    output: String,
}

/// In TLS 1.3 the client finishes its side of the handshake before the
/// server has checked the client's certificate, so a refusal arrives as an
/// alert afterwards: `until_closed` keeps reading (`-ign_eof`) until the
/// server hangs up, bounded by `timeout`.
fn knock(port: SocketAddr, node: u64, identity: Option<&Path>, until_closed: bool) -> Knock {
    let mut command = Command::new("timeout");
    command
        .args(["10", "openssl", "s_client", "-connect", &port.to_string()])
        .args([
            "-servername",
            &format!("n{node}.nexus.internal"),
            "-alpn",
            "h2",
        ])
        .stdin(Stdio::null());
    if until_closed {
        command.arg("-ign_eof");
    }
    if let Some(dir) = identity {
        command
            .arg("-cert")
            .arg(dir.join("node.pem"))
            .arg("-key")
            .arg(dir.join("node.key"));
    }
    let out = command.output().expect("run openssl s_client");
    Knock {
        success: out.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_ports_refuse_tls_clients_without_a_cluster_certificate() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    cluster.agreed_leader(&[1, 2, 3]).await;

    // A certificate that claims to be node 1, from a CA the cluster never saw.
    let stranger = tempfile::tempdir().unwrap();
    ClusterCa::create("stranger")
        .unwrap()
        .issue_local_identity(1, &[IpAddr::V4(Ipv4Addr::LOCALHOST)], CA_VALIDITY)
        .unwrap()
        .save(stranger.path())
        .unwrap();
    let member = cluster.node(1).data_dir.join("tls");

    for id in [1, 2, 3] {
        let port = cluster.node(id).raft;
        let bare = knock(port, id, None, true);
        assert!(
            bare.output.contains("alert certificate required"),
            "node {id}: {}",
            bare.output
        );
        let foreign = knock(port, id, Some(stranger.path()), true);
        assert!(
            foreign.output.contains("alert certificate unknown")
                || foreign.output.contains("alert unknown ca")
                || foreign.output.contains("alert bad certificate"),
            "node {id}: {}",
            foreign.output
        );
        // The control: a member's certificate is let in and offered HTTP/2.
        let admitted = knock(port, id, Some(&member), false);
        assert!(admitted.success, "node {id}: {}", admitted.output);
        assert!(admitted.output.contains("ALPN protocol: h2"), "node {id}");
    }

    // Refused clients did no harm: the cluster still commits.
    let (status, body) = cluster.create_tenant(2, "after-knocks").await;
    assert_eq!(status, 201, "{body}");
}
