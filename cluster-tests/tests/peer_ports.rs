//! Every peer port speaks only mutual TLS with the cluster's certificates:
//! a real TLS client (`openssl s_client`) is refused without a certificate
//! and with one from another CA, and let in with a member's.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr};

use nexus_cluster_tests::knock::{knock, refused_certificate};
use nexus_cluster_tests::{Cluster, ClusterOptions};
use nexus_tls::ca::CA_VALIDITY;
use nexus_tls::ClusterCa;

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
            refused_certificate(&foreign),
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
